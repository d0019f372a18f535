"""Build the book: execute every page notebook with papermill, then render with Jupyter Book.

    python -m adlib.book execute [--scale cpu] [--force]   # notebooks -> book/executed/
    python -m adlib.book build                              # execute, then jupyter-book build -W

At ``cpu`` scale the notebooks reuse the committed results, so building the book retrains
nothing unless a config changed (or ``--force``). With ``ADLIB_STORED_ONLY=1`` a missing
result is an error instead of a training run (the test suite builds the book that way).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from adlib.results import REPO_ROOT

BOOK_DIR = REPO_ROOT / "book"
EXECUTED_DIR = BOOK_DIR / "executed"
TEMPLATES = REPO_ROOT / "notebooks" / "_book"
MEASUREMENTS_TEMPLATE = TEMPLATES / "measurements.ipynb"  # the page that shows results/book_times.json


@dataclass(frozen=True)
class Page:
    source: Path
    output: Path
    parameters: dict[str, Any]
    title: str | None = None  # for template pages: prepended as a Markdown heading (the page title)


def book_pages(executed_dir: Path = EXECUTED_DIR, papers: Sequence[str] | None = None) -> list[Page]:
    """Every page the book renders, in build order (the status page last: it reads the claims).

    ``papers``: only these papers' chapters (their index page and notebooks), without the
    measurement and status pages, which read every paper's results."""
    from adlib.paper_values import PAPERS, load_index
    from adlib.papers.registry import notebooks_for

    if papers is not None:
        unknown = sorted(set(papers) - set(PAPERS))
        if unknown or not papers:
            raise ValueError(f"unknown paper(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(PAPERS)}")
    pages: list[Page] = []
    for paper in PAPERS if papers is None else [p for p in PAPERS if p in papers]:
        index = load_index(paper)
        pages.append(Page(TEMPLATES / "paper.ipynb", executed_dir / paper / "index.ipynb", {"paper": paper},
                          title=f"{index['title']} ({paper})"))
        for nb in notebooks_for(paper):
            pages.append(Page(nb.path, executed_dir / paper / f"{nb.name}.ipynb", {}))
    if papers is not None:
        return pages
    pages.append(Page(MEASUREMENTS_TEMPLATE, executed_dir / "measurements.ipynb", {},
                      title="What re-computing costs: time, speed and memory, measured"))
    pages.append(Page(TEMPLATES / "status.ipynb", executed_dir / "status.ipynb", {}))
    return pages


def execute_notebook(source: Path, output: Path, parameters: dict[str, Any], title: str | None = None) -> None:
    """Run one notebook through papermill (kernel: this interpreter), writing ``output``.

    ``title`` becomes a leading Markdown heading: Sphinx takes a page's title from the
    notebook's Markdown cells, not from headings that code cells display.
    """
    import nbformat
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(source), str(output), parameters=parameters, kernel_name="python3",
                               cwd=str(REPO_ROOT), progress_bar=False, log_output=False)
    nb = nbformat.read(str(output), as_version=4)
    for cell in nb.cells:  # the book shows the parameters cell, not papermill's copy of the overrides
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    if title:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"# {title}"))
    nbformat.write(nb, str(output))


def execute_book(scale: str = "cpu", force: bool = False, executed_dir: Path = EXECUTED_DIR,
                 times_path: Path | None = None, papers: Sequence[str] | None = None,
                 lanes: int = 1, prune: bool = False) -> pd.DataFrame:
    """Execute every page; returns (and prints) a per-notebook table of wall seconds and peak
    resident memory (the kernel and the sweep workers it starts, shared libraries once;
    :class:`~adlib.memory.PeakTreeMemory`; beside it their resident sets summed).

    ``force`` re-computes every stored result once (one forced session: a run shared by several
    pages trains once). The table is written with its provenance to ``times_path`` (default
    :data:`BOOK_TIMES` for a forced ``cpu`` build, the measurement the reproduction page shows;
    ``build/book_times.<scale>.json`` otherwise). ``papers``: only these papers' chapters
    (:func:`book_pages`); a forced ``cpu`` build of them in one lane writes one table per paper,
    :func:`paper_book_times_path` (what the reproduction page shows until a whole build is recorded).

    ``lanes``: execute the chapters in this many lanes at once (:func:`plan_lanes`), each lane a
    ``python -m adlib.book execute`` process. Their runs share the machine's cores through core
    slots (:func:`adlib.sweep.core_slot`): one training run per core in all, and a core that one
    lane leaves idle (its page's runs wait on each other, a baseline then its fine-tuning, or the
    lane has finished) trains another lane's next run. Papers share no stored runs, so no run is
    computed twice. The pages that read every paper's results (measurements, status) run after.

    A forced build of every paper re-writes every stored result a page uses; it then lists the
    stored results of ``scale`` it did not re-write (:func:`adlib.results.stale_results`: runs of
    configs no page has any more), and with ``prune`` deletes them. Once a whole forced build has
    written :data:`BOOK_TIMES`, the measurements page runs again, so that the page shows this build's
    time table rather than the previous build's (it ran, with every page, before the table existed)."""
    since = None
    if force:
        from adlib.sweep import force_session_start

        since = force_session_start()
    total_start = time.perf_counter()
    pages = book_pages(executed_dir, papers)
    chapters = list(dict.fromkeys(p.output.parent.name for p in pages if p.output.parent != executed_dir))
    if lanes > 1 and len(chapters) > 1:
        table = _execute_lanes(plan_lanes(chapters, lanes, scale), scale, force, executed_dir)
        lanes = int(table.lane.max())
        after = _execute_pages([p for p in pages if p.output.parent == executed_dir], scale, force, executed_dir)
        table = pd.concat([table.astype({"lane": object}), after.assign(lane=None)], ignore_index=True)
    else:
        table, lanes = _execute_pages(pages, scale, force, executed_dir), 1
    total = round(time.perf_counter() - total_start, 1)
    if since is not None and papers is None:
        report_stale_results(since, scale, prune)
    print(table.to_string(index=False), flush=True)
    print(f"[book] {len(table)} notebooks in {total / 60:.1f} min"
          + (f" ({lanes} lanes at once)" if lanes > 1 else "")
          + f"; largest peak memory {table['peak memory (MiB)'].max()} MiB", flush=True)
    if times_path is None and papers is not None and force and scale == "cpu" and lanes == 1:
        for paper, part in table.groupby("paper", sort=False):
            write_book_times(paper_book_times_path(str(paper)), part.reset_index(drop=True), scale=scale, force=force,
                             total_seconds=round(float(part.seconds.sum()), 1), papers=[str(paper)])
        return table
    if times_path is None:
        whole = force and scale == "cpu" and papers is None
        times_path = BOOK_TIMES if whole else REPO_ROOT / "build" / f"book_times.{scale}.json"
    write_book_times(times_path, table, scale=scale, force=force, total_seconds=total, papers=papers, lanes=lanes)
    if times_path == BOOK_TIMES:
        print("[book] re-executing the measurements page, which shows the record this build just wrote", flush=True)
        # a few seconds; the record keeps the row of its first run, with every page
        _execute_pages([p for p in pages if p.source == MEASUREMENTS_TEMPLATE], scale, force, executed_dir)
    return table


def report_stale_results(since: str, scale: str, prune: bool, root: Path | None = None) -> list[Path]:
    """After a forced build of every page begun at ``since``: print the stored results of ``scale``
    it did not re-write, per experiment, and delete them (with their score files) when ``prune``;
    returns them."""
    from adlib.results import prune_results, stale_results

    stale = stale_results(since, scale, root)
    if not stale:
        print(f"[book] every stored {scale} result was re-computed by this build", flush=True)
        return stale
    counts = Counter(f"{path.parent.parent.name}/{path.parent.name}" for path in stale)  # per experiment
    listed = ", ".join(f"{k} ({n})" for k, n in counts.items())
    if prune:
        files = prune_results(stale)
        print(f"[book] pruned {len(stale)} stored {scale} results no page uses any more ({files} files): {listed}",
              flush=True)
    else:
        print(f"[book] {len(stale)} stored {scale} results were not re-computed, so no page uses them any more: "
              f"{listed}; `make book FORCE=1 PRUNE=1` deletes them", flush=True)
    return stale


def _execute_pages(pages: Sequence[Page], scale: str, force: bool, executed_dir: Path) -> pd.DataFrame:
    """Execute ``pages`` one after another in this process: their time-table rows."""
    from adlib.memory import PeakTreeMemory

    rows = []
    for page in pages:
        params = dict(page.parameters, scale=scale)
        if page.source.parent != TEMPLATES:
            params["force"] = force
        start = time.perf_counter()
        print(f"[book] executing {_shown(page.source)} -> {_shown(page.output)}", flush=True)
        with PeakTreeMemory(include_root=False) as memory:  # the kernel and its workers, not this process
            execute_notebook(page.source, page.output, params, page.title)
        rows.append({"paper": page.output.parent.name if page.output.parent != executed_dir else "",
                     "notebook": str(page.output.relative_to(executed_dir)),
                     "seconds": round(time.perf_counter() - start, 1),
                     "peak memory (MiB)": round(memory.peak_bytes / 2**20),
                     "peak RSS summed (MiB)": round(memory.peak_rss_sum_bytes / 2**20)})
    return pd.DataFrame(rows, columns=["paper", "notebook", "seconds", "peak memory (MiB)", "peak RSS summed (MiB)"])


def plan_lanes(papers: Sequence[str], lanes: int, scale: str = "cpu",
               weights: dict[str, float] | None = None) -> list[list[str]]:
    """``papers`` split into at most ``lanes`` groups of about equal work: heaviest first, each onto
    the lane with the least work so far (longest-processing-time first), each group in ``papers``'
    order. ``weights``: the work of each paper (default: :func:`paper_work`; a paper without one
    counts as the lightest)."""
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1; got {lanes}")
    if weights is None:
        weights = paper_work(papers, scale)
    load = [(0.0, 0)] * min(lanes, len(papers))  # (work, papers) per lane: papers of no known work alternate
    member: dict[str, int] = {}
    for paper in sorted(papers, key=lambda p: -float(weights.get(p, 0.0))):
        lane = load.index(min(load))
        member[paper] = lane
        load[lane] = (load[lane][0] + float(weights.get(paper, 0.0)), load[lane][1] + 1)
    return [g for g in ([p for p in papers if member[p] == i] for i in range(len(load))) if g]


def paper_work(papers: Sequence[str], scale: str = "cpu", book_times: Path | None = None) -> dict[str, float]:
    """Each paper's work, for :func:`plan_lanes`: the seconds its notebooks took in the last whole
    forced build (``book_times``, default :data:`BOOK_TIMES`; ``cpu`` scale), which counts what a
    page does besides training (scoring, evaluation, figures). Where that record lacks one of
    ``papers``, or at another scale: the wall seconds of every paper's stored runs at ``scale``
    (:func:`adlib.results.compute_cost_frame`).

    The stored runs alone mislead: a page's own work is not in them, and a run's wall time depends
    on what ran beside it. By them, one lane got singh2021 alone and the other the four other
    papers, whose notebooks then took 2.2× singh2021's seconds. Balancing moves only the pages'
    serial work, though: the core slots keep every core training either way, so on 2 cores the
    whole forced build took about as long both ways (40.2 min balanced, 37.9 min before, the
    runs themselves 10–20 % slower in the balanced build)."""
    from adlib.measurements import read_measurement

    record = read_measurement(BOOK_TIMES if book_times is None else book_times) if scale == "cpu" else None
    if record is not None and record.get("papers") is None:
        seconds: dict[str, float] = {}
        for row in record["notebooks"]:
            if row.get("paper"):
                seconds[row["paper"]] = seconds.get(row["paper"], 0.0) + float(row["seconds"])
        if all(p in seconds for p in papers):
            return seconds
    from adlib.results import compute_cost_frame

    cost = compute_cost_frame(scale=scale, by="paper")
    return {} if cost.empty else dict(zip(cost.paper, 60 * cost["compute (min, one worker)"].astype(float)))


def lane_workers(lanes: int) -> int:
    """Sweep workers per lane: enough that the lanes together can keep every core busy when some of
    them have nothing ready to run (twice a fair share, at most one per core); the core slots keep
    the runs actually training to one per core."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, 2 * -(-cores // max(1, lanes))))


def _execute_lanes(groups: Sequence[Sequence[str]], scale: str, force: bool, executed_dir: Path) -> pd.DataFrame:
    """Execute each group of chapters in its own ``python -m adlib.book execute`` process, all at
    once, their runs sharing one core slot per core (:func:`adlib.sweep.core_slot`), each sweep with
    :func:`lane_workers` workers; their time tables, with a ``lane`` column. A lane that fails stops
    the others."""
    import json
    import tempfile

    from adlib.sweep import ENV_CORE_SLOTS, make_core_slots

    workers = lane_workers(len(groups))
    with tempfile.TemporaryDirectory(prefix="adlib-lanes-") as tmp:
        env = {**os.environ, "ADLIB_WORKERS": str(workers),  # $ADLIB_FORCE_SINCE too: one forced session
               ENV_CORE_SLOTS: str(make_core_slots(Path(tmp) / "slots"))}
        procs = []
        for i, group in enumerate(groups, start=1):
            out = Path(tmp) / f"lane{i}.json"
            cmd = [sys.executable, "-m", "adlib.book", "execute", "--scale", scale, "--executed-dir",
                   str(executed_dir), "--papers", ",".join(group), "--lanes", "1", "--times-path", str(out),
                   *(["--force"] if force else [])]
            print(f"[book] lane {i}: {', '.join(group)} ({workers} sweep worker{'s' if workers > 1 else ''})",
                  flush=True)
            procs.append((i, group, out, subprocess.Popen(cmd, env=env, cwd=str(REPO_ROOT))))
        try:
            failed = []
            pending = {i: proc for i, _, _, proc in procs}
            while pending:
                for i, proc in list(pending.items()):
                    if proc.poll() is not None:
                        del pending[i]
                        if proc.returncode != 0:
                            failed.append(i)
                if failed:
                    break
                time.sleep(0.5)
            if failed:
                raise RuntimeError(f"book lane {failed[0]} ({', '.join(procs[failed[0] - 1][1])}) failed; "
                                   "its notebook's error is printed above")
        finally:
            for _, _, _, proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait()
        frames = [pd.DataFrame(json.loads(out.read_text())["notebooks"]).assign(lane=i) for i, _, out, _ in procs]
    return pd.concat(frames, ignore_index=True)


BOOK_TIMES = REPO_ROOT / "results" / "book_times.json"


def _shown(path: Path) -> str:
    """``path`` relative to the repository where it lies inside it."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def paper_book_times_path(paper: str, results_root: Path | None = None) -> Path:
    """Where ``make book FORCE=1 PAPERS=<paper>`` records that paper's forced ``cpu`` time table
    (under ``results_root``, default the repository's ``results/``)."""
    return (REPO_ROOT / "results" if results_root is None else Path(results_root)) / f"book_times.{paper}.json"


def write_book_times(path: Path, table: pd.DataFrame, *, scale: str, force: bool, total_seconds: float,
                     papers: Sequence[str] | None = None, lanes: int = 1) -> None:
    """Store a book execution's time table with what produced it (git commit, versions, machine,
    sweep workers, lanes, the command), atomically. ``papers``: the chapters it executed (None:
    all). With ``lanes`` > 1 the chapters ran at once, so ``total_seconds`` (the wall time) is less
    than the notebooks' seconds summed, and ``workers`` is each lane's (:func:`lane_workers`)."""
    import json

    from adlib.atomic import atomic_write_bytes
    from adlib.results import provenance
    from adlib.sweep import default_workers

    command = ("make book" + (" FORCE=1" if force else "") + (f" PAPERS={','.join(papers)}" if papers else "")
               + (f" LANES={lanes}" if lanes != 1 else ""))
    workers = lane_workers(lanes) if lanes > 1 else default_workers(os.cpu_count() or 1)
    record = {"scale": scale, "force": force, "total_seconds": total_seconds, "papers": list(papers) if papers else None,
              "workers": workers, "lanes": lanes, "command": command,
              "notebooks": table.to_dict(orient="records"),
              "provenance": provenance(device="cpu", wall_time_s=total_seconds)}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())


def write_toc(book_dir: Path = BOOK_DIR) -> Path:
    """Generate ``book/_toc.yml`` from the page list (so the TOC cannot drift from the registry)."""
    import yaml

    from adlib.paper_values import PAPERS
    from adlib.papers.registry import notebooks_for

    chapters = []
    for paper in PAPERS:
        entry: dict[str, Any] = {"file": f"executed/{paper}/index"}
        sections = [{"file": f"executed/{paper}/{nb.name}"} for nb in notebooks_for(paper)]
        if sections:
            entry["sections"] = sections
        chapters.append(entry)
    toc = {"format": "jb-book", "root": "executed/status",
           "parts": [{"caption": "Papers", "chapters": chapters},
                     {"caption": "Using this book", "chapters": [{"file": "reproducing"},
                                                         {"file": "executed/measurements"}]}]}
    path = book_dir / "_toc.yml"
    path.write_text("# generated by `python -m adlib.book` from adlib/papers/registry.py; do not edit\n"
                    + yaml.safe_dump(toc, sort_keys=False))
    return path


MATHJAX_EXTENSION = "sphinx-mathjax-offline"
"""The Sphinx extension (a PyPI wheel, in the ``dev`` extra) that ships MathJax 3 and copies it to
``_static/mathjax``, so math renders with no CDN (see ``book/_config.yml``)."""


def check_mathjax_installed() -> None:
    """A clear error, before a build, when the local MathJax is not installed."""
    import importlib.util

    if importlib.util.find_spec(MATHJAX_EXTENSION) is None:
        raise SystemExit(f"[book] the local MathJax is missing: the book renders math from the "
                         f"{MATHJAX_EXTENSION!r} package, not from a CDN. Install it with `make venv` "
                         f"(pip install -e '.[dev]') or `pip install {MATHJAX_EXTENSION}`.")


def build_html(builder_args: tuple[str, ...] = ("-W", "-n", "--keep-going"), book_dir: Path = BOOK_DIR) -> Path:
    """Render ``book_dir`` with Jupyter Book 1 (Sphinx; builds offline), warnings as errors, then
    check the HTML: nothing loaded from another host, MathJax served from ``_static``, every
    internal link resolves (:mod:`adlib.book_html`); any failure is an error."""
    from adlib.book_html import check_html

    check_mathjax_installed()
    if book_dir == BOOK_DIR:
        write_toc()
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(book_dir), *builder_args]
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)
    html_dir = book_dir / "_build" / "html"
    if not (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file():
        raise SystemExit(f"[book] {html_dir}/_static/mathjax/tex-chtml.js is missing: is "
                         f"{MATHJAX_EXTENSION!r} in the extensions of {book_dir / '_config.yml'}?")
    check_html(html_dir)
    index = html_dir / "index.html"
    print(f"[book] the book is at {index}", flush=True)
    return index


# ------------------------------------------------------------------------------------------
# the status matrix


def status_matrix(scale_order: tuple[str, ...] = ("paper", "cpu", "smoke")) -> pd.DataFrame:
    """Every table and figure of every paper: which notebook, the scale reached, claims held."""
    from adlib.paper_values import PAPERS, list_artefacts
    from adlib.papers.registry import notebook_for_artefact
    from adlib.report import load_all_claims
    from adlib.results import ResultsStore

    rows = []
    for paper in PAPERS:
        claims_files = load_all_claims(ResultsStore.for_scale("cpu"), paper)
        for art in list_artefacts(paper):
            nb = notebook_for_artefact(paper, art["id"])
            if art["kind"] not in ("table", "figure", "unnumbered_table") and nb is None:
                continue  # numbers quoted in the text or from code logs: shown on the paper page only
            reached = None
            held = checked = 0
            for scale in scale_order:
                files = [f for f in claims_files if f["scale"] == scale and art["id"] in f["artefacts"]]
                if files:
                    reached = scale
                    for f in files:
                        for c in f["claims"]:
                            if c["artefact"] == art["id"] and c["held"] is not None:
                                checked += 1
                                held += bool(c["held"])
                    break
            if reached is None and nb is not None and nb.not_runnable:
                reached = f"paper values only ({nb.not_runnable})"
            rows.append({
                "paper": paper, "artefact": _artefact_title(art), "kind": art["kind"],
                "page": f"{paper}/{nb.name}" if nb else f"{paper}/index",
                "scale reached": reached or "not yet reproduced",
                "claims held": f"{held}/{checked}" if checked else "–",
            })
    return pd.DataFrame(rows)


def paper_verdict(paper: str, scale: str = "cpu", store: "ResultsStore | None" = None) -> str:
    """One paragraph per paper, written from its stored claims at ``scale``: how many checked claims
    held, which did not, and how many could not be checked there (Markdown; no number typed)."""
    from adlib.paper_values import get_artefact
    from adlib.report import load_all_claims
    from adlib.results import ResultsStore

    store = store or ResultsStore.for_scale("cpu")
    seen: dict[tuple[str, str], dict] = {}
    for f in load_all_claims(store, paper):
        if f["scale"] == scale:
            for c in f["claims"]:
                seen.setdefault((c["artefact"], c["claim"]), c)
    if not seen:
        return f"**{paper}**: no claim checked at `{scale}` scale yet."
    claims = list(seen.values())
    held = [c for c in claims if c["held"] is True]
    failed = [c for c in claims if c["held"] is False]
    unchecked = [c for c in claims if c["held"] is None]
    artefacts = sorted({c["artefact"] for c in claims})

    def title(artefact_id: str) -> str:
        try:
            return _artefact_title(get_artefact(paper, artefact_id))
        except (KeyError, ValueError):
            return artefact_id

    text = (f"**{paper}**: at `{scale}` scale {len(held)} of {len(held) + len(failed)} checked claims held, "
            f"over {len(artefacts)} tables and figures")
    text += f"; {len(unchecked)} cannot be checked at this scale." if unchecked else "."
    if failed:
        text += " Not held: " + "; ".join(f"{title(c['artefact'])}: {c['claim']}" for c in failed) + "."
    return text


def status_matrix_html(matrix: pd.DataFrame | None = None) -> str:
    """The status matrix as an HTML table whose page column links to the pages (relative to
    the front page, which sits beside the paper folders in ``book/executed``)."""
    import html

    matrix = status_matrix() if matrix is None else matrix
    shown = matrix[["paper", "artefact", "scale reached", "claims held", "page"]].copy()
    shown["page"] = [f'<a href="{html.escape(p)}.html">{html.escape(p)}</a>' for p in shown["page"]]
    return shown.to_html(index=False, escape=False, classes="status-matrix", border=0)


def default_lanes(papers: Sequence[str] | None) -> int:
    """One lane per core for the whole book on a machine without a GPU; one lane for some papers
    (their per-paper time tables are measured alone) and wherever a GPU would be shared by the lanes."""
    if papers is not None:
        return 1
    import torch

    return 1 if torch.cuda.is_available() else max(1, os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m adlib.book", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["execute", "build", "html"])
    p.add_argument("--scale", default="cpu")
    p.add_argument("--force", action="store_true", help="re-run every result instead of reusing stored ones")
    p.add_argument("--executed-dir", type=Path, default=EXECUTED_DIR,
                   help="where executed notebooks go (default book/executed, which the book renders)")
    p.add_argument("--papers", default=None,
                   help="comma-separated paper keys: execute only their chapters (e.g. hendrycks2019,ahmed2020)")
    p.add_argument("--lanes", type=int, default=None,
                   help="execute the chapters in this many processes at once, each sweep with cores/lanes "
                        "workers (default: one lane per core for the whole book, one lane for --papers)")
    p.add_argument("--prune", action="store_true",
                   help="with --force and every paper: delete the stored results of --scale the build did not "
                        "re-compute (runs of configs no page uses any more)")
    p.add_argument("--times-path", type=Path, default=None, help=argparse.SUPPRESS)  # where a lane's table goes
    args = p.parse_args(argv)
    from adlib.scales import check_scale

    check_scale(args.scale)
    papers = [k.strip() for k in args.papers.split(",") if k.strip()] if args.papers is not None else None
    if args.command in ("execute", "build"):
        lanes = args.lanes if args.lanes is not None else default_lanes(papers)
        if lanes < 1:
            p.error(f"--lanes must be at least 1; got {lanes}")
        if args.prune and (not args.force or papers is not None):
            p.error("--prune needs --force and every paper: only a forced build of every page shows which stored "
                    "results no page uses")
        execute_book(args.scale, args.force, args.executed_dir.resolve(), papers=papers, lanes=lanes,
                     times_path=args.times_path, prune=args.prune)
    if args.command in ("build", "html"):
        build_html()
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _artefact_title(art: dict) -> str:
    ident = art["id"]
    for prefix, word in (("table", "Table"), ("figure", "Figure")):
        if ident.startswith(prefix) and ident[len(prefix):].isdigit():
            return f"{word} {ident[len(prefix):]}"
    section = re.fullmatch(r"sec(\d+)_(\d+)_(\w+)", ident)
    if section:  # an unnumbered table in a section, e.g. sec5_2_masking
        return f"§{section[1]}.{section[2]} {section[3].replace('_', ' ')} table"
    words = ident.split("_")
    if words[0] == "appendix" and len(words) == 2 and len(words[1]) == 1:
        return f"Appendix {words[1].upper()}"
    return ident.replace("_", " ").capitalize()


def paper_page(paper: str, scale: str = "cpu") -> list:
    """The display blocks of a paper's chapter page: what is reproduced where, and every
    artefact's values as the paper prints them (its own inconsistencies noted, not fixed)."""
    from IPython.display import Markdown

    from adlib.paper_values import list_artefacts, load_index, pivot_values
    from adlib.papers.registry import notebook_for_artefact, notebooks_for

    index = load_index(paper)
    blocks: list = [Markdown(f"{index['authors']} ({index.get('venue', '')}). Key: `{paper}`."),
                    Markdown(paper_verdict(paper, scale))]
    nbs = notebooks_for(paper)
    if nbs:
        lines = [f"- [{nb.title}]({nb.name}.ipynb): `make reproduce PAPER={paper} "
                 f"{_reproduce_arg(nb.artefacts[0])}`" for nb in nbs]
        blocks.append(Markdown("## Reproduced artefacts\n\n" + "\n".join(lines)))
    else:
        blocks.append(Markdown("## Not yet reproduced\n\nNo artefact of this paper has been re-run yet. "
                               "Below are the paper's own numbers, as printed, for every table and figure."))
    blocks.append(Markdown("## The paper's numbers, as printed"))
    for art in list_artefacts(paper):
        nb = notebook_for_artefact(paper, art["id"])
        where = f" — reproduced in [{nb.title}]({nb.name}.ipynb)" if nb else " — not yet reproduced"
        text = [f"### {_artefact_title(art)}{where}", "", f"*{art.get('caption', '').strip()}*"]
        for note in art.get("notes") or []:
            text.append(f"- {note}")
        for inc in art.get("inconsistencies") or []:
            text.append(f"- **Inconsistency in the paper:** {inc if isinstance(inc, str) else inc.get('text', inc)}")
        blocks.append(Markdown("\n".join(text)))
        if art.get("file"):
            blocks.append(pivot_values(paper, art["id"]))
    return blocks


def _reproduce_arg(artefact: str) -> str:
    for prefix, var in (("table", "TABLE"), ("figure", "FIGURE")):
        if artefact.startswith(prefix) and artefact[len(prefix):].isdigit():
            return f"{var}={artefact[len(prefix):]}"
    return f"ARTEFACT={artefact}"

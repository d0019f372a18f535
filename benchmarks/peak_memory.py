"""Peak resident memory at ``cpu`` scale: each paper's heaviest stored run, re-run, and each of
its notebooks' kernels.

A notebook that trains runs its sweep in one worker process per core next to its kernel, so what
the machine must hold is about kernel + workers × run. For every paper this

* executes each of the paper's notebooks at ``cpu`` scale from the stored results
  (``ADLIB_STORED_ONLY=1``: nothing trains) into a temporary folder, sampling the resident memory
  of the kernel (:class:`adlib.memory.PeakTreeMemory`): the kernel's peak is the largest;
* re-runs, in a fresh subprocess, the stored ``cpu`` run with the longest wall time (its config as
  stored, a throw-away checkpoint directory, nothing written to ``results/``), sampling that
  process and its children.

Writes ``benchmarks/results/peak_memory.json``; the book's page "What re-computing costs" shows it.
With ``--papers`` the measured papers' rows replace theirs in that file (made on the same kind of
machine), the others stay, each row with its own command and time.

    python benchmarks/peak_memory.py [--papers rafiee2021,ruff2021]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def heaviest_run(paper: str) -> tuple[Path, dict]:
    """The stored cpu-scale run of ``paper`` with the longest wall time."""
    best: tuple[float, Path, dict] | None = None
    for path in sorted((REPO / "results" / paper).glob("*/*.json")):
        if path.parent.name == "claims":
            continue
        payload = json.loads(path.read_text())
        if payload["config"].get("scale") != "cpu":
            continue
        wall = float(payload["provenance"]["wall_time_s"])
        if best is None or wall > best[0]:
            best = (wall, path, payload)
    if best is None:
        raise SystemExit(f"no stored cpu-scale runs of {paper} under results/{paper}")
    return best[1], best[2]


def runner_of(paper: str, experiment: str) -> str:
    """The runner that produced ``experiment`` (every paper's notebooks name it in the sweep)."""
    from adlib.papers.registry import RUNNERS

    return RUNNERS[(paper, experiment)]


def _child_run(path: str) -> None:
    from adlib.sweep import execute_run

    payload = json.loads(Path(path).read_text())
    cfg = payload["config"]
    execute_run(runner_of(cfg["paper"], cfg["experiment"]), cfg)


def kernel_peaks(paper: str, env: dict[str, str]) -> dict[str, int]:
    """Peak resident bytes of each of ``paper``'s notebooks executed at cpu scale from the stored
    results (the kernel and anything it starts)."""
    from adlib.book import execute_notebook
    from adlib.memory import PeakTreeMemory
    from adlib.papers.registry import notebooks_for

    peaks: dict[str, int] = {}
    saved = dict(os.environ)
    os.environ.update(env, ADLIB_STORED_ONLY="1")  # the kernels inherit this process's environment
    try:
        with tempfile.TemporaryDirectory() as out:
            for nb in notebooks_for(paper):
                with PeakTreeMemory(interval=0.1, include_root=False) as memory:
                    execute_notebook(nb.path, Path(out) / f"{nb.name}.ipynb", {"scale": "cpu"})
                peaks[nb.name] = memory.peak_bytes
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return peaks


def measure(args: list[str], env: dict[str, str]) -> int:
    """Peak resident bytes of a subprocess (and its children) running this script with ``args``."""
    from adlib.memory import PeakTreeMemory

    proc = subprocess.Popen([sys.executable, __file__, *args], env=env)
    with PeakTreeMemory(interval=0.1, pid=proc.pid) as memory:
        code = proc.wait()
    if code:
        raise SystemExit(f"{' '.join(args)} failed with exit code {code}")
    return memory.peak_bytes


def main() -> int:
    from adlib.paper_values import PAPERS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--papers", default=",".join(PAPERS))
    p.add_argument("--output", type=Path, default=HERE / "results" / "peak_memory.json")
    p.add_argument("--child-run", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_run:
        _child_run(args.child_run)
        return 0
    papers = [s.strip() for s in args.papers.split(",") if s.strip()]
    unknown = sorted(set(papers) - set(PAPERS))
    if unknown:
        p.error(f"unknown papers {unknown}; valid: {', '.join(PAPERS)}")
    with tempfile.TemporaryDirectory() as ckpt:
        env = dict(os.environ, OMP_NUM_THREADS="1", ADLIB_PROGRESS="0", ADLIB_CHECKPOINTS=ckpt, MPLBACKEND="agg")
        runs = []
        for paper in papers:
            kernels = kernel_peaks(paper, env)
            heaviest_notebook = max(kernels, key=kernels.get)
            path, payload = heaviest_run(paper)
            peak = measure(["--child-run", str(path)], env)
            cfg = payload["config"]
            runs.append({"paper": paper, "run": f"{cfg['experiment']}/{cfg.get('method', '')} ({path.stem})",
                         "stored_wall_time_s": payload["provenance"]["wall_time_s"], "peak_bytes": peak,
                         "notebook": heaviest_notebook, "kernel_peak_bytes": kernels[heaviest_notebook]})
            print(f"{paper:>14}: heaviest run {runs[-1]['run']} peak {peak / 2**20:.0f} MiB; largest kernel "
                  f"{heaviest_notebook} {kernels[heaviest_notebook] / 2**20:.0f} MiB", flush=True)
    from _record import machine, now, write_measurement

    command = "python benchmarks/peak_memory.py" + ("" if set(papers) == set(PAPERS) else f" --papers {args.papers}")
    created = now()
    for row in runs:
        row.update(command=command, created=created)
    record = {"workers": os.cpu_count() or 1, "runs": runs,
              "command": command, "machine": machine(), "created": created}
    from adlib.measurements import read_measurement

    record, complete = merge_into(read_measurement(args.output), record, PAPERS)
    write_measurement(args.output, record, complete=complete, what="papers")
    return 0


def merge_into(existing: dict | None, record: dict, papers: list[str]) -> tuple[dict, bool]:
    """``record`` with the rows of ``existing`` for the papers it did not measure, in ``papers``'
    order, and whether the result covers every paper. Rows are merged only from a record made on the
    same kind of machine (platform and core count) with as many workers; each row keeps its own
    ``created`` and ``command`` (older rows without them get their record's)."""
    measured = {r["paper"] for r in record["runs"]}
    if existing and all(existing["machine"].get(k) == record["machine"].get(k) for k in ("platform", "cpu_count")) \
            and existing.get("workers") == record["workers"]:
        kept = [{**r, "created": r.get("created", existing["created"]), "command": r.get("command", existing["command"])}
                for r in existing["runs"] if r["paper"] not in measured]
        rows = sorted(kept + record["runs"], key=lambda r: papers.index(r["paper"]))
        record = {**record, "runs": rows, "command": "python benchmarks/peak_memory.py [--papers ...]"}
    return record, {r["paper"] for r in record["runs"]} == set(papers)


if __name__ == "__main__":
    sys.exit(main())

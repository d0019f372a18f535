"""Peak resident memory at ``cpu`` scale: each paper's heaviest stored run, re-run, and a notebook
kernel holding every stored result of a paper.

A notebook that trains runs its sweep in one worker process per core next to its kernel, so what
the machine must hold is about kernel + workers × run. For every paper this re-runs, in a fresh
subprocess, the stored ``cpu`` run with the longest wall time (its config as stored, a throw-away
checkpoint directory, nothing written to ``results/``), sampling the resident memory of that
process and its children (:class:`adlib.memory.PeakTreeMemory`); then, in another subprocess per
paper, it imports what a notebook imports and loads all of that paper's stored records with their
arrays, as a page does. Writes ``benchmarks/results/peak_memory.json``; the book's reproduction
page shows it.

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


def _child_kernel(paper: str) -> None:
    import matplotlib.pyplot  # noqa: F401  (what a notebook imports)
    import torch  # noqa: F401

    from adlib.paper_values import load_index  # noqa: F401
    from adlib.results import ResultsStore

    store = ResultsStore(REPO / "results")
    experiments = [d.name for d in sorted((REPO / "results" / paper).iterdir()) if d.is_dir() and d.name != "claims"]
    records = [r for experiment in experiments for r in store.records(paper, experiment)]
    print(f"{paper}: {len(records)} records loaded", file=sys.stderr)


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
    p.add_argument("--child-kernel", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_run:
        _child_run(args.child_run)
        return 0
    if args.child_kernel:
        _child_kernel(args.child_kernel)
        return 0
    papers = [s.strip() for s in args.papers.split(",") if s.strip()]
    unknown = sorted(set(papers) - set(PAPERS))
    if unknown:
        p.error(f"unknown papers {unknown}; valid: {', '.join(PAPERS)}")
    with tempfile.TemporaryDirectory() as ckpt:
        env = dict(os.environ, OMP_NUM_THREADS="1", ADLIB_PROGRESS="0", ADLIB_CHECKPOINTS=ckpt, MPLBACKEND="agg")
        runs, kernel = [], 0
        for paper in papers:
            kernel_peak = measure(["--child-kernel", paper], env)
            kernel = max(kernel, kernel_peak)
            path, payload = heaviest_run(paper)
            peak = measure(["--child-run", str(path)], env)
            cfg = payload["config"]
            runs.append({"paper": paper, "run": f"{cfg['experiment']}/{cfg.get('method', '')} ({path.stem})",
                         "stored_wall_time_s": payload["provenance"]["wall_time_s"], "peak_bytes": peak})
            print(f"{paper:>14}: heaviest run {runs[-1]['run']} peak {peak / 2**20:.0f} MiB; kernel with its "
                  f"stored results {kernel_peak / 2**20:.0f} MiB", flush=True)
    from _record import machine, now, write_measurement

    record = {"workers": os.cpu_count() or 1, "kernel_peak_bytes": kernel, "runs": runs,
              "command": "python benchmarks/peak_memory.py", "machine": machine(), "created": now()}
    write_measurement(args.output, record, complete=set(papers) == set(PAPERS), what="papers")
    return 0

if __name__ == "__main__":
    sys.exit(main())

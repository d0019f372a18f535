"""``make reproduce``: re-run the notebooks behind a table or figure, ignoring stored results.

    python -m adlib.reproduce --table 1                      # Table 1 of every paper that has one
    python -m adlib.reproduce --paper hendrycks2019 --figure 4 --scale smoke --seeds 0,1 --device cpu
    python -m adlib.reproduce --table 1 --workers 4          # the sweep on a 4-worker Dask LocalCluster

An unknown paper, table, figure or scale is an error that lists the valid ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from adlib.results import REPO_ROOT
from adlib.scales import SCALES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m adlib.reproduce", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--paper", default=None, help="paper key, e.g. hendrycks2019 (default: all)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--table", default=None, help="table number (1, 7, ...)")
    what.add_argument("--figure", default=None, help="figure number")
    what.add_argument("--artefact", default=None, help="artefact id, e.g. appendix_c")
    p.add_argument("--scale", default="cpu", help=f"one of {', '.join(SCALES)} (default cpu)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds, e.g. 0,1,2 (default: the notebook's)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1, mps (default: the notebook's)")
    p.add_argument("--workers", type=int, default=None,
                   help="run the sweep on a Dask LocalCluster of this many worker processes "
                        "(sets ADLIB_SCHEDULER=local:N; default: local processes, one per core)")
    p.add_argument("--no-force", action="store_true", help="reuse stored results instead of re-running")
    p.add_argument("--output-dir", type=Path, default=None,
                   help="where executed notebooks go (default: book/executed for cpu, build/reproduce otherwise)")
    return p.parse_args(argv)


def select_notebooks(paper: str | None, artefact: str | None):
    """The notebooks to run; ValueError listing valid choices when nothing matches."""
    from adlib.paper_values import PAPERS
    from adlib.papers.registry import NOTEBOOKS

    if paper is not None and paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; valid papers: {', '.join(PAPERS)}")
    candidates = [nb for nb in NOTEBOOKS if paper is None or nb.paper == paper]
    if artefact is None:
        if not candidates:
            raise ValueError(f"paper {paper!r} has no reproduced artefacts yet")
        return candidates
    chosen = [nb for nb in candidates if artefact in nb.artefacts]
    if not chosen:
        valid = sorted({a for nb in candidates for a in nb.artefacts})
        where = f"paper {paper}" if paper else "any paper"
        raise ValueError(f"no notebook reproduces {artefact!r} for {where}; valid: {', '.join(valid)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scale not in SCALES:
        print(f"error: unknown scale {args.scale!r}; valid scales: {', '.join(SCALES)}", file=sys.stderr)
        return 2
    artefact = (f"table{args.table}" if args.table else f"figure{args.figure}" if args.figure else args.artefact)
    try:
        notebooks = select_notebooks(args.paper, artefact)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    params: dict = {"scale": args.scale, "force": not args.no_force}
    if args.seeds:
        try:
            params["seeds"] = [int(s) for s in args.seeds.replace(" ", "").split(",") if s]
        except ValueError:
            print(f"error: SEEDS must be comma-separated integers, got {args.seeds!r}", file=sys.stderr)
            return 2
    if args.device:
        params["device"] = args.device
    if args.workers is not None:
        if args.workers < 1:
            print(f"error: WORKERS must be a positive integer, got {args.workers}", file=sys.stderr)
            return 2
        os.environ["ADLIB_SCHEDULER"] = f"local:{args.workers}"  # inherited by the notebook kernels
    if params["force"]:
        from adlib.sweep import force_session_start

        force_session_start()  # a run shared by the selected notebooks is re-computed once
    from adlib.book import execute_notebook

    out_dir = args.output_dir or (REPO_ROOT / ("book/executed" if args.scale == "cpu" else f"build/reproduce/{args.scale}"))
    for nb in notebooks:
        out = out_dir / nb.paper / f"{nb.name}.ipynb"
        start = time.perf_counter()
        args_text = " ".join(f"-p {k} {shlex.quote(json.dumps(v))}" for k, v in params.items())
        print(f"[reproduce] {nb.paper} {', '.join(nb.artefacts)}: papermill {nb.path.relative_to(REPO_ROOT)} "
              f"{out} {args_text}", flush=True)
        execute_notebook(nb.path, out, params)
        print(f"[reproduce] done in {time.perf_counter() - start:.0f} s -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

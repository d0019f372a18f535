"""The sweep runner: a grid of run configs in, stored :class:`~adlib.results.RunRecord` s out.

A run is a JSON-able config dict (with ``paper``, ``experiment``, ``seed`` and ``threads``)
and a *runner*: an importable function ``"package.module:function"`` mapping the config to
``(metrics, arrays)``. Runs already in the store are reused unless ``force=True``. Runs that
are missing execute locally, in up to ``workers`` separate processes with ``threads`` torch
threads each (on a 2-core machine: two processes, one thread each, rather than one process
with two spinning threads). Each finished run is stored at once, so an interrupted sweep
loses at most the runs in flight; re-running it completes only what is missing.

``ADLIB_STORED_ONLY=1`` turns a missing run into an error instead of a training run.
"""

from __future__ import annotations

import importlib
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from adlib.results import ResultsStore, RunRecord, canonical_json, config_hash, provenance

RunOutput = tuple[dict[str, Any], dict[str, np.ndarray]]


def resolve_runner(runner: str) -> Callable[[dict[str, Any]], RunOutput]:
    """Import ``"module:function"``."""
    module_name, _, attr = runner.partition(":")
    if not attr:
        raise ValueError(f"runner must look like 'package.module:function', got {runner!r}")
    return getattr(importlib.import_module(module_name), attr)


def execute_run(runner: str, config: Mapping[str, Any], store_root: str | None = None) -> RunRecord:
    """Run one config in this process (thread count from ``config['threads']``), store it, return it."""
    import torch

    threads = int(config.get("threads", 1))
    torch.set_num_threads(threads)
    config = dict(config)
    start = time.perf_counter()
    metrics, arrays = resolve_runner(runner)(config)
    record = RunRecord(config=config, metrics=metrics,
                       provenance=provenance(device=str(config.get("device", "cpu")),
                                             wall_time_s=time.perf_counter() - start, threads=threads),
                       arrays=arrays)
    if store_root is not None:
        ResultsStore(store_root).put(record)
    return record


def _worker_init(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("ADLIB_PROGRESS", "0")


def default_workers(n_runs: int, device: str = "cpu") -> int:
    """One process per core for CPU runs (``$ADLIB_WORKERS`` overrides), one for a GPU."""
    env = os.environ.get("ADLIB_WORKERS")
    if env:
        return max(1, int(env))
    if device not in ("cpu",):
        return 1
    return max(1, min(n_runs, os.cpu_count() or 1))


def run_sweep(
    configs: Sequence[Mapping[str, Any]],
    runner: str,
    *,
    store: ResultsStore,
    force: bool = False,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "runs",
) -> list[RunRecord]:
    """Return one record per config (in order), running only those not yet stored (or all if ``force``)."""
    for cfg in configs:
        canonical_json(cfg)  # fails early on anything that is not plain JSON
    unique: dict[str, Mapping[str, Any]] = {}
    for cfg in configs:
        unique.setdefault(config_hash(cfg), cfg)
    done: dict[str, RunRecord] = {}
    todo: list[Mapping[str, Any]] = []
    for key, cfg in unique.items():
        record = None if force else store.get(cfg)
        if record is None:
            todo.append(cfg)
        else:
            done[key] = record
    if todo and os.environ.get("ADLIB_STORED_ONLY") == "1":
        missing = ", ".join(f"{c.get('experiment')}/{c.get('method', '')} seed {c.get('seed')} ({config_hash(c)})"
                            for c in todo)
        raise LookupError(f"ADLIB_STORED_ONLY=1 but {len(todo)} run(s) are not in {store.root}: {missing}. "
                          "Produce them with `make reproduce ...` (or unset ADLIB_STORED_ONLY to train now).")
    if todo:
        device = str(todo[0].get("device", "cpu"))
        n_workers = workers if workers is not None else default_workers(len(todo), device)
        bar = tqdm(total=len(todo), desc=desc, disable=not progress)
        if n_workers <= 1:
            for cfg in todo:
                done[config_hash(cfg)] = execute_run(runner, cfg, str(store.root))
                bar.update()
        else:
            threads = int(todo[0].get("threads", 1))
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn"),
                                     initializer=_worker_init, initargs=(threads,)) as pool:
                futures = {pool.submit(execute_run, runner, dict(cfg), str(store.root)): config_hash(cfg)
                           for cfg in todo}
                for fut in as_completed(futures):
                    done[futures[fut]] = fut.result()
                    bar.update()
        bar.close()
    return [done[config_hash(cfg)] for cfg in configs]

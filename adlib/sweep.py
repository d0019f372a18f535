"""The sweep runner: a grid of run configs in, stored :class:`~adlib.results.RunRecord` s out.

A run is a JSON-able config dict (with ``paper``, ``experiment``, ``seed`` and ``threads``)
and a *runner*: an importable function ``"package.module:function"`` mapping the config to
``(metrics, arrays)``. Runs already in the store are reused unless ``force=True``; a stored
file that is corrupt or holds another config is moved aside and its run re-done.

Within a *forced session* ``force`` re-runs each run once, not once per call: ``make book FORCE=1``
and ``make reproduce`` call :func:`force_session_start`, which sets ``$ADLIB_FORCE_SINCE`` (a UTC
time stamp) for the notebook kernels they start, and a run stored since then is reused. So a model
that serves several pages (hendrycks2019 Tables 1, 7, 10; rafiee2021 Tables 1, 3, 4; ahmed2020
Tables 3, 4 and Figure 1) is trained once even when every page is forced. Outside a session
``force`` re-runs every config.

Where the missing runs execute (the *backend*; notebooks never change, the environment does):

* default: this machine, in up to ``workers`` separate processes with ``threads`` torch threads
  each (on a 2-core machine two processes with one thread each, not one process whose two
  threads spin);
* ``ADLIB_SCHEDULER=local:N`` (or ``local``, one worker per core or per GPU): a Dask
  ``LocalCluster`` of N single-threaded worker processes on 127.0.0.1;
* ``ADLIB_SCHEDULER=tcp://host:8786`` or ``ADLIB_SCHEDULER=/path/scheduler.json``: an existing
  Dask cluster (e.g. SLURM jobs started with ``python -m adlib.cluster slurm``), one GPU per worker.

Whatever the backend, this process is the only writer of the results store, and it stores each
run the moment it finishes: a sweep killed at any point loses only the runs in flight, and
re-running it does only what is missing. A run whose Dask worker dies is re-scheduled on another
worker by the scheduler (up to ``distributed.scheduler.allowed-failures`` times).

``ADLIB_STORED_ONLY=1`` turns a missing run into an error instead of a training run.
``ADLIB_CORE_SLOTS=<dir>`` makes every run hold one of the directory's core slots while it trains
(:func:`core_slot`): the book's lanes set it, so that their sweeps together train one run per core.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from adlib.results import (CorruptResultError, ResultsStore, RunRecord, canonical_json, config_hash, provenance,
                           utc_stamp)

RunOutput = tuple[dict[str, Any], dict[str, np.ndarray]]
ENV_SCHEDULER = "ADLIB_SCHEDULER"
ENV_FORCE_SINCE = "ADLIB_FORCE_SINCE"
ENV_CORE_SLOTS = "ADLIB_CORE_SLOTS"


def make_core_slots(directory: str | os.PathLike[str], cores: int | None = None) -> Path:
    """Create ``cores`` (default: this machine's) slot files in ``directory`` for :func:`core_slot`."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(max(1, cores or os.cpu_count() or 1)):
        (root / f"slot-{i}.lock").touch()
    return root


@contextmanager
def core_slot(poll_seconds: float = 0.2) -> Iterator[None]:
    """Hold one of the machine's core slots while a run trains, where ``$ADLIB_CORE_SLOTS`` names a
    directory of slot files (:func:`make_core_slots`, one per core): several processes that each run a
    sweep (the book's lanes, :func:`adlib.book.execute_book`) then train at most one run per core in
    all, and a core that one of them leaves idle (its next run waits for another, or it has no runs
    left) is taken by another's next run. Slots are ``flock`` s, so a killed process frees its own.
    Without the variable this is a no-op."""
    root = os.environ.get(ENV_CORE_SLOTS)
    if not root:
        yield
        return
    import fcntl

    slots = sorted(Path(root).glob("slot-*.lock"))
    if not slots:
        raise FileNotFoundError(f"${ENV_CORE_SLOTS}={root} holds no slot-*.lock files (make_core_slots makes them)")
    while True:
        for path in slots:
            handle = open(path, "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(poll_seconds)


def force_session_start() -> str:
    """Begin a forced re-computation for this process and the processes it starts (or join the one
    already begun): returns ``$ADLIB_FORCE_SINCE``, setting it to the current UTC second if unset.
    Records created at or after it count as re-computed in this session."""
    return os.environ.setdefault(ENV_FORCE_SINCE, utc_stamp())  # the format of every record's "created"


def _stored_since(store: ResultsStore, cfg: Mapping[str, Any], since: str) -> RunRecord | None:
    """The stored record of ``cfg`` if it was created at or after ``since`` (an ISO UTC stamp), else
    None (also for a corrupt file, which the re-run overwrites)."""
    try:
        record = store.get(cfg)
    except CorruptResultError:
        return None
    if record is None or str(record.provenance.get("created", "")) < since:
        return None
    return record


def resolve_runner(runner: str) -> Callable[[dict[str, Any]], RunOutput]:
    """Import ``"module:function"``."""
    module_name, _, attr = runner.partition(":")
    if not attr:
        raise ValueError(f"runner must look like 'package.module:function', got {runner!r}")
    return getattr(importlib.import_module(module_name), attr)


def _bind_worker_gpu(config: Mapping[str, Any]) -> None:
    """On a Dask worker of a multi-GPU machine, give each worker its own GPU (worker name mod
    device count) when the config asks for plain ``cuda``/``auto``; a no-op anywhere else."""
    if str(config.get("device", "cpu")) not in ("cuda", "auto"):
        return
    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        return
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return
    if isinstance(name, int) or str(name).isdigit():
        torch.cuda.set_device(int(name) % torch.cuda.device_count())


def execute_run(runner: str, config: Mapping[str, Any], store_root: str | None = None) -> RunRecord:
    """Run one config in this process (thread count from ``config['threads']``) and return its
    record; store it too when ``store_root`` is given."""
    import torch

    threads = int(config.get("threads", 1))
    torch.set_num_threads(threads)
    _bind_worker_gpu(config)
    config = dict(config)
    with core_slot():  # where lanes share the cores; the wait is not part of the run's wall time
        start = time.perf_counter()
        metrics, arrays = resolve_runner(runner)(config)
        wall = time.perf_counter() - start
    record = RunRecord(config=config, metrics=metrics,
                       provenance=provenance(device=str(config.get("device", "cpu")),
                                             wall_time_s=wall, threads=threads),
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


def _local_cluster_size(spec: str, device: str) -> int:
    _, _, n = spec.partition(":")
    if n:
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"{ENV_SCHEDULER}={spec!r}: expected local:N with N a positive integer")
        return int(n)
    if device != "cpu":
        import torch

        return max(1, torch.cuda.device_count())
    return os.cpu_count() or 1


def connect(scheduler: str, *, device: str = "cpu", threads: int = 1):
    """``(client, cluster)`` for a scheduler spec: ``local[:N]`` starts a ``LocalCluster`` of N
    worker processes with one thread each (``cluster`` is returned so the caller can close it);
    a ``tcp://`` address or a scheduler JSON file connects to a running cluster (``cluster`` None)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - distributed is a dependency
        raise ImportError(f"{ENV_SCHEDULER}={scheduler!r} needs dask.distributed: pip install 'dask[distributed]'") from err
    if scheduler == "local" or scheduler.startswith("local:"):
        n = _local_cluster_size(scheduler, device)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, env={"OMP_NUM_THREADS": str(threads), "ADLIB_PROGRESS": "0"})
        return Client(cluster), cluster
    if scheduler.endswith(".json"):
        if not os.path.exists(scheduler):
            raise FileNotFoundError(f"{ENV_SCHEDULER}={scheduler!r}: no such scheduler file")
        return Client(scheduler_file=scheduler), None
    if "://" in scheduler:
        return Client(scheduler), None
    raise ValueError(f"{ENV_SCHEDULER}={scheduler!r} is not a scheduler: use local, local:N, "
                     "tcp://host:port or a scheduler .json file")


def _run_local(todo: Sequence[Mapping[str, Any]], runner: str, n_workers: int,
               after: Mapping[str, set[str]] | None = None) -> Iterator[RunRecord]:
    """Run ``todo`` in ``n_workers`` processes (in this one for a single worker), yielding each
    record as it finishes. ``after[key]``: the config keys (:func:`config_hash`) of runs in ``todo``
    that must finish before the run ``key`` starts (a later stage's run waits only for its own
    dependencies, not for a whole stage); runs are started in ``todo``'s order as they become ready."""
    after = after or {}
    if n_workers <= 1:  # todo's order already puts every dependency first
        for cfg in todo:
            yield execute_run(runner, cfg)
        return
    threads = int(todo[0].get("threads", 1))
    waiting = [(config_hash(cfg), cfg) for cfg in todo]
    finished: set[str] = set()
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn"),
                             initializer=_worker_init, initargs=(threads,)) as pool:
        running: dict[Any, str] = {}
        try:
            while True:
                ready = [(k, c) for k, c in waiting if after.get(k, set()) <= finished]
                for key, cfg in ready:
                    running[pool.submit(execute_run, runner, dict(cfg))] = key
                started = {k for k, _ in ready}
                waiting = [(k, c) for k, c in waiting if k not in started]
                if not waiting:  # all submitted: collect the rest as they finish
                    break
                if not running:
                    raise ValueError(f"runs wait for dependencies that are not among them: "
                                     f"{sorted(k for k, _ in waiting)}")
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    finished.add(running.pop(fut))
                    yield fut.result()
            for fut in as_completed(list(running)):
                running.pop(fut)
                yield fut.result()
        except BaseException:
            for fut in running:
                fut.cancel()
            raise


def _run_dask(todo: Sequence[Mapping[str, Any]], runner: str, scheduler: str) -> Iterator[RunRecord]:
    from distributed import as_completed as dask_completed

    device = str(todo[0].get("device", "cpu"))
    client, cluster = connect(scheduler, device=device, threads=int(todo[0].get("threads", 1)))
    try:
        futures = [client.submit(execute_run, runner, dict(cfg), key=f"adlib-run-{config_hash(cfg)}", pure=False)
                   for cfg in todo]
        try:
            for fut in dask_completed(futures):
                yield fut.result()
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_sweep(
    configs: Sequence[Mapping[str, Any]],
    runner: str,
    *,
    store: ResultsStore,
    force: bool = False,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "runs",
    scheduler: str | None = None,
    check: Callable[[Mapping[str, Any]], None] | None = None,
    after: Mapping[str, set[str]] | None = None,
) -> list[RunRecord]:
    """Return one record per config (in order), running only those not yet stored (with ``force``:
    those not re-computed in this forced session, see the module docstring).

    ``check`` is called with the first config that must run, before anything runs: a paper's
    data check fails there with the command that downloads what is missing.

    ``after[key]`` (local processes only): the config keys that must be finished (or stored)
    before the run with config key ``key`` starts; ``configs`` must list every run after those it waits for.

    ``scheduler`` (default ``$ADLIB_SCHEDULER``) picks a Dask backend (see the module docstring);
    without one, ``workers`` local processes run the missing configs.
    """
    for cfg in configs:
        canonical_json(cfg)  # fails early on anything that is not plain JSON
    unique: dict[str, Mapping[str, Any]] = {}
    for cfg in configs:
        unique.setdefault(config_hash(cfg), cfg)
    stored_only = os.environ.get("ADLIB_STORED_ONLY") == "1"
    since = os.environ.get(ENV_FORCE_SINCE) if force else None
    done: dict[str, RunRecord] = {}
    todo: list[Mapping[str, Any]] = []
    for key, cfg in unique.items():
        record = None
        if since:
            record = _stored_since(store, cfg, since)
        elif not force:
            try:
                record = store.get(cfg)
            except CorruptResultError as err:
                if stored_only:
                    raise
                moved = store.quarantine(cfg)
                print(f"warning: {err} Moved to {', '.join(p.name for p in moved)}; re-running.", file=sys.stderr)
        if record is None:
            todo.append(cfg)
        else:
            done[key] = record
    if todo and stored_only:
        missing = ", ".join(f"{c.get('experiment')}/{c.get('method', '')} seed {c.get('seed')} ({config_hash(c)})"
                            for c in todo)
        raise LookupError(f"ADLIB_STORED_ONLY=1 but {len(todo)} run(s) are not in {store.root}: {missing}. "
                          "Produce them with `make reproduce ...` (or unset ADLIB_STORED_ONLY to train now).")
    if todo and check is not None:
        check(todo[0])
    if todo:
        scheduler = scheduler if scheduler is not None else os.environ.get(ENV_SCHEDULER, "").strip()
        if scheduler:
            finished = _run_dask(todo, runner, scheduler)
        else:
            device = str(todo[0].get("device", "cpu"))
            keys = {config_hash(cfg) for cfg in todo}
            waits = {k: set(v) & keys for k, v in (after or {}).items() if k in keys}
            finished = _run_local(todo, runner, workers if workers is not None else default_workers(len(todo), device),
                                  after=waits)
        with tqdm(total=len(todo), desc=desc, disable=not progress) as bar:
            for record in finished:
                store.put(record)  # at once: a sweep killed later keeps this run
                done[record.key] = record
                bar.update()
    return [done[config_hash(cfg)] for cfg in configs]


def run_stages(
    stages: Sequence[Sequence[str]],
    seeds: Sequence[int],
    make_config: Callable[[str, int], Mapping[str, Any]],
    runner: str,
    *,
    store: ResultsStore,
    force: bool = False,
    workers: int | None = None,
    progress: bool = True,
    check_data: Callable[[Mapping[str, Any]], None] | None = None,
    desc: str = "",
) -> dict[tuple[str, int], RunRecord]:
    """Run (or load) a (method × seed) grid in stages, so that a later stage (OE fine-tuning) finds
    the checkpoints an earlier one (the baseline) wrote. ``make_config(method, seed)`` builds each
    run's config (it must carry ``method`` and ``seed``); ``check_data(config)`` runs before
    anything trains, so a missing dataset is one clear message before any work. Returns
    ``{(method, seed): record}``.

    On local processes it is one sweep in which a run of seed s starts as soon as the earlier
    stages' runs of seed s are done (a worker never idles at a stage barrier while another
    seed's run could go, and the workers start once); with a Dask scheduler (``$ADLIB_SCHEDULER``)
    the stages run one after another, one :func:`run_sweep` each.
    """
    cfgs = {(method, seed): make_config(method, seed) for stage in stages for method in stage for seed in seeds}
    out: dict[tuple[str, int], RunRecord] = {}
    if os.environ.get(ENV_SCHEDULER, "").strip():
        for stage in stages:
            stage_cfgs = [cfgs[method, seed] for method in stage for seed in seeds]
            if check_data is not None and stage_cfgs and (force or not all(store.is_stored(c) for c in stage_cfgs)):
                check_data(stage_cfgs[0])
            records = run_sweep(stage_cfgs, runner, store=store, force=force, workers=workers, progress=progress,
                                desc=" ".join(p for p in (desc, "/".join(stage), "runs") if p))
            out.update({(str(c["method"]), int(c["seed"])): r for c, r in zip(stage_cfgs, records)})
        return out
    after: dict[str, set[str]] = {}
    for i, stage in enumerate(stages):
        for method in stage:
            for seed in seeds:
                key = config_hash(cfgs[method, seed])
                after.setdefault(key, set()).update(config_hash(cfgs[m, seed]) for earlier in stages[:i]
                                                    for m in earlier)
                after[key].discard(key)  # the same config in two stages runs once
    order = list(cfgs.values())  # stage by stage: every run after those it waits for
    records = run_sweep(order, runner, store=store, force=force, workers=workers, progress=progress,
                        desc=" ".join(p for p in (desc, "/".join("/".join(st) for st in stages), "runs") if p),
                        check=check_data, after=after)
    return {(str(c["method"]), int(c["seed"])): r for c, r in zip(order, records)}


def sweep_threads(device: str) -> int:
    """Torch threads per run: one per process on the CPU (processes fill the cores), 4 on a GPU
    (for data preparation around the GPU work)."""
    return 1 if device == "cpu" else 4



class PaperRunner:
    """A paper's ``run_configs(configs, scale, *, force, workers, progress, store)``: :func:`run_sweep`
    with the paper's runner and data check on the results store of ``scale`` (or ``store``), one
    record per config, running only the configs not yet stored (with ``force``: all, or those not yet
    re-computed in the forced session)."""

    def __init__(self, runner: str, *, check: Callable[[Mapping[str, Any]], None] | None = None,
                 desc: str = "runs") -> None:
        self.runner, self.check, self.desc = runner, check, desc

    def __call__(self, configs: Sequence[Mapping[str, Any]], scale: str, *, force: bool = False,
                 workers: int | None = None, progress: bool = True, store: ResultsStore | None = None) -> list[RunRecord]:
        return run_sweep(configs, self.runner, store=store or ResultsStore.for_scale(scale), force=force,
                         workers=workers, progress=progress, desc=self.desc, check=self.check)

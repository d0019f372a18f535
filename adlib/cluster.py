"""Start a Dask cluster for sweeps that outgrow one machine, and print how to point sweeps at it.

    # on a SLURM login node: 8 jobs, one GPU and one single-threaded worker each
    python -m adlib.cluster slurm --jobs 8 --partition gpu --gpus-per-job 1 --cores 8 \\
        --memory 32GB --walltime 12:00:00 --scheduler-file build/scheduler.json
    # in another shell (same shared filesystem), unchanged notebooks and make targets:
    ADLIB_SCHEDULER=build/scheduler.json make reproduce PAPER=hendrycks2019 TABLE=1 SCALE=paper DEVICE=cuda

    # a persistent cluster on this machine (``make reproduce WORKERS=N`` starts a throw-away one)
    python -m adlib.cluster local --workers 4 --scheduler-file build/scheduler.json

The cluster runs until interrupted (Ctrl-C). Each worker runs one run at a time
(``--nthreads 1``); on GPU jobs each worker owns the job's GPU. The results store stays where the
sweep's driver runs: workers return records, the driver writes them (see :mod:`adlib.sweep`).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

SLURM_HINT = "SLURM clusters need dask-jobqueue: pip install 'adlib-book[slurm]' (or pip install dask-jobqueue)"


def slurm_cluster(*, jobs: int, cores: int, memory: str, walltime: str, partition: str | None = None,
                  account: str | None = None, gpus_per_job: int = 1, threads: int = 1,
                  extra_directives: tuple[str, ...] = (), python: str | None = None) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` whose jobs each run one single-threaded worker process
    with ``gpus_per_job`` GPUs (``--gres=gpu:N``), scaled to ``jobs`` jobs."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as err:
        raise ImportError(SLURM_HINT) from err
    directives = [f"--gres=gpu:{gpus_per_job}"] if gpus_per_job else []
    directives += list(extra_directives)
    kwargs: dict[str, Any] = dict(
        # one worker process with one task thread per job; the job still reserves ``cores`` CPUs
        cores=1, processes=1, job_cpu=cores, memory=memory, walltime=walltime, queue=partition,
        account=account, job_extra_directives=directives,
        job_script_prologue=[f"export OMP_NUM_THREADS={threads}", "export ADLIB_PROGRESS=0"],
    )
    if python:
        kwargs["python"] = python
    cluster = SLURMCluster(**kwargs)
    if jobs:
        cluster.scale(jobs=jobs)
    return cluster


def local_cluster(workers: int, threads: int = 1) -> Any:
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, env={"OMP_NUM_THREADS": str(threads), "ADLIB_PROGRESS": "0"})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m adlib.cluster", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kind", required=True)
    slurm = sub.add_parser("slurm", help="submit SLURM jobs that run Dask workers")
    slurm.add_argument("--jobs", type=int, required=True, help="number of SLURM jobs (= workers)")
    slurm.add_argument("--cores", type=int, default=4, help="CPU cores per job (data loading, evaluation)")
    slurm.add_argument("--memory", default="16GB", help="memory per job, e.g. 32GB")
    slurm.add_argument("--walltime", default="04:00:00", help="time limit per job, HH:MM:SS")
    slurm.add_argument("--partition", default=None, help="SLURM partition (queue)")
    slurm.add_argument("--account", default=None, help="SLURM account")
    slurm.add_argument("--gpus-per-job", type=int, default=1, help="GPUs per job (0 for CPU jobs)")
    slurm.add_argument("--directive", action="append", default=[], help="extra #SBATCH directive (repeatable)")
    slurm.add_argument("--print-job-script", action="store_true", help="print the job script and exit")
    local = sub.add_parser("local", help="a LocalCluster on this machine")
    local.add_argument("--workers", type=int, required=True)
    for s in (slurm, local):
        s.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
        s.add_argument("--scheduler-file", default=None, help="write the scheduler's address here (JSON)")
    args = p.parse_args(argv)
    if (getattr(args, "jobs", 1) or 0) < 1 and not getattr(args, "print_job_script", False):
        p.error("--jobs must be at least 1")
    if getattr(args, "workers", 1) < 1:
        p.error("--workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.kind == "slurm":
            cluster = slurm_cluster(jobs=0 if args.print_job_script else args.jobs, cores=args.cores,
                                    memory=args.memory, walltime=args.walltime, partition=args.partition,
                                    account=args.account, gpus_per_job=args.gpus_per_job, threads=args.threads,
                                    extra_directives=tuple(args.directive))
            if args.print_job_script:
                print(cluster.job_script())
                cluster.close()
                return 0
        else:
            cluster = local_cluster(args.workers, args.threads)
    except ImportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from distributed import Client

    client = Client(cluster)
    if args.scheduler_file:
        # what Client.write_scheduler_file writes, but atomically: a sweep polling for the file
        # (on this or another node) never reads it half-written
        import json

        from adlib.atomic import atomic_write_bytes

        atomic_write_bytes(args.scheduler_file, json.dumps(client.scheduler_info(), indent=2).encode())
    target = args.scheduler_file or cluster.scheduler_address
    print(f"[cluster] scheduler at {cluster.scheduler_address}; run sweeps with\n"
          f"    ADLIB_SCHEDULER={target} make reproduce ...\n[cluster] Ctrl-C stops it", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m adlib.cluster``: the SLURM job script asks for one GPU and one single-threaded
worker per job; a missing dask-jobqueue and bad counts are one-line errors; a local cluster
started by it serves a sweep through its scheduler file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adlib import cluster
from adlib.results import ResultsStore
from adlib.sweep import run_sweep

TESTS = Path(__file__).parent


def test_slurm_job_script_has_one_gpu_and_one_thread_per_worker(capsys):
    pytest.importorskip("dask_jobqueue")
    assert cluster.main(["slurm", "--jobs", "2", "--partition", "gpu", "--gpus-per-job", "1", "--memory", "8GB",
                         "--walltime", "01:00:00", "--cores", "4", "--directive=--constraint=h100", "--print-job-script"]) == 0
    script = capsys.readouterr().out
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH -p gpu" in script
    assert "#SBATCH --constraint=h100" in script and "export OMP_NUM_THREADS=1" in script
    assert "--nthreads 1" in script and "--nworkers" not in script and "#SBATCH --cpus-per-task=4" in script


def test_slurm_without_dask_jobqueue_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)
    assert cluster.main(["slurm", "--jobs", "1"]) == 2
    assert "pip install" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["slurm", "--jobs", "0"], ["local", "--workers", "0"], ["mesos"]])
def test_bad_arguments_are_errors(argv):
    with pytest.raises(SystemExit) as err:
        cluster.parse_args(argv)
    assert err.value.code == 2


def test_a_started_local_cluster_serves_sweeps_through_its_scheduler_file(tmp_path):
    sched = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = subprocess.Popen([sys.executable, "-m", "adlib.cluster", "local", "--workers", "2",
                             "--scheduler-file", str(sched)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not sched.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert json.loads(sched.read_text())["address"].startswith("tcp://127.0.0.1")
        configs = [{"paper": "toy", "experiment": "cl", "seed": s, "threads": 1} for s in range(3)]
        records = run_sweep(configs, "sweep_toy:where", store=ResultsStore(tmp_path / "s"), scheduler=str(sched),
                            progress=False)
        assert all(r.metrics["dask_worker"] for r in records)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0

"""Sweeps through Dask: a real LocalCluster of worker processes on 127.0.0.1 gives the same
records as the sequential run, a run lost with its worker is re-run, and the backend is chosen
by ``ADLIB_SCHEDULER`` without any change to the caller."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from adlib.results import ResultsStore  # noqa: E402
from adlib.sweep import connect, run_sweep  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
TOY = "sweep_toy:run"


@pytest.fixture(autouse=True)
def _importable_toy(monkeypatch):
    # worker processes import the toy runner by name: put tests/ on their path
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    monkeypatch.delenv("ADLIB_SCHEDULER", raising=False)
    monkeypatch.delenv("ADLIB_STORED_ONLY", raising=False)


def _configs(n, **extra):
    return [{"paper": "toy", "experiment": "dask", "seed": s, "threads": 1, **extra} for s in range(n)]


def test_three_worker_local_cluster_equals_sequential(tmp_path):
    configs = _configs(6)
    seq = run_sweep(configs, TOY, store=ResultsStore(tmp_path / "seq"), workers=1, progress=False)
    par = run_sweep(configs, TOY, store=ResultsStore(tmp_path / "dask"), scheduler="local:3", progress=False)
    assert [r.metrics for r in seq] == [r.metrics for r in par]
    for a, b in zip(seq, par):
        assert np.array_equal(a.arrays["scores"], b.arrays["scores"])
        assert b.metrics["threads"] == 1
    # stored by the sweep, so a second pass reads them back and runs nothing
    again = run_sweep(configs, "sweep_toy:fail", store=ResultsStore(tmp_path / "dask"), scheduler="local:3",
                      progress=False)
    assert [r.metrics for r in again] == [r.metrics for r in seq]


def test_a_run_lost_with_its_worker_is_rerun(tmp_path):
    configs = _configs(4, marker=str(tmp_path / "died"))
    records = run_sweep(configs, "sweep_toy:die_once", store=ResultsStore(tmp_path / "s"), scheduler="local:2",
                        progress=False)
    assert (tmp_path / "died").exists()  # a worker really was killed
    expected = run_sweep(_configs(4), TOY, store=ResultsStore(tmp_path / "ref"), workers=1, progress=False)
    assert [r.metrics for r in records] == [r.metrics for r in expected]
    assert len(list((tmp_path / "s" / "toy" / "dask").glob("*.json"))) == 4


def test_scheduler_address_comes_from_the_environment(tmp_path, monkeypatch):
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    try:
        monkeypatch.setenv("ADLIB_SCHEDULER", cluster.scheduler_address)
        records = run_sweep(_configs(3), "sweep_toy:where", store=ResultsStore(tmp_path), progress=False)
        assert all(r.metrics["dask_worker"] for r in records)
        monkeypatch.setenv("ADLIB_SCHEDULER", "")
        local = run_sweep(_configs(3, other=1), "sweep_toy:where", store=ResultsStore(tmp_path), workers=1,
                          progress=False)
        assert not any(r.metrics["dask_worker"] for r in local)
    finally:
        cluster.close()


@pytest.mark.parametrize("spec, message", [("local:0", "positive integer"), ("local:x", "positive integer"),
                                           ("cluster9", "not a scheduler"), ("/nowhere/s.json", "no such")])
def test_bad_scheduler_specs_say_what_is_valid(spec, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        connect(spec)

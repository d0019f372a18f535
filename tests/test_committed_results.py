"""The committed cpu-scale results: well-formed, with provenance, and re-creatable bit for bit."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from adlib.results import REPO_ROOT, ResultsStore, config_hash
from adlib.sweep import execute_run

RESULTS = REPO_ROOT / "results"
RUN_FILES = sorted(p for p in RESULTS.glob("*/*/*.json") if p.parent.name != "claims")
RUNNERS = {("hendrycks2019", "vision_oe"): "adlib.papers.hendrycks2019.experiments:run"}


def test_results_are_committed():
    assert RUN_FILES, "no committed results under results/: run `make reproduce` and commit them"


@pytest.mark.parametrize("path", RUN_FILES, ids=lambda p: str(p.relative_to(RESULTS)))
def test_result_is_keyed_by_its_config_and_has_provenance(path):
    payload = json.loads(path.read_text())
    assert path.stem == config_hash(payload["config"])
    prov = payload["provenance"]
    for key in ("git_commit", "versions", "machine", "device", "wall_time_s", "created", "torch_threads"):
        assert key in prov, key
    assert payload["config"]["threads"] == prov["torch_threads"]
    assert payload["config"]["scale"] in ("cpu", "paper")


@pytest.mark.slow
def test_cheapest_committed_cpu_result_recreates_bit_for_bit(tmp_path, monkeypatch):
    cpu = [p for p in RUN_FILES if json.loads(p.read_text())["config"]["scale"] == "cpu"]
    assert cpu
    path = min(cpu, key=lambda p: json.loads(p.read_text())["provenance"]["wall_time_s"])
    stored = json.loads(path.read_text())
    cfg = stored["config"]
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path / "ckpt"))  # retrain, do not load a cached model
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    record = execute_run(RUNNERS[(cfg["paper"], cfg["experiment"])], cfg, str(tmp_path / "store"))
    assert record.metrics == stored["metrics"]
    original = ResultsStore(RESULTS).get(cfg)
    assert set(original.arrays) == set(record.arrays)
    for key, arr in original.arrays.items():
        np.testing.assert_array_equal(arr, record.arrays[key])

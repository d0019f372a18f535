"""singh2021 experiment definitions: configs, shared per-class units, the paper's
hyperparameters (Tables 18-20), and a seconds-long smoke run of every method."""

import numpy as np
import pytest
import torch

from adlib import paper_values as pv
from adlib.results import config_hash
from adlib.papers.singh2021 import experiments as E


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    return tmp_path / "ck"


def test_config_validation():
    with pytest.raises(ValueError, match="method"):
        E.run_config("cpu", "ocsvm", (0, 1), 0)
    with pytest.raises(ValueError, match="normal_classes"):
        E.run_config("cpu", "deepmad", (0, 0), 0)
    with pytest.raises(ValueError, match="normal_classes"):
        E.run_config("cpu", "deepmad", tuple(range(10)), 0)
    with pytest.raises(ValueError, match="not available"):
        E.run_config("cpu", "deepmad", (0, 1), 0, dataset="cifar10")
    with pytest.raises(ValueError, match="DROCC"):
        E.run_config("cpu", "deep_svdd_m", (0, 1), 0, combine="dempster_shafer")
    cfg = E.run_config("cpu", "deepmad", (8, 0), 0)
    assert cfg["data"]["normal_classes"] == [0, 8] and cfg["data"]["dataset"] == "fashion_mnist"
    assert cfg["params"]["delta"] is None and cfg["params"]["delta_factor"] == 0.75
    assert "combine" not in cfg["params"] and "combine" in E.run_config("cpu", "drocc_m", (0, 1), 0)["params"]
    assert len(E.split_configs("cpu", "2/8", [0, 1])) == 45 * 5 * 2


def test_per_class_units_are_shared_across_combinations():
    a = E.run_config("cpu", "deep_svdd_m", (0, 1), 0)
    b = E.run_config("cpu", "deep_svdd_m", (0, 7, 9), 0)
    mad = E.run_config("cpu", "deepmad", (0, 2), 0)
    key = lambda cfg, kind, classes, own=None: config_hash(E.unit_config(cfg, kind, classes, own))  # noqa: E731
    assert key(a, "deep_svdd", [0]) == key(b, "deep_svdd", [0]) != key(a, "deep_svdd", [1])
    assert key(a, "ae", [0]) == key(mad, "ae", [0])  # DeepMAD's A_0 is Deep SVDD(m)'s pre-training
    assert key(a, "ae", [0]) != key(E.run_config("cpu", "deep_svdd_m", (0, 1), 1), "ae", [0])  # per seed
    d1, d2 = E.run_config("cpu", "drocc_m", (0, 1), 0), E.run_config("cpu", "drocc_m", (0, 5), 0, combine="min_standardised")
    assert key(d1, "drocc", [0]) == key(d2, "drocc", [0])  # the combine rule is not part of the unit
    assert key(mad, "deepmad", [0, 2], 0) != key(E.run_config("cpu", "deepmad", (0, 3), 0), "deepmad", [0, 3], 0)


def _table(art):
    df = pv.load_values("singh2021", art)
    return df[df["row"].astype(int) == 1].set_index("metric")["value"].to_dict()


def test_paper_scale_uses_tables_18_to_20():
    drocc = E.run_config("paper", "drocc", (0, 8), 0)
    t18 = _table("table18")
    assert drocc["params"]["radius"] == t18["Radius"] and drocc["params"]["mu"] == t18["mu"]
    assert drocc["train"]["drocc"]["lr"] == t18["Learning Rate"] and drocc["train"]["drocc"]["optimizer"] == "adam"
    assert drocc["params"]["ascent_step_size"] == t18["Adversarial Ascent Step Size"]
    svdd = E.run_config("paper", "deep_svdd", (0, 8), 0)
    t19 = _table("table19")
    assert svdd["train"]["svdd"]["lr"] == t19["Learning Rate"] and svdd["train"]["svdd"]["weight_decay"] == t19["Weight Decay"]
    assert svdd["model"]["rep_dim"] == 128 and svdd["model"]["widths"] == [32, 64, 128]
    mad = E.run_config("paper", "deepmad", (0, 8), 0)
    t20 = pv.load_values("singh2021", "table20")
    assert mad["params"]["delta"] in set(t20[t20.metric == "delta"].value) and mad["params"]["delta"] == 8.2
    assert mad["params"]["eta"] == 1.0 and mad["train"]["svdd"]["lr"] == 1e-4
    cifar100 = E.run_config("paper", "deepmad", (2, 10), 0, dataset="cifar100_coarse")
    assert cifar100["data"]["n_classes"] == 20 and cifar100["model"]["in_channels"] == 3
    with pytest.raises(NotImplementedError, match="by hand"):
        E.check_data_present(E.run_config("paper", "deepmad", (0, 1, 2, 3), 0, dataset="recycle")["data"])


def test_smoke_runs_every_method_above_chance(checkpoints):
    """Digits (0, 1) normal vs the other eight digits, 40 training images per class, a few epochs."""
    out = {m: E.run(E.run_config("smoke", m, (0, 1), 0)) for m in E.METHODS}
    for method, (metrics, arrays) in out.items():
        assert metrics["auroc"] > 0.6, (method, metrics["auroc"])
        assert metrics["n_test_normal"] + metrics["n_test_anomalous"] == len(arrays["test_scores"]) == 300
        assert np.isfinite(arrays["test_scores"]).all()
    # Algorithm 1: the combined score is the minimum of the per-class detectors' scores
    for method in ("drocc_m", "deep_svdd_m", "deepmad"):
        det = out[method][1]["detector_scores"]
        assert det.shape == (2, 300) and np.allclose(out[method][1]["test_scores"], det.min(axis=0))
    assert len(out["deepmad"][0]["delta"]) == 2
    # Deep SVDD(m)'s class-0 detector is the very unit a one-class Deep SVDD on class 0 trains
    single = E.run(E.run_config("smoke", "deep_svdd", (0,), 0))[1]["test_scores"]
    assert np.array_equal(single, out["deep_svdd_m"][1]["detector_scores"][0])


def test_units_are_loaded_not_retrained_and_reruns_are_identical(checkpoints):
    cfg = E.run_config("smoke", "drocc_m", (2, 3), 0)
    first = E.run(cfg)[1]["test_scores"]
    files = sorted(p.name for p in checkpoints.rglob("*.pt"))
    assert len(files) == 2 and all(f.startswith("drocc-drocc-") for f in files)
    mtimes = {p: p.stat().st_mtime_ns for p in checkpoints.rglob("*.pt")}
    assert np.array_equal(first, E.run(cfg)[1]["test_scores"])
    assert {p: p.stat().st_mtime_ns for p in checkpoints.rglob("*.pt")} == mtimes  # nothing retrained


def test_combine_rules_and_features(checkpoints):
    ds = E.run(E.run_config("smoke", "drocc_m", (0, 1), 0, combine="dempster_shafer", save_features=True))[1]
    logits = -ds["detector_scores"]
    assert np.allclose(ds["test_scores"], -np.log(np.exp(logits).sum(axis=0)), atol=1e-5)
    assert ds["features"].shape == (2, len(ds["feature_index"]), 64)  # DROCC's 64-d last hidden layer
    std = E.run(E.run_config("smoke", "deep_svdd_m", (0, 1), 0, combine="min_standardised"))
    assert 0.0 <= std[0]["auroc"] <= 1.0
    svdd = E.run(E.run_config("smoke", "deep_svdd", (0, 1), 0, save_features=True))[1]
    assert svdd["features"].shape == (len(svdd["feature_index"]), 128)
    assert np.bincount(svdd["test_labels"][svdd["feature_index"]]).max() <= 100
    from adlib.papers.singh2021.features import table4_rows

    row = table4_rows((0, 1), svdd["features"], svdd["test_labels"][svdd["feature_index"]], per_encoder=False)
    assert row.shape == (1, 10) and row.to_numpy().max() <= 128
    rows = table4_rows((0, 1), ds["features"], ds["test_labels"][ds["feature_index"]], per_encoder=True)
    assert rows.shape == (2, 10) and rows.loc["KS(0,-)", 0] == 0 and rows.to_numpy().max() <= 64


def test_sweep_order_and_runs_frame(checkpoints):
    from adlib.papers.singh2021.protocol import per_combination, range_summary
    from adlib.results import RunRecord

    cfgs = E.sweep_configs("cpu", [0, 1, 2])
    assert len(cfgs) == (45 + 10 + 252) * 5 * 3
    assert [len(c["data"]["normal_classes"]) for c in (cfgs[0], cfgs[45 * 15], cfgs[-1])] == [2, 9, 5]
    recs = [RunRecord(c, {"auroc": 0.5 + 0.01 * c["seed"]}, {}) for c in E.split_configs("cpu", "9/1", [0, 1])]
    df = E.runs_frame(recs)
    assert set(df["split"]) == {"9/1"} and set(df["method"]) == set(E.METHOD_LABELS.values())
    summary = range_summary(per_combination(df)).set_index("method")
    assert summary.loc["DeepMAD", "n_combinations"] == 10 and summary.loc["DeepMAD", "mean"] == pytest.approx(0.505)


def test_only_shared_units_leave_checkpoints_at_reduced_scale(checkpoints):
    E.run(E.run_config("smoke", "deepmad", (4, 5), 0))
    E.run(E.run_config("smoke", "deep_svdd", (4, 5), 0))
    names = sorted(p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in checkpoints.rglob("*.pt"))
    assert names == ["ae-ae", "ae-ae"]  # DeepMAD's per-class A_4, A_5; nothing of the (4, 5) units
    assert E._keeps_checkpoint(E.run_config("paper", "deepmad", (4, 5), 0), {"unit": "deepmad", "classes": [4, 5]})


def test_run_recreates_bit_for_bit_from_its_config(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    cfg = E.run_config("smoke", "deepmad", (6, 7), 3)
    out = []
    for sub in ("a", "b"):  # separate checkpoint directories: everything is trained twice
        monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path / sub))
        out.append(E.run(cfg))
    assert np.array_equal(out[0][1]["test_scores"], out[1][1]["test_scores"])
    assert out[0][0] == out[1][0]
    other_seed = E.run(E.run_config("smoke", "deepmad", (6, 7), 4))[1]["test_scores"]
    assert not np.array_equal(other_seed, out[0][1]["test_scores"])

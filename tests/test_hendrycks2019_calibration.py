"""hendrycks2019 Tables 12, 13 and Figure 3 (calibration): Posterior Rescaling, the held-out split,
the configs at every scale, the mixing protocol, and the runner end to end at smoke scale."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from adlib.metrics import calibration_errors, soft_f1, tune_temperature
from adlib.papers.hendrycks2019 import calibration as cal
from adlib.results import RunRecord, config_hash


def test_posterior_rescaling_maps_one_over_k_to_zero_and_one_to_one():
    k = 4
    c = np.array([0.25, 0.5, 1.0, 0.625])
    np.testing.assert_allclose(cal.posterior_rescaling(c, k), [0.0, 1 / 3, 1.0, 0.5])
    # a uniform posterior ("no confidence", App. G.3) reaches 0 only after rescaling
    logits = np.zeros((3, k))
    np.testing.assert_allclose(cal.confidences(logits, 1.0), 0.25)
    np.testing.assert_allclose(cal.confidences(logits, 1.0, rescale=True), 0.0)
    # rounding below 1/k is clipped instead of going negative
    assert cal.posterior_rescaling(np.array([0.25 - 1e-12]), k)[0] == 0.0
    with pytest.raises(ValueError):
        cal.posterior_rescaling(c, 1)


def test_rescaling_lowers_rms_when_ood_points_sit_at_the_confidence_floor():
    # in-distribution: confidence 0.9, 90% correct (calibrated); OOD: uniform posteriors (c = 1/k), wrong
    k, rng = 5, np.random.default_rng(0)
    n_in, n_out = 1000, 200
    correct_in = (rng.random(n_in) < 0.9).astype(float)
    in_plain = np.full(n_in, 0.9)
    out_plain = np.full(n_out, 1 / k)
    in_conf = {"plain": in_plain, "rescaled": cal.posterior_rescaling(in_plain, k)}
    out_conf = {"plain": out_plain, "rescaled": cal.posterior_rescaling(out_plain, k)}
    res = cal.repeated_calibration(in_conf, correct_in, out_conf, n_draws=3, ratio=5, rng=0)
    assert res["plain"]["ood_num"] == 200
    # the OOD bins (1/6 of the mix) claim 20% confidence at 0% accuracy: sqrt(0.2² / 6) ≈ 0.082 from
    # them alone; rescaling sends them to 0 and costs the in-distribution bins only 0.9 → 0.875
    assert res["plain"]["RMS"] > 0.08
    assert res["rescaled"]["RMS"] < 0.05
    assert res["rescaled"]["RMS"] < res["plain"]["RMS"]
    assert res["rescaled"]["SoftF1"] > res["plain"]["SoftF1"]


def test_repeated_calibration_matches_one_direct_mix_and_uses_the_same_draws_per_variant():
    rng = np.random.default_rng(1)
    in_c, out_c = rng.uniform(0.3, 1, 600), rng.uniform(0.2, 0.6, 400)
    correct = (rng.random(600) < in_c).astype(float)
    res = cal.repeated_calibration({"plain": in_c, "copy": in_c.copy()}, correct,
                                   {"plain": out_c, "copy": out_c.copy()}, n_draws=1, ratio=5, rng=7)
    idx = np.random.default_rng(7).permutation(400)[:120]
    conf, ok = np.r_[out_c[idx], in_c], np.r_[np.zeros(120), correct]
    direct = calibration_errors(conf, ok)
    assert res["plain"]["RMS"] == pytest.approx(direct["RMS"])
    assert res["plain"]["MAD"] == pytest.approx(direct["MAD"])
    assert res["plain"]["SoftF1"] == pytest.approx(soft_f1(conf, ok))
    assert res["plain"] == res["copy"]
    assert res["plain"]["MAD"] <= res["plain"]["RMS"]


def test_tuned_temperature_recovers_the_generating_one():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (4000, 6))
    t_true = 2.0
    p = np.exp(z / t_true) / np.exp(z / t_true).sum(1, keepdims=True)
    y = np.array([rng.choice(6, p=row) for row in p])
    assert tune_temperature(z, y) == pytest.approx(t_true, abs=0.15)


@pytest.mark.parametrize("n,share,expected", [(36000, 0.1, 3600), (1500, 0.1, 150), (50000, 0.1, 5000),
                                              (1001, 0.1, 101)])
def test_holdout_size_follows_the_official_validation_split(n, share, expected):
    # official: val_offset = int(len * (1 - share)); the validation set is the rest
    assert cal.holdout_size(n, {"position": "last", "share": share}) == expected == n - int(n * (1 - share))


def test_split_holdout_is_the_last_block_disjoint_and_complete():
    x = torch.arange(1000).reshape(-1, 1)
    y = torch.arange(1000) % 6
    tx, ty, vx, vy = cal.split_holdout(x, y, {"position": "last", "share": 0.1})
    assert (len(tx), len(vx)) == (900, 100)
    assert set(tx[:, 0].tolist()).isdisjoint(vx[:, 0].tolist())
    assert torch.equal(torch.cat([tx, vx]), x) and torch.equal(torch.cat([ty, vy]), y)
    assert vx[0, 0] == 900  # contiguous, at the end
    tx, _, vx, _ = cal.split_holdout(x, y, {"position": "last", "size": 50})
    assert (len(tx), len(vx)) == (950, 50)
    for bad in ({"position": "last", "size": 1000}, {"position": "last"}, {"position": "first", "size": 5},
                {"position": "last", "share": 1.5}, {"position": "last", "size": 5, "share": 0.1}):
        with pytest.raises(ValueError):
            cal.split_holdout(x, y, bad)


@pytest.mark.parametrize("scale", ["smoke", "cpu", "paper"])
def test_configs_at_every_scale(scale):
    t, o = cal.run_config(scale, "temperature", 0), cal.run_config(scale, "oe", 0)
    for cfg in (t, o):
        assert cfg["experiment"] == "calibration" and cfg["scale"] == scale
        config_hash(cfg)  # JSON-able
        assert cfg["temperature_search"] == {"low": 0.2, "high": 5.0, "eps": 1e-4}
    assert "finetune" not in t and "finetune" in o
    # both methods share the baseline (same data, network, schedule)
    assert {k: t[k] for k in ("data", "model", "pretrain")} == {k: o[k] for k in ("data", "model", "pretrain")}
    if scale == "paper":
        assert t["data"]["in_dataset"] == "cifar10" and t["data"]["holdout"] == {"position": "last", "size": 5000}
        assert t["model"]["name"] == "wrn40_2" and t["pretrain"]["epochs"] == 100
        for ds in ("svhn", "cifar100"):
            assert cal.run_config(scale, "oe", 0, in_dataset=ds)["data"]["holdout"]["size"] == 5000
        with pytest.raises(ValueError):
            cal.run_config(scale, "oe", 0, in_dataset="tiny_imagenet")
    else:
        assert t["data"]["in_dataset"] == "fashion_mnist"
        assert t["data"]["holdout"] == {"position": "last", "share": 0.1}
        assert t["data"]["ood_ratio"] == 5
        assert t["data"]["n_draws"] == (2 if scale == "smoke" else 10)
    with pytest.raises(ValueError):
        cal.run_config(scale, "baseline", 0)


def test_calibration_baseline_is_not_the_vision_oe_baseline():
    from adlib.papers.hendrycks2019 import experiments as ex

    # the held-out examples must never be trained on: a different data config, so a different checkpoint
    assert cal.run_config("cpu", "temperature", 0)["data"] != ex.run_config("cpu", "baseline", 0)["data"]


def test_smoke_runner_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    records = {}
    for method in cal.METHODS:
        cfg = cal.run_config("smoke", method, 0)
        metrics, arrays = cal.run(cfg)
        assert metrics["n_holdout"] == 150 and metrics["n_train"] == 1350
        assert 0.2 <= metrics["temperature"] <= 5.0
        assert metrics["num_classes"] == 6
        for v in cal.VARIANTS:
            for vals in [metrics["ood_mean"][v], metrics["in_distribution"][v], *metrics["ood"][v].values()]:
                assert all(math.isfinite(vals[k]) and 0 <= vals[k] <= 1 for k in cal.METRICS)
                assert vals["MAD"] <= vals["RMS"] + 1e-12
            assert set(metrics["ood"][v]) == set(cfg["data"]["test_ood"])
        conf = arrays["confidence__in"]
        assert conf.shape == (500,) and conf.min() >= 1 / 6 - 1e-6 and conf.max() <= 1
        records[(method, 0)] = RunRecord(cfg, metrics, {}, arrays)
    assert len(list(tmp_path.rglob("baseline-*.pt"))) == 1  # the OE run fine-tuned the cached baseline
    summary = cal.summary_long(records)
    for artefact in ("table12", "table13"):
        frame = cal.paper_vs_ours(summary, "smoke", artefact)
        assert frame.shape == (5, 3 * len(cal.COLUMNS[artefact]))
        assert np.isfinite(frame.iloc[-1].to_numpy(dtype=float)).all()
        assert cal.seed_table(summary, artefact).shape[0] == len(cfg["data"]["test_ood"]) + 2
    claims = cal.claims(summary)
    assert {c.artefact for c in claims} == {"table12", "table13", "figure3"}
    assert all(c.held in (True, False) for c in claims)
    fig = cal.plot_figure3(summary, "smoke")
    assert len(fig.axes) == 2
    assert isinstance(cal.temperature_table(summary), pd.DataFrame)

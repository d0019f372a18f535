"""ahmed2020 hold-out-class experiments: configs, the data protocol, the runner end to end, and the
run sets of the book pages."""

import json
from collections import Counter

import numpy as np
import pytest
import torch

from adlib.papers.ahmed2020 import experiments as ex
from adlib.papers.ahmed2020 import report
from adlib.results import config_hash

torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------------
# benchmarks and configs
# ------------------------------------------------------------------------------------------------


def test_benchmarks_and_skews():
    assert ex.skew("fmnist_tops") == 0.25
    assert ex.skew("fmnist_footwear") == pytest.approx(1 / 3)
    assert ex.skew("fmnist") == ex.skew("digits") == ex.skew("cifar10") == ex.skew("stl10") == 0.1
    tops = ex.benchmark("fmnist_tops")
    assert tops.members == (0, 2, 4, 6) and tops.class_names == ("T-shirt/top", "Pullover", "Coat", "Shirt")
    assert tops.offline and tops.paper_analogue == "imagenet"
    assert ex.benchmark("fmnist").paper_analogue == "cifar10" and ex.benchmark("digits").paper_analogue == "stl10"
    assert not ex.benchmark("cifar10").offline
    with pytest.raises(ValueError, match="unknown benchmark"):
        ex.benchmark("mnist")
    with pytest.raises(ValueError, match="unknown benchmark"):
        ex.benchmark("imagenet_cats")


def test_configs_per_scale_and_method():
    cls = ex.run_config("cpu", "fmnist", 3, "classification", 0)
    rot = ex.run_config("cpu", "fmnist", 3, "rotation", 0)
    mask = ex.run_config("cpu", "fmnist", 3, "masking", 0)
    assert cls["aux"] is None and cls["train"]["aux_weight"] == 0.0 and cls["curves"] is True
    assert rot["aux"] == {"task": "rotation", "transforms": "rotation", "rotations_per_image": 1}
    assert rot["train"]["aux_weight"] == 0.5 and rot["curves"] is False
    assert (mask["train"]["mask_size"], mask["train"]["mask_window"]) == (14, 18) and mask["aux"] is None
    assert cls["train"]["mask_size"] == rot["train"]["mask_size"] == 0
    assert cls["model"] == {"name": "small_convnet", "width": 16, "memory_format": "channels_last"}
    assert cls["train"]["epochs"] == 6 and cls["data"]["train_per_class"] == ex.CPU_TRAIN_PER_CLASS == 300
    assert cls["data"]["test_per_class"] == ex.CPU_TEST_PER_CLASS == 300
    assert "memory_format" not in ex.run_config("smoke", "fmnist", 3, "classification", 0)["model"]
    assert cls["score"] == {"odin_temperature": 1000.0, "odin_epsilon": 5e-5}
    digits = ex.run_config("cpu", "digits", 0, "rotation", 0)
    assert digits["train"]["aux_weight"] == 1.0 and digits["train"]["epochs"] == 30  # the STL-10 analogue
    assert digits["data"]["train_per_class"] is None and not digits["pipeline"]["hflip"]
    assert digits["data"]["test_per_class"] is None  # the small-data analogue keeps its whole test half
    paper = ex.run_config("paper", "cifar10", 0, "rotation", 0)
    assert paper["aux"]["rotations_per_image"] == 4 and paper["train"]["aux_weight"] == 0.5
    assert paper["model"] == {"name": "wrn", "depth": 28, "widen_factor": 10, "dropout": 0.3}
    assert (paper["train"]["epochs"], paper["train"]["lr_milestones"]) == (200, [60, 120, 160])
    stl = ex.run_config("paper", "stl10", 0, "rotation", 0)
    assert stl["train"]["aux_weight"] == 1.0 and stl["train"]["epochs"] == 400
    assert ex.run_config("paper", "cifar10", 0, "masking", 0)["train"]["mask_size"] == 16
    variant = ex.run_config("cpu", "fmnist", 3, "rotation", 0, aux_transforms="flip_transpose", rotations_per_image=4)
    assert variant["aux"] == {"task": "rotation", "transforms": "flip_transpose", "rotations_per_image": 4}
    cpc = ex.run_config("cpu", "fmnist_tops", 1, "cpc", 0, network="cpc")
    assert cpc["aux"]["task"] == "cpc" and cpc["train"]["aux_weight"] == ex.CPC_WEIGHT
    assert cpc["train"]["batch_size"] == ex.CPC_BATCH
    # the seed drives the network only: the data part of the config is the seed's
    assert ex.run_config("cpu", "fmnist", 3, "rotation", 1)["data"] == rot["data"]
    assert ex.run_config("cpu", "fmnist", None, "rotation", 1)["data"]["held_out"] is None
    json.dumps(rot, allow_nan=False)


@pytest.mark.parametrize("args, kw, match", [
    (("cpu", "mnist", 0, "classification", 0), {}, "unknown benchmark"),
    (("cpu", "fmnist", 0, "mixup", 0), {}, "unknown method"),
    (("cpu", "fmnist", 10, "classification", 0), {}, "0..9"),
    (("cpu", "fmnist", -1, "classification", 0), {}, "0..9"),
    (("cpu", "fmnist", True, "classification", 0), {}, "0..9"),
    (("cpu", "fmnist", 1.0, "classification", 0), {}, "0..9"),
    (("cpu", "fmnist_tops", 4, "rotation", 0), {}, "0..3"),
    (("cpu", "fmnist_footwear", 3, "rotation", 0), {}, "0..2"),
    (("cpu", "cifar10", 0, "classification", 0), {}, "scale='paper'"),
    (("smoke", "stl10", 0, "classification", 0), {}, "scale='paper'"),
    (("paper", "fmnist", 0, "classification", 0), {}, "CPU analogue"),
    (("big", "fmnist", 0, "classification", 0), {}, "unknown scale"),
    (("cpu", "fmnist", 0, "cpc", 0), {}, "network='cpc'"),
    (("cpu", "fmnist_tops", 0, "rotation", 0), {"network": "cpc"}, "network='cpc'"),
    (("cpu", "digits", 0, "cpc", 0), {"network": "cpc"}, "CPC runs"),
    (("cpu", "fmnist", 0, "rotation", 0), {"network": "resnet"}, "unknown network"),
    (("cpu", "fmnist", 0, "rotation", 0), {"aux_transforms": "jigsaw"}, "unknown aux_transforms"),
    (("cpu", "fmnist", 0, "rotation", 0), {"aux_bn_stats": "off"}, "unknown aux_bn_stats"),
])
def test_bad_configs_are_clear_errors(args, kw, match):
    with pytest.raises(ValueError, match=match):
        ex.run_config(*args, **kw)


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------


def _fake_load(bench, split):
    """Every source class 0..9 with 20 (train) or 12 (test) images; pixel (0, 0) holds the class and
    pixel (0, 1) the image's index, so the source of every drawn image can be read back."""
    per = 20 if split == "train" else 12
    y = torch.arange(10).repeat_interleave(per)
    x = torch.zeros(len(y), 4, 4, dtype=torch.uint8)
    x[:, 0, 0] = y.to(torch.uint8)
    x[:, 0, 1] = torch.arange(len(y), dtype=torch.uint8)
    return x, y


@pytest.mark.parametrize("bench, held", [("fmnist_tops", 1), ("fmnist_tops", 3), ("fmnist", 0), ("fmnist", 9),
                                         ("fmnist_footwear", 0)])
def test_build_data_holds_out_one_member_and_remaps_the_rest_in_member_order(monkeypatch, bench, held):
    monkeypatch.setattr(ex, "_load", _fake_load)
    b = ex.benchmark(bench)
    d = ex.build_data({"benchmark": bench, "held_out": held, "train_per_class": 5, "test_per_class": 7})
    kept = [m for i, m in enumerate(b.members) if i != held]
    src_train = d.train_x[:, 0, 0].long()
    assert b.members[held] not in set(src_train.tolist())  # the held-out class never trains
    assert sorted(Counter(src_train.tolist()).items()) == sorted((m, 5) for m in kept)
    assert d.train_y.tolist() == [kept.index(int(s)) for s in src_train]  # 0..K−2 in member order
    assert d.train_y.dtype == torch.int64 and set(d.train_y.tolist()) == set(range(len(kept)))
    src_test = d.test_x[:, 0, 0].long()
    assert sorted(Counter(src_test.tolist()).items()) == sorted((m, 7) for m in b.members)
    assert d.test_is_anomaly.dtype == np.uint8
    assert d.test_is_anomaly.tolist() == [int(s == b.members[held]) for s in src_test]
    assert d.test_y.tolist() == [kept.index(int(s)) if s != b.members[held] else -1 for s in src_test]
    assert d.test_is_anomaly.mean() == pytest.approx(1 / len(b.members))
    assert len(set(d.train_x[:, 0, 1].tolist())) == len(d.train_x)  # no image twice
    again = ex.build_data({"benchmark": bench, "held_out": held, "train_per_class": 5, "test_per_class": 7})
    assert torch.equal(again.train_x, d.train_x) and torch.equal(again.test_x, d.test_x)


def test_build_data_without_a_held_out_class_is_the_k_way_task(monkeypatch):
    monkeypatch.setattr(ex, "_load", _fake_load)
    d = ex.build_data({"benchmark": "fmnist_footwear", "held_out": None, "train_per_class": None,
                       "test_per_class": None})
    members = ex.benchmark("fmnist_footwear").members
    assert d.train_y.tolist() == [members.index(int(s)) for s in d.train_x[:, 0, 0]]
    assert len(d.train_x) == 60 and len(d.test_x) == 36
    assert d.test_is_anomaly.sum() == 0 and (d.test_y >= 0).all()
    with pytest.raises(ValueError, match="asked for"):
        ex.build_data({"benchmark": "fmnist", "held_out": 0, "train_per_class": 21, "test_per_class": None})


@pytest.mark.parametrize("bench, held, n_train, n_test, skew", [("fmnist", 3, 270, 400, 0.1),
                                                                  ("fmnist_tops", 2, 90, 160, 0.25),
                                                                  ("digits", 0, 270, 400, 0.1)])
def test_smoke_data_sizes_and_skew(bench, held, n_train, n_test, skew):
    d0 = ex.build_data(ex.run_config("smoke", bench, held, "classification", 0)["data"])
    assert (len(d0.train_x), len(d0.test_x)) == (n_train, n_test)
    assert d0.train_x.dtype == torch.uint8 and d0.train_y.max() == len(ex.benchmark(bench).members) - 2
    assert np.bincount(d0.train_y.numpy()).tolist() == [30] * (len(ex.benchmark(bench).members) - 1)
    assert d0.test_is_anomaly.mean() == pytest.approx(skew)
    assert np.array_equal(d0.test_y.numpy() == -1, d0.test_is_anomaly.astype(bool))
    # the seed does not change the images (PROTOCOL_SEED): every seed and method sees the same ones
    d1 = ex.build_data(ex.run_config("smoke", bench, held, "rotation", 1)["data"])
    assert torch.equal(d0.train_x, d1.train_x) and torch.equal(d0.train_y, d1.train_y)
    assert torch.equal(d0.test_x, d1.test_x)


# ------------------------------------------------------------------------------------------------
# the runner
# ------------------------------------------------------------------------------------------------


def _canon(metrics):
    return json.dumps(metrics, sort_keys=True, allow_nan=False)  # also: storable (no NaN)


def test_smoke_run_end_to_end_is_bit_reproducible(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    cfg = ex.run_config("smoke", "fmnist", 3, "classification", 0)
    metrics, arrays = ex.run(cfg)
    assert arrays == {}
    assert set(metrics["ap"]) == set(metrics["auroc"]) == {"msp", "odin"}
    assert all(0 <= v <= 1 for d in (metrics["ap"], metrics["auroc"]) for v in d.values())
    assert 0 <= metrics["accuracy"] <= 1 and metrics["skew"] == pytest.approx(0.1)
    assert (metrics["n_train"], metrics["n_test_normal"], metrics["n_test_anomalous"]) == (270, 360, 40)
    assert metrics["final_aux_loss"] is None  # classification only: no auxiliary loss (and no NaN)
    curves = metrics["curves"]
    assert set(curves) == {"train_loss", "test_accuracy", "test_cost", "ap_msp"}
    assert all(len(v) == 1 for v in curves.values())  # one epoch at smoke scale
    assert curves["train_loss"][-1] == metrics["final_loss"]
    # with one epoch the last curve point is the final model's MSP AP and accuracy
    assert curves["ap_msp"][-1] == pytest.approx(metrics["ap"]["msp"])
    assert curves["test_accuracy"][-1] == pytest.approx(metrics["accuracy"])
    first = _canon(metrics)
    ckpts = list(tmp_path.rglob("*.pt"))
    assert len(ckpts) == 1 and ckpts[0].name == f"holdout-{config_hash(cfg)}.pt"
    again, _ = ex.run(cfg)  # from the finished checkpoint: nothing to train, same numbers
    assert _canon(again) == first
    for p in ckpts:
        p.unlink()
    fresh, _ = ex.run(cfg)  # retrained from scratch: the same bit for bit
    assert _canon(fresh) == first


def test_smoke_rotation_run_and_saved_scores(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    cfg = {**ex.run_config("smoke", "fmnist_tops", 0, "rotation", 0), "save_scores": True}
    metrics, arrays = ex.run(cfg)
    assert "curves" not in metrics
    assert isinstance(metrics["final_aux_loss"], float) and np.isfinite(metrics["final_aux_loss"])
    assert metrics["skew"] == 0.25 and (metrics["n_test_normal"], metrics["n_test_anomalous"]) == (120, 40)
    assert set(arrays) == {"msp", "odin", "is_anomaly"}
    assert arrays["odin"].dtype == np.float64 and arrays["odin"].shape == (160,)
    from adlib.metrics import average_precision

    assert metrics["ap"]["odin"] == average_precision(arrays["odin"], arrays["is_anomaly"])
    assert metrics["ap"]["msp"] == average_precision(arrays["msp"], arrays["is_anomaly"])
    _canon(metrics)


def test_smoke_table2_run_reports_accuracy_only(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    metrics, arrays = ex.run(ex.run_config("smoke", "fmnist", None, "classification", 0))
    assert not {"ap", "auroc", "skew"} & set(metrics) and arrays == {}
    assert 0 <= metrics["accuracy"] <= 1
    assert (metrics["n_train"], metrics["n_test_normal"], metrics["n_test_anomalous"]) == (300, 400, 0)
    assert set(metrics["curves"]) == {"train_loss", "test_accuracy", "test_cost"}
    _canon(metrics)


# ------------------------------------------------------------------------------------------------
# the book pages' run sets
# ------------------------------------------------------------------------------------------------


def test_every_page_at_smoke_scale_runs_one_seed():
    for page in report.PAGES:
        cfgs = report.book_configs(page, "smoke", [5, 6, 7])
        assert cfgs, page
        assert {c["seed"] for c in cfgs} == {5}, page
        assert all(c["scale"] == "smoke" for c in cfgs)


def test_cpu_holdout_and_table2_run_sets():
    seeds = [0, 1, 2]
    holdout = report.book_configs("holdout", "cpu", seeds)
    assert len(holdout) == 120  # 2 benchmarks × 10 held-out classes × 2 methods × 3 seeds
    assert len({config_hash(c) for c in holdout}) == 120
    per = Counter((c["data"]["benchmark"], c["data"]["held_out"], c["method"]) for c in holdout)
    assert set(per.values()) == {3}
    assert {b for b, _, _ in per} == {"fmnist", "digits"} and {m for _, _, m in per} == {"classification", "rotation"}
    assert {h for _, h, _ in per} == set(range(10))
    table2 = report.book_configs("table2", "cpu", seeds)
    assert len(table2) == 12 and all(c["data"]["held_out"] is None for c in table2)


def test_figure1_runs_are_holdout_runs_at_cpu_scale():
    seeds = [0, 1, 2]
    fig = report.book_configs("figure1", "cpu", seeds)
    holdout = {config_hash(c) for c in report.book_configs("holdout", "cpu", seeds)}
    assert fig and {config_hash(c) for c in fig} <= holdout  # shared runs: nothing trained twice
    assert all(c["curves"] and c["method"] == "classification" for c in fig)


def test_all_book_configs_is_the_union_without_repeats():
    seeds = [0, 1]
    union = report.all_book_configs("cpu", seeds)
    hashes = [config_hash(c) for c in union]
    assert len(hashes) == len(set(hashes))
    assert set(hashes) == {config_hash(c) for p in report.PAGES for c in report.book_configs(p, "cpu", seeds)}


def test_book_configs_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown page"):
        report.book_configs("table9", "cpu", [0])
    with pytest.raises(ValueError, match="seeds"):
        report.book_configs("holdout", "cpu", [])
    with pytest.raises(ValueError, match="unknown scale"):
        report.book_configs("holdout", "huge", [0])


def test_one_seed_shows_the_value_without_a_spread():
    assert report._pm([20.0]) == "20.00"
    assert report._pm([20.0, 22.0]) == "21.00 ± 1.00"

"""Configs of the hendrycks2019 vision experiments: every scale names only data this project can
load (a loader, a generator or a manifest), and bad arguments are errors naming the valid ones."""

from __future__ import annotations

import pytest

from adlib.data import images as im
from adlib.data import manifests as m
from adlib.papers.hendrycks2019 import experiments as ex


@pytest.mark.parametrize("in_dataset", ex.PAPER_DATASETS)
@pytest.mark.parametrize("method", ex.METHODS)
def test_paper_configs_name_only_loadable_data_with_manifests(in_dataset, method):
    cfg = ex.run_config("paper", method, 0, in_dataset=in_dataset)
    data = cfg["data"]
    for name in [data["in_dataset"], data["oe_source"], *data["test_ood"]]:
        assert name in im.IMAGE_LOADERS or name in ex.SYNTHETIC_SETS, name
        assert name in ex.OOD_SET_LABELS or name in (data["in_dataset"], data["oe_source"]), name
    manifests = set(m.list_manifests())
    for name in ex.required_datasets(data):
        assert name in manifests, name
    assert in_dataset not in data["test_ood"]


def test_required_datasets_maps_loader_names_to_manifests():
    data = {"in_dataset": "cifar10", "oe_source": "random_300k",
            "test_ood": ["gaussian", "lsun_crop", "lsun_resize", "svhn"]}
    assert ex.required_datasets(data) == ["cifar10", "random_300k", "lsun", "svhn"]


def test_reduced_scales_read_only_offline_data():
    for scale in ("smoke", "cpu"):
        data = ex.run_config(scale, "oe_tune", 0)["data"]
        assert ex.required_datasets(data) == ["fashion_mnist"]
        assert not set(data["in_classes"]) & (set(data["oe_classes"]) | set(data["test_ood_classes"]))
        assert not set(data["oe_classes"]) & set(data["test_ood_classes"])


def test_configs_differ_by_method_in_the_training_stages_only():
    base, tune, scratch = (ex.run_config("cpu", meth, 3) for meth in ("baseline", "oe_tune", "oe_scratch"))
    assert "finetune" in tune and "finetune" not in base
    assert "scratch" in scratch and "pretrain" not in scratch
    assert base["data"] == tune["data"] == scratch["data"] and base["seed"] == 3


def test_bad_arguments_name_the_valid_ones():
    with pytest.raises(ValueError, match="oe_tune"):
        ex.run_config("cpu", "oe", 0)
    with pytest.raises(ValueError, match="cifar10"):
        ex.run_config("paper", "baseline", 0, in_dataset="imagenet")
    with pytest.raises(ValueError, match="paper"):
        ex.run_config("cpu", "baseline", 0, in_dataset="cifar10")
    with pytest.raises(ValueError, match="cpu"):
        ex.run_config("laptop", "baseline", 0)

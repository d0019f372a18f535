"""ruff2021 protocols, configs and one smoke run per method."""

import numpy as np
import pytest
import torch

from adlib.models import create_model
from adlib.papers.ruff2021 import experiments, grids
from adlib.papers.ruff2021.experiments import (METHODS, build_data, gaussian_blur_images, heldout_split,
                                               initial_center, run, run_config)
from adlib.results import config_hash
from adlib.train import ImagePipeline


def test_heldout_split_is_fixed_disjoint_and_excludes_the_nominal_class():
    for c in range(10):
        pool, anomalies = heldout_split(c)
        assert len(pool) == 4 and len(anomalies) == 5
        assert c not in pool + anomalies and not set(pool) & set(anomalies)
        assert heldout_split(c) == (pool, anomalies)
    assert len({heldout_split(c)[0] for c in range(10)}) > 1
    with pytest.raises(ValueError, match="0..9"):
        heldout_split(10)


def test_shared_runs_have_one_config():
    t1 = run_config("cpu", "hsc", 0, 1)
    assert config_hash(t1) == config_hash(run_config("cpu", "hsc", 0, 1, oe_size=None, h="pseudo_huber", gamma=4.0))
    assert config_hash(run_config("cpu", "focal", 0, 1)) == config_hash(run_config("cpu", "focal", 0, 1, h="l1"))
    # Deep SVDD ignores every OE setting
    assert config_hash(run_config("cpu", "deep_svdd", 0, 1)) == \
        config_hash(run_config("cpu", "deep_svdd", 0, 1, oe_size=64, oe_k=2, blur_sigma=2.0))
    assert config_hash(run_config("cpu", "hsc", 0, 1, oe_size=64)) != config_hash(t1)
    hashes = {config_hash(c) for c in grids.table1_configs("cpu", [1])}
    assert config_hash(t1) in hashes
    assert config_hash(t1) in {config_hash(c) for c in grids.figure2_configs("cpu", [1])}
    assert config_hash(t1) in {config_hash(c) for c in grids.table3_configs("cpu", [1])}
    assert config_hash(t1) in {config_hash(c) for c in grids.diversity_configs("cpu", [1])}
    f2 = {config_hash(c) for c in grids.figure2_configs("cpu", [1])}
    assert {config_hash(c) for c in grids.blur_configs("cpu", [1]) if c["data"]["blur_sigma"] == 0} <= f2
    assert config_hash(run_config("cpu", "focal", 0, 1)) in {config_hash(c) for c in grids.figure7_configs("cpu", [1])}


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "svm"}, "valid methods"), ({"nominal_class": 11}, "0..9"), ({"oe_size": 0}, "positive"),
    ({"oe_k": 5}, "between 1 and 4"), ({"blur_sigma": -1.0}, ">= 0"), ({"h": "l3"}, "radial"),
    ({"protocol": "cifar10_cifar100_oe"}, "not available at scale 'cpu'"),
])
def test_bad_choices_are_clear_errors(kwargs, match):
    args = {"method": "hsc", "nominal_class": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        run_config("cpu", args.pop("method"), args.pop("nominal_class"), 0, **args)


def test_heldout_data_keeps_oe_classes_out_of_the_test_anomalies():
    cfg = run_config("smoke", "hsc", 8, 3, oe_size=10, oe_k=2)
    data = build_data(cfg["data"], cfg["seed"])
    pool, anomalies = heldout_split(8)
    assert len(data.oe_x) == 10 and set(data.oe_classes) <= set(pool) and len(data.oe_classes) == 2
    assert data.test_anomaly_classes == anomalies
    assert len(data.train_x) == 256 and len(data.test_x) == len(data.test_is_anomaly) == 1000
    again = build_data(cfg["data"], cfg["seed"])
    assert torch.equal(again.oe_x, data.oe_x)
    other_seed = build_data(cfg["data"], 4)
    assert torch.equal(other_seed.train_x, data.train_x) and torch.equal(other_seed.test_x, data.test_x)


def test_digits_protocol_uses_the_full_test_set_and_digit_oe():
    cfg = run_config("cpu", "bce", 2, 0, protocol="fmnist_digits_oe", oe_k=1)
    data = build_data(cfg["data"], 0)
    assert len(data.test_x) == 10_000 and int(data.test_is_anomaly.sum()) == 9_000
    assert len(data.oe_classes) == 1 and 150 < len(data.oe_x) < 200  # one digit class of 1,797


def _laplacian_var(images):
    x = images.float()
    lap = x[:, 1:-1, :-2] + x[:, 1:-1, 2:] + x[:, :-2, 1:-1] + x[:, 2:, 1:-1] - 4 * x[:, 1:-1, 1:-1]
    return float(lap.var())


def test_blur_is_identity_at_zero_and_removes_fine_scales_monotonically():
    from adlib.data.images import load_images

    images = load_images("fashion_mnist", "train")[0][:64]
    assert torch.equal(gaussian_blur_images(images, 0.0), images)
    variances = [_laplacian_var(gaussian_blur_images(images, s)) for s in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert all(a > b for a, b in zip(variances, variances[1:]))
    assert gaussian_blur_images(images, 2.0).dtype == torch.uint8
    with pytest.raises(ValueError):
        gaussian_blur_images(images, -1.0)


def test_deep_svdd_network_is_bias_free_and_centre_avoids_zero():
    model = create_model("mnist_lenet", rep_dim=32, bias=False)
    assert not [n for n, _ in model.named_parameters() if n.endswith("bias")]
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    c = initial_center(model, images, ImagePipeline())
    assert c.shape == (32,) and bool((c.abs() >= 0.1).all())
    assert create_model("mnist_lenet", logit_head=True)(torch.zeros(3, 1, 28, 28)).shape == (3,)


@pytest.mark.parametrize("method", METHODS)
def test_smoke_run_of_each_method(method, tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    cfg = run_config("smoke", method, 1, 0)  # Trouser: easy at any scale
    metrics, arrays = run(cfg)
    assert arrays["test_scores"].shape == (1000,) and np.isfinite(arrays["test_scores"]).all()
    assert metrics["n_test_nominal"] + metrics["n_test_anomalous"] == 1000
    assert metrics["auroc"] > 0.6, metrics
    assert (metrics["n_oe"] == 0) == (method == "deep_svdd")
    again, arrays2 = run(cfg)  # resumes from the finished checkpoint: identical scores
    assert np.array_equal(arrays["test_scores"], arrays2["test_scores"])


def test_paper_scale_configs_name_the_papers_setup_and_missing_data(monkeypatch, tmp_path):
    from adlib.data.manifests import DatasetMissingError
    from adlib.papers.ruff2021.experiments import check_data_present

    cifar = run_config("paper", "bce", 3, 0, protocol="cifar10_cifar100_oe", augment=True)
    assert cifar["model"] == {"name": "cifar10_lenet", "rep_dim": 256, "logit_head": True}
    assert cifar["train"]["epochs"] == 200 and cifar["train"]["lr_milestones"] == [100, 150]
    assert cifar["data"]["n_nominal"] is None and cifar["data"]["test_subset"] is None
    mnist = run_config("paper", "hsc", 3, 0, protocol="mnist_emnist_oe")
    assert mnist["train"]["epochs"] == 150 and mnist["model"]["name"] == "mnist_lenet"
    assert len(grids.table1_configs("paper", [0])) == 50
    assert {c["model"]["name"] for c in grids.diversity_configs("paper", [0], protocol="mnist_emnist_oe")} == {"mnist_lenet"}
    monkeypatch.setenv("ADLIB_DATA", str(tmp_path))
    with pytest.raises(DatasetMissingError, match="fetch"):
        check_data_present(cifar["data"])
    imagenet = run_config("paper", "bce", 29, 0, protocol="imagenet30_22k_oe")
    assert imagenet["model"]["name"] == "imagenet_resnet18_cbam"
    with pytest.raises(NotImplementedError, match="ImageNet-22K"):
        check_data_present(imagenet["data"])
    create_model(**{k: v for k, v in imagenet["model"].items()})  # the configured network builds


def test_cpu_grid_is_one_seed_with_figure2_on_the_sweep_classes():
    assert {c["data"]["nominal_class"] for c in grids.table1_configs("cpu", [0])} == set(range(10))
    for make in (grids.figure2_configs, grids.blur_configs, grids.diversity_configs, grids.table3_configs,
                 grids.figure7_configs):
        assert {c["data"]["nominal_class"] for c in make("cpu", [0])} == set(grids.SWEEP_CLASSES_CPU)
    assert {c["data"]["nominal_class"] for c in grids.figure2_configs("paper", [0])} == set(range(10))
    every = grids.all_cpu_configs()
    assert {c["seed"] for c in every} == set(grids.CPU_SEEDS)
    assert all(c["model"]["memory_format"] == "channels_last" for c in every)
    assert "memory_format" not in run_config("smoke", "hsc", 0, 0)["model"]
    assert {(c["train"]["epochs"], tuple(c["train"]["lr_milestones"])) for c in every} == \
        {(experiments.CPU_EPOCHS, experiments.CPU_LR_MILESTONES)}

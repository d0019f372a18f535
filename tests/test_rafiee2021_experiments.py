"""rafiee2021 protocols (one-vs-all, all-vs-one; clean and public-code test pools), configs, score
variants and one smoke run end to end."""

import numpy as np
import pytest
import torch
from PIL import Image

from adlib.data.images import load_cats_vs_dogs, load_fashion_mnist
from adlib.metrics import auroc
from adlib.models import create_model
from adlib.papers.rafiee2021 import experiments as ex
from adlib.papers.rafiee2021.training import ALL_VS_ONE, ONE_VS_ALL
from adlib.results import config_hash

torch.set_num_threads(1)


def test_configs_follow_the_scale_and_the_scheme():
    soft, hard = (ex.run_config("cpu", "fmnist", s, 3, 0) for s in ex.SCHEMES)
    assert soft["data"]["n_train"] == hard["data"]["n_train"] == ex.CPU_TRAIN_IMAGES
    # the larger side of each test pool is drawn down, the side of the one class is complete
    assert (soft["data"]["n_test_normal"], soft["data"]["n_test_anomalous"]) == (None, ex.CPU_TEST_DRAW)
    assert (hard["data"]["n_test_normal"], hard["data"]["n_test_anomalous"]) == (ex.CPU_TEST_DRAW, None)
    assert (soft["train"]["warmup_epochs"], soft["train"]["epochs"]) == (ex.CPU_WARMUP_EPOCHS, ex.CPU_EPOCHS)
    assert soft["model"] == {"name": "adcgan28", "width": 0.25, "latent_dim": 100, "memory_format": "channels_last"}
    assert "memory_format" not in ex.run_config("smoke", "fmnist", "one_vs_all", 3, 0)["model"]
    assert soft["train"]["alpha"] == soft["train"]["beta"] == 0.3
    paper_soft = ex.run_config("paper", "fmnist", "one_vs_all", 3, 0)
    paper_hard = ex.run_config("paper", "cifar10", "all_vs_one", 3, 0)
    assert (paper_soft["train"]["warmup_epochs"], paper_soft["train"]["epochs"]) == (ONE_VS_ALL.warmup_epochs,
                                                                                     ONE_VS_ALL.epochs)
    assert (paper_hard["train"]["warmup_epochs"], paper_hard["train"]["epochs"]) == (ALL_VS_ONE.warmup_epochs,
                                                                                     ALL_VS_ONE.epochs)
    assert paper_hard["model"]["name"] == "adcgan32" and paper_hard["model"]["width"] == 1.0
    assert ex.run_config("paper", "cats_vs_dogs", "one_vs_all", 1, 0)["model"] == {
        "name": "adcgan64", "width": 1.0, "latent_dim": 200}
    assert all(v is None for k, v in paper_soft["data"].items() if k.startswith("n_"))


def test_the_ablation_changes_only_alpha_and_beta_and_shares_the_contrastive_runs():
    on = ex.run_config("cpu", "fmnist", "one_vs_all", 2, 1)
    off = ex.run_config("cpu", "fmnist", "one_vs_all", 2, 1, contrastive=False)
    assert off["train"]["alpha"] == off["train"]["beta"] == 0.0
    assert {k: v for k, v in off["train"].items() if k not in ("alpha", "beta")} == \
        {k: v for k, v in on["train"].items() if k not in ("alpha", "beta")}
    table = {config_hash(c) for c in ex.table_configs("cpu", [0, 1, 2])}
    ablation = {config_hash(c) for c in ex.ablation_configs("cpu", [0, 1, 2])}
    assert len(table) == 60 and len(ablation) == 60 and len(table & ablation) == 30
    assert [c["data"]["cls"] for c in ex.table_configs("smoke", [0])] == [1, 1]


@pytest.mark.parametrize("args, match", [
    (("cpu", "mnist", "one_vs_all", 0, 0), "scale='paper'"),
    (("cpu", "svhn", "one_vs_all", 0, 0), "unknown dataset"),
    (("cpu", "fmnist", "one_vs_one", 0, 0), "unknown scheme"),
    (("cpu", "fmnist", "one_vs_all", 10, 0), "0..9"),
    (("paper", "cats_vs_dogs", "all_vs_one", 0, 0), "one-vs-all only"),
    (("paper", "cats_vs_dogs", "one_vs_all", 2, 0), "0..1"),
    (("big", "fmnist", "one_vs_all", 0, 0), "unknown scale"),
])
def test_bad_configs_are_clear_errors(args, match):
    with pytest.raises(ValueError, match=match):
        ex.run_config(*args)


def test_check_datasets():
    ex.check_datasets("cpu", None)
    ex.check_datasets("paper", ["mnist", "cats_vs_dogs"])
    for scale, value, match in [("cpu", ["mnist"], "paper"), ("paper", ["svhn"], "unknown"),
                                ("cpu", "fmnist", "list"), ("cpu", [], "list")]:
        with pytest.raises(ValueError, match=match):
            ex.check_datasets(scale, value)


def test_draw_is_stratified_exact_and_deterministic():
    labels = torch.tensor([0] * 600 + [1] * 300 + [2] * 100)
    idx = ex._draw(labels, (0, 1, 2), 100, np.random.default_rng(0))
    assert len(idx) == 100 and len(set(idx.tolist())) == 100
    assert np.bincount(labels[idx].numpy(), minlength=3).tolist() == [60, 30, 10]
    assert torch.equal(idx, ex._draw(labels, (0, 1, 2), 100, np.random.default_rng(0)))
    assert not torch.equal(idx, ex._draw(labels, (0, 1, 2), 100, np.random.default_rng(1)))
    assert ex._draw(labels, (1, 2), None, np.random.default_rng(0)).tolist() == list(range(600, 1000))
    assert sorted(np.bincount(labels[ex._draw(labels, (1, 2), 7, np.random.default_rng(0))].numpy())[1:]) == [2, 5]


def test_pad_resize_shrinks_the_object_into_a_zero_border():
    img = torch.full((2, 1, 28, 28), 255, dtype=torch.uint8)
    out = ex.pad_resize(img, 36)
    assert out.shape == img.shape and out.dtype == torch.uint8
    assert out[:, :, :2].max() == 0 and out[:, :, :, -2:].max() == 0  # ≈ 4·28/36 = 3.1 px of padding
    assert out[:, :, 6:22, 6:22].min() == 255


def _rows(x):
    return {bytes(r) for r in x.reshape(len(x), -1).numpy()}


@pytest.mark.parametrize("scheme", ex.SCHEMES)
def test_build_data_takes_each_pool_from_the_right_classes_and_splits(scheme):
    cfg = ex.run_config("smoke", "fmnist", scheme, 4, 0)
    data_cfg = cfg["data"] | {"pad_resize": False}
    data = ex.build_data(data_cfg)
    tr_x, tr_y = load_fashion_mnist("train")
    te_x, te_y = load_fashion_mnist("test")
    normal = [4] if scheme == "one_vs_all" else [k for k in range(10) if k != 4]
    anomalous = [k for k in range(10) if k not in normal]

    def images(x, y, classes):
        return _rows(x[torch.isin(y, torch.tensor(classes))])

    assert len(data.train_x) == 256 and data.train_x.shape[1:] == (1, 28, 28)
    assert _rows(data.train_x) <= images(tr_x, tr_y, normal)
    test = data.test_x
    assert data.test_is_anomaly.tolist() == [0] * 200 + [1] * 200
    assert _rows(test[:200]) <= images(te_x, te_y, normal)
    assert _rows(test[200:]) <= images(te_x, te_y, anomalous)
    public = _rows(data.public_anomalous_x)
    assert len(data.public_anomalous_x) == 200
    assert public <= images(tr_x, tr_y, anomalous) | images(te_x, te_y, anomalous)
    assert public & images(tr_x, tr_y, anomalous), "the public-code pool draws from the train split too"
    again = ex.build_data(data_cfg)
    assert torch.equal(again.train_x, data.train_x) and torch.equal(again.public_anomalous_x, data.public_anomalous_x)


def test_score_variants_are_weighted_sums_of_the_components():
    comps = np.random.default_rng(0).random((50, 4)).astype(np.float32)
    lg = 0.1 * comps[:, 1] + 0.9 * comps[:, 0]
    np.testing.assert_allclose(ex.variant_scores(comps, "LG"), lg, rtol=1e-6)
    np.testing.assert_allclose(ex.variant_scores(comps, "LFE"), lg + comps[:, 2], rtol=1e-6)
    np.testing.assert_allclose(ex.variant_scores(comps, "LFL"), lg + comps[:, 3], rtol=1e-6)
    np.testing.assert_allclose(ex.variant_scores(comps, "GF"), lg + 0.5 * comps[:, 2] + 0.5 * comps[:, 3], rtol=1e-6)
    with pytest.raises(ValueError, match="valid"):
        ex.variant_scores(comps, "XX")


def test_the_codes_mean_reading_divides_each_component_by_its_size():
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(100, np.uint8), np.ones(100, np.uint8)]
    comps = rng.random((200, 4)).astype(np.float32)
    comps[:, 0] += labels * 0.5  # L_GR separates; L_FL (size 1) is noise ten times larger
    comps[:, 3] *= 10
    sizes = np.array([784.0, 3872.0, 100.0, 1.0])
    aucs = ex.variant_aurocs(comps, labels, sizes, 0.1, 0.5)
    assert aucs["mean/GF"] == pytest.approx(auroc(ex.variant_scores(comps / sizes, "GF"), labels))
    assert aucs["sum/GF"] == pytest.approx(auroc(ex.variant_scores(comps, "GF"), labels))
    assert aucs["component/L_GR"] > 0.9 > aucs["mean/GF"]  # under means the noisy L_FL dominates
    assert set(aucs) == {f"{r}/{v}" for r in ex.REDUCTIONS for v in ex.VARIANTS} | {
        f"component/{n}" for n in ("L_GR", "L_GD", "L_FE", "L_FL")}


@pytest.mark.parametrize("name, width, sizes", [("adcgan28", 0.25, (784, 11 * 11 * 32, 100, 1)),
                                               ("adcgan32", 1.0, (3072, 6 * 6 * 2048, 100, 1)),
                                               ("adcgan64", 0.25, (3 * 64 * 64, 10 * 10 * 512, 200, 1))])
def test_score_component_sizes(name, width, sizes):
    model = create_model(name, width=width)
    assert model.score_component_sizes() == sizes
    assert model.training  # left as it was


def test_smoke_run_end_to_end_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    cfg = ex.run_config("smoke", "fmnist", "one_vs_all", 1, 0)
    metrics, arrays = ex.run(cfg)
    assert set(metrics["auroc"]) == set(ex.TEST_POOLS)
    assert all(0 <= v <= 1 for pool in metrics["auroc"].values() for v in pool.values())
    assert (metrics["n_train"], metrics["n_test_normal"], metrics["n_test_anomalous"],
            metrics["n_public_anomalous"]) == (256, 200, 200, 200)
    assert metrics["component_sizes"] == [784, 3872, 100, 1]
    comps = arrays["test_components"]
    assert comps.shape == (400, 4) and comps.dtype == np.float32 and np.isfinite(comps).all()
    assert metrics["auroc"]["clean"]["sum/GF"] == pytest.approx(
        auroc(ex.variant_scores(comps, "GF"), arrays["test_is_anomaly"]))
    for p in tmp_path.rglob("*.pt"):
        p.unlink()  # retrain from scratch: same numbers bit for bit
    again, arrays2 = ex.run(cfg)
    assert np.array_equal(arrays2["test_components"], comps) and again["auroc"] == metrics["auroc"]


def _jpeg(path, color):
    Image.new("RGB", (40, 30), color).save(path)


def test_cats_vs_dogs_loader_skips_corrupt_files_and_splits_by_file_number(tmp_path):
    root = tmp_path / "PetImages"
    for folder, base in (("Cat", (200, 0, 0)), ("Dog", (0, 0, 200))):
        (root / folder).mkdir(parents=True)
        for i in (1, 2, 10, 3):
            _jpeg(root / folder / f"{i}.jpg", (base[0], i * 20, base[2]))
    (root / "Cat" / "0.jpg").write_bytes(b"not a jpeg")  # corrupt, as in the real archive
    (root / "Dog" / "5.jpg").write_bytes(b"")
    train_x, train_y = load_cats_vs_dogs("train", size=16, root=root, train_per_class=3)
    test_x, test_y = load_cats_vs_dogs("test", size=16, root=root, train_per_class=3)
    assert train_x.shape == (6, 3, 16, 16) and train_x.dtype == torch.uint8
    assert train_y.tolist() == [0, 0, 0, 1, 1, 1] and test_y.tolist() == [0, 1]
    # files 1, 2, 3 train and 10 tests (numeric order, not "10" < "2"); green channel = 20·number
    assert [int(v) for v in train_x[:3, 1, 8, 8]] == pytest.approx([20, 40, 60], abs=2)
    assert int(test_x[0, 1, 8, 8]) == pytest.approx(200, abs=2)
    with pytest.raises(ValueError, match="split"):
        load_cats_vs_dogs("val", root=root)


@pytest.mark.parametrize("dataset, command", [("mnist", "fetch mnist"), ("cifar10", "fetch cifar10"),
                                              ("cats_vs_dogs", "fetch cats_vs_dogs")])
def test_paper_scale_without_the_download_names_the_command_that_gets_it(dataset, command, tmp_path, monkeypatch):
    from adlib.data.manifests import DatasetMissingError
    from adlib.papers.rafiee2021.report import run_configs
    from adlib.results import ResultsStore

    monkeypatch.setenv("ADLIB_DATA", str(tmp_path / "no-data"))
    monkeypatch.chdir(tmp_path)
    configs = ex.table_configs("paper", [0], dataset=dataset, classes=[1])
    try:
        ex.check_data_present(configs[0]["data"])
        pytest.skip(f"{dataset} is present on this machine")
    except DatasetMissingError as err:
        assert command in str(err)
    with pytest.raises(DatasetMissingError, match=command):
        run_configs(configs, "paper", store=ResultsStore(tmp_path / "results"), progress=False)
    assert not (tmp_path / "results").exists()

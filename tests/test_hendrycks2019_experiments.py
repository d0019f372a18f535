"""Configs of the hendrycks2019 vision experiments: every scale names only data this project can
load (a loader, a generator or a manifest), and bad arguments are errors naming the valid ones;
the report's figures draw the paper's values, labelled as the paper's."""

from __future__ import annotations

import numpy as np
import torch
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


# ---------------------------------------------------------------------------------------------
# figures: the paper's values are drawn, and labelled as the paper's


def _summary(in_dataset, sets, seeds=(0, 1)):
    """A summary_long-shaped frame: MSP 60/40 (FPR95/AUROC) for the baseline, 20/90 for +OE."""
    import pandas as pd

    level = {("baseline", "FPR95"): 60.0, ("baseline", "AUROC"): 40.0, ("oe_tune", "FPR95"): 20.0,
             ("oe_tune", "AUROC"): 90.0, ("baseline", "AUPR"): 30.0, ("oe_tune", "AUPR"): 70.0}
    rows = [(m, s, "msp", o, k, v + seed) for (m, k), v in level.items() for s, seed in enumerate(seeds)
            for o in [*sets, "Mean"]]
    df = pd.DataFrame(rows, columns=["method", "seed", "detector", "ood_set", "metric", "value"])
    df.attrs.update(in_dataset=in_dataset, ood_order=list(sets))
    return df


def _paper_cells(artefact, metric, method, **where):
    from adlib.paper_values import load_values

    p = load_values("hendrycks2019", artefact)
    p = p[(p.metric == metric) & (p.method == method)]
    for col, val in where.items():
        p = p[p[col] == val]
    return p


@pytest.mark.parametrize("artefact", ["table1", "table9"])
def test_plot_per_set_shows_the_papers_table_in_its_own_panel(artefact):
    import matplotlib

    matplotlib.use("agg")
    from adlib.papers.hendrycks2019 import report as oe

    sets = ["fmnist_footwear", "sklearn_digits", "gaussian"]
    fig = oe.plot_per_set(_summary("fashion_mnist", sets), "cpu", artefact=artefact)
    (paper_fpr, ours_fpr), (paper_auc, ours_auc) = np.reshape(fig.axes, (2, 2))
    no = artefact.removeprefix("table")
    for ax_p, ax_o, metric in ((paper_fpr, ours_fpr, "FPR95"), (paper_auc, ours_auc, "AUROC")):
        assert ax_p.get_title().startswith(f"paper (Table {no}, its D_in)")
        d_ins = [t.get_text() for t in ax_p.get_xticklabels()]
        assert d_ins == list(dict.fromkeys(_paper_cells(artefact, metric, "MSP").d_in))
        assert d_ins[:4] == ["SVHN", "CIFAR-10", "CIFAR-100", "Tiny ImageNet"]
        n = len(d_ins)
        heights = np.array([p.get_height() for p in ax_p.patches])
        assert len(heights) == 2 * n
        for i, label in enumerate(("MSP", "+OE")):
            expected = _paper_cells(artefact, metric, label).set_index("d_in").value.reindex(d_ins).to_numpy()
            np.testing.assert_allclose(heights[n * i:n * (i + 1)], expected)
        # our D_in is not the paper's: nothing of the paper on our axes
        assert not [line for line in ax_o.lines if "paper" in line.get_label()]
        assert "ours" in ax_o.get_title()


def test_plot_per_set_marks_table7_cells_on_our_bars_at_paper_scale():
    import matplotlib

    matplotlib.use("agg")
    from adlib.papers.hendrycks2019 import report as oe

    sets = ["gaussian", "textures", "svhn", "places365"]
    fig = oe.plot_per_set(_summary("cifar10", sets), "paper")
    ours_auc = fig.axes[3]
    marks = {line.get_label(): line.get_ydata() for line in ours_auc.lines if "paper" in line.get_label()}
    assert set(marks) == {"paper MSP (Table 7, CIFAR-10)", "paper +OE (Table 7, CIFAR-10)"}
    for label in ("MSP", "+OE"):
        cells = _paper_cells("table7", "AUROC", label, d_in="CIFAR-10").set_index("d_out").value
        expected = cells.reindex(["Gaussian", "Textures", "SVHN", "Places365", "Mean"]).to_numpy()
        np.testing.assert_allclose(marks[f"paper {label} (Table 7, CIFAR-10)"], expected)


def test_roc_panels_carry_the_papers_auroc_of_the_panel_they_stand_in_for():
    import matplotlib

    matplotlib.use("agg")
    from adlib.papers.hendrycks2019 import report as oe
    from adlib.results import RunRecord

    rng = np.random.default_rng(0)
    sets = ["fmnist_footwear", "sklearn_digits", "blobs", "gaussian"]
    records = {(m, 0): RunRecord({}, {}, {}, {"msp__in": rng.normal(size=50),
                                             **{f"msp__{s}": rng.normal(1, size=20) for s in sets}})
               for m in ("baseline", "oe_tune")}
    fig = oe.plot_roc_panels(records, sets, seed=0, scale="cpu")
    for ax, paper_set in zip(fig.axes, oe.ROC_PANEL_ANALOGS):
        texts = [t.get_text() for t in ax.texts if t.get_gid() == "paper"]
        assert len(texts) == 1 and f"Tiny ImageNet vs {paper_set}" in texts[0]
        for label, shown in (("MSP", "Baseline"), ("+OE", "+OE")):
            value = _paper_cells("figure4", "AUROC", label, d_out=paper_set).value.iloc[0]
            assert f"{shown} {value:.1f}" in texts[0]
    one = oe.plot_roc_panels(records, sets[:1], seed=0, scale="cpu")
    assert "paper (Figure 1 / Table 7" in [t.get_text() for t in one.axes[0].texts][0]


def test_cpu_scale_trains_on_a_fixed_balanced_subset_with_nhwc_weights():
    from adlib.models import create_model

    cfg = ex.run_config("cpu", "baseline", 0)
    assert cfg["data"]["train_subset"] == ex.CPU_TRAIN_SUBSET < 36_000
    assert cfg["data"]["oe_subset"] is None and cfg["data"]["test_subset"] is None  # OE and test sets whole
    data = ex.build_data(cfg["data"])
    assert len(data.train_x) == ex.CPU_TRAIN_SUBSET and len(data.test_x) == 6_000
    counts = torch.bincount(data.train_y, minlength=6)
    assert counts.min() > 0.8 * ex.CPU_TRAIN_SUBSET / 6  # a random subset, yet every class well represented
    again = ex.build_data(cfg["data"])
    assert torch.equal(again.train_x, data.train_x)  # the same subset every time
    model = create_model(**cfg["model"])
    assert model.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    allconv = ex.run_config("cpu", "oe_scratch", 0, architecture="allconvnet")
    assert allconv["model"]["memory_format"] == "channels_last" and allconv["scratch"]["lr"] == 0.1
    assert ex.run_config("smoke", "baseline", 0)["data"]["train_subset"] == 1500

"""singh2021 report: ranges, claims and layouts from synthetic per-run AUCs, both outcomes."""

import numpy as np
import pandas as pd
import pytest

from adlib.papers.singh2021 import experiments as ex
from adlib.papers.singh2021 import report as sr
from adlib.papers.singh2021 import protocol as P
from adlib.papers.singh2021.protocol import split_combinations
from adlib.results import config_hash


def _frame(level, splits=("2/8", "5/5", "9/1"), seeds=(0, 1, 2), n_combos=6):
    """One row per (split, combination, method, seed); AUC = level[method](split, combination index) + seed noise."""
    rows = []
    for split in splits:
        for k, combo in enumerate(split_combinations(split)[:n_combos]):
            for method in sr.METHOD_ORDER:
                for seed in seeds:
                    rows.append({"dataset": "fashion_mnist", "split": split, "method": method,
                                 "classes": "(" + ", ".join(map(str, combo)) + ")", "seed": seed, "scale": "cpu",
                                 "auroc": level[method](split, k) + 0.001 * seed})
    return pd.DataFrame(rows)


M = {"2/8": 0, "5/5": 1, "9/1": 2}
PAPER_LIKE = {  # Algorithm 2 > Algorithm 1, Algorithm 1 falls with m, DeepMAD narrowest, wide spans
    "DeepSVDD": lambda s, k: 0.90 - 0.05 * M[s] - 0.05 * k,
    "DeepSVDD(m)": lambda s, k: 0.85 - 0.1 * M[s] - 0.05 * k,
    "DROCC": lambda s, k: 0.80 - 0.05 * k,
    "DROCC(m)": lambda s, k: 0.75 - 0.1 * M[s] - 0.05 * k,
    "DeepMAD": lambda s, k: 0.85 - 0.041 * k,
}
CONTRARY = {
    "DeepSVDD": lambda s, k: 0.80 - 0.01 * k,
    "DeepSVDD(m)": lambda s, k: 0.85 + 0.02 * M[s] - 0.01 * k,
    "DROCC": lambda s, k: 0.70 - 0.01 * k,
    "DROCC(m)": lambda s, k: 0.75 + 0.02 * M[s] - 0.01 * k,
    "DeepMAD": lambda s, k: 0.85 - 0.09 * k,
}


def test_book_configs_are_the_sweep_and_small_at_smoke():
    cpu = sr.book_configs("cpu", [0, 1, 2])
    assert sr.CPU_COMBINATIONS_5_5 < 252 and sr.CPU_SPLIT_SEEDS == {"5/5": 1, "9/1": 1}
    assert len(cpu) == 45 * 5 * 3 + 10 * 5 * 1 + sr.CPU_COMBINATIONS_5_5 * 5 * 1
    sample = set(P.sample_combinations("5/5", sr.CPU_COMBINATIONS_5_5))
    sweep = ex.sweep_configs("cpu", [0, 1, 2], splits=("2/8",)) + ex.sweep_configs("cpu", [0], splits=("9/1",)) + [
        c for c in ex.split_configs("cpu", "5/5", [0]) if tuple(c["data"]["normal_classes"]) in sample]
    assert {config_hash(c) for c in cpu} == {config_hash(c) for c in sweep}
    smoke = sr.book_configs("smoke", [0, 1])
    assert len(smoke) == 3 * 5 * 2 and {c["data"]["dataset"] for c in smoke} == {"digits_28"}


def test_table2_claims_follow_the_numbers():
    claims = sr.table2_claims(_frame(PAPER_LIKE))
    assert [c.held for c in claims] == [True, True, True, True, True, True, True, True]
    assert "2/8: +0.0500" in claims[0].evidence
    claims = sr.table2_claims(_frame(CONTRARY))
    assert [c.held for c in claims] == [False, False, False, False, False, False, False, False]


def test_table3_claims_and_range_table_use_the_papers_fmnist_rows():
    df = _frame(PAPER_LIKE)
    table = sr.range_table(df)
    assert table.loc[("2-in, 8-out", "DeepSVDD"), "paper (fMNIST) mean"] == pytest.approx(0.8538)
    assert table.loc[("2-in, 8-out", "DeepSVDD"), "ours mean"] == pytest.approx(0.90 - 0.125 + 0.001, abs=1e-4)
    assert table.loc[("2-in, 8-out", "DeepSVDD"), "combinations × seeds"] == "6 × 3"
    claims = sr.table3_claims(df)
    # 2/8: DeepSVDD 0.776 > DeepMAD 0.7485; 5/5 and 9/1: DeepMAD 0.7485 > DeepSVDD 0.726, 0.676
    assert [c.held for c in claims[:3]] == [True, True, True]
    contrary = sr.table3_claims(_frame(CONTRARY))  # DeepSVDD (0.776) above DeepMAD (0.626) everywhere
    assert [c.held for c in contrary[:3]] == [True, False, False]
    assert claims[3].held is False and "2/8 DeepSVDD" in claims[3].evidence


def test_figure_claims_count_combinations_below_chance_and_spread():
    low = dict(PAPER_LIKE, DROCC=lambda s, k: 0.45 + 0.05 * k, **{
        "DROCC(m)": lambda s, k: 0.45, "DeepSVDD": lambda s, k: 0.4 + 0.1 * k,
        "DeepSVDD(m)": lambda s, k: 0.3 + 0.1 * k})
    claims = sr.figure_claims(_frame(low))
    assert [c.held for c in claims] == [True, False]  # DROCC(m) is constant: the least spread
    claims = sr.figure_claims(_frame(PAPER_LIKE))
    assert claims[0].held is False and "DeepMAD 0" in claims[0].evidence and claims[1].held is True


def test_theory_claims_both_ways():
    falling = pd.DataFrame({"m": [1, 2, 5], "or_rule": [0.9, 0.85, 0.8], "dempster_shafer": [0.9, 0.85, 0.8],
                            "product": [0.9, 0.8, 0.7], "mean_model": [0.9, 0.88, 0.85],
                            "tpr1": [0.9, 0.95, 0.99], "fpr1": [0.5, 0.7, 0.9]})
    assert [c.held for c in sr.theory_claims(falling)] == [True, True, True]
    rising = falling.assign(or_rule=[0.8, 0.85, 0.9], fpr1=[0.5, 0.4, 0.3], mean_model=[0.8, 0.8, 0.8])
    assert [c.held for c in sr.theory_claims(rising)] == [False, False, False]


def test_best_worst_table_layout():
    table = sr.best_worst_table(_frame(PAPER_LIKE), "2/8", k=3)
    assert list(table.columns) == list(sr.METHOD_ORDER)
    assert table.loc[("best", 1), "DeepMAD"] == "(0, 1) 0.8510"
    assert table.loc[("worst", 1), "DeepMAD"] == "(0, 6) 0.6460"
    assert np.all(table.index.get_level_values("rank") <= 3)


def _feature_record(method, pair, shift, seed=0):
    """A run whose features of the anomalous classes sit ``shift`` away from the normal ones in
    the first half of the dimensions, and whose scores put ``shift``-dependent classes left of normal."""
    from adlib.results import RunRecord

    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), 100)
    normal = np.isin(labels, pair)
    feats = rng.standard_normal((1000, 16))
    feats[~normal, :8] += shift
    if method == "deepmad":
        feats = np.stack([feats, feats])
    scores = rng.standard_normal(1000) + np.where(normal, 0.0, shift - 1.0)
    cfg = ex.run_config("cpu", method, pair, seed, save_features=True)
    arrays = {"features": feats.astype(np.float16), "feature_index": np.arange(1000), "test_labels": labels,
              "test_scores": scores}
    return RunRecord(config=cfg, metrics={"auroc": 0.5 + shift / 10}, provenance={}, arrays=arrays)


def test_feature_configs_pick_the_best_and_worst_pair_of_each_method():
    picks = sr.feature_configs(_frame(PAPER_LIKE, splits=("2/8",)), "cpu", 0)
    assert [(label, role) for label, role, _ in picks] == [(m, r) for m in ("DROCC", "DeepSVDD", "DeepMAD")
                                                           for r in ("best", "worst")]
    best, worst = picks[4][2], picks[5][2]
    assert best["data"]["normal_classes"] == [0, 1] and worst["data"]["normal_classes"] == [0, 6]
    assert best["save_features"] and best["method"] == "deepmad"


@pytest.mark.parametrize("best_shift, worst_shift, held", [(3.0, 0.0, True), (0.0, 3.0, False)])
def test_feature_claims_compare_the_best_with_the_worst_pair(best_shift, worst_shift, held):
    runs = [(label, role, _feature_record(key, (0, 1) if role == "best" else (2, 3),
                                          best_shift if role == "best" else worst_shift))
            for label, key in sr.FEATURE_METHODS.items() for role in ("best", "worst")]
    ks = sr.ks_frame(runs)
    assert len(ks) == 2 + 2 + 4  # one row per pair; DeepMAD one per encoder
    assert ks.loc[("DeepMAD", "best", "(0, 1)", "KS(1,-)"), 1] == 0  # a class against itself
    claims = sr.feature_claims(ks, runs)
    assert [c.artefact for c in claims] == ["table4", "figure6", "table21", "figure5", "table22", "figure7"]
    assert [c.held for c in claims[::2]] == [held] * 3  # KS sums: 8 shifted dimensions vs none
    assert [c.held for c in claims[1::2]] == [held] * 3  # scores shifted left (shift − 1 < 0) in one pair only


def test_hyperparameters_at_paper_scale_are_tables_18_to_20():
    frame = sr.hyperparameter_frame("cpu")
    assert frame.loc[("table20", "DeepMAD", "delta"), "ours, paper scale"] == "8.2"
    assert frame.loc[("table18", "DROCC", "Radius"), "ours, cpu scale"] == "8"
    assert frame.loc[("table19", "DeepSVDD", "eta"), "match"] is None
    assert [c.held for c in sr.hyperparameter_claims(frame)] == [True, True, True]
    broken = frame.copy()
    broken.loc[("table19", "DeepSVDD", "Learning Rate"), "match"] = False
    assert [c.held for c in sr.hyperparameter_claims(broken)] == [True, False, True]


def test_figure8_configs_share_the_sweeps_128_run_and_claims_follow_the_numbers():
    cfgs = sr.figure8_configs("cpu", [0])
    assert len(cfgs) == 3 * 10 and {c["model"]["rep_dim"] for c in cfgs} == {128, 64, 32}
    sweep = {config_hash(c) for c in ex.split_configs("cpu", "2/8", [0], methods=["deepmad"])}
    assert {config_hash(c) for c in cfgs if c["model"]["rep_dim"] == 128} <= sweep

    def frame(drop):
        return pd.DataFrame([{"rep_dim": d, "classes": str(p), "seed": 0, "delta": 1.0,
                              "auroc": 0.8 - (drop if d < 128 else 0) + 0.01 * p}
                             for d in (128, 64, 32) for p in range(4)])

    assert sr.figure8_claims(frame(0.02))[0].held is True
    (claim,) = sr.figure8_claims(frame(0.05))
    assert claim.held is False and "64: -0.0500" in claim.evidence


@pytest.mark.parametrize("split, artefacts", [("2/8", ("table5", "table6", "table7", "table8", "table9")),
                                              ("5/5", ("figure4",))])
def test_plot_combinations_shows_the_papers_best_and_worst_combinations(split, artefacts):
    import matplotlib

    matplotlib.use("agg")
    from adlib.paper_values import get_artefact, load_values

    fig = sr.plot_combinations(_frame(PAPER_LIKE, splits=(split,)), split)
    ours, side = fig.axes
    assert side.get_title().startswith("paper (") and "CIFAR-10" in side.get_title()
    assert not any("paper" in (c.get_label() or "") for c in ours.collections)  # Fashion-MNIST: kept apart
    frames = []
    for a in artefacts:
        p = load_values("singh2021", a)
        renamed = get_artefact("singh2021", a).get("identity", {}).get("table2_method")
        frames.append(p.assign(method=renamed) if renamed else p)
    paper = pd.concat(frames)
    drawn = {c.get_gid(): np.sort(c.get_offsets()[:, 1]) for c in side.collections if c.get_gid()}
    assert len(drawn) == 2 * len(sr.METHOD_ORDER)
    for method in sr.METHOD_ORDER:
        for lst in ("best", "worst"):
            expected = np.sort(paper[(paper.method == method) & (paper.list == lst)].value.to_numpy(dtype=float))
            assert len(expected) == 10
            np.testing.assert_allclose(drawn[f"paper {method} {lst}"], expected)


def test_plot_combinations_marks_the_papers_cells_on_cifar10_runs_and_nothing_for_9_1():
    import matplotlib

    matplotlib.use("agg")
    df = _frame(PAPER_LIKE, splits=("2/8",), n_combos=45).assign(dataset="cifar10", scale="paper")
    fig = sr.plot_combinations(df, "2/8")
    ours = fig.axes[0]
    marks = {c.get_label(): c for c in ours.collections if c.get_label().startswith("paper DeepMAD")}
    assert list(marks) == ["paper DeepMAD (Tables 5–9, CIFAR-10)"]
    best = sr.paper_best_worst("2/8").query("method == 'DeepMAD' and classes == '(6, 8)'").value.iloc[0]
    assert best == pytest.approx(0.7654) and best in marks["paper DeepMAD (Tables 5–9, CIFAR-10)"].get_offsets()[:, 1]
    assert len(marks["paper DeepMAD (Tables 5–9, CIFAR-10)"].get_offsets()) == 20
    fig = sr.plot_combinations(_frame(PAPER_LIKE, splits=("9/1",)), "9/1")
    assert len(fig.axes) == 1 and sr.paper_best_worst("9/1").empty

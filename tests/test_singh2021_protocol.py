"""singh2021 multi-class-normal protocol: combination counts and the Tables 2/3 aggregation."""

import math

import numpy as np
import pandas as pd
import pytest

from adlib.papers.singh2021 import protocol as P


@pytest.mark.parametrize("split,count", [("2/8", 45), ("5/5", 252), ("9/1", 10), ("2/18", 190)])
def test_combination_counts(split, count):
    combos = P.split_combinations(split)
    m, c = P.SPLITS[split]
    assert len(combos) == count == math.comb(c, m)
    assert len(set(combos)) == count and all(len(t) == m and list(t) == sorted(t) for t in combos)


def test_a_sample_of_combinations_is_a_fixed_sorted_subset():
    all_55 = P.split_combinations("5/5")
    sample = P.sample_combinations("5/5", 42)
    assert len(sample) == len(set(sample)) == 42 and set(sample) <= set(all_55)
    assert sample == sorted(sample) and sample == P.sample_combinations("5/5", 42)
    assert sample != all_55[:42]  # drawn at random, not the first ones
    assert sample != P.sample_combinations("5/5", 42, seed=P.COMBINATION_SAMPLE_SEED + 1)
    # every class is normal in some sampled combination and anomalous in another
    assert set().union(*sample) == set(range(10)) and all(any(c not in s for s in sample) for c in range(10))
    assert P.sample_combinations("9/1", 50) == P.split_combinations("9/1")
    with pytest.raises(ValueError):
        P.sample_combinations("5/5", 0)


def test_anomalies_are_the_remaining_classes():
    s = P.class_split((0, 8), 10)
    assert s.in_classes == (0, 8) and s.test_ood_classes == (1, 2, 3, 4, 5, 6, 7, 9)
    assert P.combination_label((0, 8)) == "(0, 8)"
    with pytest.raises(ValueError):
        P.split_combinations("3/7")


def test_ci95_half_width_is_student_t():
    # n = 3, s = 1: t_{0.975, 2} = 4.302653 → 4.302653 / sqrt(3)
    assert P.ci95_half_width([1.0, 2.0, 3.0]) == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert math.isnan(P.ci95_half_width([0.7]))
    assert P.ci95_half_width([0.5, 0.5, 0.5]) == pytest.approx(0.0, abs=1e-12)


def _runs():
    rows = []
    aucs = {"(0, 1)": [0.9, 0.8, 0.85], "(0, 2)": [0.6, 0.6, 0.6], "(1, 2)": [0.3, 0.5, 0.4], "(0, 8)": [0.99, 0.99, 0.99]}
    for method, shift in (("DROCC", 0.0), ("DeepMAD", 0.05)):
        for classes, vals in aucs.items():
            for seed, v in enumerate(vals):
                rows.append({"split": "2/8", "method": method, "classes": classes, "seed": seed, "auroc": v + shift})
    return pd.DataFrame(rows)


def test_per_combination_means_over_seeds():
    per = P.per_combination(_runs())
    row = per[(per.method == "DROCC") & (per.classes == "(1, 2)")].iloc[0]
    assert row["mean"] == pytest.approx(0.4) and row["n_seeds"] == 3
    assert row["ci95"] == pytest.approx(P.ci95_half_width([0.3, 0.5, 0.4]))
    with pytest.raises(ValueError, match="missing"):
        P.per_combination(_runs().drop(columns="seed"))


def test_range_summary_min_max_mean_and_outliers():
    per = P.per_combination(_runs())
    full = P.range_summary(per).set_index("method")
    assert full.loc["DROCC", "min"] == pytest.approx(0.4) and full.loc["DROCC", "min_classes"] == "(1, 2)"
    assert full.loc["DROCC", "max"] == pytest.approx(0.99) and full.loc["DROCC", "max_classes"] == "(0, 8)"
    assert full.loc["DROCC", "mean"] == pytest.approx(np.mean([0.85, 0.6, 0.4, 0.99]))
    assert full.loc["DROCC", "max_ci95"] == pytest.approx(0.0, abs=1e-12)
    # Table 2 sets DROCC's (0, 8) apart as an "Outlier": it leaves the range and the mean
    cut = P.range_summary(per, outliers=[("2/8", "DROCC", "(0, 8)")]).set_index("method")
    assert cut.loc["DROCC", "max"] == pytest.approx(0.85) and cut.loc["DROCC", "n_combinations"] == 3
    assert cut.loc["DeepMAD", "max"] == pytest.approx(1.04) and cut.loc["DeepMAD", "n_combinations"] == 4


def test_best_worst_lists():
    bw = P.best_worst(P.per_combination(_runs()), k=2)
    drocc = bw[bw.method == "DROCC"]
    assert list(drocc[drocc.list == "best"]["classes"]) == ["(0, 8)", "(0, 1)"]
    assert list(drocc[drocc.list == "worst"]["classes"]) == ["(1, 2)", "(0, 2)"]
    assert list(drocc[drocc.list == "worst"]["rank"]) == [1, 2]


def test_aggregation_on_the_papers_own_lists_gives_table2():
    """Tables 13-17 (best/worst 10 of the 252 5-sets, per-combination means) through
    range_summary give Table 2's 5-in, 5-out extremes for all five methods (paper-values check)."""
    from adlib import paper_values as pv

    parts = []
    for n in range(13, 18):
        art = f"table{n}"
        df = pv.load_values("singh2021", art)
        parts.append(pd.DataFrame({"split": "5/5", "method": pv.get_artefact("singh2021", art)["identity"]["table2_method"],
                                   "classes": df["classes"], "mean": df["value"], "ci95": np.nan}))
    ours = P.range_summary(pd.concat(parts, ignore_index=True)).set_index("method")
    t2 = pv.load_values("singh2021", "table2")
    t2 = t2[t2["split"] == "5-in, 5-out"].set_index(["method", "metric"])["value"]
    assert set(ours.index) == {"DROCC", "DROCC(m)", "DeepSVDD", "DeepSVDD(m)", "DeepMAD"}
    for method, row in ours.iterrows():
        assert row["min"] == pytest.approx(t2[(method, "AUC min")]) and row["max"] == pytest.approx(t2[(method, "AUC max")])
    assert ours.loc["DeepMAD", "min_classes"] == "(0, 1, 3, 8, 9)"

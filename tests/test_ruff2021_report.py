"""ruff2021 report: tables and claims computed from (synthetic) run records."""

import numpy as np
import pandas as pd
import pytest

from adlib.papers.ruff2021 import report as rr
from adlib.papers.ruff2021.experiments import run_config
from adlib.results import RunRecord


def _record(method, c, seed, auc, **kw):
    cfg = run_config("cpu", method, c, seed, **kw)
    n_oe = 0 if method == "deep_svdd" else (kw.get("oe_size") or 24000)
    k = 0 if method == "deep_svdd" else (kw.get("oe_k") or 4)
    metrics = {"auroc": auc / 100, "n_oe": n_oe, "oe_classes": list(range(k)), "n_test_nominal": 1000,
               "n_test_anomalous": 5000}
    return RunRecord(config=cfg, metrics=metrics, provenance={})


def _table1_df(aucs):
    return rr.runs_frame([_record(m, c, s, aucs[m] + 0.1 * s + c) for m in aucs for c in (0, 5) for s in (0, 1, 2)])


def test_table1_claims_follow_the_numbers():
    good = {"deep_svdd": 85, "dsad": 95, "hsc": 96, "focal": 96.5, "bce": 96.6}
    claims = rr.table1_claims(_table1_df(good))
    assert [c.held for c in claims] == [True, True, True, True, True, True]
    bad = {"deep_svdd": 94, "dsad": 97, "hsc": 93, "focal": 99, "bce": 96}
    claims = rr.table1_claims(_table1_df(bad))
    assert [c.held for c in claims] == [False, False, False, False, False, False]
    assert "HSC − DSAD = -4.00" in claims[4].evidence


def test_summary_is_mean_over_classes_then_std_over_seeds():
    df = _table1_df({"hsc": 90})
    s = rr.summary(df, ["method"])
    # classes 0 and 5 add 0 and 5; seeds add 0, 0.1, 0.2 -> per-seed means 92.5, 92.6, 92.7
    assert s["mean"].iloc[0] == pytest.approx(92.6)
    assert s["std"].iloc[0] == pytest.approx(0.1)
    assert rr.summary(df, [])["mean"].iloc[0] == pytest.approx(92.6)
    table = rr.per_class_table(df, methods=("hsc",))
    assert table.loc["T-shirt/top", "HSC"] == "90.1 ± 0.1" and table.loc["Mean AUC", "HSC"] == "92.6 ± 0.1"


def test_one_seed_shows_means_without_a_spread():
    df = rr.runs_frame([_record("hsc", c, 0, 90 + c) for c in (0, 5)])
    table = rr.per_class_table(df, methods=("hsc",))
    assert table.loc["T-shirt/top", "HSC"] == "90.0" and table.loc["Mean AUC", "HSC"] == "92.5"
    assert rr.curve_table(df.assign(x=1), "x", methods=("hsc",)).iloc[0, 0] == "92.5"
    assert "1 seed × 2 classes" in rr.ours_label(df)
    two = rr.runs_frame([_record("hsc", c, s, 90 + c + s) for c in (0, 5) for s in (0, 1)])
    assert rr.per_class_table(two, methods=("hsc",)).loc["Mean AUC", "HSC"] == "93.0 ± 0.7"
    assert "2 seeds × 2 classes" in rr.ours_label(two)


def test_table1_frame_keeps_literature_rows_unrun():
    frame = rr.table1_frame(_table1_df({"deep_svdd": 85, "dsad": 95, "hsc": 96, "focal": 96.5, "bce": 96.6}))
    ours = frame.columns[-1]
    assert frame.loc[("Unsupervised", "GT+*"), ours] == "literature value, not re-run"
    assert frame.loc[("Unsupervised OE", "HSC"), "paper (CIFAR-10)"] == 95.9
    assert frame.loc[("Unsupervised", "Deep SVDD (no OE)"), ours].startswith("87.6")


def test_blur_and_diversity_claims():
    recs = []
    for s in (0, 1, 2):
        for sig, hsc, bce in ((0.0, 95, 96), (1.0, 94, 85), (2.0, 93, 80), (4.0, 92, 75)):
            recs += [_record("hsc", 0, s, hsc, oe_size=64, blur_sigma=sig), _record("bce", 0, s, bce, oe_size=64, blur_sigma=sig)]
    df = rr.runs_frame(recs)
    natural = rr.blur_claims(df, "figure3", low_dim=False)
    assert [c.held for c in natural] == [True, True, True]
    low = rr.blur_claims(df, "figure5", low_dim=True)
    assert [c.held for c in low] == [False, True]  # BCE wins at σ = 0
    recs = [_record(m, 0, s, auc, oe_k=k if k < 4 else None)
            for s in (0, 1) for k, h, b in ((1, 90, 88), (2, 91, 90), (4, 93, 95)) for m, auc in (("hsc", h), ("bce", b))]
    div = rr.diversity_claims(rr.runs_frame(recs), "figure4", low_dim=True, baseline=89)
    assert [c.held for c in div] == [True, True, False]
    div_b = rr.diversity_claims(rr.runs_frame(recs), "figure4", low_dim=False, baseline=89)
    assert [c.held for c in div_b] == [True, True, False]  # BCE at k = 1 (88) is below the baseline


def test_figure2_and_figure7_claims():
    recs = []
    for s in (0, 1, 2):
        for n, h, b in ((1, 80, 82), (8, 88, 89), (64, 95, 93), (512, 96.5, 96), (None, 97, 97.5)):
            recs += [_record("hsc", 0, s, h, oe_size=n), _record("bce", 0, s, b, oe_size=n)]
    claims = rr.figure2_claims(rr.runs_frame(recs), baseline=90)
    assert [c.held for c in claims] == [True, True, True, False, True]  # HSC < BCE at 1 and 8
    focal = rr.runs_frame([_record("focal", 0, s, 95 + g / 10, gamma=g) for s in (0, 1) for g in (0.0, 0.5, 2.0, 4.0)])
    assert rr.figure7_claims(focal)[0].held is True
    focal = rr.runs_frame([_record("focal", 0, s, 90 + g, gamma=g) for s in (0, 1) for g in (0.0, 0.5, 2.0, 4.0)])
    assert rr.figure7_claims(focal)[0].held is False


def test_table3_claims():
    recs = [_record("hsc", 0, s, base + (1 if aug else 0), h=h, augment=aug)
            for s in (0, 1) for h, base in (("l1", 90), ("l2", 91), ("l2_squared", 89), ("pseudo_huber", 92))
            for aug in (False, True)]
    df = rr.runs_frame(recs)
    assert [c.held for c in rr.table3_claims(df)] == [True, True]
    assert rr.table3_frame(df).shape == (4, 4)


def test_status_matrix_marks_paper_values_only_pages():
    from adlib.book import status_matrix

    m = status_matrix()
    row = m[(m.paper == "ruff2021") & (m.artefact == "Table 6")].iloc[0]
    assert row["scale reached"].startswith("paper values only") and row["page"] == "ruff2021/table2"

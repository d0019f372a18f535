"""Tests for adlib.metrics (spec hendrycks2019.md §3 and §8.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from adlib import metrics as M


# ----------------------------------------------------------------------------------------------
# An independent, deliberately naive FPR-at-recall (written from the spec's description, not
# from the library code): brute-force counts for every distinct threshold.
# ----------------------------------------------------------------------------------------------

def naive_fpr_at_tpr(scores, is_anomaly, level):
    scores = np.asarray(scores, dtype=float)
    pos = np.asarray(is_anomaly, dtype=bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    thresholds = sorted(set(scores.tolist()), reverse=True)  # flag "score >= t"
    points = []  # (recall, fp) from the highest threshold down to the first with full recall
    for t in thresholds:
        flagged = scores >= t
        tp = int((flagged & pos).sum())
        fp = int((flagged & ~pos).sum())
        points.append((tp / n_pos, fp))
        if tp == n_pos:
            break
    # The official code walks these points from full recall upwards and keeps the *first*
    # point with the smallest |recall - level|.
    best = None
    for recall, fp in reversed(points):
        d = abs(recall - level)
        if best is None or d < best[0]:
            best = (d, fp)
    return best[1] / n_neg


# ----------------------------------------------------------------------------------------------
# Agreement with scikit-learn
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_auroc_and_ap_match_sklearn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(300) < 0.3
    s = rng.normal(size=300) + 0.8 * y
    assert M.auroc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert M.aupr_out(s, y) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert M.average_precision(s, y) == M.aupr_out(s, y)


@pytest.mark.parametrize("seed", range(5))
def test_positive_normal_equals_sklearn_on_flipped_labels(seed):
    rng = np.random.default_rng(100 + seed)
    y = rng.random(250) < 0.2
    s = rng.integers(0, 6, size=250) + 1.0 * y  # integer scores: many ties
    expected = average_precision_score(~y, -s)
    assert M.average_precision(s, y, positive="normal") == pytest.approx(expected, abs=1e-12)
    assert M.aupr_in(s, y) == pytest.approx(expected, abs=1e-12)
    # and it is genuinely a different number from AUPR-out here
    assert abs(M.aupr_in(s, y) - M.aupr_out(s, y)) > 1e-3


def test_accepts_torch_tensors():
    s = torch.tensor([0.1, 0.9, 0.4, 0.8])
    y = torch.tensor([0, 1, 0, 1])
    assert M.auroc(s, y) == 1.0
    assert isinstance(M.auroc(s, y), float)
    out = M.ood_metrics(torch.tensor([0.0, 0.1, 0.2]), torch.tensor([1.0, 2.0]))
    assert out["AUROC"] == 1.0


# ----------------------------------------------------------------------------------------------
# Hand-computed cases with ties
# ----------------------------------------------------------------------------------------------

def test_hand_case_all_tied_pairs():
    # scores [1, 1, 0, 0], labels [1, 0, 1, 0]: each score level holds one positive, one negative.
    # AUROC: pos-neg pairs (1,1) tie 1/2, (1,0) 1, (0,1) 0, (0,0) tie 1/2 -> 2/4 = 0.5.
    # AP (step-wise): threshold 1 -> P = 1/2, R = 1/2; threshold 0 -> P = 2/4, R = 1;
    #   AP = 1/2 * 1/2 + 1/2 * 1/2 = 0.5.
    # FPR95: thresholds give recall [0.5, 1], fps [1, 2]; reversed from full recall:
    #   recall [1, 0.5, (1 appended)], fps [2, 1, 0]; closest to 0.95 is the first (1.0) -> 2/2.
    s, y = [1, 1, 0, 0], [1, 0, 1, 0]
    assert M.auroc(s, y) == 0.5
    assert M.aupr_out(s, y) == 0.5
    assert M.fpr_at_tpr(s, y, 0.95) == 1.0
    # recall 0.5 is reachable with 1 false positive out of 2
    assert M.fpr_at_tpr(s, y, 0.5) == 0.5


def test_hand_case_official_nearest_recall_semantics():
    # scores [5, 4, 4, 3, 2, 1], labels [1, 1, 0, 1, 0, 1]; 4 positives, 2 negatives.
    # Distinct thresholds 5, 4, 3, 2, 1 -> tps [1, 2, 3, 3, 4], fps [0, 1, 1, 2, 2],
    # recall [.25, .5, .75, .75, 1]. Reversed from full recall:
    #   recall [1, .75 (t=2), .75 (t=3), .5, .25, 1], fps [2, 2, 1, 1, 0, 0].
    s, y = [5, 4, 4, 3, 2, 1], [1, 1, 0, 1, 0, 1]
    assert M.fpr_at_tpr(s, y, 0.95) == 1.0    # nearest recall is 1.0 -> fps 2
    # recall 0.75 occurs at two thresholds; the official code takes the first after reversal,
    # i.e. the LOWER threshold t=2 with 2 false positives (the naive "best FPR at recall 0.75"
    # would give 1/2).
    assert M.fpr_at_tpr(s, y, 0.75) == 1.0
    # 0.625 is equidistant from .75 and .5: argmin keeps the first -> recall .75 -> fps 2.
    assert M.fpr_at_tpr(s, y, 0.625) == 1.0
    assert M.fpr_at_tpr(s, y, 0.6) == 0.5     # .5 is nearer -> fps 1
    assert M.fpr_at_tpr(s, y, 0.3) == 0.0     # .25 is nearest -> fps 0
    # AUROC by hand: positives {5, 4, 3, 1}, negatives {4, 2}:
    #   vs 4: 5>4 (1), 4=4 (1/2), 3<4 (0), 1<4 (0) -> 1.5; vs 2: 5, 4, 3 > 2 (3), 1 < 2 (0) -> 3
    #   AUROC = 4.5 / 8 = 0.5625
    assert M.auroc(s, y) == pytest.approx(0.5625)


def test_fpr_ignores_order_of_tied_samples():
    s = np.array([3, 3, 3, 2, 2, 1, 1, 1, 0, 0])
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1, 0])
    perm = np.random.default_rng(0).permutation(10)
    for level in (0.95, 0.9, 0.5):
        assert M.fpr_at_tpr(s, y, level) == M.fpr_at_tpr(s[perm], y[perm], level)


@pytest.mark.parametrize("level", [0.95, 0.9, 0.8, 0.5])
def test_fpr_matches_independent_reimplementation_with_ties(level):
    rng = np.random.default_rng(1234)
    for _ in range(200):
        n = int(rng.integers(4, 60))
        y = rng.random(n) < rng.uniform(0.1, 0.9)
        if y.all() or not y.any():
            continue
        s = rng.integers(0, int(rng.integers(2, 8)), size=n) + rng.integers(0, 3) * y
        assert M.fpr_at_tpr(s, y, level) == pytest.approx(naive_fpr_at_tpr(s, y, level),
                                                          abs=1e-12)


def test_fpr90_variant_differs_from_fpr95():
    # 20 positives with scores 1..20, 20 negatives with scores 0.5..19.5 (interleaved).
    pos = np.arange(1, 21, dtype=float)
    neg = np.arange(0, 20, dtype=float) + 0.5
    out95 = M.ood_metrics(neg, pos, tpr=0.95)
    out90 = M.ood_metrics(neg, pos, tpr=0.90)
    assert set(out90) == {"FPR90", "AUROC", "AUPR", "AUPR_in", "AP"}
    # Recall 19/20 = .95 holds at thresholds 2 (18 negatives >= 2) and 1.5 (19 negatives).
    # Walking up from full recall (threshold 1), the official code meets 1.5 first -> 19/20.
    # Recall 18/20 = .90 holds at thresholds 3 and 2.5; 2.5 comes first -> negatives
    # 2.5..19.5 = 18 -> 18/20.
    assert out95["FPR95"] == pytest.approx(19 / 20)
    assert out90["FPR90"] == pytest.approx(18 / 20)
    assert M.fpr_at_tpr(np.r_[pos, neg], np.r_[np.ones(20), np.zeros(20)], 0.9) == out90["FPR90"]


# ----------------------------------------------------------------------------------------------
# Limiting cases (spec §8.2)
# ----------------------------------------------------------------------------------------------

def test_perfect_separation():
    rng = np.random.default_rng(0)
    out = M.ood_metrics(rng.uniform(0, 1, 500), rng.uniform(2, 3, 100))
    assert out["FPR95"] == 0.0
    assert out["AUROC"] == 1.0
    assert out["AUPR"] == 1.0
    assert out["AUPR_in"] == 1.0
    assert out["AP"] == out["AUPR"]


def test_perfectly_wrong_scores():
    out = M.ood_metrics(np.arange(10.0) + 100, np.arange(5.0))
    assert out["AUROC"] == 0.0
    assert out["FPR95"] == 1.0


def test_identical_distributions_at_one_to_five():
    rng = np.random.default_rng(7)
    out = M.ood_metrics(rng.normal(size=30000), rng.normal(size=6000))
    assert out["AUROC"] == pytest.approx(0.5, abs=0.015)
    assert out["AUPR"] == pytest.approx(1 / 6, abs=0.01)
    assert out["AUPR_in"] == pytest.approx(5 / 6, abs=0.01)
    assert out["FPR95"] == pytest.approx(0.95, abs=0.015)


def test_ood_metrics_values_are_consistent_with_single_metrics():
    rng = np.random.default_rng(3)
    s_in, s_out = rng.normal(size=200), rng.normal(1, 1, size=40)
    s = np.r_[s_out, s_in]
    y = np.r_[np.ones(40), np.zeros(200)]
    out = M.ood_metrics(s_in, s_out)
    assert out["AUROC"] == M.auroc(s, y)
    assert out["AUPR"] == M.aupr_out(s, y)
    assert out["AUPR_in"] == M.aupr_in(s, y)
    assert out["FPR95"] == M.fpr_at_tpr(s, y)
    assert all(0.0 <= v <= 1.0 for v in out.values())


def test_roc_points():
    fpr, tpr = M.roc_points([0.0, 1.0, 2.0], [1.5, 3.0])
    assert fpr[0] == 0.0 and tpr[0] == 0.0 and fpr[-1] == 1.0 and tpr[-1] == 1.0
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    # trapezoidal area of the returned points equals the AUROC
    assert np.trapezoid(tpr, fpr) == pytest.approx(M.auroc([1.5, 3, 0, 1, 2], [1, 1, 0, 0, 0]))


# ----------------------------------------------------------------------------------------------
# Repeated-draw protocol (spec §3 "Average of 10 runs")
# ----------------------------------------------------------------------------------------------

def test_repeated_ood_metrics_protocol():
    rng = np.random.default_rng(0)
    s_in = rng.normal(size=1003)
    s_out = rng.normal(1.0, 1.0, size=5000)
    res = M.repeated_ood_metrics(s_in, s_out, n_draws=10, ratio=5, rng=42)
    assert res["ood_num"] == 1003 // 5 == 200
    assert res["n_draws"] == 10
    # mean of per-draw metrics, computed by hand with the same RNG stream
    gen = np.random.default_rng(42)
    draws = [M.ood_metrics(s_in, s_out[gen.permutation(5000)[:200]]) for _ in range(10)]
    for key in ("FPR95", "AUROC", "AUPR", "AUPR_in", "AP"):
        vals = np.array([d[key] for d in draws])
        assert res[key] == pytest.approx(vals.mean(), abs=1e-12)
        assert res[key + "_std"] == pytest.approx(vals.std(), abs=1e-12)
    assert res["AUROC_std"] > 0  # draws really differ
    # reproducible under the same seed, different under another
    assert M.repeated_ood_metrics(s_in, s_out, rng=42) == res
    assert M.repeated_ood_metrics(s_in, s_out, rng=43)["AUROC"] != res["AUROC"]


def test_repeated_ood_metrics_small_pool_uses_everything():
    rng = np.random.default_rng(1)
    s_in, s_out = rng.normal(size=100), rng.normal(2, 1, size=7)
    res = M.repeated_ood_metrics(s_in, s_out, n_draws=4, ratio=5, rng=0)
    assert res["ood_num"] == 7
    assert res["AUROC_std"] == 0.0
    assert res["AUROC"] == pytest.approx(M.ood_metrics(s_in, s_out)["AUROC"])


def test_repeated_ood_metrics_tpr_key():
    rng = np.random.default_rng(2)
    res = M.repeated_ood_metrics(rng.normal(size=50), rng.normal(size=50), tpr=0.9)
    assert "FPR90" in res and "FPR90_std" in res and "FPR95" not in res


# ----------------------------------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [M.auroc, M.aupr_out, M.aupr_in, M.fpr_at_tpr])
def test_validation_errors(fn):
    with pytest.raises(ValueError, match="length mismatch"):
        fn([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="non-finite"):
        fn([0.1, np.nan, 0.3], [0, 1, 0])
    with pytest.raises(ValueError, match="non-finite"):
        fn([0.1, np.inf, 0.3], [0, 1, 0])
    with pytest.raises(ValueError, match="one class"):
        fn([0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(ValueError, match="one class"):
        fn([0.1, 0.2, 0.3], [0, 0, 0])
    with pytest.raises(ValueError, match="0/1"):
        fn([0.1, 0.2, 0.3], [0, 2, 1])


def test_validation_other():
    with pytest.raises(ValueError, match="positive"):
        M.average_precision([0, 1], [0, 1], positive="ood")
    with pytest.raises(ValueError, match="tpr"):
        M.fpr_at_tpr([0, 1], [0, 1], tpr=0.0)
    with pytest.raises(ValueError, match="1-D"):
        M.auroc(np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="non-finite"):
        M.ood_metrics([0.0, 1.0], [np.nan])
    with pytest.raises(ValueError, match="0 OOD samples"):
        M.repeated_ood_metrics([0.0, 1.0], [2.0], ratio=5)


# ----------------------------------------------------------------------------------------------
# Calibration (OE App. G, spec §3)
# ----------------------------------------------------------------------------------------------

def test_rms_at_least_mad_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(200, 2000))
        conf = rng.uniform(0.1, 1.0, size=n)
        correct = rng.random(n) < conf ** rng.uniform(0.3, 3.0)
        for skip in (True, False):
            e = M.calibration_errors(conf, correct, official_skip_last_bin=skip)
            assert e["RMS"] >= e["MAD"] - 1e-15
            assert e["MAD"] > 0


def test_perfectly_calibrated_case_is_near_zero():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.1, 1.0, size=200_000)
    correct = rng.random(conf.size) < conf
    e = M.calibration_errors(conf, correct)
    # each bin of 100 has sampling noise ~ sqrt(p(1-p)/100) <= 0.05; RMS is a weighted RMS of it
    assert e["RMS"] < 0.06
    assert e["MAD"] < 0.05
    over = M.calibration_errors(np.full(2000, 0.9), rng.random(2000) < 0.5)
    assert over["MAD"] == pytest.approx(0.4, abs=0.05)  # overconfident by about 0.4


def test_calibration_hand_case_and_last_bin_quirk():
    # 4 bins of 2 samples (bin_size=2), sorted by confidence:
    #   bin 0: conf .2 .2, correct 0 0 -> |0.2 - 0|   = 0.2
    #   bin 1: conf .4 .4, correct 1 0 -> |0.4 - 0.5| = 0.1
    #   bin 2: conf .6 .6, correct 1 1 -> |0.6 - 1|   = 0.4
    #   bin 3: conf .9 .9, correct 0 0 -> |0.9 - 0|   = 0.9  (skipped by the official code)
    conf = np.array([0.9, 0.2, 0.6, 0.4, 0.2, 0.9, 0.4, 0.6])
    correct = np.array([0, 0, 1, 1, 0, 0, 0, 1])
    official = M.calibration_errors(conf, correct, bin_size=2)
    # weights |B|/n = 2/8 each, and the divisor stays n = 8 even though bin 3 is skipped
    assert official["MAD"] == pytest.approx(0.25 * (0.2 + 0.1 + 0.4))
    assert official["RMS"] == pytest.approx(np.sqrt(0.25 * (0.04 + 0.01 + 0.16)))
    full = M.calibration_errors(conf, correct, bin_size=2, official_skip_last_bin=False)
    assert full["MAD"] == pytest.approx(0.25 * (0.2 + 0.1 + 0.4 + 0.9))
    assert full["RMS"] == pytest.approx(np.sqrt(0.25 * (0.04 + 0.01 + 0.16 + 0.81)))


def test_calibration_last_bin_absorbs_remainder():
    # 5 samples, bin_size 2 -> bins [0:2], [2:5]; textbook mode uses both with weights 2/5, 3/5
    conf = np.array([0.1, 0.1, 0.5, 0.5, 0.5])
    correct = np.array([0, 0, 1, 1, 1])
    e = M.calibration_errors(conf, correct, bin_size=2, official_skip_last_bin=False)
    assert e["MAD"] == pytest.approx(0.4 * 0.1 + 0.6 * 0.5)


def test_calibration_validation():
    with pytest.raises(ValueError, match="fewer than one bin"):
        M.calibration_errors(np.full(50, 0.5), np.ones(50))
    with pytest.raises(ValueError, match="single bin"):
        M.calibration_errors(np.full(150, 0.5), np.ones(150))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.calibration_errors(np.full(300, 1.5), np.ones(300))
    with pytest.raises(ValueError, match="length mismatch"):
        M.calibration_errors(np.full(300, 0.5), np.ones(299))


def test_soft_f1_toy_vector():
    # conf [0.9, 0.8, 0.3, 0.6], correct [1, 1, 0, 0] -> wrong [0, 0, 1, 1], 1-conf [.1 .2 .7 .4]
    # numerator 2 * (0.7 + 0.4) = 2.2; denominator (0.1 + 0.2 + 0.7 + 0.4) + 2 = 3.4
    # soft F1 = 2.2 / 3.4 = 0.6470588...
    assert M.soft_f1([0.9, 0.8, 0.3, 0.6], [1, 1, 0, 0]) == pytest.approx(2.2 / 3.4)
    # an oracle (confidence 1 when right, 0 when wrong) scores 1
    assert M.soft_f1([1.0, 0.0, 1.0], [1, 0, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="undefined"):
        M.soft_f1([1.0, 1.0], [1, 1])


@pytest.mark.parametrize("t_true", [0.5, 1.0, 2.5])
def test_tune_temperature_recovers_known_temperature(t_true):
    rng = np.random.default_rng(int(t_true * 10))
    logits = rng.normal(0.0, 3.0, size=(40_000, 10))
    z = logits / t_true
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    labels = (p.cumsum(axis=1) > rng.random((len(p), 1))).argmax(axis=1)
    t = M.tune_temperature(logits, labels)
    assert t == pytest.approx(t_true, rel=0.04)
    # it is (close to) the NLL minimiser: neighbours are not better
    nll = lambda tt: M._nll_and_grad(logits, labels, tt)[0]  # noqa: E731
    assert nll(t) <= nll(t * 1.05) and nll(t) <= nll(t / 1.05)


def test_tune_temperature_matches_torch_autograd_gradient_sign():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(500, 4))
    labels = rng.integers(0, 4, size=500)
    for t in (0.3, 1.0, 3.0):
        tt = torch.tensor(t, dtype=torch.float64, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(torch.tensor(logits) / tt, torch.tensor(labels))
        (g,) = torch.autograd.grad(loss, tt)
        nll, grad = M._nll_and_grad(logits, labels, t)
        assert nll == pytest.approx(loss.item(), abs=1e-10)
        assert grad == pytest.approx(float(g), abs=1e-10)


def test_tune_temperature_clamps_to_search_range():
    # labels always the argmax of strongly separated logits -> NLL decreases as T -> 0
    logits = np.array([[10.0, 0.0], [0.0, 10.0]] * 50)
    labels = np.array([0, 1] * 50)
    assert M.tune_temperature(logits, labels) == pytest.approx(0.2, abs=1e-3)
    with pytest.raises(ValueError, match="labels must lie"):
        M.tune_temperature(logits, labels + 1)

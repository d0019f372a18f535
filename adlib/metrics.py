"""Evaluation metrics shared by the five papers.

Conventions (see :mod:`adlib`): scores are *higher = more anomalous*, and every metric names its
positive class. ``is_anomaly`` is a binary vector (``bool`` or ``{0, 1}``), 1 = anomalous /
out-of-distribution (OOD). All functions take NumPy arrays, Python sequences or torch tensors
(converted with ``.detach().cpu().numpy()``) and return plain Python ``float`` values as
fractions in ``[0, 1]``; the book converts to percent.

Detection metrics (Hendrycks et al. 2019, "Deep Anomaly Detection with Outlier Exposure", §4.1;
spec ``hendrycks2019.md`` §3):

* :func:`auroc` -- ``sklearn.metrics.roc_auc_score`` with OOD = positive.
* :func:`average_precision` / :func:`aupr_out` / :func:`aupr_in` -- step-wise average precision
  (``sklearn.metrics.average_precision_score``, not the trapezoidal area). The OE paper's "AUPR"
  is :func:`aupr_out` (anomalous positive); Ahmed & Courville 2020's "AP" is the same number.
* :func:`fpr_at_tpr` -- FPR at N% TPR exactly as the official OE code's
  ``fpr_and_fdr_at_recall`` (nearest-recall cutoff, no interpolation).
* :func:`ood_metrics` / :func:`repeated_ood_metrics` -- the OE evaluation protocol (1:5 OOD to
  in-distribution ratio, 10 re-draws of the OOD subsample scored by one model).

Calibration metrics (OE paper §5 and App. G.1; official ``calibration_tools.py``):
:func:`calibration_errors` (RMS and MAD with adaptive bins), :func:`soft_f1` and
:func:`tune_temperature`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

__all__ = [
    "auroc",
    "average_precision",
    "aupr_out",
    "aupr_in",
    "fpr_at_tpr",
    "ood_metrics",
    "roc_points",
    "repeated_ood_metrics",
    "calibration_errors",
    "soft_f1",
    "tune_temperature",
]

Positive = Literal["anomalous", "normal"]


# ----------------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------------

def _as_numpy(x: Any, name: str) -> np.ndarray:
    """Convert a torch tensor / array-like to a NumPy array (no copy when possible)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == object:
        raise ValueError(f"{name} must be numeric, got an object array")
    return arr


def _as_scores(x: Any, name: str = "scores") -> np.ndarray:
    """1-D float64 vector of finite scores."""
    arr = _as_numpy(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}; flatten it explicitly")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf); "
                         "fix the scorer or drop those samples before computing metrics")
    return arr


def _as_binary(x: Any, name: str, n: int) -> np.ndarray:
    """1-D boolean vector of length ``n`` from bool or {0, 1} input."""
    arr = _as_numpy(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"length mismatch: {n} scores but {arr.shape[0]} entries in {name}")
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{name} must be bool or 0/1, got dtype {arr.dtype}")
        values = np.unique(arr)
        if not np.all(np.isin(values, (0, 1))):
            raise ValueError(f"{name} must contain only 0/1 (or bool); found values "
                             f"{values[~np.isin(values, (0, 1))][:5].tolist()}")
        arr = arr == 1
    return arr


def _check_binary_task(scores: Any, is_anomaly: Any) -> tuple[np.ndarray, np.ndarray]:
    s = _as_scores(scores, "scores")
    y = _as_binary(is_anomaly, "is_anomaly", s.shape[0])
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        present = "anomalous" if n_pos else "normal"
        raise ValueError(f"only one class present in is_anomaly (all {y.size} samples are "
                         f"{present}); these metrics need both normal and anomalous samples")
    return s, y


def _check_level(tpr: float) -> float:
    tpr = float(tpr)
    if not (0.0 < tpr <= 1.0):
        raise ValueError(f"tpr (recall level) must be in (0, 1], got {tpr}")
    return tpr


def _fpr_key(tpr: float) -> str:
    """``0.95 -> "FPR95"``, ``0.9 -> "FPR90"``, ``0.975 -> "FPR97.5"``."""
    return f"FPR{tpr * 100:g}"


# ----------------------------------------------------------------------------------------------
# Detection metrics
# ----------------------------------------------------------------------------------------------

def auroc(scores: Any, is_anomaly: Any) -> float:
    """Area under the ROC curve, anomalous = positive (OE paper §4.1; spec §3 "AUROC").

    Computed with ``sklearn.metrics.roc_auc_score(is_anomaly, scores)``; ties count one half.
    Random scoring gives 0.5 regardless of the class ratio.
    """
    s, y = _check_binary_task(scores, is_anomaly)
    return float(roc_auc_score(y, s))


def average_precision(scores: Any, is_anomaly: Any,
                      positive: Positive = "anomalous") -> float:
    """Step-wise average precision (area under the precision-recall curve) for a chosen positive.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` as in ``sklearn.metrics.average_precision_score`` (not the
    trapezoidal rule; spec §3 "AUPR"). With ``positive="anomalous"`` this is the OE paper's AUPR
    ("AUPR-Out") and Ahmed & Courville 2020's AP. With ``positive="normal"`` the scores are
    negated (higher = more normal) and the labels flipped, giving "AUPR-In".

    Random scoring gives approximately the positive base rate, e.g. 1/6 for anomalous positives
    at the OE 1:5 ratio.
    """
    s, y = _check_binary_task(scores, is_anomaly)
    if positive == "anomalous":
        return float(average_precision_score(y, s))
    if positive == "normal":
        return float(average_precision_score(~y, -s))
    raise ValueError(f"positive must be 'anomalous' or 'normal', got {positive!r}")


def aupr_out(scores: Any, is_anomaly: Any) -> float:
    """AUPR with the anomalous (OOD) class positive -- the OE paper's "AUPR" (spec §3)."""
    return average_precision(scores, is_anomaly, positive="anomalous")


def aupr_in(scores: Any, is_anomaly: Any) -> float:
    """AUPR with the normal (in-distribution) class positive ("AUPR-In")."""
    return average_precision(scores, is_anomaly, positive="normal")


def fpr_at_tpr(scores: Any, is_anomaly: Any, tpr: float = 0.95) -> float:
    """False-positive rate when ``tpr`` of the anomalies are detected (FPR95 / FPR90).

    Reproduces the official Outlier Exposure ``fpr_and_fdr_at_recall`` (spec §3) step by step,
    with anomalous = positive:

    1. sort scores in descending order (``np.argsort(kind="mergesort")[::-1]``);
    2. keep the last index of each run of tied scores (distinct thresholds);
    3. cumulative true/false positives at those thresholds, ``recall = tps / tps[-1]``;
    4. reverse the arrays from the first threshold with full recall back to the top, and append
       the point ``(recall = 1, fps = 0)`` as the official code does. Because the first element
       after reversal already has recall 1 and ``argmin`` returns the first minimum, this
       appended point can never be selected; it is kept only for fidelity;
    5. ``cutoff = argmin |recall - tpr|``: the threshold whose recall is *closest* to ``tpr``
       (no interpolation; on equal distance the threshold with the higher recall wins);
    6. ``FPR = fps[cutoff] / #negatives``.

    This differs slightly from interpolating ``sklearn.metrics.roc_curve``; use this function
    to be comparable with the OE tables.
    """
    level = _check_level(tpr)
    s, y = _check_binary_task(scores, is_anomaly)

    order = np.argsort(s, kind="mergesort")[::-1]
    s_sorted = s[order]
    y_sorted = y[order]

    distinct = np.where(np.diff(s_sorted))[0]
    threshold_idxs = np.r_[distinct, y_sorted.size - 1]
    tps = np.cumsum(y_sorted, dtype=np.float64)[threshold_idxs]
    fps = 1 + threshold_idxs - tps
    recall = tps / tps[-1]

    last_ind = int(tps.searchsorted(tps[-1]))
    sl = slice(last_ind, None, -1)
    recall = np.r_[recall[sl], 1.0]
    fps = np.r_[fps[sl], 0.0]

    cutoff = int(np.argmin(np.abs(recall - level)))
    return float(fps[cutoff] / np.count_nonzero(~y))


def _labels_from_sets(in_scores: Any, out_scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate OOD (positive, first -- as the official ``get_measures``) and in-dist scores."""
    s_in = _as_scores(in_scores, "in_scores")
    s_out = _as_scores(out_scores, "out_scores")
    scores = np.concatenate([s_out, s_in])
    is_anomaly = np.zeros(scores.shape[0], dtype=bool)
    is_anomaly[: s_out.shape[0]] = True
    return scores, is_anomaly


def ood_metrics(in_scores: Any, out_scores: Any, tpr: float = 0.95) -> dict[str, float]:
    """All detection metrics for one in-distribution set and one OOD set (OE paper §4.1).

    Returns fractions in ``[0, 1]`` under the keys

    * ``"FPR95"`` -- :func:`fpr_at_tpr` at ``tpr`` (the key follows ``tpr``: ``"FPR90"`` for 0.9);
    * ``"AUROC"`` -- :func:`auroc`;
    * ``"AUPR"`` -- :func:`aupr_out`, the OE paper's AUPR (anomalous positive);
    * ``"AUPR_in"`` -- :func:`aupr_in` (normal positive);
    * ``"AP"`` -- alias of ``"AUPR"`` under Ahmed & Courville 2020's name (same value).
    """
    level = _check_level(tpr)
    scores, y = _labels_from_sets(in_scores, out_scores)
    aupr = aupr_out(scores, y)
    return {
        _fpr_key(level): fpr_at_tpr(scores, y, level),
        "AUROC": auroc(scores, y),
        "AUPR": aupr,
        "AUPR_in": aupr_in(scores, y),
        "AP": aupr,
    }


def roc_points(in_scores: Any, out_scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve points ``(fpr, tpr)`` with anomalous = positive, for plotting (OE Fig. 1, 4).

    Uses ``sklearn.metrics.roc_curve`` with ``drop_intermediate=False`` so that every distinct
    threshold appears; the curve starts at ``(0, 0)`` and ends at ``(1, 1)``.
    """
    scores, y = _labels_from_sets(in_scores, out_scores)
    fpr, tpr, _ = roc_curve(y, scores, drop_intermediate=False)
    return fpr, tpr


def repeated_ood_metrics(in_scores: Any, out_scores: Any, n_draws: int = 10, ratio: int = 5,
                         rng: np.random.Generator | int = 0,
                         tpr: float = 0.95) -> dict[str, float]:
    """The OE evaluation protocol: metrics averaged over ``n_draws`` re-draws of the OOD subsample.

    Spec §3 ("Average of 10 runs"; official ``test.py --num_to_avg 10``): one model, one fixed
    set of in-distribution scores; ``ood_num = len(in_scores) // ratio`` (1:5 by default); each
    draw takes ``ood_num`` OOD scores at random without replacement (the first ``ood_num`` of a
    fresh permutation of the pool; if the pool has at most ``ood_num`` scores, the whole pool is
    used and all draws coincide). :func:`ood_metrics` is computed per draw and averaged.

    Returns the mean of each :func:`ood_metrics` key, the per-draw population standard deviation
    (``np.std``, ddof=0) under ``"<key>_std"``, plus ``"ood_num"`` (OOD scores per draw) and
    ``"n_draws"``. The default ``rng=0`` makes the draws reproducible; pass a
    ``numpy.random.Generator`` to continue an existing stream.
    """
    if int(n_draws) < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    if int(ratio) < 1:
        raise ValueError(f"ratio must be a positive integer, got {ratio}")
    s_in = _as_scores(in_scores, "in_scores")
    s_out = _as_scores(out_scores, "out_scores")
    ood_num = s_in.shape[0] // int(ratio)
    if ood_num < 1:
        raise ValueError(f"len(in_scores) // ratio = {s_in.shape[0]} // {ratio} = 0 OOD samples "
                         "per draw; use more in-distribution scores or a smaller ratio")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    take = min(ood_num, s_out.shape[0])

    per_draw: list[dict[str, float]] = []
    for _ in range(int(n_draws)):
        idx = gen.permutation(s_out.shape[0])[:take]
        per_draw.append(ood_metrics(s_in, s_out[idx], tpr=tpr))

    out: dict[str, float] = {}
    for key in per_draw[0]:
        values = np.array([d[key] for d in per_draw])
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std())
    out["ood_num"] = float(take)
    out["n_draws"] = float(n_draws)
    return out


# ----------------------------------------------------------------------------------------------
# Calibration (OE paper §5, App. G)
# ----------------------------------------------------------------------------------------------

def _check_calibration(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray]:
    c = _as_scores(confidence, "confidence")
    if np.any((c < 0) | (c > 1)):
        raise ValueError("confidence must lie in [0, 1] (a probability such as the max softmax)")
    ok = _as_binary(correct, "correct", c.shape[0]).astype(np.float64)
    return c, ok


def calibration_errors(confidence: Any, correct: Any, bin_size: int = 100,
                       official_skip_last_bin: bool = True) -> dict[str, float]:
    """RMS and MAD calibration error with adaptive bins (OE paper App. G.1; spec §3).

    Samples are sorted by confidence (``np.argsort``, as the official code) and cut into
    ``len // bin_size`` consecutive bins of ``bin_size`` samples; the last bin absorbs the
    remainder. With ``n`` the total number of samples and ``acc_i``, ``conf_i`` the bin means,

        RMS = sqrt( sum_i |B_i|/n * (acc_i - conf_i)^2 ),   MAD = sum_i |B_i|/n * |acc_i - conf_i|.

    **Official quirk** (``calibration_tools.calib_err``): the loop ``for i in range(len(bins)-1)``
    skips the *last* bin (the highest-confidence samples) while still dividing by the total
    ``n``. ``official_skip_last_bin=True`` (default) reproduces this so numbers are comparable
    with Tables 12-13; ``False`` gives the textbook definition over all bins. In both cases
    MAD <= RMS (Jensen).

    For the OE protocol, OOD samples are appended with ``correct = 0``.
    """
    c, ok = _check_calibration(confidence, correct)
    bin_size = int(bin_size)
    if bin_size < 1:
        raise ValueError(f"bin_size must be >= 1, got {bin_size}")
    n = c.shape[0]
    n_bins = n // bin_size
    if n_bins < 1:
        raise ValueError(f"{n} samples are fewer than one bin of bin_size={bin_size}; "
                         "use more samples or a smaller bin_size")
    if official_skip_last_bin and n_bins < 2:
        raise ValueError(f"{n} samples give a single bin of size ~{bin_size}, which the official "
                         "last-bin skip would drop entirely; use >= 2*bin_size samples or "
                         "official_skip_last_bin=False")
    order = np.argsort(c)
    c, ok = c[order], ok[order]
    edges = [i * bin_size for i in range(n_bins)] + [n]
    used = n_bins - 1 if official_skip_last_bin else n_bins
    sq = 0.0
    ab = 0.0
    for i in range(used):
        lo, hi = edges[i], edges[i + 1]
        diff = abs(c[lo:hi].mean() - ok[lo:hi].mean())
        weight = (hi - lo) / n
        sq += weight * diff ** 2
        ab += weight * diff
    return {"RMS": float(np.sqrt(sq)), "MAD": float(ab)}


def soft_f1(confidence: Any, correct: Any) -> float:
    """Soft F1 score for detecting mistakes (OE paper App. G.1; spec §3).

    Mistakes are the positive class and the "soft prediction" of a mistake is ``1 - confidence``:
    ``c_a = 1 - c``, ``m = 1(wrong)``, ``Soft F1 = c_a^T m / (1^T (c_a + m) / 2)``, i.e.
    ``2 * ((1 - conf) * wrong).sum() / ((1 - conf) + wrong).sum()`` as the official code.
    """
    c, ok = _check_calibration(confidence, correct)
    wrong = 1.0 - ok
    denom = float(((1.0 - c) + wrong).sum())
    if denom == 0.0:
        raise ValueError("soft F1 is undefined (0/0): no mistakes and every confidence is 1")
    return float(2.0 * ((1.0 - c) * wrong).sum() / denom)


def _nll_and_grad(logits: np.ndarray, labels: np.ndarray, t: float) -> tuple[float, float]:
    """Mean cross-entropy of ``softmax(logits / t)`` and its derivative with respect to ``t``.

    ``NLL(t) = mean_i [logsumexp(z_i / t) - z_{i,y_i} / t]`` and
    ``dNLL/dt = mean_i [z_{i,y_i} - sum_j p_ij z_ij] / t^2`` with ``p = softmax(z / t)``.
    """
    z = logits / t
    z_max = z.max(axis=1, keepdims=True)
    e = np.exp(z - z_max)
    norm = e.sum(axis=1, keepdims=True)
    lse = (np.log(norm) + z_max)[:, 0]
    z_y = z[np.arange(z.shape[0]), labels]
    nll = float(np.mean(lse - z_y))
    p = e / norm
    # z_y - E_p[z] written as sum_j p_j (z_y - z_j): no cancellation when p_y is close to 1
    gap = (p * (logits[np.arange(z.shape[0]), labels][:, None] - logits)).sum(axis=1)
    grad = float(np.mean(gap) / t ** 2)
    return nll, grad


def tune_temperature(logits: Any, labels: Any, low: float = 0.2, high: float = 5.0,
                     eps: float = 1e-4) -> float:
    """Temperature T minimising the NLL of ``softmax(logits / T)`` (OE paper App. G; spec §2.11).

    Binary search of the official ``calibration_tools.tune_temp``: while ``high - low > eps``,
    evaluate ``dNLL/dT`` at the midpoint; if it is positive the optimum lies below
    (``high = mid``), otherwise above (``low = mid``). Finally return whichever of
    ``low, mid, high`` has the lowest NLL. The NLL is convex in ``1/T``, so the gradient sign
    identifies the side of the optimum. The gradient is computed analytically in float64
    (the official code uses float32 autograd, whose gradient underflows to 0 for very confident
    logits; otherwise results agree to within ``eps``). If the optimum
    lies outside ``[low, high]`` the nearest bound is returned.
    """
    z = _as_numpy(logits, "logits").astype(np.float64)
    y = _as_numpy(labels, "labels")
    if z.ndim != 2:
        raise ValueError(f"logits must be 2-D (n_samples, n_classes), got shape {z.shape}")
    if y.ndim != 1 or y.shape[0] != z.shape[0]:
        raise ValueError(f"labels must be 1-D with {z.shape[0]} entries, got shape {y.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits contain non-finite values")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("labels must be integer class indices")
        y = y.astype(np.int64)
    if y.size == 0:
        raise ValueError("logits and labels are empty")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must lie in [0, {z.shape[1] - 1}], got range "
                         f"[{int(y.min())}, {int(y.max())}]")
    lo, hi = float(low), float(high)
    if not (0 < lo < hi):
        raise ValueError(f"need 0 < low < high, got low={low}, high={high}")
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")

    while hi - lo > eps:
        mid = 0.5 * (lo + hi)
        _, grad = _nll_and_grad(z, y, mid)
        if grad > 0:
            hi = mid
        else:
            lo = mid
    candidates = [lo, 0.5 * (lo + hi), hi]
    return float(min(candidates, key=lambda t: _nll_and_grad(z, y, t)[0]))

"""singh2021 §3 and App. A–B: the Dempster–Shafer combination of m one-class detectors and a
simulation of Lemma 3.1 / Corollary 3.1.1.

Detector i gives mass p_i = P_i({i}|x) to "x is of normal class i" and 1 − p_i to
¬{i} = {every other normal class, Λ} (Table 1). Eqs. (2) and (4):

    P(Λ|x) = (1/K) Π_i (1 − p_i),   K = Π_i (1 − p_i) + Σ_i p_i Π_{j≠i} (1 − p_j),

so, for p_i < 1, P(Λ|x) = 1 / (1 + Σ_i p_i / (1 − p_i)) (a monotone function of the summed
per-class odds of normality).

**Lemma 3.1** (verbatim): "Algorithm 2 has a higher AUC value than Algorithm 1 when the same
one-class anomaly detection algorithm is used in both cases." **Corollary 3.1.1**: "As m
increases, the AUC value for Algorithm 1 decreases."

The App. B proof is heuristic: it writes TPR and FPR of Algorithm 1 with Π_i(1 − P_i({i}|x))
and of Algorithm 2 with the *assumed* mean (1/m) Σ_i (1 − P_i({i}|x)) (Algorithm 2 is really a
separately trained detector), no threshold appears in the expressions, so the AUC is never
derived, and "TPR and FPR → 1" is argued for one fixed threshold only (a ROC curve sweeps all).
:func:`simulate_algorithm1` illustrates the corollary in a model where it does hold (per-class
detectors that are informative on their own class only); the paper's mean model of Algorithm 2
is *not* better there, so the lemma does not follow from the proof's formulas (spec §2.4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def dempster_shafer_anomaly(p: np.ndarray) -> np.ndarray:
    """P(Λ|x) by singh2021 Eqs. (2) and (4) from ``p`` ``(m, N)`` = P_i({i}|x) per detector."""
    p = np.asarray(p, dtype=float)
    q = 1.0 - p
    prod_all = np.prod(q, axis=0)
    k = prod_all.copy()
    for i in range(p.shape[0]):
        k = k + p[i] * np.prod(np.delete(q, i, axis=0), axis=0)
    return prod_all / k


def dempster_shafer_closed_form(p: np.ndarray) -> np.ndarray:
    """The same P(Λ|x) as 1 / (1 + Σ_i p_i / (1 − p_i)) (all p_i < 1)."""
    p = np.asarray(p, dtype=float)
    return 1.0 / (1.0 + (p / (1.0 - p)).sum(axis=0))


def _auc(normal_prob_anomalous: np.ndarray, normal_prob_normal: np.ndarray) -> float:
    """AUC with anomalies positive, from an anomaly *score* on anomalies and on normals."""
    from adlib.metrics import auroc

    scores = np.concatenate([normal_prob_anomalous, normal_prob_normal])
    labels = np.r_[np.ones(len(normal_prob_anomalous)), np.zeros(len(normal_prob_normal))]
    return auroc(scores, labels)


def simulate_algorithm1(ms=(1, 2, 3, 5, 9), n: int = 20_000, shift: float = 2.0, seed: int = 0,
                        threshold: float = 0.5) -> pd.DataFrame:
    """AUC of ways to combine m independent one-class detectors, per m (Corollary 3.1.1).

    Model: detector i's normality logit is N(``shift``, 1) on its own class and N(0, 1) on
    anything else; p_i = σ(logit). ``n`` normal samples (classes drawn uniformly from the m) and
    ``n`` anomalies. Columns per m: ``or_rule`` (Algorithm 1: anomaly score min_i(−logit_i),
    :func:`adlib.detectors.any_normal_score`), ``dempster_shafer`` (Eq. (2)), ``product``
    (Π_i (1 − p_i), the proof's expression), ``mean_model`` (the proof's model of Algorithm 2,
    mean_i (1 − p_i)), and the proof's ``tpr1`` / ``fpr1`` of Algorithm 1 at one fixed threshold
    (normal = positive there, as in App. B: x is called normal when max_i p_i > ``threshold``).
    """
    from adlib.detectors import any_normal_score
    import torch

    rng = np.random.default_rng(seed)
    rows = []
    for m in ms:
        own = rng.integers(0, m, size=n)
        logit_normal = rng.standard_normal((m, n))
        logit_normal[own, np.arange(n)] += shift
        logit_anom = rng.standard_normal((m, n))
        p_n, p_a = 1 / (1 + np.exp(-logit_normal)), 1 / (1 + np.exp(-logit_anom))
        or_n = any_normal_score(torch.from_numpy(-logit_normal)).numpy()
        or_a = any_normal_score(torch.from_numpy(-logit_anom)).numpy()
        rows.append({
            "m": m,
            "or_rule": _auc(or_a, or_n),
            "dempster_shafer": _auc(dempster_shafer_closed_form(p_a), dempster_shafer_closed_form(p_n)),
            "product": _auc(np.prod(1 - p_a, axis=0), np.prod(1 - p_n, axis=0)),
            "mean_model": _auc(np.mean(1 - p_a, axis=0), np.mean(1 - p_n, axis=0)),
            "tpr1": float((p_n.max(axis=0) > threshold).mean()),
            "fpr1": float((p_a.max(axis=0) > threshold).mean()),
        })
    return pd.DataFrame(rows)

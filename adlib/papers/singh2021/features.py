"""singh2021 §5.1: per-class score CDFs (Figures 5–7) and the per-dimension two-sample
Kolmogorov–Smirnov table (Table 4).

§5.1: "ran 100 random images from each of the 10 class from the test sets … saved the feature
vectors (from the last layer) as well as the distance metric … or the logits"; "We compute the KS
statistic for every dimension for every class against the corresponding dimension of the pdf for
(0,8). The values Σ_{i=1}^D KS(pdf class (0,8) dim i, pdf class j dim i) are computed for all
classes j", where KS is the test's rejection flag h at the 5% level (h = 1: "the distributions
are different"), so each entry lies in 0..D.

Reading (the paper leaves it open): the reference sample is whatever the caller passes: for
DROCC and DeepSVDD the features of the normal pair's test images (our default,
:func:`normal_reference`), for DeepMAD encoder i's features of class i (the paper's "KS(0, −)"
rows). The paper prints 0 in every normal-class column; a sample compared with itself gives 0
here, but a normal class compared with the *pair* need not, and we do not force it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def sample_per_class(labels: np.ndarray, n_per_class: int = 100, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n_per_class`` random test images of every class (all if fewer)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    idx = [rng.permutation(np.flatnonzero(labels == c))[:n_per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(idx))


def score_cdfs(scores: np.ndarray, labels: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Empirical CDF of the scores of each class: ``{class: (sorted scores, F)}`` with
    F_k = k / n (Figures 5–7)."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels)
    out = {}
    for c in np.unique(labels):
        s = np.sort(scores[labels == c])
        out[int(c)] = (s, np.arange(1, len(s) + 1) / len(s))
    return out


def ks_h(reference: np.ndarray, other: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Per-dimension two-sample KS rejection flags h ∈ {0, 1} (``scipy.stats.ks_2samp``, two-sided,
    h = p < α) between ``reference`` ``(n, D)`` and ``other`` ``(n', D)``."""
    from scipy.stats import ks_2samp

    reference, other = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    if reference.ndim != 2 or other.ndim != 2 or reference.shape[1] != other.shape[1]:
        raise ValueError(f"need (n, D) arrays with the same D; got {reference.shape} and {other.shape}")
    p = np.array([ks_2samp(reference[:, d], other[:, d]).pvalue for d in range(reference.shape[1])])
    return (p < alpha).astype(int)


def ks_table(reference: np.ndarray, features: np.ndarray, labels: np.ndarray, alpha: float = 0.05) -> pd.Series:
    """One Table 4 row: Σ_d h_d of ``reference`` against each class's ``features`` rows, indexed by
    class (0..D each)."""
    labels = np.asarray(labels)
    return pd.Series({int(c): int(ks_h(reference, features[labels == c], alpha).sum()) for c in np.unique(labels)},
                     name="ks_h_sum")


def normal_reference(features: np.ndarray, labels: np.ndarray, normal_classes: Sequence[int]) -> np.ndarray:
    """The rows of the normal classes (the reference "pdf class (0,8)" of §5.1)."""
    return np.asarray(features)[np.isin(np.asarray(labels), list(normal_classes))]



def table4_rows(normal_classes: Sequence[int], features: np.ndarray, labels: np.ndarray, per_encoder: bool,
                alpha: float = 0.05) -> pd.DataFrame:
    """Table 4's rows for one trained model, from the §5.1 arrays of a run
    (:func:`adlib.papers.singh2021.experiments.run` with ``save_features``: ``features`` and
    ``test_labels[feature_index]``).

    ``per_encoder=False`` (DROCC, DeepSVDD: one feature map, ``features`` ``(n, D)``): one row
    ``"KS((a,b),-)"``, the normal classes' features as the reference. ``per_encoder=True``
    (DeepMAD, or any Algorithm 1 method: ``features`` ``(m, n, D)``): one row ``"KS(i,-)"`` per
    normal class i, encoder i's features of class i as the reference (the paper's DeepMAD rows).
    Columns: test classes; entries: Σ_d h_d."""
    normal = [int(c) for c in normal_classes]
    labels = np.asarray(labels)
    if per_encoder:
        if features.ndim != 3 or features.shape[0] != len(normal):
            raise ValueError(f"per-encoder features must be (m={len(normal)}, n, D); got {features.shape}")
        rows = {f"KS({c},-)": ks_table(features[i][labels == c], features[i], labels, alpha)
                for i, c in enumerate(normal)}
    else:
        label = "KS((" + ",".join(str(c) for c in normal) + "),-)"
        rows = {label: ks_table(normal_reference(features, labels, normal), features, labels, alpha)}
    return pd.DataFrame(rows).T

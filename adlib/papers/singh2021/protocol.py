"""singh2021's multi-class-normal protocol and how its tables aggregate AUCs.

Protocol (singh2021 §1, §5): m of the C classes are normal, the other C − m anomalous; every
m-subset is one *combination* (2/8 → 45, 5/5 → 252, 9/1 → 10 for C = 10; 2/18 → 190 for the
20 CIFAR-100 superclasses). Training uses the normal classes' training images only; the test
set is the official test split, anomalies (the remaining classes) positive, higher score = more
anomalous (the project's convention; :func:`adlib.metrics.auroc`).

Aggregation (Tables 2, 3, 5–17; §5: "report the 95% confidence intervals"; App. D: "The AUC
values are the means over multiple runs"):

1. per combination: the mean AUC over seeds and its 95% CI half-width
   (:func:`ci95_half_width`, Student t; the paper gives no formula);
2. per (split, method): the minimum and maximum of those per-combination means, each with the
   CI of the combination that attains it (the printed "a ↔ b ±s ±t"), and the mean over
   combinations (Table 3's "Mean" row); combinations can be set aside as "outliers" (Table 2
   prints DROCC's (0, 8) separately).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from adlib.data.splits import ClassSplit, multi_class_normal_combinations

SPLITS: dict[str, tuple[int, int]] = {"2/8": (2, 10), "5/5": (5, 10), "9/1": (9, 10), "2/18": (2, 20)}
"""Split label → (m normal classes, C classes), as the paper names them ("2-in, 8-out", …)."""


def split_combinations(split: str) -> list[tuple[int, ...]]:
    """The normal-class tuples of a split, in lexicographic order (``"2/8"`` → 45 pairs)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    m, c = SPLITS[split]
    return [s.in_classes for s in multi_class_normal_combinations(c, m)]


COMBINATION_SAMPLE_SEED = 2021
"""Seeds :func:`sample_combinations`: one fixed draw, the same on every machine and run."""


def sample_combinations(split: str, k: int, seed: int = COMBINATION_SAMPLE_SEED) -> list[tuple[int, ...]]:
    """``k`` of a split's combinations drawn uniformly at random without replacement (a fixed draw
    for a given ``seed``), in lexicographic order; all of them when ``k`` is at least their number."""
    combos = split_combinations(split)
    if isinstance(k, bool) or int(k) < 1:
        raise ValueError(f"k must be a positive number of combinations; got {k!r}")
    if k >= len(combos):
        return combos
    picked = np.random.default_rng(seed).choice(len(combos), size=int(k), replace=False)
    return [combos[i] for i in np.sort(picked)]


def class_split(normal_classes: Sequence[int], n_classes: int) -> ClassSplit:
    """The :class:`~adlib.data.splits.ClassSplit` of one combination: the rest are anomalies."""
    normal = tuple(int(c) for c in normal_classes)
    return ClassSplit(in_classes=normal, oe_classes=(),
                      test_ood_classes=tuple(k for k in range(n_classes) if k not in normal), n_classes=n_classes)


def combination_label(normal_classes: Sequence[int]) -> str:
    """``(0, 8)`` as the paper prints it: ``"(0, 8)"``."""
    return "(" + ", ".join(str(int(c)) for c in normal_classes) + ")"


def ci95_half_width(values: Iterable[float]) -> float:
    """Half-width of the two-sided 95% Student-t interval of the mean, t_{0.975, n−1}·s/√n
    (s with ddof = 1); NaN for fewer than two values (:func:`adlib.report.t_half_width`)."""
    from adlib.report import t_half_width

    return t_half_width(values, 0.95)


def per_combination(runs: pd.DataFrame, value: str = "auroc") -> pd.DataFrame:
    """Per (split, method, combination): ``mean``, ``ci95`` and ``n_seeds`` over the seeds.

    ``runs`` has one row per run with columns ``split``, ``method``, ``classes`` (the label of
    :func:`combination_label`), ``seed`` and ``value``."""
    need = {"split", "method", "classes", "seed", value}
    if not need <= set(runs.columns):
        raise ValueError(f"runs needs columns {sorted(need)}; missing {sorted(need - set(runs.columns))}")
    grouped = runs.groupby(["split", "method", "classes"], sort=False)[value]
    out = grouped.agg(mean="mean", n_seeds="count").reset_index()
    out["ci95"] = grouped.apply(ci95_half_width).to_numpy()
    return out


def range_summary(per_comb: pd.DataFrame, outliers: Iterable[tuple[str, str, str]] = ()) -> pd.DataFrame:
    """Tables 2/3 per (split, method): ``min`` / ``min_ci95`` / ``min_classes``, ``max`` /
    ``max_ci95`` / ``max_classes``, ``mean`` (over combinations) and ``n_combinations``, from
    :func:`per_combination`. ``outliers`` ((split, method, classes) triples) are left out of the
    range and the mean, as Table 2 sets DROCC's (0, 8) apart."""
    drop = set(outliers)
    keep = [(s, m, c) not in drop for s, m, c in zip(per_comb["split"], per_comb["method"], per_comb["classes"])]
    rows = []
    for (split, method), g in per_comb[keep].groupby(["split", "method"], sort=False):
        lo, hi = g.loc[g["mean"].idxmin()], g.loc[g["mean"].idxmax()]
        rows.append({"split": split, "method": method, "min": lo["mean"], "min_ci95": lo["ci95"],
                     "min_classes": lo["classes"], "max": hi["mean"], "max_ci95": hi["ci95"],
                     "max_classes": hi["classes"], "mean": g["mean"].mean(), "n_combinations": len(g)})
    return pd.DataFrame(rows)


def best_worst(per_comb: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """Tables 5–17: per (split, method) the ``k`` highest (``list="best"``, descending) and ``k``
    lowest (``list="worst"``, ascending) per-combination means, with ``rank`` 1..k."""
    parts = []
    for _, g in per_comb.groupby(["split", "method"], sort=False):
        for name, asc in (("best", False), ("worst", True)):
            top = g.sort_values(["mean", "classes"], ascending=[asc, True]).head(k).copy()
            top.insert(0, "list", name)
            top.insert(1, "rank", range(1, len(top) + 1))
            parts.append(top)
    return pd.concat(parts, ignore_index=True) if parts else per_comb.iloc[:0]

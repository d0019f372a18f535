"""Class splits of a labelled dataset into in-distribution, outlier-exposure and test-OOD classes.

One small value type, :class:`ClassSplit`, covers the protocols of the five papers:

* :func:`one_vs_rest` -- one normal class, every other class anomalous (Ruff et al. 2021 §3 /
  spec ``ruff2021.md`` §5 "One-vs-rest protocol"; Rafiee et al. 2021 "soft" one-vs-all scheme);
* :func:`all_vs_one` -- every class normal except one anomalous class (Rafiee et al. 2021 "hard"
  all-vs-one scheme, spec ``rafiee2021.md``);
* :func:`leave_one_class_out` -- a (K-1)-way classifier with one held-out anomalous class (Ahmed &
  Courville 2020 "hold-out-class" protocol, spec ``ahmed2020.md``);
* :func:`multi_class_normal_combinations` -- every m-subset of classes as the normal set (Singh, Luo &
  Li 2021 multi-class-normal setting: 45, 252 and 10 combinations of CIFAR-10 / FMNIST for
  m = 2, 5, 9; spec ``singh2021.md``);
* :data:`FMNIST_R1` -- the reduced Outlier Exposure benchmark, split R1 (spec ``hendrycks2019.md``
  §8.0).

:func:`select` extracts (and optionally relabels) the samples of some classes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import torch

__all__ = [
    "ClassSplit",
    "one_vs_rest",
    "all_vs_one",
    "leave_one_class_out",
    "multi_class_normal_combinations",
    "FMNIST_R1",
    "select",
]


def _as_class_tuple(values: Iterable[Any], field: str) -> tuple[int, ...]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{field} must contain ints (class indices), got {v!r} "
                            f"of type {type(v).__name__}")
        out.append(int(v))
    return tuple(out)


@dataclass(frozen=True)
class ClassSplit:
    """Which original class indices play which role in one experiment.

    * ``in_classes`` -- in-distribution / normal classes (training data and normal test data);
    * ``oe_classes`` -- classes used as auxiliary outliers (Outlier Exposure) during training;
    * ``test_ood_classes`` -- classes that are anomalous at test time only;
    * ``n_classes`` -- number of classes in the source dataset (indices are ``0..n_classes-1``).

    The three roles must be pairwise disjoint, and ``in_classes`` must be non-empty. Classes
    in no role are simply unused. Sequences are normalised to tuples of ``int`` and their order
    is kept (it defines :meth:`label_map`).
    """

    in_classes: tuple[int, ...]
    oe_classes: tuple[int, ...]
    test_ood_classes: tuple[int, ...]
    n_classes: int

    def __post_init__(self) -> None:
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, (int, np.integer)):
            raise TypeError(f"n_classes must be an int, got {self.n_classes!r}")
        n = int(self.n_classes)
        if n < 1:
            raise ValueError(f"n_classes must be >= 1, got {n}")
        object.__setattr__(self, "n_classes", n)
        roles = ("in_classes", "oe_classes", "test_ood_classes")
        for role in roles:
            values = _as_class_tuple(getattr(self, role), role)
            for v in values:
                if not 0 <= v < n:
                    raise ValueError(f"{role} contains class {v}, outside 0..{n - 1} "
                                     f"(n_classes={n}); remove it or raise n_classes")
            dup = sorted({v for v in values if values.count(v) > 1})
            if dup:
                raise ValueError(f"{role} lists class(es) {dup} more than once; list each once")
            object.__setattr__(self, role, values)
        if not self.in_classes:
            raise ValueError("in_classes is empty; at least one in-distribution class is needed")
        for a, b in itertools.combinations(roles, 2):
            both = sorted(set(getattr(self, a)) & set(getattr(self, b)))
            if both:
                raise ValueError(f"class(es) {both} appear in both {a} and {b}; each class may "
                                 f"play one role only -- remove {both} from one of them")

    @property
    def unused_classes(self) -> tuple[int, ...]:
        """Classes of the source dataset that play no role."""
        used = set(self.in_classes) | set(self.oe_classes) | set(self.test_ood_classes)
        return tuple(c for c in range(self.n_classes) if c not in used)

    def label_map(self) -> dict[int, int]:
        """Original in-distribution class -> contiguous label ``0..k-1``, in ``in_classes`` order.

        E.g. for :data:`FMNIST_R1`: ``{0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 6: 5}``, which is what a
        k-way classifier on the in-distribution classes is trained on.
        """
        return {c: i for i, c in enumerate(self.in_classes)}


def _check_class(c: Any, n_classes: int, name: str) -> int:
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {c!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    if not 0 <= int(c) < int(n_classes):
        raise ValueError(f"{name}={c} is outside 0..{int(n_classes) - 1}")
    return int(c)


def one_vs_rest(normal_class: int, n_classes: int, oe_classes: Iterable[int] = ()) -> ClassSplit:
    """One normal class; all remaining classes (minus any OE classes) are test anomalies.

    Ruff et al. 2021 ("one vs. rest", OE drawn from an auxiliary dataset, so ``oe_classes``
    stays empty) and Rafiee et al. 2021 ("one-vs-all", "soft" scheme). ``oe_classes`` lets some
    classes of the same dataset serve as outlier exposure; they are then excluded from the test
    anomalies so test anomalies are never seen in training.
    """
    c = _check_class(normal_class, n_classes, "normal_class")
    oe = _as_class_tuple(oe_classes, "oe_classes")
    if c in oe:
        raise ValueError(f"normal_class {c} is also listed in oe_classes; remove it from "
                         "oe_classes")
    rest = tuple(k for k in range(int(n_classes)) if k != c and k not in oe)
    return ClassSplit(in_classes=(c,), oe_classes=oe, test_ood_classes=rest,
                      n_classes=int(n_classes))


def all_vs_one(anomalous_class: int, n_classes: int) -> ClassSplit:
    """All classes normal except one anomalous class (Rafiee et al. 2021 "hard" all-vs-one)."""
    c = _check_class(anomalous_class, n_classes, "anomalous_class")
    normal = tuple(k for k in range(int(n_classes)) if k != c)
    return ClassSplit(in_classes=normal, oe_classes=(), test_ood_classes=(c,),
                      n_classes=int(n_classes))


def leave_one_class_out(held_out: int, n_classes: int) -> ClassSplit:
    """Train a (K-1)-way classifier without ``held_out``; detect it at test time.

    Ahmed & Courville 2020 hold-out-class protocol (one run per held-out class; AP with the
    held-out class positive). Same partition as :func:`all_vs_one`, named after its paper.
    """
    c = _check_class(held_out, n_classes, "held_out")
    kept = tuple(k for k in range(int(n_classes)) if k != c)
    return ClassSplit(in_classes=kept, oe_classes=(), test_ood_classes=(c,),
                      n_classes=int(n_classes))


def multi_class_normal_combinations(n_classes: int, m: int) -> list[ClassSplit]:
    """Every choice of ``m`` normal classes, the other ``n_classes - m`` anomalous.

    Singh, Luo & Li 2021 multi-class-normal setting: ``C(n_classes, m)`` splits in
    lexicographic order of the normal set -- 45 for 2 of 10, 252 for 5 of 10, 10 for 9 of 10.
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m < n_classes:
        raise ValueError(f"m must be an int in 1..{int(n_classes) - 1} so that both normal and "
                         f"anomalous classes exist, got {m!r}")
    n = int(n_classes)
    splits = []
    for combo in itertools.combinations(range(n), int(m)):
        rest = tuple(k for k in range(n) if k not in combo)
        splits.append(ClassSplit(in_classes=combo, oe_classes=(), test_ood_classes=rest,
                                 n_classes=n))
    return splits


#: Reduced Outlier Exposure benchmark, split R1 "apparel" (spec ``hendrycks2019.md`` §8.0):
#: D_in = {T-shirt/top, Trouser, Pullover, Dress, Coat, Shirt}, D_out^OE = {Sandal, Bag} (train
#: images), D_out^test = {Sneaker, Ankle boot} (test images).
FMNIST_R1 = ClassSplit(in_classes=(0, 1, 2, 3, 4, 6), oe_classes=(5, 8), test_ood_classes=(7, 9),
                       n_classes=10)


def select(images: Any, labels: Any, classes: Iterable[int],
           relabel: Mapping[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples whose label is in ``classes``, in their original order.

    ``images`` is ``(N, ...)`` and ``labels`` ``(N,)`` (torch tensors or arrays). Returns
    ``(images[mask], labels[mask])`` as tensors; with ``relabel`` (e.g.
    :meth:`ClassSplit.label_map`) the returned labels are mapped through it, and every selected
    class must have an entry.
    """
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    y = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(y.shape)}")
    if x.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"length mismatch: {x.shape[0] if x.ndim else 0} images but "
                         f"{y.shape[0]} labels")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    wanted = _as_class_tuple(classes, "classes")
    if relabel is not None:
        missing = [c for c in wanted if c not in relabel]
        if missing:
            raise ValueError(f"relabel has no entry for selected class(es) {missing}; add them "
                             "or drop them from classes")
    mask = torch.isin(y, torch.tensor(wanted, dtype=y.dtype, device=y.device))
    x_sel, y_sel = x[mask], y[mask]
    if relabel is not None:
        items = sorted((int(k), int(v)) for k, v in relabel.items())
        keys = torch.tensor([k for k, _ in items], dtype=torch.int64, device=y.device)
        vals = torch.tensor([v for _, v in items], dtype=torch.int64, device=y.device)
        y_sel = vals[torch.searchsorted(keys, y_sel.to(torch.int64))]
    return x_sel, y_sel

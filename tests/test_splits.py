"""Tests for adlib.data.splits (protocols of the five papers; OE spec §8.0 split R1)."""

from __future__ import annotations

import dataclasses
from math import comb

import numpy as np
import pytest
import torch

from adlib.data import splits as SP
from adlib.data.splits import ClassSplit


def test_fmnist_r1():
    r1 = SP.FMNIST_R1
    assert r1.in_classes == (0, 1, 2, 3, 4, 6)
    assert r1.oe_classes == (5, 8)
    assert r1.test_ood_classes == (7, 9)
    assert r1.n_classes == 10 and r1.unused_classes == ()
    assert r1.label_map() == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 6: 5}


def test_frozen_and_normalised():
    s = ClassSplit(in_classes=[np.int64(2), 0], oe_classes=[], test_ood_classes=range(3, 5),
                   n_classes=np.int64(6))
    assert s.in_classes == (2, 0) and type(s.in_classes[0]) is int
    assert s.test_ood_classes == (3, 4) and s.oe_classes == () and type(s.n_classes) is int
    assert s.label_map() == {2: 0, 0: 1}  # follows the given order
    assert s.unused_classes == (1, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.n_classes = 7  # type: ignore[misc]
    same = ClassSplit((2, 0), (), (3, 4), 6)
    assert s == same and hash(s) == hash(same)


def test_disjointness_errors_name_the_class_and_roles():
    with pytest.raises(ValueError, match=r"\[3\] appear in both in_classes and oe_classes"):
        ClassSplit((0, 3), (3,), (5,), 10)
    with pytest.raises(ValueError, match=r"\[5\] appear in both in_classes and test_ood_classes"):
        ClassSplit((0, 5), (), (5,), 10)
    with pytest.raises(ValueError, match=r"\[7, 8\] appear in both oe_classes and test_ood"):
        ClassSplit((0,), (7, 8), (7, 8, 9), 10)


def test_range_duplicate_and_type_errors():
    with pytest.raises(ValueError, match=r"test_ood_classes contains class 10, outside 0..9"):
        ClassSplit((0,), (), (10,), 10)
    with pytest.raises(ValueError, match=r"in_classes contains class -1"):
        ClassSplit((-1,), (), (), 10)
    with pytest.raises(ValueError, match=r"more than once"):
        ClassSplit((1, 1), (), (), 10)
    with pytest.raises(ValueError, match="in_classes is empty"):
        ClassSplit((), (1,), (2,), 10)
    with pytest.raises(TypeError, match="ints"):
        ClassSplit((1.0,), (), (), 10)
    with pytest.raises(ValueError, match="n_classes"):
        ClassSplit((0,), (), (), 0)


def test_one_vs_rest():
    s = SP.one_vs_rest(3, 10)
    assert s.in_classes == (3,) and s.oe_classes == ()
    assert s.test_ood_classes == (0, 1, 2, 4, 5, 6, 7, 8, 9)
    assert s.label_map() == {3: 0}
    t = SP.one_vs_rest(0, 10, oe_classes=(8, 9))
    assert t.oe_classes == (8, 9) and t.test_ood_classes == tuple(range(1, 8))
    with pytest.raises(ValueError, match="also listed in oe_classes"):
        SP.one_vs_rest(2, 10, oe_classes=(2,))
    with pytest.raises(ValueError, match="outside 0..9"):
        SP.one_vs_rest(10, 10)


def test_all_vs_one_and_leave_one_class_out():
    a = SP.all_vs_one(4, 10)
    assert a.in_classes == (0, 1, 2, 3, 5, 6, 7, 8, 9) and a.test_ood_classes == (4,)
    assert a.label_map()[5] == 4 and a.label_map()[9] == 8  # classes above 4 shift down by one
    h = SP.leave_one_class_out(0, 10)
    assert h.in_classes == tuple(range(1, 10)) and h.test_ood_classes == (0,)
    assert h.label_map() == {c: c - 1 for c in range(1, 10)}
    assert SP.leave_one_class_out(4, 10) == a
    with pytest.raises(ValueError, match="anomalous_class=-1"):
        SP.all_vs_one(-1, 10)


@pytest.mark.parametrize("m, expected", [(2, 45), (5, 252), (9, 10), (1, 10)])
def test_multi_class_normal_combination_counts(m, expected):
    splits = SP.multi_class_normal_combinations(10, m)
    assert len(splits) == expected == comb(10, m)
    assert len({s.in_classes for s in splits}) == expected  # all distinct
    for s in splits:
        assert len(s.in_classes) == m
        assert sorted(s.in_classes + s.test_ood_classes) == list(range(10))
    assert splits[0].in_classes == tuple(range(m))  # lexicographic order


def test_multi_class_normal_combinations_validation():
    with pytest.raises(ValueError, match="m must be"):
        SP.multi_class_normal_combinations(10, 10)
    with pytest.raises(ValueError, match="m must be"):
        SP.multi_class_normal_combinations(10, 0)


def test_select_keeps_order_and_relabels():
    labels = torch.tensor([6, 5, 0, 7, 6, 4, 9, 0])
    images = torch.arange(8).float()[:, None, None, None].expand(8, 1, 2, 2)
    x, y = SP.select(images, labels, SP.FMNIST_R1.in_classes, relabel=SP.FMNIST_R1.label_map())
    assert x[:, 0, 0, 0].tolist() == [0.0, 2.0, 4.0, 5.0, 7.0]  # original order kept
    assert y.tolist() == [5, 0, 5, 4, 0] and y.dtype == torch.int64
    x2, y2 = SP.select(images.numpy(), labels.numpy(), (7, 9))
    assert isinstance(x2, torch.Tensor) and y2.tolist() == [7, 9]
    assert x2[:, 0, 0, 0].tolist() == [3.0, 6.0]
    x3, y3 = SP.select(images, labels, (3,))
    assert x3.shape == (0, 1, 2, 2) and y3.numel() == 0


def test_select_validation():
    with pytest.raises(ValueError, match="length mismatch"):
        SP.select(torch.zeros(3, 2), torch.tensor([0, 1]), (0,))
    with pytest.raises(ValueError, match="no entry for selected class"):
        SP.select(torch.zeros(2, 2), torch.tensor([0, 1]), (0, 1), relabel={0: 0})
    with pytest.raises(ValueError, match="integer"):
        SP.select(torch.zeros(2, 2), torch.tensor([0.0, 1.0]), (0,))

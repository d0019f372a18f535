"""singh2021 §5.1: the per-dimension KS table and the per-class score CDFs."""

import numpy as np

from adlib.papers.singh2021.features import ks_h, ks_table, normal_reference, sample_per_class, score_cdfs


def _features(shift_class: int = 3, d: int = 16):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 100)
    feats = rng.normal(size=(1000, d))
    feats[labels == shift_class] += 3.0  # one class strongly different in every dimension
    return feats, labels


def test_ks_table_shape_and_known_cases():
    feats, labels = _features()
    ref = normal_reference(feats, labels, (0, 8))
    row = ks_table(ref, feats, labels)
    assert list(row.index) == list(range(10)) and row.between(0, 16).all()
    assert row[3] == 16  # shifted class: rejected in every dimension
    same = [c for c in range(10) if c != 3]
    assert row[same].mean() <= 0.05 * 16 * 2  # same distribution: about α·D rejections
    assert ks_h(ref, ref).sum() == 0  # a sample against itself is never rejected


def test_score_cdfs_and_sampling():
    feats, labels = _features()
    cdfs = score_cdfs(feats[:, 0], labels)
    x, f = cdfs[3]
    assert len(cdfs) == 10 and np.all(np.diff(x) >= 0) and f[-1] == 1.0 and f[0] == 0.01
    assert np.median(cdfs[3][0]) > np.median(cdfs[0][0])  # the shifted class's CDF lies to the right
    idx = sample_per_class(labels, 40, seed=1)
    assert np.bincount(labels[idx]).tolist() == [40] * 10
    assert np.array_equal(idx, sample_per_class(labels, 40, seed=1))


def test_table4_rows_from_run_arrays():
    from adlib.papers.singh2021.features import table4_rows

    feats, labels = _features(shift_class=5)
    joint = table4_rows((0, 8), feats, labels, per_encoder=False)
    assert list(joint.index) == ["KS((0,8),-)"] and joint.shape == (1, 10) and joint.loc["KS((0,8),-)", 5] == 16
    stacked = np.stack([feats, feats + 0.0])
    rows = table4_rows((0, 5), stacked, labels, per_encoder=True)
    assert list(rows.index) == ["KS(0,-)", "KS(5,-)"]
    assert rows.loc["KS(0,-)", 0] == 0 and rows.loc["KS(5,-)", 5] == 0  # the reference against itself
    assert rows.loc["KS(0,-)", 5] == 16 and rows.loc["KS(5,-)", 0] == 16

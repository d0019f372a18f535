"""Tests for adlib.data.synthetic (spec hendrycks2019.md §6.3, §8.0 and §8.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.filters import gaussian as sk_gaussian

from adlib.data import synthetic as S

SHAPE = (1, 28, 28)


# ----------------------------------------------------------------------------------------------
# Test-time noise sets
# ----------------------------------------------------------------------------------------------

# unit: N(.5, .5) clipped at 1 -> P(Z > 1) = 0.1587; normalized: N(0, .5) clipped at 1 ->
# P(Z > 2) = 0.0228
@pytest.mark.parametrize("space, lo, hi, mean, clipped", [("unit", 0.0, 1.0, 0.5, 0.1587),
                                                          ("normalized", -1.0, 1.0, 0.0, 0.0228)])
def test_gaussian_range_and_moments(space, lo, hi, mean, clipped):
    x = S.gaussian(2000, SHAPE, space, 0)
    assert x.shape == (2000, *SHAPE) and x.dtype == torch.float32
    assert x.min() >= lo and x.max() <= hi
    assert x.min() == lo and x.max() == hi  # sigma 0.5 noise really gets clipped at both ends
    assert float(x.mean()) == pytest.approx(mean, abs=0.01)  # clipping is symmetric
    assert float((x == hi).float().mean()) == pytest.approx(clipped, abs=0.005)
    assert float((x == lo).float().mean()) == pytest.approx(clipped, abs=0.005)


def test_bernoulli_and_rademacher_values():
    b = S.bernoulli(500, (3, 32, 32), 1)
    r = S.rademacher(500, (3, 32, 32), 1)
    assert b.dtype == r.dtype == torch.float32
    assert set(torch.unique(b).tolist()) == {0.0, 1.0}
    assert set(torch.unique(r).tolist()) == {-1.0, 1.0}
    assert float(b.mean()) == pytest.approx(0.5, abs=0.01)
    # same seed: Rademacher is exactly Bernoulli * 2 - 1
    assert torch.equal(r, b * 2 - 1)


def test_blobs_sparsity_and_range_28x28():
    x = S.blobs(200, SHAPE, 0)
    assert x.shape == (200, *SHAPE) and x.dtype == torch.float32
    frac = float((x > 0).float().mean())
    assert 0.0 < frac < 1.0
    nz = x[x > 0]
    assert nz.min() >= 0.75 and nz.max() <= 1.0
    xn = S.blobs(200, SHAPE, 0, space="normalized")
    assert torch.allclose(xn, x * 2 - 1)
    assert float(xn.min()) == -1.0  # background


def test_blobs_matches_skimage_per_image():
    # The official recipe: Bernoulli(0.7) HxWxC, skimage gaussian over all axes, threshold.
    g = torch.Generator().manual_seed(5)
    n, shape = 3, (3, 32, 32)
    raw = torch.bernoulli(torch.full((n, *shape), 0.7, dtype=torch.float64), generator=g).numpy()
    ours = S.blobs(n, shape, 5).numpy()
    for i in range(n):
        hwc = np.transpose(raw[i], (1, 2, 0))
        ref = sk_gaussian(hwc, sigma=1.5, channel_axis=None)
        ref[ref < 0.75] = 0
        np.testing.assert_allclose(ours[i], np.transpose(ref, (2, 0, 1)), atol=1e-6)


def test_blobs_blur_spans_channels():
    # a blur over the channel axis makes colour images' channels correlated but not identical
    x = S.blobs(50, (3, 32, 32), 2)
    assert not torch.equal(x[:, 0], x[:, 1])
    a, b = x[:, 0].flatten(), x[:, 1].flatten()
    assert float(torch.corrcoef(torch.stack([a, b]))[0, 1]) > 0.5


@pytest.mark.parametrize("name", ["gaussian", "bernoulli", "rademacher", "blobs"])
def test_registry_determinism_and_seed_sensitivity(name):
    a = S.make_synthetic(name, 16, SHAPE, seed=3)
    b = S.make_synthetic(name, 16, SHAPE, seed=3)
    c = S.make_synthetic(name, 16, SHAPE, seed=4)
    assert a.shape == (16, *SHAPE) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # a torch.Generator works too, and advances between calls
    g = torch.Generator().manual_seed(3)
    assert torch.equal(S.make_synthetic(name, 16, SHAPE, seed=g), a)
    assert not torch.equal(S.make_synthetic(name, 16, SHAPE, seed=g), a)


def test_registry_names_and_unknown_name():
    assert set(S.SYNTHETIC_OOD) == {"gaussian", "bernoulli", "rademacher", "blobs"}
    with pytest.raises(ValueError, match="bernoulli, blobs, gaussian, rademacher"):
        S.make_synthetic("perlin", 4, SHAPE, seed=0)


def test_make_synthetic_passes_space_and_kwargs():
    assert float(S.make_synthetic("gaussian", 64, SHAPE, 0, space="normalized").min()) < 0
    a = S.make_synthetic("blobs", 8, (3, 64, 64), 0, sigma=2.0)
    assert torch.equal(a, S.blobs(8, (3, 64, 64), 0, sigma=2.0))
    assert not torch.equal(a, S.blobs(8, (3, 64, 64), 0))


def test_generator_argument_is_required_and_shapes_validated():
    with pytest.raises(TypeError, match="explicit"):
        S.gaussian(2, SHAPE, "unit", None)
    with pytest.raises(ValueError, match="space"):
        S.gaussian(2, SHAPE, "pixels", 0)
    with pytest.raises(ValueError, match="shape"):
        S.bernoulli(2, (1, 0, 28), 0)
    with pytest.raises(ValueError, match="n must be"):
        S.bernoulli(0, SHAPE, 0)


# ----------------------------------------------------------------------------------------------
# Validation distributions
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def images():
    return torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_uniform():
    u = S.uniform(100, SHAPE, "unit", 0)
    v = S.uniform(100, SHAPE, "normalized", 0)
    assert u.min() >= 0 and u.max() <= 1 and v.min() >= -1 and v.max() <= 1
    assert torch.allclose(v, u * 2 - 1)


def test_arithmetic_and_geometric_means(images):
    a = S.arithmetic_mean(images, 50, 0)
    g = S.geometric_mean(images, 50, 0)
    assert a.shape == g.shape == (50, 1, 28, 28) and a.dtype == torch.float32
    assert torch.equal(a, S.arithmetic_mean(images, 50, 0))
    # same seed -> same pairs; AM-GM inequality holds pixel-wise
    assert torch.all(g <= a + 1e-6)
    # each output is the mean of two *different* stored images
    flat = images.flatten(1)
    for k in range(5):
        out = a[k].flatten()
        found = [(i, j) for i in range(20) for j in range(20)
                 if torch.allclose(0.5 * (flat[i] + flat[j]), out)]
        assert found and all(i != j for i, j in found)
    others = torch.zeros(5, 1, 28, 28)
    assert torch.allclose(S.arithmetic_mean(images, 10, 0, others=others) * 2,
                          images[torch.randint(20, (10,), generator=torch.Generator()
                                               .manual_seed(0))])


def test_jigsaw_permutes_7x7_patches(images):
    j = S.jigsaw(images, 0)
    assert j.shape == images.shape and j.dtype == torch.float32
    assert torch.equal(j, S.jigsaw(images, 0))
    assert not torch.equal(j, images)
    for k in range(3):
        src = {images[k, :, r:r + 7, c:c + 7].numpy().tobytes()
               for r in range(0, 28, 7) for c in range(0, 28, 7)}
        dst = {j[k, :, r:r + 7, c:c + 7].numpy().tobytes()
               for r in range(0, 28, 7) for c in range(0, 28, 7)}
        assert src == dst and len(src) == 16  # same 16 patches, different places
    with pytest.raises(ValueError, match="divisible"):
        S.jigsaw(torch.rand(2, 1, 30, 30), 0)


def test_speckle_inverted_pixelate(images):
    s = S.speckle(images, 0)
    assert s.min() >= 0 and s.max() <= 1 and not torch.equal(s, images)
    assert torch.equal(S.speckle(torch.zeros(2, 1, 4, 4), 0), torch.zeros(2, 1, 4, 4))
    assert torch.allclose(S.inverted(images), 1 - images)
    rgb = torch.rand(4, 3, 8, 8)
    inv = S.inverted(rgb)
    assert torch.equal(inv[:, 0], rgb[:, 0]) and torch.allclose(inv[:, 1:], 1 - rgb[:, 1:])
    p = S.pixelate(images)
    assert p.shape == images.shape
    # 28 * 0.2 -> 5x5 blocks: the image has at most 25 distinct values per channel
    assert all(len(torch.unique(p[k])) <= 25 for k in range(5))
    assert float(p.mean()) == pytest.approx(float(images.mean()), abs=0.02)


def test_image_inputs_must_be_pixel_space():
    with pytest.raises(ValueError, match=r"\[0, 1\] pixel space"):
        S.speckle(torch.full((2, 1, 4, 4), -0.5), 0)
    with pytest.raises(ValueError, match="at least 2 images"):
        S.arithmetic_mean(torch.rand(1, 1, 4, 4), 3, 0)

"""Synthetic out-of-distribution sets of the Outlier Exposure paper (spec hendrycks2019.md §6.3).

Two families:

* **Test-time noise sets** (OE paper App. A; official ``test.py``): :func:`gaussian`,
  :func:`bernoulli`, :func:`rademacher` and :func:`blobs`. They are generated *directly in the
  network's input space*: ``space="unit"`` for models that take pixels in ``[0, 1]`` (SVHN,
  MNIST, the Fashion-MNIST analog of spec §8.0) and ``space="normalized"`` for models whose
  inputs are standardized (CIFAR / Tiny ImageNet), where the official code uses the range
  ``[-1, 1]`` and does *not* pass the noise through ``Normalize``.
  :data:`SYNTHETIC_OOD` and :func:`make_synthetic` give name-based access.
* **Validation distributions** ``D_out^val`` used only to choose the OE weight lambda (OE paper
  App. A; official ``test.py --validate``): :func:`uniform`, and the image-derived
  :func:`arithmetic_mean`, :func:`geometric_mean`, :func:`jigsaw`, :func:`speckle`,
  :func:`inverted` and :func:`pixelate`. The image-derived ones take images in ``[0, 1]`` pixel
  space, shape ``(N, C, H, W)``, and return ``[0, 1]`` pixel-space images; apply the model's
  input normalization afterwards (as the official code does).

Every generator takes an explicit ``torch.Generator`` or an ``int`` seed, runs on the CPU and
returns ``float32`` tensors; the same seed gives identical tensors.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

__all__ = [
    "Space",
    "gaussian",
    "bernoulli",
    "rademacher",
    "blobs",
    "uniform",
    "arithmetic_mean",
    "geometric_mean",
    "jigsaw",
    "speckle",
    "inverted",
    "pixelate",
    "SYNTHETIC_OOD",
    "make_synthetic",
]

Space = Literal["unit", "normalized"]


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def _generator(generator: torch.Generator | int) -> torch.Generator:
    """A CPU ``torch.Generator``: passed through, or freshly seeded from an ``int``."""
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(int(generator))
    raise TypeError("pass an explicit torch.Generator or an int seed "
                    f"(got {type(generator).__name__}); unseeded generation is not allowed")


def _full_shape(n: int, shape: Sequence[int]) -> tuple[int, ...]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    dims = tuple(shape)
    if len(dims) == 0 or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                             for d in dims):
        raise ValueError(f"shape must be a non-empty tuple of positive ints, e.g. (1, 28, 28); "
                         f"got {shape!r}")
    return (int(n),) + tuple(int(d) for d in dims)


def _check_space(space: str) -> None:
    if space not in ("unit", "normalized"):
        raise ValueError(f"space must be 'unit' ([0, 1] inputs) or 'normalized' ([-1, 1] "
                         f"inputs), got {space!r}")


def _as_images(images: Any, name: str = "images", *, min_dim: int = 1) -> torch.Tensor:
    """float32 CPU tensor of a batch of images in [0, 1]."""
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    x = x.detach().to(device="cpu", dtype=torch.float32)
    if x.ndim < min_dim + 1:
        need = "(N, C, H, W)" if min_dim == 3 else "(N, ...)"
        raise ValueError(f"{name} must have shape {need}, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite values")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"{name} must be in [0, 1] pixel space (got range "
                         f"[{float(x.min()):.3g}, {float(x.max()):.3g}]); pass images before "
                         "normalization and normalize the result afterwards")
    return x


# ----------------------------------------------------------------------------------------------
# Test-time synthetic OOD sets (OE App. A, spec §6.3)
# ----------------------------------------------------------------------------------------------

def gaussian(n: int, shape: Sequence[int], space: Space,
             generator: torch.Generator | int) -> torch.Tensor:
    """Isotropic Gaussian noise, clipped to the input range (spec §6.3 "Gaussian").

    ``space="unit"``: each dimension i.i.d. N(mu=0.5, sigma=0.5) clipped to [0, 1] (SVHN/MNIST).
    ``space="normalized"``: N(0, 0.5) clipped to [-1, 1] (CIFAR/Tiny ImageNet input space).
    Returns ``(n, *shape)`` float32.
    """
    _check_space(space)
    g = _generator(generator)
    z = torch.randn(_full_shape(n, shape), generator=g, dtype=torch.float32)
    if space == "unit":
        return (0.5 + 0.5 * z).clamp_(0.0, 1.0)
    return (0.5 * z).clamp_(-1.0, 1.0)


def bernoulli(n: int, shape: Sequence[int], generator: torch.Generator | int) -> torch.Tensor:
    """Each dimension 0 or 1 with probability 0.5 (spec §6.3, the ``[0, 1]``-space set)."""
    g = _generator(generator)
    return torch.bernoulli(torch.full(_full_shape(n, shape), 0.5, dtype=torch.float32),
                           generator=g)


def rademacher(n: int, shape: Sequence[int], generator: torch.Generator | int) -> torch.Tensor:
    """Each dimension -1 or +1 with probability 0.5 (spec §6.3; ``binomial(1, 0.5) * 2 - 1``)."""
    return bernoulli(n, shape, generator).mul_(2.0).sub_(1.0)


def blobs(n: int, shape: Sequence[int], generator: torch.Generator | int, sigma: float = 1.5,
          p: float = 0.7, threshold: float = 0.75, space: Space = "unit") -> torch.Tensor:
    """Algorithmically generated amorphous shapes with definite edges (spec §6.3 "Blobs").

    Official steps, per image:

    1. ``X ~ Bernoulli(p)`` (p = 0.7);
    2. ``skimage.filters.gaussian(X, sigma, channel_axis=None)`` -- a blur over *all* image axes
       including the channel axis, ``mode='nearest'``, ``truncate=4``. Implemented with
       ``scipy.ndimage.gaussian_filter`` (what skimage calls) with sigma 0 on the batch axis. The
       official code blurs ``H x W x C`` and then transposes to ``C x H x W``; an isotropic
       separable blur gives the same result in either layout. A single-channel image gets a
       plain 2-D blur (the channel axis has length 1, and 'nearest' padding leaves it intact);
    3. values below ``threshold`` (0.75) are set to 0;
    4. ``space="normalized"`` only: ``x * 2 - 1`` (background -1, blobs in about [0.5, 1]).

    Use ``sigma=2`` for 64x64 (Tiny ImageNet) as the official code. ``shape`` is ``(C, H, W)``.
    """
    _check_space(space)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    g = _generator(generator)
    full = _full_shape(n, shape)
    x = torch.bernoulli(torch.full(full, float(p), dtype=torch.float64), generator=g).numpy()
    x = gaussian_filter(x, sigma=(0.0,) + (float(sigma),) * (len(full) - 1), mode="nearest",
                        truncate=4.0)
    x[x < threshold] = 0.0
    out = torch.from_numpy(x).to(torch.float32)
    if space == "normalized":
        out = out.mul_(2.0).sub_(1.0)
    return out


# ----------------------------------------------------------------------------------------------
# Validation distributions D_out^val (OE App. A; spec §6.3 table "Validation distributions")
# ----------------------------------------------------------------------------------------------

def uniform(n: int, shape: Sequence[int], space: Space,
            generator: torch.Generator | int) -> torch.Tensor:
    """Uniform noise: U[0, 1] (``space="unit"``) or U[-1, 1] (``space="normalized"``)."""
    _check_space(space)
    g = _generator(generator)
    u = torch.rand(_full_shape(n, shape), generator=g, dtype=torch.float32)
    return u if space == "unit" else u.mul_(2.0).sub_(1.0)


def _pairs(images: torch.Tensor, others: torch.Tensor | None, n: int,
           g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random pairs: one image from ``images`` and one from ``others`` (or a *different*
    image of ``images`` when ``others`` is None)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    m = images.shape[0]
    i = torch.randint(m, (int(n),), generator=g)
    if others is None:
        if m < 2:
            raise ValueError("need at least 2 images to form pairs of different images")
        j = (i + torch.randint(1, m, (int(n),), generator=g)) % m  # uniform over j != i
        return images[i], images[j]
    if others.shape[1:] != images.shape[1:]:
        raise ValueError(f"others has image shape {tuple(others.shape[1:])}, "
                         f"images has {tuple(images.shape[1:])}; they must match")
    j = torch.randint(others.shape[0], (int(n),), generator=g)
    return images[i], others[j]


def arithmetic_mean(images: Any, n: int, generator: torch.Generator | int,
                    others: Any | None = None) -> torch.Tensor:
    """Pixel-wise mean of ``n`` random image pairs (spec §6.3 "Arithmetic mean").

    The official code pairs a test image with an image of *another* set for CIFAR (the other
    CIFAR test set) and with another MNIST test image for MNIST. Pass that set as ``others``;
    without it both images come from ``images`` and are distinct.
    """
    g = _generator(generator)
    a, b = _pairs(_as_images(images), None if others is None else _as_images(others, "others"),
                  n, g)
    return 0.5 * (a + b)


def geometric_mean(images: Any, n: int, generator: torch.Generator | int,
                   others: Any | None = None) -> torch.Tensor:
    """Pixel-wise geometric mean ``sqrt(x1 * x2)`` of ``n`` random image pairs, in [0, 1] pixel
    space (spec §6.3 "Geometric mean"); pairing as in :func:`arithmetic_mean`."""
    g = _generator(generator)
    a, b = _pairs(_as_images(images), None if others is None else _as_images(others, "others"),
                  n, g)
    return torch.sqrt(a * b)


def jigsaw(images: Any, generator: torch.Generator | int, grid: int = 4) -> torch.Tensor:
    """Each image cut into a ``grid x grid`` grid of equal patches, shuffled by its own random
    permutation (OE paper App. A: "16 equal patches, permuted"; spec §6.3 "Jigsaw").

    32x32 images give 8x8 patches and 28x28 images 7x7 patches. Deviation, documented in the
    spec: the official code applies a *fixed* rearrangement of 8-pixel strips/quadrants rather
    than a random 16-patch permutation.
    """
    x = _as_images(images, min_dim=3)
    g = _generator(generator)
    n, c, h, w = x.shape
    if grid < 1 or h % grid or w % grid:
        raise ValueError(f"image size {h}x{w} is not divisible into a {grid}x{grid} grid; "
                         "crop or resize first, or choose another grid")
    ph, pw = h // grid, w // grid
    # (N, C, grid, ph, grid, pw) -> (N, grid*grid, C, ph, pw)
    patches = x.reshape(n, c, grid, ph, grid, pw).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(n, grid * grid, c, ph, pw)
    perm = torch.stack([torch.randperm(grid * grid, generator=g) for _ in range(n)])
    shuffled = patches[torch.arange(n)[:, None], perm]
    out = shuffled.reshape(n, grid, grid, c, ph, pw).permute(0, 3, 1, 4, 2, 5)
    return out.reshape(n, c, h, w).contiguous()


def speckle(images: Any, generator: torch.Generator | int) -> torch.Tensor:
    """Speckle noise ``clamp(x + x * N(0, 1), 0, 1)`` (spec §6.3 "Speckle")."""
    x = _as_images(images)
    g = _generator(generator)
    noise = torch.randn(x.shape, generator=g, dtype=torch.float32)
    return (x + x * noise).clamp_(0.0, 1.0)


def inverted(images: Any, channels: Sequence[int] | None = None) -> torch.Tensor:
    """Invert intensities ``1 - x`` on some channels (spec §6.3 "Inverted").

    Default ``channels=None``: channels 1 and 2 for 3-channel images (official code; channel 0
    is kept) and every channel otherwise (grayscale: ``1 - x``, spec §8.0). Deterministic.
    """
    x = _as_images(images, min_dim=3).clone()
    c = x.shape[1]
    chosen = (tuple(range(1, 3)) if c == 3 else tuple(range(c))) if channels is None \
        else tuple(int(k) for k in channels)
    for k in chosen:
        if not 0 <= k < c:
            raise ValueError(f"channel {k} out of range for {c}-channel images")
        x[:, k] = 1.0 - x[:, k]
    return x


def pixelate(images: Any, factor: float = 0.2) -> torch.Tensor:
    """Box-downsample to ``factor`` of the size and scale back up (spec §6.3 "Pixelate").

    Downsampling is an area (box) average to ``max(1, int(H * factor)) x max(1, int(W *
    factor))`` as PIL's ``BOX`` filter; upsampling is nearest-neighbour, which is what a box
    filter amounts to when enlarging. Deterministic.
    """
    x = _as_images(images, min_dim=3)
    if not 0.0 < factor <= 1.0:
        raise ValueError(f"factor must be in (0, 1], got {factor}")
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(1, int(h * factor)), max(1, int(w * factor))),
                          mode="area")
    return F.interpolate(small, size=(h, w), mode="nearest")


# ----------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------

SyntheticFn = Callable[..., torch.Tensor]

#: Test-time synthetic OOD sets by name. Every entry has the uniform signature
#: ``fn(n, shape, generator, space, **kwargs) -> Tensor``. "bernoulli" ({0, 1}) and
#: "rademacher" (+-1) ignore ``space``: their value sets define them (Rademacher is the
#: normalized-space counterpart of Bernoulli in the paper's tables).
SYNTHETIC_OOD: dict[str, SyntheticFn] = {
    "gaussian": lambda n, shape, generator, space="unit", **kw: gaussian(n, shape, space,
                                                                         generator, **kw),
    "bernoulli": lambda n, shape, generator, space="unit", **kw: bernoulli(n, shape, generator,
                                                                           **kw),
    "rademacher": lambda n, shape, generator, space="unit", **kw: rademacher(n, shape, generator,
                                                                             **kw),
    "blobs": lambda n, shape, generator, space="unit", **kw: blobs(n, shape, generator,
                                                                   space=space, **kw),
}


def make_synthetic(name: str, n: int, shape: Sequence[int], seed: torch.Generator | int,
                   space: Space = "unit", **kwargs: Any) -> torch.Tensor:
    """Generate ``n`` samples of the synthetic OOD set ``name`` (see :data:`SYNTHETIC_OOD`).

    ``kwargs`` go to the generator (e.g. ``sigma=2.0`` for 64x64 blobs). Same seed, same tensor.
    """
    try:
        fn = SYNTHETIC_OOD[name]
    except KeyError:
        raise ValueError(f"unknown synthetic OOD set {name!r}; valid names: "
                         f"{', '.join(sorted(SYNTHETIC_OOD))}") from None
    _check_space(space)
    return fn(n, shape, seed, space, **kwargs)

"""ahmed2020 Appendix D: two trivial, low-level OOD detectors (spec ahmed2020 §2.8).

Appendix D shows that "very trivial baselines can perform reasonably well at existing
benchmarks": with CIFAR-10 as the in-distribution, "likelihoods under a mixture of 3 Gaussians,
trained channel-wise at a pixel-level" reach 96.8–99.8 AP on TinyImageNet (crop/resize), LSUN
(resize) and iSUN, but 58.06 on LSUN (crop); and "thresholding on simply the 'energy' of the
edge-detection map" gives about 87.5 AP on LSUN (crop).

* :class:`PixelGMM` — for each channel ``c`` a 1-D, K-component Gaussian mixture ``p_c``
  (``sklearn.mixture.GaussianMixture``) fitted to the channel's pixel intensities pooled over
  every position of the training images (a seeded random subsample of ``n_pixels`` of them).
  ``log p(x) = Σ_{c,u,v} log p_c(x_{c,u,v})``; the anomaly score is ``−log p(x)``.
* :func:`edge_energy` / :func:`edge_score` — the paper names no edge detector. We use the Sobel
  operator (``torch`` convolution, replicate padding): energy = ``Σ_{c,u,v} (G_x² + G_y²)`` on
  intensities in [0, 1]. The paper's point is that LSUN (crop) images are flat, so **low** energy
  means anomalous: the score is ``−energy``.

Conventions (spec §2.9, §7): every score is *higher = more anomalous*, and AP is computed with
the OOD / anomalous images as the positive class.

Inputs: ``uint8`` images (values 0–255, divided by 255) or floating-point images in [0, 1], as
``(N, H, W)`` (one channel) or ``(N, C, H, W)``, numpy arrays or torch tensors. Anything else is
a ``ValueError``/``TypeError`` that says what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["PixelGMM", "as_unit_images", "edge_energy", "edge_score"]


def as_unit_images(images: Any, name: str = "images") -> np.ndarray:
    """``images`` as float64 ``(N, C, H, W)`` in [0, 1].

    Accepts ``uint8`` (divided by 255) or floating point already in [0, 1]; ``(N, H, W)`` gets a
    channel axis. Raises ``TypeError`` for other dtypes and ``ValueError`` for a wrong shape, an
    empty batch, non-finite values or floats outside [0, 1].
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    x = np.asarray(images)
    if x.dtype == np.uint8:
        out = x.astype(np.float64) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        out = x.astype(np.float64)
        if not np.isfinite(out).all():
            raise ValueError(f"{name} contains non-finite values")
        if out.size and (out.min() < 0.0 or out.max() > 1.0):
            raise ValueError(f"{name}: floating-point images must lie in [0, 1] (got range "
                             f"[{out.min():.3g}, {out.max():.3g}]); pass uint8 0–255 images or divide by 255")
    else:
        raise TypeError(f"{name} must be uint8 (0–255) or floating point in [0, 1]; got dtype {x.dtype}")
    if out.ndim == 3:
        out = out[:, None]
    if out.ndim != 4:
        raise ValueError(f"{name} must have shape (N, H, W) or (N, C, H, W); got {tuple(x.shape)}")
    if out.shape[0] == 0 or min(out.shape[2:]) < 1:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    return out


@dataclass
class PixelGMM:
    """Appendix D's pixel-level GMM: one 1-D ``n_components`` Gaussian mixture per channel.

    ``fit`` pools channel ``c``'s intensities over all positions of all training images and fits
    ``sklearn.mixture.GaussianMixture(n_components, random_state=…)`` to ``n_pixels`` of them,
    drawn without replacement by ``numpy.random.default_rng(seed)`` (all of them when there are
    fewer, or when ``n_pixels`` is None). The same ``seed`` gives the same fit.

    ``log_likelihood(x)`` is ``Σ_{c,u,v} log p_c(x_{c,u,v})`` per image; ``score(x)`` is its
    negative (higher = more anomalous).

    ``reg_covar`` is sklearn's floor on each component's variance (default 1e-6, intensities in
    [0, 1]): a component sitting on an exactly constant background (Fashion-MNIST's zeros)
    would otherwise collapse.
    """

    n_components: int = 3
    n_pixels: int | None = 500_000
    seed: int = 0
    max_iter: int = 200
    reg_covar: float = 1e-6
    mixtures: list = field(default_factory=list, init=False, repr=False)
    image_shape: tuple[int, ...] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.n_components, bool) or not isinstance(self.n_components, (int, np.integer)) \
                or self.n_components < 1:
            raise ValueError(f"n_components must be a positive integer; got {self.n_components!r}")
        if self.n_pixels is not None and (isinstance(self.n_pixels, bool) or int(self.n_pixels) < self.n_components):
            raise ValueError(f"n_pixels must be None or an integer ≥ n_components; got {self.n_pixels!r}")

    @property
    def fitted(self) -> bool:
        return bool(self.mixtures)

    def fit(self, images: Any) -> "PixelGMM":
        """Fit one mixture per channel on the training ``images`` (see the class docstring)."""
        from sklearn.mixture import GaussianMixture

        x = as_unit_images(images, "training images")
        n, c = x.shape[:2]
        rng = np.random.default_rng(self.seed)
        self.mixtures = []
        for ch in range(c):
            pixels = x[:, ch].reshape(-1)
            if self.n_pixels is not None and pixels.size > self.n_pixels:
                pixels = pixels[rng.choice(pixels.size, size=int(self.n_pixels), replace=False)]
            if pixels.size < self.n_components:
                raise ValueError(f"{pixels.size} pixels cannot fit {self.n_components} components")
            gmm = GaussianMixture(n_components=int(self.n_components), covariance_type="full",
                                  max_iter=self.max_iter, reg_covar=self.reg_covar,
                                  random_state=int(rng.integers(2**31 - 1)))
            gmm.fit(pixels[:, None])
            self.mixtures.append(gmm)
        self.image_shape = tuple(x.shape[1:])
        return self

    def _check_fitted(self, x: np.ndarray) -> None:
        if not self.fitted:
            raise RuntimeError("PixelGMM is not fitted: call fit(train_images) first")
        if x.shape[1] != len(self.mixtures):
            raise ValueError(f"the model was fitted on {len(self.mixtures)}-channel images; got {x.shape[1]} "
                             f"channels (shape {tuple(x.shape)})")

    def pixel_log_density(self, images: Any) -> np.ndarray:
        """``log p_c(x_{c,u,v})`` for every pixel: float64 ``(N, C, H, W)``."""
        x = as_unit_images(images)
        self._check_fitted(x)
        out = np.empty_like(x)
        for ch, gmm in enumerate(self.mixtures):
            out[:, ch] = gmm.score_samples(x[:, ch].reshape(-1, 1)).reshape(x.shape[0], *x.shape[2:])
        return out

    def log_likelihood(self, images: Any, batch_size: int = 2000) -> np.ndarray:
        """``Σ_{c,u,v} log p_c(x_{c,u,v})`` per image: float64 ``(N,)`` (computed in batches)."""
        x = as_unit_images(images)
        self._check_fitted(x)
        return np.concatenate([self.pixel_log_density(x[i:i + batch_size]).sum(axis=(1, 2, 3))
                               for i in range(0, len(x), batch_size)])

    def score(self, images: Any) -> np.ndarray:
        """The anomaly score ``−log p(x)`` per image (higher = more anomalous)."""
        return -self.log_likelihood(images)


_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=torch.float64)


def edge_energy(images: Any, batch_size: int = 4096) -> np.ndarray:
    """The energy of the Sobel edge map per image: ``Σ_{c,u,v} G_x² + G_y²`` on [0, 1] intensities
    (3×3 Sobel kernels, each channel on its own, replicate padding so the borders add no edge).

    Appendix D does not name its edge detector; Sobel is our choice (spec §2.8). Float64 ``(N,)``.
    """
    x = torch.from_numpy(as_unit_images(images))
    c = x.shape[1]
    kernel = torch.stack([_SOBEL_X, _SOBEL_X.T])[:, None].repeat(c, 1, 1, 1)  # (2C, 1, 3, 3)
    out = []
    for i in range(0, len(x), batch_size):
        batch = F.pad(x[i:i + batch_size], (1, 1, 1, 1), mode="replicate")
        grad = F.conv2d(batch, kernel, groups=c)  # channel k -> outputs 2k (G_x), 2k + 1 (G_y)
        out.append(grad.pow(2).sum(dim=(1, 2, 3)))
    return torch.cat(out).numpy()


def edge_score(images: Any) -> np.ndarray:
    """The anomaly score of the edge-energy baseline: ``−edge_energy`` (flat = anomalous), since
    Appendix D's failure case, LSUN (crop), is made of flat, low-variance crops."""
    return -edge_energy(images)

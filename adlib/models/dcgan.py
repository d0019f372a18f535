"""DCGAN generator and discriminator (Radford et al. 2016) for hendrycks2019 Table 4, the GAN of
Lee et al. (2018)'s joint confidence training (upstream ``alinlab/Confident_classifier``, ``models/gan.py``).

Both follow the DCGAN rules: stride-2 (transposed) 4×4 convolutions, BatchNorm everywhere except
the generator's output and the discriminator's input layer, ReLU in G and LeakyReLU(0.2) in D.

* ``dcgan28_generator`` / ``dcgan28_discriminator`` (reduced scales, spec §8.1 Table 4):
  G: z (100) → 128×7×7 → 64×14×14 → 1×28×28; D: 1×28×28 → 32×14×14 → 64×7×7 → 1.
* ``dcgan32_generator`` / ``dcgan32_discriminator`` (paper scale, Lee et al.'s CIFAR DCGAN,
  ngf = ndf = 64):
  G: z (100) → 512×4×4 → 256×8×8 → 128×16×16 → 3×32×32;
  D: 3×32×32 → 64 → 128 → 256 (4×4) → 1.

The generator ends in tanh rescaled to [0, 1], the input space of the classifiers here
(``(tanh(a) + 1) / 2``); the discriminator returns one logit per image (use it with
``binary_cross_entropy_with_logits``; Lee et al.'s D ends in a sigmoid + BCELoss, the same loss).
Unlike the classifiers of :mod:`adlib.models`, these have no ``features``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from adlib.models import register_model


class DCGANGenerator(nn.Module):
    """z ~ N(0, I_nz) → image in [0, 1] of shape (channels, image_size, image_size).

    The first layer is a transposed convolution of the 1×1 noise "image" to ``widths[0]``
    channels at ``image_size / 2**len(widths)`` pixels; each following width doubles the size.
    """

    def __init__(self, nz: int = 100, channels: int = 1, image_size: int = 28,
                 widths: Sequence[int] = (128, 64)) -> None:
        super().__init__()
        start = image_size // 2 ** len(widths)
        if start * 2 ** len(widths) != image_size:
            raise ValueError(f"image_size {image_size} is not divisible by 2**{len(widths)} (one doubling per width)")
        self.nz = nz
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, widths[0], start, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z``: (N, nz) or (N, nz, 1, 1) → (N, C, H, W) in [0, 1]."""
        if z.ndim == 2:
            z = z[:, :, None, None]
        return (self.main(z) + 1) / 2


class DCGANDiscriminator(nn.Module):
    """Image (channels, image_size, image_size) → one real-vs-generated logit per image."""

    def __init__(self, channels: int = 1, image_size: int = 28, widths: Sequence[int] = (32, 64)) -> None:
        super().__init__()
        end = image_size // 2 ** len(widths)
        if end * 2 ** len(widths) != image_size:
            raise ValueError(f"image_size {image_size} is not divisible by 2**{len(widths)} (one halving per width)")
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-1], 1, end, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02) and zero bias."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@register_model("dcgan28_generator")
def dcgan28_generator(nz: int = 100, channels: int = 1) -> DCGANGenerator:
    """DCGAN-lite generator for 28×28 images (spec §8.1 Table 4): z → 128 → 64 → ``channels``."""
    return DCGANGenerator(nz, channels, 28, (128, 64))


@register_model("dcgan28_discriminator")
def dcgan28_discriminator(channels: int = 1) -> DCGANDiscriminator:
    """DCGAN-lite discriminator for 28×28 images (spec §8.1 Table 4): ``channels`` → 32 → 64 → 1."""
    return DCGANDiscriminator(channels, 28, (32, 64))


@register_model("dcgan32_generator")
def dcgan32_generator(nz: int = 100, channels: int = 3) -> DCGANGenerator:
    """Lee et al. (2018)'s CIFAR DCGAN generator (ngf = 64): z → 512 → 256 → 128 → ``channels``."""
    return DCGANGenerator(nz, channels, 32, (512, 256, 128))


@register_model("dcgan32_discriminator")
def dcgan32_discriminator(channels: int = 3) -> DCGANDiscriminator:
    """Lee et al. (2018)'s CIFAR DCGAN discriminator (ndf = 64): ``channels`` → 64 → 128 → 256 → 1."""
    return DCGANDiscriminator(channels, 32, (64, 128, 256))

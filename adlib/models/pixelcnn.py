"""A small PixelCNN (van den Oord et al. 2016) for 28×28 grayscale images: the reduced analog of
hendrycks2019 §4.4's PixelCNN++ density model (spec §8.1, Table 5 + Figure 2).

Architecture (``pixelcnn_small``): one masked-A 7×7 convolution (1 → C channels), then ``n_res``
residual blocks h ← h + conv_B(ReLU(h)) with masked-B 3×3 convolutions (C → C), then a head
ReLU → 1×1 conv (C → C) → ReLU → 1×1 conv (C → 256): a 256-way softmax over the intensity level
of every pixel. The default is C = 16 channels and 4 residual blocks.

Masking scheme (raster order, one channel). For a k×k kernel with centre (c, c):

* mask A zeroes the centre weight, every weight right of the centre in the centre row, and every
  row below it, so output (i, j) sees only pixels strictly before (i, j) in raster order;
* mask B is mask A with the centre weight kept, so a later layer may use its own position's
  features (which, after a mask-A layer, depend only on pixels before it).

Hence the logits at pixel i depend only on pixels < i and ``log p(x) = Σ_i log p(x_i | x_<i)``
is a proper autoregressive likelihood. The network takes the image as floats in [0, 1] (the
level divided by 255), mapped to [-1, 1] inside; :func:`nll_bits` scores integer levels 0..255.
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from adlib.models import register_model

LEVELS = 256


class MaskedConv2d(nn.Conv2d):
    """A same-padded 2-D convolution whose kernel is masked to be causal in raster order ('A' or 'B')."""

    def __init__(self, mask_type: str, in_channels: int, out_channels: int, kernel_size: int) -> None:
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', not {mask_type!r}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        c = kernel_size // 2
        mask = torch.ones_like(self.weight)
        mask[:, :, c, c + (mask_type == "B"):] = 0
        mask[:, :, c + 1:, :] = 0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """Maps images (N, 1, H, W) in [0, 1] to per-pixel logits (N, 256, H, W) over the 256 levels."""

    def __init__(self, channels: int = 16, n_res: int = 4, in_channels: int = 1) -> None:
        super().__init__()
        if in_channels != 1:
            raise ValueError("this PixelCNN masks spatially only; it models one channel")
        self.input_conv = MaskedConv2d("A", in_channels, channels, 7)
        self.res = nn.ModuleList(MaskedConv2d("B", channels, channels, 3) for _ in range(n_res))
        self.head1 = nn.Conv2d(channels, channels, 1)
        self.head2 = nn.Conv2d(channels, LEVELS, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 256, H, W), laid out channels-last: the last 1×1 convolution runs as one
        matrix product over the pixels' feature vectors (N·H·W, C) @ (C, 256), so each pixel's 256
        logits are adjacent in memory and :func:`nll_bits`'s softmax runs over contiguous rows (on
        the CPU about 1.5× faster a training step than the convolution's (N, 256, H, W) layout)."""
        h = self.input_conv(2 * x - 1)
        for conv in self.res:
            h = h + conv(F.relu(h))
        h = F.relu(self.head1(F.relu(h)))
        n, c, height, width = h.shape
        pixels = h.permute(0, 2, 3, 1).reshape(-1, c)  # (N·H·W, C)
        logits = F.linear(pixels, self.head2.weight.flatten(1), self.head2.bias)
        return logits.view(n, height, width, LEVELS).permute(0, 3, 1, 2)


def nll_bits(logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Per-image negative log-likelihood in bits, summed over pixels: −Σ_i log2 p(x_i | x_<i).

    ``logits`` (N, 256, H, W), ``levels`` integer intensities (N, 1, H, W) or (N, H, W) in 0..255.
    Bits per pixel (the OOD score of hendrycks2019 Table 5) is this divided by H·W. The softmax
    runs over each pixel's 256 logits as rows of an (N·H·W, 256) matrix: a view of
    :meth:`PixelCNN.forward`'s channels-last output (any other layout is copied into it).
    """
    n = logits.shape[0]
    rows = logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
    nats = F.cross_entropy(rows, levels.reshape(-1).long(), reduction="none").view(n, -1).sum(1)
    return nats / math.log(2)


@register_model("pixelcnn_small")
def pixelcnn_small(channels: int = 16, n_res: int = 4, in_channels: int = 1) -> PixelCNN:
    return PixelCNN(channels=channels, n_res=n_res, in_channels=in_channels)

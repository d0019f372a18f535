"""Pre-activation Wide Residual Networks (Zagoruyko & Komodakis 2016), as used by hendrycks2019.

WRN-d-w: depth d = 6n + 4 gives n blocks in each of three groups of widths 16w, 32w, 64w
(after a 16-channel stem). Each block is BN-ReLU-conv3×3-BN-ReLU-(dropout)-conv3×3 with a
1×1 projection shortcut where the shape changes. He-normal conv init, BN weight 1 / bias 0,
linear bias 0, as in the OE code's ``models/wrn.py``. Global average pooling makes the same
network work on 32×32 (CIFAR, SVHN) and 64×64 (Tiny ImageNet) inputs.

ahmed2020's larger-input variants (spec §6) are options of the same class, off by default (so
the parameter names and the behaviour of every existing model are unchanged):

* ``extra_groups``: groups of n blocks appended after the third, with the third group's width and
  stride 2 (STL-10: "append an extra group of 4 residual blocks with the same layer widths as in
  the previous group"; 96 → 48 → 24 → 12 px);
* ``stem_pool``: a 2×2 stride-2 average pooling right after the first convolution (the ImageNet
  subsets: "a downsampling average pooling layer after the first convolution"; 224 → 112 px);
* ``stem_stride``: the first convolution's stride (2 in the lighter network of the CPC runs).

Registered: ``wrn28_10`` (CIFAR-10), ``wrn_stl10`` (4 groups × 4 blocks, widths 64/128/256/256,
dropout 0.3) and ``wrn_imagenet`` (the same with the stem pooling and no dropout).
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from adlib.models import register_model


class _Block(nn.Module):
    def __init__(self, in_planes: int, out_planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
        self.dropout = dropout
        self.shortcut = (
            None
            if in_planes == out_planes and stride == 1
            else nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = F.relu(self.bn2(out))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        out = self.conv2(out)
        skip = x if self.shortcut is None else self.shortcut(pre)
        return out + skip


class WideResNet(nn.Module):
    """WRN-depth-widen_factor classifier."""

    def __init__(
        self,
        depth: int = 40,
        widen_factor: int = 2,
        num_classes: int = 10,
        dropout: float = 0.3,
        in_channels: int = 3,
        *,
        extra_groups: int = 0,
        stem_pool: bool = False,
        stem_stride: int = 1,
    ) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ValueError(f"WRN depth must be 6n+4 (e.g. 16, 28, 40), got {depth}")
        if extra_groups < 0 or stem_stride < 1:
            raise ValueError(f"extra_groups must be >= 0 and stem_stride >= 1; got {extra_groups}, {stem_stride}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor] + [64 * widen_factor] * extra_groups
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=stem_stride, padding=1, bias=False)
        # no parameters: the state_dict keys are those of the plain network
        self.stem_pool = nn.AvgPool2d(2, stride=2) if stem_pool else None
        layers: list[nn.Module] = []
        for group, stride in zip(range(3 + extra_groups), (1, 2, 2) + (2,) * extra_groups):
            for i in range(n):
                layers.append(
                    _Block(widths[group] if i == 0 else widths[group + 1], widths[group + 1],
                           stride if i == 0 else 1, dropout)
                )
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(widths[-1])
        self.fc = nn.Linear(widths[-1], num_classes)
        self.feature_dim = widths[-1]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.bias.data.zero_()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        if self.stem_pool is not None:
            out = self.stem_pool(out)
        out = self.blocks(out)
        out = F.relu(self.bn(out))
        return F.adaptive_avg_pool2d(out, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("wrn")
def wrn(depth: int = 40, widen_factor: int = 2, num_classes: int = 10, dropout: float = 0.3,
        in_channels: int = 3) -> WideResNet:
    return WideResNet(depth, widen_factor, num_classes, dropout, in_channels)


@register_model("wrn40_2")
def wrn40_2(num_classes: int = 10, dropout: float = 0.3, in_channels: int = 3) -> WideResNet:
    """CIFAR-10/100 and Tiny ImageNet network of hendrycks2019 (dropout 0.3)."""
    return WideResNet(40, 2, num_classes, dropout, in_channels)


@register_model("wrn16_4")
def wrn16_4(num_classes: int = 10, dropout: float = 0.4, in_channels: int = 3) -> WideResNet:
    """SVHN network of hendrycks2019 (dropout 0.4 in the official code)."""
    return WideResNet(16, 4, num_classes, dropout, in_channels)


@register_model("wrn28_10")
def wrn28_10(num_classes: int = 10, dropout: float = 0.3, in_channels: int = 3) -> WideResNet:
    """WRN-28-10: ahmed2020's CIFAR-10 network (dropout 0.3); the same as ``wrn`` with depth 28, width 10."""
    return WideResNet(28, 10, num_classes, dropout, in_channels)


@register_model("wrn_stl10")
def wrn_stl10(num_classes: int = 10, dropout: float = 0.3, in_channels: int = 3,
              widen_factor: int = 4) -> WideResNet:
    """ahmed2020's STL-10 network: WRN-28-4 plus a fourth group of 4 blocks (width 256, stride 2),
    i.e. 4 groups × 4 blocks of widths 64/128/256/256 (depth 36 by the 8n+4 count), dropout 0.3."""
    return WideResNet(28, widen_factor, num_classes, dropout, in_channels, extra_groups=1)


@register_model("wrn_imagenet")
def wrn_imagenet(num_classes: int = 10, dropout: float = 0.0, in_channels: int = 3, widen_factor: int = 4,
                 stem_stride: int = 1) -> WideResNet:
    """ahmed2020's ImageNet-subset network: the STL-10 network with a 2×2 stride-2 average pooling
    after the first convolution and no dropout (224 px in: 112 after the pooling, 14 at the end).
    ``stem_stride=2`` gives the lighter network of the CPC runs (first convolution stride 2)."""
    return WideResNet(28, widen_factor, num_classes, dropout, in_channels, extra_groups=1, stem_pool=True,
                      stem_stride=stem_stride)

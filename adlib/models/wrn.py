"""Pre-activation Wide Residual Networks (Zagoruyko & Komodakis 2016), as used by hendrycks2019.

WRN-d-w: depth d = 6n + 4 gives n blocks in each of three groups of widths 16w, 32w, 64w
(after a 16-channel stem). Each block is BN-ReLU-conv3×3-BN-ReLU-(dropout)-conv3×3 with a
1×1 projection shortcut where the shape changes. He-normal conv init, BN weight 1 / bias 0,
linear bias 0, as in the OE code's ``models/wrn.py``. Global average pooling makes the same
network work on 32×32 (CIFAR, SVHN) and 64×64 (Tiny ImageNet) inputs.
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
    ) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ValueError(f"WRN depth must be 6n+4 (e.g. 16, 28, 40), got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        layers: list[nn.Module] = []
        for group, stride in zip(range(3), (1, 2, 2)):
            for i in range(n):
                layers.append(
                    _Block(widths[group] if i == 0 else widths[group + 1], widths[group + 1],
                           stride if i == 0 else 1, dropout)
                )
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(widths[3])
        self.fc = nn.Linear(widths[3], num_classes)
        self.feature_dim = widths[3]
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
        out = self.blocks(self.conv1(x))
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

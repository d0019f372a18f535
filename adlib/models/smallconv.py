"""A small CNN for the CPU-scale hold-out-class experiments of ahmed2020 (spec §8.0 "Backbone").

``[conv3×3(w)-BN-ReLU]×2 → maxpool → [conv3×3(2w)-BN-ReLU]×2 → maxpool → conv3×3(4w)-BN-ReLU →
global average pool → dropout → linear``. With ``w = 16`` it has about 35 k parameters (w = 16,
one input channel, 9 classes: 35,609). It stands in for the paper's WRN-28-10 at ``cpu`` scale;
the paper-scale networks are in :mod:`adlib.models.wrn`.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from adlib.models import register_model


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class SmallConvNet(nn.Module):
    """Classifier with ``features(x)`` (N, 4w) pooled features, ``feature_dim`` and head ``fc``."""

    def __init__(self, num_classes: int = 10, width: int = 16, in_channels: int = 1, dropout: float = 0.3) -> None:
        super().__init__()
        if width < 1 or num_classes < 1:
            raise ValueError(f"width and num_classes must be >= 1, got {width}, {num_classes}")
        w = int(width)
        self.body = nn.Sequential(
            *_conv_bn_relu(in_channels, w), *_conv_bn_relu(w, w), nn.MaxPool2d(2),
            *_conv_bn_relu(w, 2 * w), *_conv_bn_relu(2 * w, 2 * w), nn.MaxPool2d(2),
            *_conv_bn_relu(2 * w, 4 * w),
        )
        self.dropout = float(dropout)
        self.feature_dim = 4 * w
        self.fc = nn.Linear(4 * w, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        out = F.adaptive_avg_pool2d(self.body(x), 1).flatten(1)
        return F.dropout(out, p=self.dropout, training=self.training) if self.dropout > 0 else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("small_convnet")
def small_convnet(num_classes: int = 10, width: int = 16, in_channels: int = 1, dropout: float = 0.3) -> SmallConvNet:
    return SmallConvNet(num_classes, width, in_channels, dropout)

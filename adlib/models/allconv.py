"""The All-Convolutional Network of the Outlier Exposure code base (hendrycks2019 App. D, Table 9;
Springenberg et al. 2015 with batch norm), and the narrower variant the reduced scales use.

Paper widths (``allconvnet``, 32×32×3 inputs)::

    conv3×3 96, 96, 96 → max-pool 2, dropout 0.5 → conv3×3 192, 192, 192 → max-pool 2, dropout 0.5
    → conv3×3 192 (no padding) → conv1×1 192 (padding 1) → conv1×1 192 (padding 1)
    → average-pool 8 → Linear(192 → k)

Every convolution is followed by batch norm and GELU x·σ(1.702x). The average pool is the official
code's fixed 8×8 window (on 32×32 inputs the last maps are 10×10 after the padded 1×1 convs, so
the window covers their top-left 8×8, as in that code).

``allconvnet_small`` (Fashion-MNIST, spec §8.1 Table 9 reduced plan, made narrower to fit the CPU
budget): two convolutions per stage at widths 8 and 16 instead of three at 96 and 192.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adlib.models import register_model
from adlib.models.convnet import sigmoid_gelu


class _ConvBNGELU(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, padding: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sigmoid_gelu(self.bn(self.conv(x)))


class AllConvNet(nn.Module):
    """All-convolutional classifier; ``features`` is the pooled ``width2``-d representation."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, widths: tuple[int, int] = (96, 192),
                 convs_per_stage: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        w1, w2 = widths
        layers: list[nn.Module] = []
        c = in_channels
        for width in (w1, w2):
            for _ in range(convs_per_stage):
                layers.append(_ConvBNGELU(c, width, 3, 1))
                c = width
            layers += [nn.MaxPool2d(2), nn.Dropout(dropout)]
        layers += [_ConvBNGELU(w2, w2, 3, 0), _ConvBNGELU(w2, w2, 1, 1), _ConvBNGELU(w2, w2, 1, 1)]
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(w2, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(self.body(x), 8)
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("allconvnet")
def allconvnet(num_classes: int = 10, in_channels: int = 3) -> AllConvNet:
    return AllConvNet(num_classes=num_classes, in_channels=in_channels)


@register_model("allconvnet_small")
def allconvnet_small(num_classes: int = 10, in_channels: int = 1) -> AllConvNet:
    return AllConvNet(num_classes=num_classes, in_channels=in_channels, widths=(8, 16), convs_per_stage=2)

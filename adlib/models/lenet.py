"""The LeNet-type feature maps φ_θ of Deep SVDD / Deep SAD / the Hypersphere Classifier
(Ruff et al. 2018, 2020; ruff2021 App. F, spec §6).

Each conv block is Conv(5×5, pad 2) → BatchNorm(eps 1e-4) → LeakyReLU(0.01) → MaxPool 2×2; then
Linear → BatchNorm1d → LeakyReLU → Linear(rep_dim), a linear output with no head: the
one-class objectives act on z = φ(x) ∈ R^rep_dim directly.

* ``mnist_lenet``: 1×28×28 input, conv widths 16, 32, FC 64, rep_dim 32.
* ``cifar10_lenet``: 3×32×32 input, conv widths 32, 64, 128, FC 512, rep_dim 256.

``bias=False`` removes every bias and the BatchNorm affine terms: the unsupervised Deep SVDD
needs that to avoid the trivial "hypersphere collapse" (Ruff et al. 2018, Prop. 2); the
ruff2021 methods keep them (the authors' code default). Weights are Xavier-normal with the
leaky-ReLU gain, the last layer with gain 1 (the authors' code).

:class:`OutlierLogitNet` puts the BCE / Focal classifiers' ``Linear(rep_dim → 1)`` on top of φ.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from adlib.models import register_model


class LeNetFeatures(nn.Module):
    """φ_θ: conv blocks, then one hidden FC layer, then a linear map to ``rep_dim``."""

    def __init__(self, in_channels: int, image_size: int, widths: Sequence[int], hidden: int, rep_dim: int,
                 bias: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 5, padding=2, bias=bias), nn.BatchNorm2d(w, eps=1e-4, affine=bias),
                       nn.LeakyReLU(0.01), nn.MaxPool2d(2)]
            c = w
        self.conv = nn.Sequential(*layers)
        side = image_size // 2 ** len(widths)
        self.fc = nn.Sequential(nn.Linear(c * side * side, hidden, bias=bias),
                                nn.BatchNorm1d(hidden, eps=1e-4, affine=bias), nn.LeakyReLU(0.01))
        self.out = nn.Linear(hidden, rep_dim, bias=bias)
        self.rep_dim = rep_dim
        gain = nn.init.calculate_gain("leaky_relu", 0.01)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_normal_(m.weight, gain=1.0 if m is self.out else gain)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc(self.conv(x).flatten(1)))


class OutlierLogitNet(nn.Module):
    """φ_θ followed by ``Linear(rep_dim → 1)``: one logit per image, > 0 meaning "outlier"
    (ruff2021 App. F: "the output of the network φθ is followed by a linear layer with sigmoid")."""

    def __init__(self, backbone: nn.Module, rep_dim: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(rep_dim, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)).squeeze(1)


def _maybe_head(backbone: LeNetFeatures, logit_head: bool) -> nn.Module:
    return OutlierLogitNet(backbone, backbone.rep_dim) if logit_head else backbone


@register_model("mnist_lenet")
def mnist_lenet(rep_dim: int = 32, bias: bool = True, logit_head: bool = False, in_channels: int = 1) -> nn.Module:
    return _maybe_head(LeNetFeatures(in_channels, 28, (16, 32), 64, rep_dim, bias), logit_head)


@register_model("cifar10_lenet")
def cifar10_lenet(rep_dim: int = 256, bias: bool = True, logit_head: bool = False, in_channels: int = 3) -> nn.Module:
    return _maybe_head(LeNetFeatures(in_channels, 32, (32, 64, 128), 512, rep_dim, bias), logit_head)

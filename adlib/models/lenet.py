"""The LeNet-type feature maps φ_θ of Deep SVDD / Deep SAD / the Hypersphere Classifier
(Ruff et al. 2018, 2020; ruff2021 App. F, spec §6).

Each conv block is Conv(5×5, pad 2) → BatchNorm(eps 1e-4) → LeakyReLU(0.01) → MaxPool 2×2; then
Linear → BatchNorm1d → LeakyReLU → Linear(rep_dim), a linear output with no head: the
one-class objectives act on z = φ(x) ∈ R^rep_dim directly.

* ``mnist_lenet``: 1×28×28 input, conv widths 16, 32, FC 64, rep_dim 32.
* ``cifar10_lenet``: 3×32×32 input, conv widths 32, 64, 128, FC 512, rep_dim 256.
* ``lenet``: any input size, conv widths and rep_dim; ``hidden=None`` maps the conv output straight
  to rep_dim (singh2021 App. C: DeepMAD's encoder is three conv modules, then one dense layer).
* ``lenet_autoencoder``: that encoder with a mirrored decoder (:class:`LeNetAutoencoder`), for the
  autoencoder pre-training of Deep SVDD and DeepMAD (singh2021 Algorithm 3).

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

    def __init__(self, in_channels: int, image_size: int, widths: Sequence[int], hidden: int | None, rep_dim: int,
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
        if hidden:
            self.fc: nn.Module = nn.Sequential(nn.Linear(c * side * side, hidden, bias=bias),
                                               nn.BatchNorm1d(hidden, eps=1e-4, affine=bias), nn.LeakyReLU(0.01))
        else:
            self.fc = nn.Identity()
        self.out = nn.Linear(hidden or c * side * side, rep_dim, bias=bias)
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
    (ruff2021 App. F: "the output of the network φθ is followed by a linear layer with sigmoid").

    ``head_hidden`` puts ``Linear(rep_dim → head_hidden) → LeakyReLU`` before the logit (DROCC's
    CIFAR head, 128 → 64 → 1; singh2021 §5.1 analyses that 64-d layer, :meth:`head_features`).
    The sign convention of the logit is the objective's (DROCC: > 0 = normal).
    """

    def __init__(self, backbone: nn.Module, rep_dim: int, head_hidden: int | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        if head_hidden:
            self.head: nn.Module = nn.Sequential(nn.Linear(rep_dim, head_hidden), nn.LeakyReLU(0.01),
                                                 nn.Linear(head_hidden, 1))
        else:
            self.head = nn.Linear(rep_dim, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def head_features(self, x: torch.Tensor) -> torch.Tensor:
        """The input of the final logit layer (φ(x) itself without ``head_hidden``)."""
        z = self.backbone(x)
        return self.head[:-1](z) if isinstance(self.head, nn.Sequential) else z

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


class LeNetDecoder(nn.Module):
    """The mirror of :class:`LeNetFeatures` (without its hidden FC layer): ``Linear(rep_dim → C·s·s)``,
    then per conv width in reverse: resize ×2 (to the encoder's exact sizes, so 28 → 14 → 7 → 3
    comes back as 3 → 7 → 14 → 28) → Conv(5×5, pad 2) → BatchNorm → LeakyReLU; a last
    Conv(5×5) to the input channels and a sigmoid (inputs in [0, 1], Deep SAD's decoders)."""

    def __init__(self, in_channels: int, image_size: int, widths: Sequence[int], rep_dim: int,
                 bias: bool = True) -> None:
        super().__init__()
        self.sizes = [image_size]
        for _ in widths:
            self.sizes.append(self.sizes[-1] // 2)
        self.widths = tuple(widths)
        self.inp = nn.Linear(rep_dim, self.widths[-1] * self.sizes[-1] ** 2, bias=bias)
        blocks = []
        rev = list(self.widths[::-1]) + [self.widths[0]]
        for w_in, w_out in zip(rev[:-1], rev[1:]):
            blocks.append(nn.Sequential(nn.Conv2d(w_in, w_out, 5, padding=2, bias=bias),
                                        nn.BatchNorm2d(w_out, eps=1e-4, affine=bias), nn.LeakyReLU(0.01)))
        self.blocks = nn.ModuleList(blocks)
        self.final = nn.Conv2d(self.widths[0], in_channels, 5, padding=2, bias=bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.inp(z).view(len(z), self.widths[-1], self.sizes[-1], self.sizes[-1])
        for block, size in zip(self.blocks, self.sizes[-2::-1]):
            x = block(nn.functional.interpolate(x, size=(size, size), mode="nearest"))
        return torch.sigmoid(self.final(x))


class LeNetAutoencoder(nn.Module):
    """``encoder`` (a :class:`LeNetFeatures`) and its :class:`LeNetDecoder`; ``forward`` returns the
    reconstruction, ``features`` the code z = E(x)."""

    def __init__(self, encoder: LeNetFeatures, decoder: LeNetDecoder) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


@register_model("lenet")
def lenet(in_channels: int = 1, image_size: int = 28, widths: Sequence[int] = (16, 32), hidden: int | None = None,
          rep_dim: int = 32, bias: bool = True, logit_head: bool = False, head_hidden: int | None = None) -> nn.Module:
    """A :class:`LeNetFeatures` of any shape (``logit_head``: with :class:`OutlierLogitNet`'s head)."""
    backbone = LeNetFeatures(in_channels, image_size, tuple(widths), hidden, rep_dim, bias)
    return OutlierLogitNet(backbone, rep_dim, head_hidden) if logit_head else backbone


@register_model("lenet_autoencoder")
def lenet_autoencoder(in_channels: int = 1, image_size: int = 28, widths: Sequence[int] = (16, 32),
                      hidden: int | None = None, rep_dim: int = 32, bias: bool = True) -> nn.Module:
    """:class:`LeNetAutoencoder` whose encoder is ``lenet(...)`` with the same arguments, so its
    ``encoder`` state dict loads into that model."""
    return LeNetAutoencoder(LeNetFeatures(in_channels, image_size, tuple(widths), hidden, rep_dim, bias),
                            LeNetDecoder(in_channels, image_size, tuple(widths), rep_dim, bias))

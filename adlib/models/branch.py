"""A learned confidence branch (DeVries & Taylor 2018), as used by hendrycks2019 §4.3 / Table 3.

The branch b: X → [0, 1] is one linear unit with a sigmoid on the penultimate features of a
classifier: b(x) = σ(w·h(x) + c) (upstream ``confidence_estimation`` code). Unlike the other
registered models, a branch network returns a pair ``(logits (N, k), b(x) (N,))``;
:func:`adlib.detectors.model_outputs` packs the pair into one ``(N, k + 1)`` tensor (logits, then b).
"""

from __future__ import annotations

import torch
from torch import nn

from adlib.models import create_model, register_model


class ConfidenceBranchNet(nn.Module):
    """A registered classifier plus a sigmoid confidence branch on its ``features(x)``.

    ``head`` names the backbone's final linear layer (the classifier on the same features).
    ``forward`` returns ``(logits, confidence)`` with confidence b(x) in (0, 1).
    """

    def __init__(self, backbone: nn.Module, head: str) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        linear = getattr(backbone, head)
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"{type(backbone).__name__}.{head} is not a Linear layer")
        self.branch = nn.Linear(linear.in_features, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's penultimate representation h(x)."""
        return self.backbone.features(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return getattr(self.backbone, self.head)(h), torch.sigmoid(self.branch(h)).squeeze(1)


@register_model("mnist_convnet_branch")
def mnist_convnet_branch(num_classes: int = 10, in_channels: int = 1) -> ConfidenceBranchNet:
    """The MNIST ConvNet with a confidence branch on its 50-d features (spec §8.1, Table 3 reduced)."""
    return ConfidenceBranchNet(create_model("mnist_convnet", num_classes=num_classes, in_channels=in_channels),
                               head="fc2")


@register_model("wrn40_4_branch")
def wrn40_4_branch(num_classes: int = 10, dropout: float = 0.3, in_channels: int = 3) -> ConfidenceBranchNet:
    """WRN-40-4 with a confidence branch, the network of hendrycks2019 Table 3."""
    return ConfidenceBranchNet(create_model("wrn", depth=40, widen_factor=4, num_classes=num_classes,
                                            dropout=dropout, in_channels=in_channels), head="fc")

"""The small MNIST ConvNet of the Outlier Exposure code base (hendrycks2019, ``MNIST/models/convnet.py``).

conv(1→10, 5×5) → max-pool 2 → GELU → conv(10→20, 5×5) → Dropout2d(0.5) → max-pool 2 → GELU
→ Linear(320→50) → GELU → Linear(50→k). GELU is the sigmoid approximation x·σ(1.702x)
used by that code. About 0.5 M multiply-accumulates per 28×28 image.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from adlib.models import register_model


def sigmoid_gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU approximation x·σ(1.702x) (Hendrycks & Gimpel 2016), as in the OE code."""
    return x * torch.sigmoid(1.702 * x)


class ConvNet(nn.Module):
    """LeNet-style classifier for 1×28×28 inputs in [0, 1]."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate 50-d representation."""
        x = sigmoid_gelu(F.max_pool2d(self.conv1(x), 2))
        x = sigmoid_gelu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        return sigmoid_gelu(self.fc1(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.features(x))


@register_model("mnist_convnet")
def mnist_convnet(num_classes: int = 10, in_channels: int = 1) -> ConvNet:
    return ConvNet(num_classes=num_classes, in_channels=in_channels)

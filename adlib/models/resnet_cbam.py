"""ResNet-18 with CBAM attention: ruff2021's ImageNet feature map φ_θ (spec §6, "imagenet_WideResNet").

ruff2021 (App. F) calls it "the same WideResNet as Hendrycks et al. (2019b), which has ResNet-18
as its architectural backbone"; the authors' code (``imagenet_WideResNet``, taken from
``hendrycks/ss-ood``) is a plain ResNet-18 (He et al. 2016) with a CBAM module in every block:

* stem: Conv 7×7 stride 2 (no bias) → BN → ReLU → MaxPool 3×3 stride 2;
* four stages of two BasicBlocks, widths 64, 128, 256, 512, stride 2 at the first block of stages
  2-4. A block is conv3×3 → BN → ReLU → conv3×3 → BN → **CBAM** → + shortcut → ReLU, the shortcut
  being a 1×1 stride-s conv + BN where the shape changes;
* global average pooling → ``Linear(512 → rep_dim)`` (linear output, no head).

CBAM (Woo, Park, Lee & Kweon 2018, "CBAM: Convolutional Block Attention Module", ECCV 2018)
refines a feature map F ∈ R^{C×H×W} in two steps, F' = M_c(F) ⊙ F, then F'' = M_s(F') ⊙ F':

* channel attention M_c(F) = σ(MLP(AvgPool(F)) + MLP(MaxPool(F))) ∈ (0, 1)^{C×1×1}, one MLP
  ``C → C/r → C`` (ReLU between, biases on) shared by the spatially average- and max-pooled
  descriptors, reduction r = 16;
* spatial attention M_s(F') = σ(BN(conv7×7([max_c F'; mean_c F']))) ∈ (0, 1)^{1×H×W}: the
  channel-wise max and mean maps (in that order, as the reference code concatenates them) go
  through one 7×7 conv (2 → 1 channels, padding 3, no bias). The BatchNorm (momentum 0.01) is in
  the CBAM authors' code (``BasicConv``) and hence in ruff2021's, not in the paper's equations.

Initialisation follows the ruff2021 code, which sets weights by state-dict key name:

* every conv whose key contains ``conv`` (stem, block convs, the spatial-gate conv): Kaiming
  normal, ``mode="fan_out"``; the 1×1 shortcut convs (key ``downsample.0``) do **not** match and
  keep PyTorch's default init, as do the channel-MLP weights;
* BatchNorm weights 1, except the spatial gate's BN weight **0**, so every spatial gate starts at
  σ(0) = 0.5 everywhere (it still receives gradients and learns); every bias 0 (BN, channel MLP,
  final Linear);
* the final Linear: Kaiming normal (fan_in).

One deliberate difference: the authors' forward begins with ``x.view(-1, 3, 224, 224)`` and pools
with ``AvgPool2d(7)``; here ``AdaptiveAvgPool2d(1)`` pools globally, which is identical for 224×224
inputs (the last stage is 7×7) and also accepts other sizes (e.g. 64×64 for smoke tests).
Parameters at rep_dim 256: 11,176,512 (the ResNet-18 trunk) + 89,880 (eight CBAM modules) + 131,328
(the Linear) = 11,397,720.
"""

from __future__ import annotations

import torch
from torch import nn

from adlib.models import register_model
from adlib.models.lenet import OutlierLogitNet


class ChannelGate(nn.Module):
    """CBAM channel attention: x ↦ x ⊙ σ(MLP(avg-pool x) + MLP(max-pool x)), per channel."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map M_c(x), shape ``(N, C, 1, 1)``, values in (0, 1)."""
        logits = self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3)))
        return torch.sigmoid(logits)[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class SpatialGate(nn.Module):
    """CBAM spatial attention: x ↦ x ⊙ σ(BN(conv7×7([max_c x; mean_c x]))), per position."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map M_s(x), shape ``(N, 1, H, W)``, values in (0, 1)."""
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.bn(self.conv(pooled)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class CBAM(nn.Module):
    """Convolutional Block Attention Module (Woo et al. 2018): channel, then spatial attention."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelGate(channels, reduction)
        self.spatial = SpatialGate(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class BasicBlockCBAM(nn.Module):
    """ResNet BasicBlock with CBAM on the residual branch, before the addition."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, reduction: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.cbam = CBAM(planes, reduction)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = (
            None
            if stride == 1 and in_planes == planes
            else nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.cbam(self.bn2(self.conv2(out)))
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.relu(out + skip)


class ResNetCBAM(nn.Module):
    """ResNet with a CBAM module in every BasicBlock, mapping images to z ∈ R^rep_dim."""

    def __init__(self, layers: tuple[int, ...] = (2, 2, 2, 2), widths: tuple[int, ...] = (64, 128, 256, 512),
                 rep_dim: int = 256, in_channels: int = 3, reduction: int = 16) -> None:
        super().__init__()
        self.rep_dim = rep_dim
        self.conv1 = nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages: list[nn.Module] = []
        in_planes = widths[0]
        for i, (n, planes) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlockCBAM(in_planes, planes, stride, reduction))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, rep_dim)
        self._init_like_the_authors()

    def _init_like_the_authors(self) -> None:
        """The ruff2021 code's key-name-based init (see the module docstring)."""
        shortcut_convs = {id(b.shortcut[0]) for b in self.modules()
                          if isinstance(b, BasicBlockCBAM) and b.shortcut is not None}
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and id(m) not in shortcut_convs:
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, SpatialGate):
                nn.init.zeros_(m.bn.weight)
        nn.init.kaiming_normal_(self.fc.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


@register_model("imagenet_resnet18_cbam")
def imagenet_resnet18_cbam(rep_dim: int = 256, logit_head: bool = False, in_channels: int = 3) -> nn.Module:
    """ruff2021's ImageNet-30 network (ResNet-18 + CBAM, 224×224 input); ``logit_head`` adds the
    BCE / Focal classifiers' ``Linear(rep_dim → 1)`` (:class:`adlib.models.lenet.OutlierLogitNet`)."""
    backbone = ResNetCBAM(rep_dim=rep_dim, in_channels=in_channels)
    return OutlierLogitNet(backbone, rep_dim) if logit_head else backbone

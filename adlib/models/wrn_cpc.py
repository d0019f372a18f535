"""The CPC-augmented classifier of ahmed2020 (§4 "CPC as an auxiliary task", Appendix C; spec §2.5,
§6): a pre-activation Wide ResNet with task-conditional batch normalisation and symmetric padding.

The paper's changes to its ImageNet rotation network (Appendix C):

* the **first convolution has stride 2** (to make concurrent CPC training affordable);
* **symmetric padding** replaces zero padding in every convolution, "so that the ratio of
  border-zeros to pixels does not change with the input size" (the CPC patches are much smaller
  than the classified image) — :func:`symmetric_pad2d`, :class:`SymmetricConv2d`;
* every normalisation layer is **conditional on the task** [44] — :class:`ConditionalBatchNorm2d`,
  with separate (γ_t, β_t) for t ∈ {classification, cpc};
* "the first three blocks of the network" are the CPC patch encoder, as in [39] (van den Oord et
  al. 2018), and "the final layers" are appended for classification — :meth:`CPCWideResNet.encode_patches`.

Choices the paper leaves open (documented in the docstrings below and in the book):

* **"first three blocks"** is read as the first three *residual groups* (stages): [39] takes the
  output of "the third residual block" of a ResNet-v2-101, i.e. TF-slim's ``block3``, a stage of
  several bottleneck units. Three single residual units of the first group would give a
  64-channel code with a tiny receptive field. The code is the group-3 output (the raw
  pre-activation residual stream, no extra BN-ReLU) mean-pooled over space, as in [39]; the CPC
  task unit-normalises it before the scores (our choice, :mod:`adlib.papers.ahmed2020.cpc`).
* **Per-task running statistics** in the conditional BN (spec §2.5 recommends it: the patch
  statistics would otherwise pollute the classifier's eval-mode statistics); ``per_task_stats=False``
  shares them.
* **ImageNet network** (spec §6): the STL-10 network (4 groups × 4 pre-activation basic blocks,
  widening factor 4, widths 64/128/256/256, a 16-channel stem) plus "a downsampling average
  pooling layer after the first convolution" (assumed 2×2, stride 2), with group strides 1/2/2/2
  (the stride of the extra group is not stated; 2 assumed), no dropout. With the stride-2 stem a
  224 crop gives 112 → pool 56 → 56 / 28 / 14 / 7; a 64×64 CPC patch gives 32 → 16 → 16 / 8 / 4
  at the end of the encoder (a 256-d code).
* **CPU network** (``wrn_cpc_cpu``; spec §8.1 "(T6 + Appendix C)" (b)): 28×28 grayscale,
  16-channel stride-1 stem without pooling, 4 groups × 1 block of widths 16/32/64/64 and strides
  1/2/2/2 (28 / 14 / 7 / 4). It mirrors the paper's split: the first three groups encode the
  8×8 patches (8 / 4 / 2, a 64-d code) and the fourth group is private to the classifier.

Like :mod:`adlib.models.wrn`: He-normal (fan-out) conv init, BN γ = 1 / β = 0, linear bias 0.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from adlib.models import register_model

TASKS: tuple[str, ...] = ("classification", "cpc")
"""The task names of ahmed2020's CPC experiments; the first one is active after construction."""


# ---------------------------------------------------------------------------------------------
# Symmetric padding
# ---------------------------------------------------------------------------------------------


def _pad4(pad: int | Sequence[int]) -> tuple[int, int, int, int]:
    if isinstance(pad, int):
        return (pad, pad, pad, pad)
    if len(pad) != 4:
        raise ValueError(f"pad must be an int or (left, right, top, bottom), got {pad!r}")
    return tuple(int(p) for p in pad)  # type: ignore[return-value]


def symmetric_pad2d(x: torch.Tensor, pad: int | Sequence[int]) -> torch.Tensor:
    """Pad the last two dims of ``x`` like ``numpy.pad(mode="symmetric")``: the border is mirrored
    *including* the edge pixel (``[a b c] → [b a | a b c | c b]`` for a pad of 2).

    PyTorch's ``F.pad`` has no such mode (``"reflect"`` leaves the edge pixel out), so the padding
    is built from flipped slices. ``pad`` is an int or ``(left, right, top, bottom)``
    (``F.pad``'s order); each amount must be ≤ the size of its dimension (numpy continues
    periodically beyond that; the networks here never need it).
    """
    left, right, top, bottom = _pad4(pad)
    h, w = x.shape[-2:]
    if min(left, right, top, bottom) < 0:
        raise ValueError(f"negative padding {pad!r}")
    if max(left, right) > w or max(top, bottom) > h:
        raise ValueError(f"symmetric padding {pad!r} exceeds the input size {h}×{w}")
    if left or right:
        parts = [x[..., :left].flip(-1), x, x[..., w - right:].flip(-1)]
        x = torch.cat([p for p in parts if p.shape[-1]], dim=-1)
    if top or bottom:
        parts = [x[..., :top, :].flip(-2), x, x[..., h - bottom:, :].flip(-2)]
        x = torch.cat([p for p in parts if p.shape[-2]], dim=-2)
    return x


class SymmetricConv2d(nn.Conv2d):
    """A "same"-style convolution with symmetric instead of zero padding: pads (k − 1) // 2 on
    every side with :func:`symmetric_pad2d`, then convolves without padding. Output sizes equal
    those of ``nn.Conv2d(..., padding=(k - 1) // 2)`` for the same stride."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 bias: bool = False) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)
        self.sym_pad = (kernel_size - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.sym_pad:
            x = symmetric_pad2d(x, self.sym_pad)
        return super().forward(x)


# ---------------------------------------------------------------------------------------------
# Conditional batch normalisation
# ---------------------------------------------------------------------------------------------


class ConditionalBatchNorm2d(nn.Module):
    """Batch normalisation conditioned on the task (ahmed2020 Appendix C, after [44]):

        BN_t(x) = γ_t · (x − μ_B) / √(σ²_B + ε) + β_t,    t ∈ ``tasks``,

    with a separate scale/shift per task, and (``per_task_stats=True``, the default and the
    spec's recommendation — the paper does not say) separate running mean/variance per task, so
    eval-mode classification uses statistics of whole images only. :meth:`set_task` picks the
    active task (the first of ``tasks`` after construction). With a single task it computes
    exactly what ``nn.BatchNorm2d(num_features, eps, momentum)`` does.

    Parameters: ``weight``/``bias`` of shape (T, C); buffers ``running_mean``/``running_var`` of
    shape (T, C) (or (1, C) when shared) and ``num_batches_tracked`` (T,) (or (1,)).
    """

    def __init__(self, num_features: int, tasks: Sequence[str] = TASKS, eps: float = 1e-5,
                 momentum: float = 0.1, per_task_stats: bool = True) -> None:
        super().__init__()
        tasks = tuple(tasks)
        if not tasks or len(set(tasks)) != len(tasks):
            raise ValueError(f"tasks must be non-empty and distinct, got {tasks!r}")
        self.num_features, self.tasks = num_features, tasks
        self.eps, self.momentum, self.per_task_stats = eps, momentum, per_task_stats
        n_stats = len(tasks) if per_task_stats else 1
        self.weight = nn.Parameter(torch.ones(len(tasks), num_features))
        self.bias = nn.Parameter(torch.zeros(len(tasks), num_features))
        self.register_buffer("running_mean", torch.zeros(n_stats, num_features))
        self.register_buffer("running_var", torch.ones(n_stats, num_features))
        self.register_buffer("num_batches_tracked", torch.zeros(n_stats, dtype=torch.long))
        self.task = tasks[0]

    def set_task(self, name: str) -> None:
        if name not in self.tasks:
            raise ValueError(f"unknown task {name!r}; this layer knows {', '.join(self.tasks)}")
        self.task = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tasks.index(self.task)
        s = t if self.per_task_stats else 0
        # a row of a contiguous (T, C) buffer is a contiguous view: batch_norm updates it in place
        mean, var = self.running_mean[s], self.running_var[s]
        if self.training:
            self.num_batches_tracked[s] += 1
        return F.batch_norm(x, mean, var, self.weight[t], self.bias[t], self.training,
                            self.momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, tasks={self.tasks}, eps={self.eps}, momentum={self.momentum}, "
                f"per_task_stats={self.per_task_stats}")


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------


class _CBlock(nn.Module):
    """Pre-activation basic block (as :class:`adlib.models.wrn._Block`) with conditional BN and
    symmetric padding: BN-ReLU-conv3×3-BN-ReLU-(dropout)-conv3×3, 1×1 projection shortcut on the
    pre-activated input where the shape changes."""

    def __init__(self, in_planes: int, out_planes: int, stride: int, dropout: float, bn) -> None:
        super().__init__()
        self.bn1 = bn(in_planes)
        self.conv1 = SymmetricConv2d(in_planes, out_planes, 3, stride=stride)
        self.bn2 = bn(out_planes)
        self.conv2 = SymmetricConv2d(out_planes, out_planes, 3)
        self.dropout = dropout
        self.shortcut = (None if in_planes == out_planes and stride == 1
                         else nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = F.relu(self.bn2(out))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        out = self.conv2(out)
        return out + (x if self.shortcut is None else self.shortcut(pre))


class CPCWideResNet(nn.Module):
    """Pre-activation WRN with conditional BN and symmetric padding, shared by the classifier and
    the CPC patch encoder (ahmed2020 Appendix C).

    ``stem`` (3×3 conv, ``stem_channels``, stride ``stem_stride``; optional 2×2 average pool) →
    groups g = 1..G of ``blocks_per_group`` blocks of width ``widths[g]`` (first block stride
    ``strides[g]``) → conditional BN → ReLU → global average pool → ``fc``.

    * :meth:`features` (N, ``feature_dim``) and ``forward`` (logits) run the whole network;
    * :meth:`encode_patches` runs the stem and the first ``encoder_groups`` groups (the paper's
      "first three blocks") and mean-pools: (M, ``code_dim``) codes for M patches;
    * :meth:`set_task` switches every conditional BN layer (the classification and CPC steps
      use different γ_t, β_t and, by default, running statistics).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, stem_channels: int = 16,
                 widths: Sequence[int] = (64, 128, 256, 256), blocks_per_group: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2), stem_stride: int = 2, stem_pool: bool = True,
                 encoder_groups: int = 3, dropout: float = 0.0, tasks: Sequence[str] = TASKS,
                 per_task_stats: bool = True) -> None:
        super().__init__()
        if len(widths) != len(strides):
            raise ValueError("widths and strides need one entry per group")
        if not 1 <= encoder_groups <= len(widths):
            raise ValueError(f"encoder_groups must be in 1..{len(widths)}, got {encoder_groups}")
        self.tasks = tuple(tasks)
        self.task = self.tasks[0]

        def bn(c: int) -> ConditionalBatchNorm2d:
            return ConditionalBatchNorm2d(c, self.tasks, per_task_stats=per_task_stats)

        self.conv1 = SymmetricConv2d(in_channels, stem_channels, 3, stride=stem_stride)
        self.pool = nn.AvgPool2d(2, 2) if stem_pool else nn.Identity()
        groups, prev = [], stem_channels
        for width, stride in zip(widths, strides):
            blocks = [_CBlock(prev if i == 0 else width, width, stride if i == 0 else 1, dropout, bn)
                      for i in range(blocks_per_group)]
            groups.append(nn.Sequential(*blocks))
            prev = width
        self.groups = nn.ModuleList(groups)
        self.bn = bn(prev)
        self.fc = nn.Linear(prev, num_classes)
        self.feature_dim = prev
        self.encoder_groups = encoder_groups
        self.code_dim = widths[encoder_groups - 1]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.Linear):
                m.bias.data.zero_()

    def set_task(self, name: str) -> None:
        """Make ``name`` the active task of every conditional BN layer."""
        if name not in self.tasks:
            raise ValueError(f"unknown task {name!r}; this network knows {', '.join(self.tasks)}")
        self.task = name
        for m in self.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.set_task(name)

    def _trunk(self, x: torch.Tensor, n_groups: int) -> torch.Tensor:
        out = self.pool(self.conv1(x))
        for group in self.groups[:n_groups]:
            out = group(out)
        return out

    def encode_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """CPC codes z = g_enc(patch): the stem and the first ``encoder_groups`` groups, mean-pooled
        over space ([39]); (M, C, P, P) → (M, ``code_dim``). These are the raw (unnormalised)
        pooled codes; the CPC task divides them by their L2 norm before scoring (our choice, for a
        stable λ = 10 step: :mod:`adlib.papers.ahmed2020.cpc`, "Unit-normalised codes and contexts")."""
        return self._trunk(patches, self.encoder_groups).mean(dim=(2, 3))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self._trunk(x, len(self.groups))))
        return out.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("wrn_imagenet_cpc")
def wrn_imagenet_cpc(num_classes: int = 10, in_channels: int = 3, per_task_stats: bool = True,
                     tasks: Sequence[str] = TASKS) -> CPCWideResNet:
    """ahmed2020's ImageNet-subset network for CPC (Appendix C; spec §6): 16-channel stride-2 stem,
    2×2 average pool, 4 groups × 4 blocks of widths 64/128/256/256, strides 1/2/2/2, no dropout,
    conditional BN and symmetric padding everywhere; encoder = first 3 groups (256-d codes)."""
    return CPCWideResNet(num_classes, in_channels, 16, (64, 128, 256, 256), 4, (1, 2, 2, 2),
                         stem_stride=2, stem_pool=True, encoder_groups=3, dropout=0.0, tasks=tasks,
                         per_task_stats=per_task_stats)


@register_model("wrn_cpc_cpu")
def wrn_cpc_cpu(num_classes: int = 10, in_channels: int = 1, per_task_stats: bool = True,
                tasks: Sequence[str] = TASKS) -> CPCWideResNet:
    """The reduced CPC network for 28×28 grayscale (spec §8.1 "(T6 + Appendix C)" (b)): 16-channel
    stride-1 stem without pooling, 4 groups × 1 block of widths 16/32/64/64, strides 1/2/2/2, no
    dropout; encoder = first 3 groups (64-d codes of the 8×8 patches)."""
    return CPCWideResNet(num_classes, in_channels, 16, (16, 32, 64, 64), 1, (1, 2, 2, 2),
                         stem_stride=1, stem_pool=False, encoder_groups=3, dropout=0.0, tasks=tasks,
                         per_task_stats=per_task_stats)

"""Contrastive predictive coding (CPC, van den Oord et al. 2018 [39]) as ahmed2020's auxiliary task
(§4 "CPC as an auxiliary task", Appendix C, Table 6; spec §2.5, §6 and §8.1 "(T6 + Appendix C)").

Each image is cut into a grid of overlapping patches; the shared network's first three groups
encode every patch into a code z_{i,j} (:meth:`CPCWideResNet.encode_patches
<adlib.models.wrn_cpc.CPCWideResNet.encode_patches>`); a masked (row-causal) context network
summarises the rows at or above i into c_{i,j}; linear predictors W_k score every candidate code
against the prediction W_k c_{i,j} for the patch k rows below, and the InfoNCE loss of [39]
(spec §2.5)

    ℓ_CPC = − Σ_k Σ_{i,j} log [ exp(z_{i+k,j}ᵀ W_k c_{i,j}) / Σ_{z_l ∈ Z_neg ∪ {z_{i+k,j}}} exp(z_lᵀ W_k c_{i,j}) ]

separates the true code from the negatives — **only patches of the same image** (Appendix C:
"batch-normalization allows trivial solutions to CPC for patches sampled from different images as
noted in [45], we only use patches from within the same image"). The paper's preceding paragraph
says the negatives "are taken from patches within and across images in the batch"; that sentence
describes CPC in general, and the implementation detail that follows it (same image only) is the
one used here.

Choices the paper leaves open (taken from [39] where it says, otherwise ours; all documented):

* **Patch grid.** ``paper``: 64×64 patches with a 32-px stride, as in [39] (which cuts 256×256
  crops into a 7×7 grid); on ahmed2020's 224×224 training crop that is a 6×6 grid. ``cpu``:
  8×8 patches with stride 4 on 28×28 images, also a 6×6 grid (spec §8.1). The grid is as large as
  the input allows, ((H − P) // S + 1)²; when that leaves spare pixels (< S per dimension) the grid
  is placed at a random offset in training (drawn with ``generator``) and centred in eval mode.
  Both scales' inputs fit exactly, so the offset is 0 there. No per-patch augmentation (that is
  [45]'s addition, not [39]'s).
* **Candidates.** Every patch of the same image, the positive included: R·C candidates per
  prediction (36 for a 6×6 grid), so the chance value of the loss is log(R·C) (:attr:`CPCTask.chance`).
* **Context network.** [39] says only "a PixelCNN-style autoregressive model". Here: a stack of
  ``context_blocks`` residual blocks h ← h + conv1×1(ReLU(conv_causal(ReLU(h)))), where conv_causal
  is a 3×3 convolution over the grid that sees only rows ≤ i (2 zero rows padded on top, none
  below; 1 zero column on each side), so c_{i,j} depends on z_{u,·} for u ≤ i only, with a
  receptive field that grows upward and sideways with depth. It starts from c⁰ = z (context
  dimension = code dimension) and has no batch normalisation (so the CPC head adds no batch
  statistics); its output is unit-normalised (next item). Zero padding is used here (not
  symmetric): symmetric padding on top would let row 0 see row 1. ``paper``: 3 blocks; ``cpu``: 2 blocks.
* **Unit-normalised codes and contexts.** The score is the paper's bilinear zᵀ W_k c with
  z = ẑ / ‖ẑ‖ (ẑ the pooled encoder output, :meth:`CPCTask.codes`) and c = g_ar(z) / ‖g_ar(z)‖
  (:meth:`CPCTask.predictions`), L2 over the channel dimension, per patch (:func:`unit_normalise`).
  The paper and [39] give the score but not the scale of z and c; the raw pooled group-3 output
  is the unnormalised pre-activation residual stream (‖ẑ‖ ≈ 8 at ``cpu`` scale at init), and
  with it the paper's optimiser diverges: the score is quadratic in the codes, the CPC step's
  effective learning rate is λ·lr = 10 × 0.1 = 1 and the gradient w.r.t. W_k scales with
  ‖ẑ‖·‖c‖ ≈ 60, so the first step alone moves the W_k from 0 to norm ≈ 9 and the scores to
  ±1.4·10³; the next step feeds logits that large back into the encoder, which grows the codes
  (‖ẑ‖ ≈ 4·10⁴), and ℓ_CPC reaches ≈ 8·10¹⁴ on the third step and NaN on the fourth (the smoke
  run; also at λ = 1). Normalising both sides makes the score linear in W_k with
  features of norm 1: |zᵀ W_k c| ≤ ‖W_k‖, the gradient w.r.t. each W_k has norm ≤ 2, and the
  encoder gets scale-free gradients, so λ = 10 and SGD lr 0.1 train stably. This is our choice, in
  the spirit of [45] (which puts layer normalisation in its CPC encoder) and of the many
  CPC/InfoNCE implementations that normalise the embeddings before the scores; unlike
  cosine-similarity InfoNCE there is no temperature: the scale of the scores is learned in W_k.
* **Offsets.** k = 1..K rows below; [39] predicts up to 5 rows, so ``paper`` uses K = 5 (on a 6-row
  grid only the top row predicts 5 rows ahead); ``cpu`` uses K = 2 (spec §8.1). Each W_k is a
  bias-free Linear(context dim → code dim), **initialised to zero** (ours): every score is 0 at the
  start, so ℓ_CPC starts exactly at its chance value, and the first λ = 10 steps do not push
  random-predictor gradients into the shared network. (With W_k = 0 the first step's gradient
  reaches only the W_k.)
* **Averaging.** ℓ_CPC is averaged over every valid (image, k, i, j) term (i + k < R), i.e. the
  sum of the formula above divided by its number of terms; offsets with more valid rows weigh more.
* **Code.** The mean-pooled output of the network's first three groups (256-d in ``paper``, 64-d in
  ``cpu``), unit-normalised (above), with no extra projection.

The batch-norm statistics of the CPC step: the network's :class:`ConditionalBatchNorm2d` keeps
per-task running statistics (spec §2.5's recommendation), so the CPC step updates only the
``cpc`` row and the classifier's eval-mode statistics stay those of whole images. The multi-task
loop's ``aux_bn_stats="frozen"`` (:func:`~adlib.papers.ahmed2020.multitask.frozen_bn_stats`)
acts on ``nn.BatchNorm`` layers only and so leaves these layers alone; freezing is not needed
here, and it played no part in the divergence above.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from adlib.models.wrn_cpc import (  # re-exported: the CPC building blocks of ahmed2020
    TASKS,
    ConditionalBatchNorm2d,
    CPCWideResNet,
    SymmetricConv2d,
    symmetric_pad2d,
    wrn_cpc_cpu,
    wrn_imagenet_cpc,
)

from adlib.papers.ahmed2020.multitask import AuxiliaryTask


__all__ = [
    "TASKS", "ConditionalBatchNorm2d", "SymmetricConv2d", "symmetric_pad2d", "CPCWideResNet",
    "wrn_imagenet_cpc", "wrn_cpc_cpu", "AuxiliaryTask", "CPC_SCALES", "CPC_NETWORKS", "grid_shape",
    "extract_patches", "cpc_infonce", "unit_normalise", "RowCausalConv2d", "CPCContext", "CPCTask",
]

CPC_SCALES: dict[str, dict] = {
    "paper": dict(patch_size=64, stride=32, offsets=5, context_blocks=3, image_size=224),
    "cpu": dict(patch_size=8, stride=4, offsets=2, context_blocks=2, image_size=28),
}
"""Per-scale CPC settings (module docstring): patch size/stride, K, context depth, input size."""

CPC_NETWORKS: dict[str, str] = {"paper": "wrn_imagenet_cpc", "cpu": "wrn_cpc_cpu"}
"""The registered network (``adlib.models.create_model`` name) of each scale."""


# ---------------------------------------------------------------------------------------------
# Patches and the loss
# ---------------------------------------------------------------------------------------------


def unit_normalise(v: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """v / max(‖v‖, eps) over the last dimension: the unit-norm codes and contexts of the CPC
    scores (module docstring, "Unit-normalised codes and contexts"; our choice, not the paper's)."""
    return F.normalize(v, p=2.0, dim=-1, eps=eps)


def grid_shape(height: int, width: int, patch_size: int, stride: int) -> tuple[int, int]:
    """Rows and columns of the patch grid: ((H − P) // S + 1, (W − P) // S + 1)."""
    if height < patch_size or width < patch_size:
        raise ValueError(f"a {height}×{width} image is smaller than one {patch_size}-px patch")
    return (height - patch_size) // stride + 1, (width - patch_size) // stride + 1


def extract_patches(x: torch.Tensor, patch_size: int, stride: int, offset: tuple[int, int] = (0, 0)
                    ) -> torch.Tensor:
    """Cut images (N, C, H, W) into the overlapping grid starting at ``offset`` (top, left):
    (N, R, Cg, C, P, P), patch (i, j) = x[:, :, top + i·S : top + i·S + P, left + j·S : … + P]."""
    top, left = offset
    rows, cols = grid_shape(x.shape[2] - top, x.shape[3] - left, patch_size, stride)
    span_h, span_w = (rows - 1) * stride + patch_size, (cols - 1) * stride + patch_size
    x = x[:, :, top:top + span_h, left:left + span_w]
    p = x.unfold(2, patch_size, stride).unfold(3, patch_size, stride)  # (N, C, R, Cg, P, P)
    return p.permute(0, 2, 3, 1, 4, 5)


def cpc_infonce(z: torch.Tensor, predictions: Sequence[torch.Tensor], reduction: str = "mean"
                ) -> torch.Tensor:
    """The InfoNCE loss of [39] with same-image candidates (ahmed2020 Appendix C; spec §2.5).

    ``z`` (N, R, C, D): the codes of each image's R×C patch grid. ``predictions[k − 1]``
    (N, R − k, C, D): W_k c_{i,j} for the rows i = 0..R − k − 1 that have a target k rows below.
    The score of candidate l for prediction (n, k, i, j) is z_{n,l}ᵀ W_k c_{n,i,j}, over the R·C
    patches l of image n only; the positive is l = (i + k, j). Returns the mean over all
    (n, k, i, j) terms (``"mean"``) or the per-image mean over its terms, shape (N,) (``"none"``).
    """
    n, rows, cols, d = z.shape
    cand = z.reshape(n, rows * cols, d)
    losses = []
    for k, pred in enumerate(predictions, start=1):
        if pred.shape != (n, rows - k, cols, d):
            raise ValueError(f"predictions for offset {k} must have shape {(n, rows - k, cols, d)}, "
                             f"got {tuple(pred.shape)}")
        logits = torch.einsum("nijd,nld->nijl", pred, cand)  # (N, R − k, C, R·C)
        target = (torch.arange(k, rows, device=z.device)[:, None] * cols
                  + torch.arange(cols, device=z.device)[None, :])  # (R − k, C): index of z_{i+k,j}
        target = target.expand(n, -1, -1)
        ce = F.cross_entropy(logits.reshape(-1, rows * cols).float(), target.reshape(-1), reduction="none")
        losses.append(ce.reshape(n, -1))
    per_term = torch.cat(losses, dim=1)  # (N, number of terms per image)
    if reduction == "mean":
        return per_term.mean()
    if reduction == "none":
        return per_term.mean(dim=1)
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


# ---------------------------------------------------------------------------------------------
# Context network
# ---------------------------------------------------------------------------------------------


class RowCausalConv2d(nn.Conv2d):
    """A k×k convolution over the patch grid whose output row i sees input rows i − k + 1 .. i
    only (k − 1 zero rows padded on top, none below; (k − 1) // 2 zero columns on each side)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size[0]
        return super().forward(F.pad(x, ((k - 1) // 2, (k - 1) // 2, k - 1, 0)))


class CPCContext(nn.Module):
    """PixelCNN-style context network g_ar over the code grid (module docstring): ``blocks``
    residual blocks h ← h + conv1×1(ReLU(RowCausalConv(ReLU(h)))), from h⁰ = z. Input and output
    (N, D, R, C); c_{i,j} depends on rows ≤ i only."""

    def __init__(self, dim: int, blocks: int = 3, kernel_size: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"causal": RowCausalConv2d(dim, dim, kernel_size), "mix": nn.Conv2d(dim, dim, 1)})
            for _ in range(blocks)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for block in self.blocks:
            h = h + block["mix"](F.relu(block["causal"](F.relu(h))))
        return h


# ---------------------------------------------------------------------------------------------
# The auxiliary task
# ---------------------------------------------------------------------------------------------


class CPCTask(AuxiliaryTask):
    """CPC auxiliary task of ahmed2020 (Appendix C): patch grid → ``model.net.encode_patches`` →
    unit norm → :class:`CPCContext` → unit norm → predictors W_1..W_K → :func:`cpc_infonce` with
    same-image negatives (the unit norms are ours, module docstring).

    ``loss(model, x, generator)`` is the unweighted ℓ_CPC of the (normalised, augmented) batch
    ``x``; the caller weighs it by λ (10.0 in the paper) and runs it inside
    ``with model.task("cpc"):`` so the shared network's conditional BN layers use the CPC
    parameters and statistics. The task owns the context network and the W_k.
    """

    name = "cpc"

    def __init__(self, code_dim: int, patch_size: int = 64, stride: int = 32, offsets: int = 5,
                 context_blocks: int = 3, image_size: int | tuple[int, int] = 224) -> None:
        super().__init__()
        self.code_dim, self.patch_size, self.stride, self.offsets = code_dim, patch_size, stride, offsets
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        rows, _ = grid_shape(*self.image_size, patch_size, stride)
        if not 1 <= offsets < rows:
            raise ValueError(f"offsets must be in 1..{rows - 1} for a {rows}-row grid, got {offsets}")
        self.context = CPCContext(code_dim, context_blocks)
        self.predictors = nn.ModuleList(nn.Linear(code_dim, code_dim, bias=False) for _ in range(offsets))
        for w in self.predictors:  # every score 0 at the start: ℓ_CPC = chance exactly (docstring)
            nn.init.zeros_(w.weight)

    @classmethod
    def for_scale(cls, scale: str, code_dim: int) -> "CPCTask":
        """The task at ``scale`` ("paper" or "cpu", :data:`CPC_SCALES`) for codes of ``code_dim``
        (the network's ``code_dim``)."""
        if scale not in CPC_SCALES:
            raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(CPC_SCALES)}")
        return cls(code_dim, **CPC_SCALES[scale])

    def grid(self, height: int | None = None, width: int | None = None) -> tuple[int, int]:
        """Patch-grid shape (rows, cols) for an input size (default: ``image_size``)."""
        h = self.image_size[0] if height is None else height
        w = self.image_size[1] if width is None else width
        return grid_shape(h, w, self.patch_size, self.stride)

    def chance_value(self, height: int | None = None, width: int | None = None) -> float:
        """log(number of candidates) = log(R·C): the loss of scores that cannot tell the patches apart."""
        rows, cols = self.grid(height, width)
        return math.log(rows * cols)

    @property
    def chance(self) -> float:
        """:meth:`chance_value` at ``image_size`` (log 36 ≈ 3.58 for both scales)."""
        return self.chance_value()

    def _offset(self, x: torch.Tensor, generator: torch.Generator | None) -> tuple[int, int]:
        rows, cols = self.grid(x.shape[2], x.shape[3])
        spare_h = x.shape[2] - (rows - 1) * self.stride - self.patch_size
        spare_w = x.shape[3] - (cols - 1) * self.stride - self.patch_size
        if not self.training or spare_h == spare_w == 0:
            return spare_h // 2, spare_w // 2
        device = generator.device if generator is not None else "cpu"
        draw = torch.randint(0, 1 << 30, (2,), generator=generator, device=device).tolist()
        return draw[0] % (spare_h + 1), draw[1] % (spare_w + 1)

    def codes(self, model, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """z: the unit-norm codes (N, R, C, D) of every image's patch grid: ``model.net.encode_patches``
        (the paper's "first three blocks", pooled) divided by its L2 norm (ours; module docstring)."""
        patches = extract_patches(x, self.patch_size, self.stride, self._offset(x, generator))
        n, rows, cols = patches.shape[:3]
        z = model.net.encode_patches(patches.reshape(n * rows * cols, *patches.shape[3:]))
        return unit_normalise(z.reshape(n, rows, cols, -1))

    def predictions(self, z: torch.Tensor) -> list[torch.Tensor]:
        """[W_k c_{i,j} for rows i < R − k] for k = 1..K, each (N, R − k, C, D), with the unit-norm
        context c = g_ar(z) / ‖g_ar(z)‖ (ours; module docstring)."""
        c = unit_normalise(self.context(z.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))  # (N, R, C, D)
        rows = z.shape[1]
        return [w(c[:, :rows - k]) for k, w in enumerate(self.predictors, start=1)]

    def image_losses(self, model, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-image ℓ_CPC (N,): each image's mean over its (k, i, j) terms."""
        z = self.codes(model, x, generator)
        return cpc_infonce(z, self.predictions(z), reduction="none")

    def loss(self, model, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        z = self.codes(model, x, generator)
        return cpc_infonce(z, self.predictions(z))

"""Multi-task training with a self-supervised auxiliary task (ahmed2020 §4, eq. (5)).

ℓ_combined(θ) = ℓ_primary(θ) + λ · ℓ_auxiliary(θ)   (5)

"In practice, we alternate between the two updates rather than taking one global step" (§4): every
iteration takes an SGD step on the classification cross-entropy (trunk + W_cls), then one on
λ · ℓ_aux (trunk + the auxiliary head). The classifier never sees a rotated image and the rotation
head never sees a class label: this is *not* data augmentation.

Choices the paper leaves open (spec §2.3, §2.4, §8.2), fixed here and documented in the book:

* **Same minibatch.** Step 2 uses the same augmented minibatch as step 1 (before masking).
* **One optimiser.** A single ``torch.optim.SGD`` (Nesterov) for both steps, ``zero_grad(set_to_none=True)``
  before each, so the head a step does not use gets no weight-decay or momentum update; the trunk's
  weight decay and momentum act in both steps. One learning-rate schedule for both ("decayed along
  with the learning rate for the classifier at the same scales").
* **All four transforms per image** (Gidaris et al.'s [40] 4× batch), ``rotations_per_image=1``
  draws one per image (¼ the auxiliary cost).
* **BatchNorm running statistics** (spec §8.2-1): ``aux_bn_stats="frozen"`` (default) keeps the
  running mean/variance out of the auxiliary step (batch statistics are still used in its forward
  pass), so the eval-mode statistics are those of upright, classification-step images;
  ``"shared"`` lets the rotated batches update them too (the naive reading, which collapsed the
  accuracy on 8×8 digits in the spec's pilot).
* **Auxiliary transforms.** ``"rotation"``: the paper's rotations by 0°, 90°, 180°, 270°
  (``torch.rot90``). ``"flip_transpose"``: what the authors' public code does instead — identity,
  vertical flip, transpose, transpose then vertical flip (only the last is a true rotation).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from adlib.train import ImagePipeline, read_checkpoint, restore_training_state, save_training_state

AUX_TRANSFORMS: tuple[str, ...] = ("rotation", "flip_transpose")
AUX_BN_STATS: tuple[str, ...] = ("frozen", "shared")
CLASSIFICATION = "classification"


def aux_transform(x: torch.Tensor, r: int, transforms: str = "rotation") -> torch.Tensor:
    """Transform ``r`` ∈ {0, 1, 2, 3} of an image batch (N, C, H, W), contiguous.

    ``"rotation"``: rotation by r·90° (counter-clockwise, ``torch.rot90`` on H, W) — the paper.
    ``"flip_transpose"``: identity, vertical flip, transpose, transpose + vertical flip — the
    authors' public code.
    """
    if transforms not in AUX_TRANSFORMS:
        raise ValueError(f"unknown auxiliary transforms {transforms!r}; valid: {', '.join(AUX_TRANSFORMS)}")
    if isinstance(r, bool) or not isinstance(r, int) or r not in (0, 1, 2, 3):
        raise ValueError(f"transform index must be an int 0..3, got {r!r}")
    if transforms == "rotation":
        out = torch.rot90(x, r, dims=(2, 3))
    else:
        out = (x, x.flip(2), x.transpose(2, 3), x.transpose(2, 3).flip(2))[r]
    return out.contiguous()


class AuxiliaryTask(nn.Module):
    """A self-supervised auxiliary task with its own head(s), trained in the alternating step."""

    name: str = "aux"

    def loss(self, model: "MultiTaskNet", x: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:  # pragma: no cover - abstract
        """ℓ_aux (unweighted) of a normalised, augmented batch ``x``."""
        raise NotImplementedError


class RotationTask(AuxiliaryTask):
    """Predict which of 4 transforms was applied (rotation prediction, Gidaris et al. [40]).

    ℓ_aux = E_x[(1/4) Σ_r −log softmax(W_rot · h_θ(T_r(x)))_r] with a linear 4-way head W_rot on the
    shared pooled features h_θ ("an extra linear layer alongside the one that is responsible for
    object recognition", §4). With ``rotations_per_image=1`` each image gets one random r instead.
    """

    name = "rotation"

    def __init__(self, feature_dim: int, transforms: str = "rotation", rotations_per_image: int = 4) -> None:
        super().__init__()
        if transforms not in AUX_TRANSFORMS:
            raise ValueError(f"unknown auxiliary transforms {transforms!r}; valid: {', '.join(AUX_TRANSFORMS)}")
        if rotations_per_image not in (1, 4):
            raise ValueError(f"rotations_per_image must be 1 or 4, got {rotations_per_image!r}")
        self.transforms = transforms
        self.rotations_per_image = int(rotations_per_image)
        self.head = nn.Linear(feature_dim, 4)

    def batch(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The transformed batch and its targets."""
        if self.rotations_per_image == 4:
            xs = torch.cat([aux_transform(x, r, self.transforms) for r in range(4)])
            targets = torch.arange(4, device=x.device).repeat_interleave(len(x))
            return xs, targets
        if x.shape[2] != x.shape[3]:
            raise ValueError("rotations_per_image=1 needs square images")
        r = torch.randint(0, 4, (len(x),), generator=generator).to(x.device)
        xs = torch.empty_like(x)
        for k in range(4):
            sel = r == k
            if sel.any():
                xs[sel] = aux_transform(x[sel], k, self.transforms)
        return xs, r

    def loss(self, model: "MultiTaskNet", x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        xs, targets = self.batch(x, generator)
        return F.cross_entropy(self.head(model.net.features(xs)).float(), targets)


class MultiTaskNet(nn.Module):
    """A classifier ``net`` (``features``, ``feature_dim``, ``fc``) and an optional auxiliary task.

    ``forward`` is the classifier's logits, so every logit detector (MSP, ODIN) scores it.
    """

    def __init__(self, net: nn.Module, aux: AuxiliaryTask | None = None) -> None:
        super().__init__()
        for attr in ("features", "feature_dim", "fc"):
            if not hasattr(net, attr):
                raise TypeError(f"{type(net).__name__} has no {attr!r}; a MultiTaskNet needs a classifier with "
                                "features(x), feature_dim and fc")
        self.net = net
        self.aux = aux

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @contextlib.contextmanager
    def task(self, name: str) -> Iterator[None]:
        """Switch task-conditional layers (modules with ``set_task``, e.g. CPC's conditional BN) to
        ``name`` for the block, back to classification after."""
        switchable = [m for m in self.net.modules() if hasattr(m, "set_task")]
        for m in switchable:
            m.set_task(name)
        try:
            yield
        finally:
            for m in switchable:
                m.set_task(CLASSIFICATION)


@contextlib.contextmanager
def frozen_bn_stats(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers of ``module`` use batch statistics but do not update their running ones
    (momentum 0: running = 1·running + 0·batch) inside the block."""
    saved = []
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            saved.append((m, m.momentum, m.num_batches_tracked.clone()))
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


def random_centre_mask(x: torch.Tensor, size: int, window: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero a ``size``×``size`` square lying inside the central ``window``×``window`` region (§5.2).

    "We randomly mask out a 16×16 region in CIFAR-10 images from within the central 21×21 region":
    read as the square fully inside the window, whose top-left corner starts at
    ``(H − window) // 2`` (5 for 32 px and 21; 5 for 28 px and 18) and is uniform over the
    ``window − size + 1`` positions per axis, one draw per image. Fill 0 after normalisation (Cutout).
    """
    n, _, h, w = x.shape
    if not 0 < size <= window <= min(h, w):
        raise ValueError(f"need 0 < size <= window <= image side; got size={size}, window={window}, image {h}x{w}")
    top, left = (h - window) // 2, (w - window) // 2
    span = window - size + 1
    dy = torch.randint(0, span, (n,), generator=generator).to(x.device) + top
    dx = torch.randint(0, span, (n,), generator=generator).to(x.device) + left
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((rows >= dy.view(-1, 1, 1)) & (rows < dy.view(-1, 1, 1) + size)
              & (cols >= dx.view(-1, 1, 1)) & (cols < dx.view(-1, 1, 1) + size))
    return x.masked_fill(inside.unsqueeze(1), 0.0)


@dataclass(frozen=True)
class MultiTaskSpec:
    """Optimisation settings (defaults: the paper's CIFAR-10 recipe, spec §6, except the length).

    SGD with Nesterov momentum 0.9, lr 0.1, weight decay 5e-4 (WRN's; the paper says the
    regulariser follows [43]), the learning rate multiplied by ``lr_gamma`` = 0.2 at each epoch in
    ``lr_milestones`` (the paper's 60/120/160 of 200), batch 128. ``aux_weight`` is λ of eq. (5)
    (0.5 for CIFAR-10, 1.0 for STL-10). ``mask_size`` > 0 turns on random-centre masking of the
    classification step's images (§5.2).
    """

    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    lr_milestones: tuple[int, ...] = (60, 120, 160)
    lr_gamma: float = 0.2
    aux_weight: float = 0.5
    aux_bn_stats: str = "frozen"
    mask_size: int = 0
    mask_window: int = 0
    amp: bool = True  # bfloat16 autocast, on CUDA only

    def __post_init__(self) -> None:
        if self.aux_bn_stats not in AUX_BN_STATS:
            raise ValueError(f"unknown aux_bn_stats {self.aux_bn_stats!r}; valid: {', '.join(AUX_BN_STATS)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if self.aux_weight < 0:
            raise ValueError(f"aux_weight (λ) must be >= 0, got {self.aux_weight}")
        if self.mask_size and not 0 < self.mask_size <= self.mask_window:
            raise ValueError(f"mask_size must be in 1..mask_window, got {self.mask_size} (window {self.mask_window})")
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lr_milestones"] = list(out["lr_milestones"])
        return out


@dataclass
class MultiTaskHistory:
    """Per-epoch mean losses (classification; auxiliary, empty without an auxiliary step), per-epoch
    evaluations, resume point."""

    losses: list[float] = field(default_factory=list)
    aux_losses: list[float] = field(default_factory=list)
    epoch_metrics: list[dict[str, float]] = field(default_factory=list)
    resumed_from_epoch: int | None = None


def train_multitask(
    model: MultiTaskNet,
    images: torch.Tensor,
    labels: torch.Tensor,
    spec: MultiTaskSpec,
    *,
    seed: int,
    pipeline: ImagePipeline = ImagePipeline(),
    device: torch.device | str = "cpu",
    checkpoint_path: Path | None = None,
    checkpoint_key: str = "",
    progress: bool = True,
    desc: str = "train",
    evaluate: Callable[[MultiTaskNet], dict[str, float]] | None = None,
) -> MultiTaskHistory:
    """Train ``model`` in place by alternating classification and auxiliary steps (module docstring).

    ``images`` are uint8 (N, [C,] H, W) held in memory; ``labels`` the (K−1)-way targets. Batches
    follow a seeded permutation per epoch. ``evaluate(model)`` (in eval mode, after every epoch)
    returns metrics logged in ``history.epoch_metrics`` (Figure 1's curves). With
    ``checkpoint_path`` a checkpoint is written after every epoch; a run resumes after its last
    finished epoch and ends bit-identical on the CPU.
    """
    device = torch.device(device) if isinstance(device, str) else device
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise ValueError("no training images")
    model.to(device)
    x_all, y_all = images.to(device), labels.to(device)
    steps_per_epoch = math.ceil(len(x_all) / spec.batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum, nesterov=spec.nesterov,
                                weight_decay=spec.weight_decay)

    def multistep(step: int) -> float:
        return spec.lr_gamma ** sum(step >= m * steps_per_epoch for m in spec.lr_milestones)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, multistep)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    history = MultiTaskHistory()
    start_epoch = 0
    state = None if checkpoint_path is None else read_checkpoint(checkpoint_path, checkpoint_key, spec, device)
    if state is not None:
        start_epoch = restore_training_state(state, model, optimizer, scheduler, gen)
        history.losses = list(state["losses"])
        history.aux_losses = list(state["aux_losses"])
        history.epoch_metrics = [dict(m) for m in state["epoch_metrics"]]
        history.resumed_from_epoch = start_epoch
    aux = model.aux if spec.aux_weight > 0 else None
    use_amp = spec.amp and device.type == "cuda"
    bar = tqdm(range(start_epoch, spec.epochs), desc=desc, disable=not progress, leave=False,
               initial=start_epoch, total=spec.epochs)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(x_all), generator=gen).to(device)
        running = aux_running = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * spec.batch_size:(step + 1) * spec.batch_size]
            x = pipeline(x_all[idx], train=True, generator=gen)
            x_cls = random_centre_mask(x, spec.mask_size, spec.mask_window, gen) if spec.mask_size else x
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = F.cross_entropy(model(x_cls).float(), y_all[idx])
            _check_finite(loss, desc, epoch, step, spec)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(idx)
            if aux is not None:
                bn = frozen_bn_stats(model.net) if spec.aux_bn_stats == "frozen" else contextlib.nullcontext()
                with model.task(aux.name), bn, torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                                              enabled=use_amp):
                    aux_loss = aux.loss(model, x, gen)
                _check_finite(aux_loss, desc, epoch, step, spec)
                optimizer.zero_grad(set_to_none=True)
                (spec.aux_weight * aux_loss).backward()
                optimizer.step()
                aux_running += aux_loss.item() * len(idx)
            scheduler.step()
        history.losses.append(running / len(x_all))
        if aux is not None:
            history.aux_losses.append(aux_running / len(x_all))
        if evaluate is not None:
            model.eval()
            history.epoch_metrics.append({k: float(v) for k, v in evaluate(model).items()})
        bar.set_postfix(loss=f"{history.losses[-1]:.4f}")
        if checkpoint_path is not None:
            save_training_state(checkpoint_path, checkpoint_key, spec, epoch + 1, model, optimizer, scheduler, gen,
                                losses=history.losses, aux_losses=history.aux_losses,
                                epoch_metrics=history.epoch_metrics)
    model.eval()
    return history


def _check_finite(loss: torch.Tensor, desc: str, epoch: int, step: int, spec: MultiTaskSpec) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{desc}: non-finite loss ({loss.item()}) at epoch {epoch + 1}, step {step + 1}; "
                                 f"lower the learning rate (lr={spec.lr}) or λ (aux_weight={spec.aux_weight})")

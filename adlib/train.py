"""The training loop shared by every paper: device choice, determinism, tensors in memory,
batched augmentation, mixed precision on CUDA, per-epoch checkpoints and resumption.

Determinism contract: on the CPU, the same :class:`TrainSpec`, data, seed and thread count
give bit-identical weights, whether the run went through in one go or was interrupted and
resumed from its last epoch checkpoint (the checkpoint carries every RNG state).
"""

from __future__ import annotations

import math
import os
import random
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from adlib.atomic import atomic_write, quarantine
from adlib.losses import autoencoder_loss, branch_outlier_exposure_term, confidence_branch_loss, deepmad_loss, \
    drocc_adversarial_search, drocc_loss, outlier_exposure_loss, update_confidence_lambda


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU; otherwise the named device.

    Asking for a device that is not there is an error that says what is available.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available here; use 'cpu' or 'auto'")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {name!r} requested but MPS is not available here; use 'cpu' or 'auto'")
    return dev


def checkpoint_dir(paper: str) -> Path:
    """Where a paper's training checkpoints go: ``$ADLIB_CHECKPOINTS/<paper>`` (default
    ``checkpoints/<paper>`` in the repository)."""
    from adlib.results import REPO_ROOT

    return Path(os.environ.get("ADLIB_CHECKPOINTS", REPO_ROOT / "checkpoints")) / paper


def progress_enabled() -> bool:
    """Whether training loops show progress bars (``ADLIB_PROGRESS=0`` turns them off, as sweep
    workers do)."""
    return os.environ.get("ADLIB_PROGRESS", "1") != "0"


def seed_everything(seed: int, threads: int | None = None) -> None:
    """Seed Python, NumPy and torch; pin the torch thread count (results depend on it)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


@dataclass(frozen=True)
class ImagePipeline:
    """Turns a uint8 image batch (N, C, H, W) on the device into model input, batched.

    ``mean``/``std`` (in [0, 1] units) standardise per channel; ``crop_padding`` > 0 applies
    a random crop with zero padding, ``hflip`` a random horizontal flip and ``pixel_noise``
    additive Gaussian noise of that std (all three in training only),
    the CIFAR augmentation of hendrycks2019, done on tensors rather than PIL images.
    Float batches are taken to be in the model's input space already (the synthetic OOD
    sets are generated there, spec §6.3) and pass through unchanged.
    """

    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    crop_padding: int = 0
    hflip: bool = False
    pixel_noise: float = 0.0  # std of Gaussian pixel noise added in training (ruff2021 App. F)

    def __call__(self, batch: torch.Tensor, *, train: bool = False,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        if batch.dtype != torch.uint8:  # synthetic sets: already in the model's input space
            return (batch.unsqueeze(1) if batch.ndim == 3 else batch).float()
        x = batch.float().div_(255.0)
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if train and (self.crop_padding or self.hflip):
            x = self._augment(x, generator)
        if train and self.pixel_noise:
            x = x + self.pixel_noise * torch.randn(x.shape, generator=generator).to(x.device)
        if self.mean is not None and self.std is not None:
            mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
            std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
            x = (x - mean) / std
        return x

    def _augment(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n, _, h, w = x.shape
        if self.hflip:
            flip = torch.rand(n, generator=generator) < 0.5
            x = torch.where(flip.to(x.device).view(-1, 1, 1, 1), x.flip(3), x)
        p = self.crop_padding
        if p:
            padded = torch.nn.functional.pad(x, (p, p, p, p))
            dy = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
            dx = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
            rows = (dy.view(-1, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
            cols = (dx.view(-1, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w)
            idx_n = torch.arange(n, device=x.device).view(n, 1, 1, 1)
            idx_c = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
            x = padded[idx_n, idx_c, rows, cols]
        return x


@dataclass(frozen=True)
class TrainSpec:
    """Optimisation settings of one training phase (defaults: hendrycks2019's MNIST recipe).

    SGD with Nesterov momentum; the learning rate follows a per-step cosine from ``lr`` to
    ``lr * min_lr_ratio`` (the OE code's ``cosine_annealing``). With ``oe_batch_size`` > 0
    every step concatenates ``batch_size`` in-distribution and ``oe_batch_size`` outlier
    images in ONE forward pass (it matters for BatchNorm) and adds ``oe_weight`` · H(U; p).

    ``optimizer="adam"`` uses Adam (``weight_decay`` as Adam's L2 term) instead; with
    ``lr_milestones`` (epochs) the learning rate is multiplied by 0.1 at each milestone
    (MultiStepLR) instead of the cosine; ``drop_last`` drops an epoch's incomplete last batch
    (ruff2021's recipe: Adam, milestones, 128 + 128 balanced batches, drop_last).
    """

    epochs: int = 10
    batch_size: int = 50
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    min_lr_ratio: float = 1e-6
    oe_batch_size: int = 0
    oe_weight: float = 0.5
    amp: bool = True  # bfloat16 autocast, used on CUDA only
    optimizer: str = "sgd"  # sgd | adam
    lr_milestones: tuple[int, ...] | None = None  # epochs; None: per-step cosine
    drop_last: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.lr_milestones is not None:
            object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))

    def to_dict(self) -> dict:
        """The spec as plain JSON-able data. Fields added after results were first stored
        (:data:`LATER_FIELDS`) are left out while at their defaults, so the stored configs of
        runs that do not use them keep their hashes."""
        out = asdict(self)
        for name, default in LATER_FIELDS.items():
            if out[name] == default:
                del out[name]
        if out.get("lr_milestones") is not None:
            out["lr_milestones"] = list(out["lr_milestones"])
        return out


OPTIMIZERS = ("sgd", "adam")
LATER_FIELDS: dict[str, Any] = {"optimizer": "sgd", "lr_milestones": None, "drop_last": False}


class TrainObjective:
    """The loss of one training step, from the model's outputs on ``[in-batch ; OE-batch]``.

    ``loss(outputs, targets, n_in)``: ``outputs`` of the one forward pass over the concatenated
    batch (the first ``n_in`` rows are in-distribution, ``targets`` their labels). An objective
    with state that changes during training (a multiplier updated per step) updates it in
    ``after_step`` and exposes it through ``state_dict``, which every checkpoint stores.
    """

    #: True for objectives that need the model and the batch itself (an autoencoder's
    #: reconstruction target, DROCC's adversarial search): the loop then calls
    #: :meth:`input_loss` instead of :meth:`loss`.
    uses_inputs: bool = False

    def loss(self, outputs: Any, targets: torch.Tensor, n_in: int) -> torch.Tensor:
        raise NotImplementedError

    def input_loss(self, model: nn.Module, x: torch.Tensor, outputs: Any, targets: torch.Tensor,
                   n_in: int) -> torch.Tensor:
        """The loss from the model, its input batch ``x`` and ``outputs = model(x)``."""
        raise NotImplementedError

    def after_step(self) -> None:
        """Called after every optimizer step."""

    def state_dict(self) -> dict[str, float]:
        return {}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore what :meth:`state_dict` returned."""


class OutlierExposureObjective(TrainObjective):
    """:func:`adlib.losses.outlier_exposure_loss` on logits: CE + λ·H(U; p) on the OE rows."""

    def __init__(self, oe_weight: float = 0.5) -> None:
        self.oe_weight = oe_weight

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, n_in: int) -> torch.Tensor:
        logits = outputs.float()
        return outlier_exposure_loss(logits[:n_in], targets, logits[n_in:] if len(logits) > n_in else None,
                                     self.oe_weight)


class ConfidenceBranchObjective(TrainObjective):
    """DeVries & Taylor's learned-confidence training, optionally with the branch OE term.

    In-distribution rows: :func:`adlib.losses.confidence_branch_loss` with hint mask
    m ~ Bernoulli(``hint_prob``) per sample (drawn from torch's global RNG, which checkpoints
    carry) and multiplier λ_c, updated after every step by the budget rule
    (:func:`adlib.losses.update_confidence_lambda`). OE rows (hendrycks2019 §4.3): adds
    ``oe_weight`` · E[log b(x_out)] (:func:`adlib.losses.branch_outlier_exposure_term`).
    Model outputs are ``(logits, b(x))`` pairs (:mod:`adlib.models.branch`).
    """

    def __init__(self, lmbda: float = 0.1, budget: float = 0.3, oe_weight: float = 0.0,
                 hint_prob: float = 0.5) -> None:
        self.lmbda = float(lmbda)
        self.budget = budget
        self.oe_weight = oe_weight
        self.hint_prob = hint_prob
        self.last_conf_loss = float("nan")

    def loss(self, outputs: tuple[torch.Tensor, torch.Tensor], targets: torch.Tensor, n_in: int) -> torch.Tensor:
        logits, confidence = outputs
        mask = torch.bernoulli(torch.full((n_in,), self.hint_prob)).to(confidence.device)
        total, conf_loss = confidence_branch_loss(logits[:n_in], confidence[:n_in], targets, mask, self.lmbda)
        self.last_conf_loss = float(conf_loss.detach())
        if self.oe_weight and len(confidence) > n_in:
            total = total + self.oe_weight * branch_outlier_exposure_term(confidence[n_in:])
        return total

    def after_step(self) -> None:
        self.lmbda = update_confidence_lambda(self.lmbda, self.last_conf_loss, self.budget)

    def state_dict(self) -> dict[str, float]:
        return {"lmbda": self.lmbda}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.lmbda = float(state["lmbda"])


class NominalVsOutlierObjective(TrainObjective):
    """A one-class objective on ``[nominal ; OE]`` rows (ruff2021's HSC, Deep SAD, BCE, Focal,
    and Deep SVDD with no OE rows): ``loss_fn(outputs, is_outlier)`` with ``is_outlier`` True
    on the OE rows. Class labels are not used (the nominal rows are one class)."""

    def __init__(self, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        self.loss_fn = loss_fn

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, n_in: int) -> torch.Tensor:
        is_outlier = torch.arange(len(outputs), device=outputs.device) >= n_in
        return self.loss_fn(outputs, is_outlier)


class ReconstructionObjective(TrainObjective):
    """Autoencoder pre-training (Deep SVDD's, DeepMAD's: singh2021 Algorithm 3 "train A_i on
    provided examples X_i" with "MSE between the original and reconstructed image"):
    :func:`adlib.losses.autoencoder_loss` between the model input and its output."""

    uses_inputs = True

    def input_loss(self, model: nn.Module, x: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor,
                   n_in: int) -> torch.Tensor:
        return autoencoder_loss(x, outputs)


class DeepMADObjective(TrainObjective):
    """DeepMAD's encoder training (singh2021 §4): :func:`adlib.losses.deepmad_loss` with the
    targets as labels, 1 = the encoder's own class X_i, 0 = another normal class."""

    def __init__(self, center: torch.Tensor, delta: float, eta: float = 1.0, weighting: str = "total") -> None:
        self.center, self.delta, self.eta, self.weighting = center, float(delta), float(eta), weighting

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, n_in: int) -> torch.Tensor:
        return deepmad_loss(outputs, targets == 1, self.center, self.delta, self.eta, self.weighting)


class DROCCObjective(TrainObjective):
    """DROCC (Goyal et al. 2020, §3) on a one-logit model, logit > 0 = normal: BCE of the
    batch as normal plus μ · BCE of its adversarial points x̃ ∈ N_i(r) as anomalous
    (:func:`adlib.losses.drocc_adversarial_search`, :func:`adlib.losses.drocc_loss`). The search and
    the forward pass over x̃ run in the model's training mode, so BatchNorm's running statistics
    see the x̃ batches too."""

    uses_inputs = True

    def __init__(self, radius: float, gamma: float = 2.0, mu: float = 1.0, steps: int = 5,
                 step_size: float = 0.001, project_every: int | None = None) -> None:
        self.radius, self.gamma, self.mu, self.steps, self.step_size = radius, gamma, mu, steps, step_size
        self.project_every = project_every

    def input_loss(self, model: nn.Module, x: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor,
                   n_in: int) -> torch.Tensor:
        x_adv = drocc_adversarial_search(model, x[:n_in], self.radius, self.gamma, self.steps, self.step_size,
                                         self.project_every)
        return drocc_loss(outputs[:n_in], model(x_adv), self.mu)


@dataclass
class TrainHistory:
    """Per-epoch mean training loss and the epoch a run resumed from (if any)."""

    losses: list[float] = field(default_factory=list)
    resumed_from_epoch: int | None = None


def _atomic_torch_save(obj: dict, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


class CheckpointWarning(UserWarning):
    """A checkpoint was found but not used (unreadable, or another run's)."""


def read_checkpoint(path: Path | str, checkpoint_key: str, spec: "TrainSpec",
                    map_location: torch.device | str = "cpu") -> dict[str, Any] | None:
    """The checkpoint state at ``path`` if it belongs to this run (same key and spec), else None.

    Loaded with ``weights_only=True``, so a file holding arbitrary pickled objects is refused
    rather than executed. A file that cannot be read (truncated, corrupt, not a checkpoint) is
    quarantined (renamed ``*.corrupt-<time>``) with a :class:`CheckpointWarning`; a readable
    checkpoint of another run (other key or spec) is left in place, not used, and warned about.

    In a forced session (``$ADLIB_FORCE_SINCE``, :func:`adlib.sweep.force_session_start`: ``make
    book FORCE=1``, ``make reproduce``) a checkpoint last written before the session began is not
    used either: the run trains from scratch and overwrites it, so forcing re-computes the training
    and not only the scoring of a finished checkpoint. One written within the session (an
    interrupted run, a model that several runs share) is used as always.
    """
    from adlib.results import utc_stamp
    from adlib.sweep import ENV_FORCE_SINCE

    path = Path(path)
    if not path.exists():
        return None
    since = os.environ.get(ENV_FORCE_SINCE)
    if since and utc_stamp(path.stat().st_mtime) < since:
        return None
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(state, dict) or not {"key", "spec", "epoch", "model"} <= set(state):
            raise ValueError("not an adlib training checkpoint")
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a bad file
        moved = quarantine(path)
        warnings.warn(f"checkpoint {path} is unreadable ({type(err).__name__}: {str(err)[:120]}); "
                      f"moved to {moved.name}, training from scratch", CheckpointWarning, stacklevel=2)
        return None
    if state["key"] != checkpoint_key or state["spec"] != spec.to_dict():
        warnings.warn(f"checkpoint {path} belongs to another run (key or training spec differ); "
                      "not used, it will be overwritten", CheckpointWarning, stacklevel=2)
        return None
    return state


def restore_training_state(state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer,
                           scheduler: Any, generator: torch.Generator) -> int:
    """Load a checkpoint's model, optimiser, scheduler and both random states (torch's global one
    and the batch-order ``generator``); return the number of finished epochs. Resuming this way
    continues bit-identically on the CPU."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"].cpu())
    generator.set_state(state["generator"].cpu())
    return int(state["epoch"])


def save_training_state(path: Path | str, checkpoint_key: str, spec: Any, epoch: int, model: nn.Module,
                        optimizer: torch.optim.Optimizer, scheduler: Any, generator: torch.Generator,
                        **extra: Any) -> None:
    """Write (atomically) the checkpoint :func:`read_checkpoint` / :func:`restore_training_state`
    read: key, spec, finished epochs, model, optimiser, scheduler, random states and ``extra``."""
    _atomic_torch_save({
        "key": checkpoint_key, "spec": spec.to_dict(), "epoch": epoch,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
        "generator": generator.get_state(), **extra,
    }, Path(path))


def _epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randperm(n, generator=generator)


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    spec: TrainSpec,
    *,
    seed: int,
    pipeline: ImagePipeline = ImagePipeline(),
    oe_images: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    checkpoint_path: Path | None = None,
    checkpoint_key: str = "",
    progress: bool = True,
    desc: str = "train",
    objective: TrainObjective | None = None,
) -> TrainHistory:
    """Train ``model`` in place with ``objective`` (default :class:`OutlierExposureObjective`
    with ``spec.oe_weight``, i.e. :func:`adlib.losses.outlier_exposure_loss`).

    ``images`` are uint8 tensors held in memory (moved to the device once); batches are drawn
    by a seeded permutation each epoch. The last batch of an epoch may be smaller. With
    ``checkpoint_path`` a checkpoint is written after every epoch (atomically) and a run
    whose checkpoint exists with the same ``checkpoint_key`` resumes after its last epoch.
    """
    device = torch.device(device) if isinstance(device, str) else device
    objective = OutlierExposureObjective(spec.oe_weight) if objective is None else objective
    if spec.oe_batch_size > 0 and (oe_images is None or len(oe_images) == 0):
        raise ValueError("spec.oe_batch_size > 0 but no outlier images were given (oe_images)")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    model.to(device)
    x_all = images.to(device)
    y_all = labels.to(device)
    x_oe = oe_images.to(device) if spec.oe_batch_size > 0 else None
    if spec.drop_last:
        steps_per_epoch = len(x_all) // spec.batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"drop_last with {len(x_all)} training images < batch_size {spec.batch_size}: "
                             "no complete batch; lower batch_size or use more images")
    else:
        steps_per_epoch = math.ceil(len(x_all) / spec.batch_size)
    total_steps = max(1, spec.epochs * steps_per_epoch)

    if spec.optimizer == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr,
                                                            weight_decay=spec.weight_decay)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum,
                                    nesterov=spec.nesterov, weight_decay=spec.weight_decay)

    def cosine(step: int) -> float:
        return spec.min_lr_ratio + (1 - spec.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * step / total_steps))

    def multistep(step: int) -> float:  # MultiStepLR(gamma=0.1) on epoch milestones, stepped per batch
        return 0.1 ** sum(step >= m * steps_per_epoch for m in spec.lr_milestones or ())

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine if spec.lr_milestones is None else multistep)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    history = TrainHistory()
    start_epoch = 0
    state = None if checkpoint_path is None else read_checkpoint(checkpoint_path, checkpoint_key, spec, device)
    if state is not None:
        start_epoch = restore_training_state(state, model, optimizer, scheduler, gen)
        history.losses = list(state["losses"])
        objective.load_state_dict(state.get("objective", {}))
        history.resumed_from_epoch = start_epoch
    use_amp = spec.amp and device.type == "cuda"
    model.train()
    bar = tqdm(range(start_epoch, spec.epochs), desc=desc, disable=not progress, leave=False,
               initial=start_epoch, total=spec.epochs)
    for epoch in bar:
        order = _epoch_order(len(x_all), gen).to(device)
        oe_order = None
        if x_oe is not None:
            need = steps_per_epoch * spec.oe_batch_size
            reps = math.ceil(need / len(x_oe))
            oe_order = torch.cat([_epoch_order(len(x_oe), gen) for _ in range(reps)])[:need].to(device)
        running, count = 0.0, 0
        for step in range(steps_per_epoch):
            idx = order[step * spec.batch_size:(step + 1) * spec.batch_size]
            x = pipeline(x_all[idx], train=True, generator=gen)
            n_in = len(x)
            if oe_order is not None:
                oe_idx = oe_order[step * spec.oe_batch_size:(step + 1) * spec.oe_batch_size]
                x = torch.cat([x, pipeline(x_oe[oe_idx], train=True, generator=gen)])
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                outputs = model(x)
            if getattr(objective, "uses_inputs", False):
                loss = objective.input_loss(model, x, outputs, y_all[idx], n_in)
            else:
                loss = objective.loss(outputs, y_all[idx], n_in)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{desc}: non-finite loss ({loss.item()}) at epoch {epoch + 1}, step {step + 1}; "
                    f"lower the learning rate (lr={spec.lr}) or check the inputs")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            objective.after_step()
            running += loss.item() * n_in
            count += n_in
        history.losses.append(running / max(count, 1))
        bar.set_postfix(loss=f"{history.losses[-1]:.4f}")
        if checkpoint_path is not None:
            save_training_state(checkpoint_path, checkpoint_key, spec, epoch + 1, model, optimizer, scheduler, gen,
                                losses=history.losses, objective=objective.state_dict())
    model.eval()
    return history


def load_weights(model: nn.Module, checkpoint_path: Path, checkpoint_key: str, spec: TrainSpec,
                 objective: TrainObjective | None = None) -> bool:
    """Load the weights of this run's *finished* checkpoint into ``model`` (and the final state of
    its ``objective``, if given); False if absent, unfinished, another run's or unreadable (see
    :func:`read_checkpoint`)."""
    state = read_checkpoint(checkpoint_path, checkpoint_key, spec)
    if state is None or state["epoch"] != spec.epochs:
        return False
    model.load_state_dict(state["model"])
    if objective is not None:
        objective.load_state_dict(state.get("objective", {}))
    return True


@torch.inference_mode()
def predict_logits(model: nn.Module, images: torch.Tensor, pipeline: ImagePipeline, *,
                   device: torch.device | str = "cpu", batch_size: int = 2048) -> torch.Tensor:
    """Logits of ``model`` over uint8 ``images`` (eval mode, large batches), float32 on the CPU."""
    from adlib.detectors import model_outputs

    model.to(device)
    return model_outputs(model, images, batch_size=batch_size, prepare=lambda b: pipeline(b))


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in [0, 1]."""
    return float((logits.argmax(1) == labels).float().mean())

"""AD-CGAN training (rafiee2021): warm-up of the autoencoder, then the simultaneous training of
the contrastive GAN, the autoencoder and the latent discriminator D_z, one pass over the nominal
images per epoch, with per-epoch checkpoints, bit-identical resumption on the CPU and a
divergence guard.

Readings (paper §A.3 first, the spec's §2.7 / §6.1 — the authors' code — where the paper is silent):

* **Epochs.** ``warmup_epochs`` AE-only passes, then ``epochs`` GAN passes, counted additively
  (paper: "35 epochs plus 15 warm-up epochs"; spec §2.10 item 7). One-vs-all: 5 + 15
  (:data:`ONE_VS_ALL`, the defaults), all-vs-one: 15 + 35 (:data:`ALL_VS_ONE`).
* **Optimisers.** The paper: "ADAM optimizer … batch size of 32, and learning rate of 3×10⁻⁴ and
  2×10⁻⁴ for CGAN and AE". One optimiser per network, as in the code: D_cgan, G and D_z at
  3e-4, E at 2e-4; G (= the AE's decoder) is stepped by its own optimiser in the AE update too
  (the code's reading of "2e-4 for AE"). Betas (0.5, 0.999) from the code (the paper gives none).
  Plain Adam without weight decay by default (the paper); :meth:`ADCGANTrainSpec.authors_code`
  gives the code's AdamW (D 0.01, G/E 0.05) and Adam-with-L2 0.05 for D_z.
* **One GAN step** (spec §2.7): z ~ N(0, I) once per step; ``n_critic`` = 2 critic updates
  (:func:`~adlib.models.adcgan.critic_objective`, β); one generator update
  (:func:`~adlib.models.adcgan.generator_objective`, α); then the autoencoder update
  (:func:`~adlib.models.adcgan.autoencoder_objective`) and, with ``dz_mode="adversarial"`` (the
  paper's "adversarially learned" D_z, the default), a D_z update
  (:func:`~adlib.models.adcgan.latent_disc_objective`); with ``dz_mode="official"`` (the code)
  the AE loss includes L_dz and one backward steps E, G and D_z together. A warm-up step is the
  AE's MSE alone, stepping E and G. ``critic_grad_accumulation`` reproduces the code's quirk of
  zeroing D's gradients once before its 2 updates.
* **Batches.** A seeded permutation per epoch, ``drop_last`` (the code's (F)MNIST loaders) so
  that every RSGAN pair of real and fake is a full batch.
* Images are uint8 tensors in memory, moved to the device once, scaled by 1/255 to [0, 1] —
  the generator's output range (:class:`~adlib.models.adcgan.Generator`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from adlib.models.adcgan import (ADCGAN, DZ_MODES, autoencoder_objective, critic_objective, generator_objective,
                                 latent_disc_objective)
from adlib.losses import INFONCE_NEGATIVES
from adlib.train import _atomic_torch_save, read_checkpoint, seed_everything

OPTIMIZERS: tuple[str, ...] = ("adam", "adamw")
NETWORKS: tuple[str, ...] = ("critic", "generator", "encoder", "latent_disc")
"""The four networks of :class:`~adlib.models.adcgan.ADCGAN`, one optimiser each."""


@dataclass(frozen=True)
class ADCGANTrainSpec:
    """Optimisation settings of one AD-CGAN training run (defaults: the paper's one-vs-all)."""

    epochs: int = 15  # GAN epochs, after the warm-up
    warmup_epochs: int = 5  # AE-only epochs first
    batch_size: int = 32
    n_critic: int = 2
    lr_critic: float = 3e-4
    lr_generator: float = 3e-4
    lr_encoder: float = 2e-4
    lr_latent_disc: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.999)
    optimizer: str = "adam"  # adam (paper) | adamw (decoupled decay, the code) — D_z is always Adam
    weight_decay_critic: float = 0.0
    weight_decay_generator: float = 0.0
    weight_decay_encoder: float = 0.0
    weight_decay_latent_disc: float = 0.0
    alpha: float = 0.3  # weight of L_cgan(X_f) in G's loss
    beta: float = 0.3  # weight of L_cgan(X_r) in D_cgan's loss
    infonce_negatives: str = "all"  # adlib.losses.local_global_infonce
    infonce_self_mask: float | None = -10.0
    dz_mode: str = "adversarial"  # adversarial (paper) | official (the code's cooperative E)
    latent_weight: float = 1.0
    critic_grad_accumulation: bool = False
    drop_last: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.dz_mode not in DZ_MODES:
            raise ValueError(f"unknown dz_mode {self.dz_mode!r}; valid: {', '.join(DZ_MODES)}")
        if self.infonce_negatives not in INFONCE_NEGATIVES:
            raise ValueError(f"unknown infonce_negatives {self.infonce_negatives!r}; "
                             f"valid: {', '.join(INFONCE_NEGATIVES)}")
        if self.epochs < 0 or self.warmup_epochs < 0 or self.n_critic < 1 or self.batch_size < 1:
            raise ValueError("epochs and warmup_epochs must be >= 0, n_critic and batch_size >= 1")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    @property
    def total_epochs(self) -> int:
        return self.warmup_epochs + self.epochs

    def to_dict(self) -> dict:
        """The spec as plain JSON-able data (tuples as lists)."""
        out = asdict(self)
        out["betas"] = list(out["betas"])
        return out

    def authors_code(self) -> "ADCGANTrainSpec":
        """This spec with the authors' code's optimisers (spec §2.7): AdamW with weight decay
        0.01 (D_cgan) and 0.05 (G, E), Adam with L2 0.05 for D_z."""
        return replace(self, optimizer="adamw", weight_decay_critic=0.01, weight_decay_generator=0.05,
                       weight_decay_encoder=0.05, weight_decay_latent_disc=0.05)


ONE_VS_ALL = ADCGANTrainSpec()
"""Paper §A.3, one-vs-all: 5 warm-up + 15 GAN epochs."""
ALL_VS_ONE = ADCGANTrainSpec(epochs=35, warmup_epochs=15)
"""Paper §A.3, all-vs-one: 15 warm-up + 35 GAN epochs."""


@dataclass
class ADCGANHistory:
    """Per-epoch mean losses (``losses[i]``: name → mean over the steps of epoch i + 1; warm-up
    epochs hold ``"autoencoder"`` only), the phase of each epoch, and the epoch a run resumed from."""

    losses: list[dict[str, float]] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    resumed_from_epoch: int | None = None


def _optimizers(model: ADCGAN, spec: ADCGANTrainSpec) -> dict[str, torch.optim.Optimizer]:
    make = torch.optim.AdamW if spec.optimizer == "adamw" else torch.optim.Adam
    lrs = {"critic": spec.lr_critic, "generator": spec.lr_generator, "encoder": spec.lr_encoder,
           "latent_disc": spec.lr_latent_disc}
    decays = {"critic": spec.weight_decay_critic, "generator": spec.weight_decay_generator,
              "encoder": spec.weight_decay_encoder, "latent_disc": spec.weight_decay_latent_disc}
    out = {}
    for name in NETWORKS:
        cls = torch.optim.Adam if name == "latent_disc" else make  # the code: Adam (L2) for D_z
        out[name] = cls(getattr(model, name).parameters(), lr=lrs[name], betas=spec.betas,
                        weight_decay=decays[name])
    return out


def train_adcgan(
    model: ADCGAN,
    images_uint8: torch.Tensor,
    spec: ADCGANTrainSpec = ONE_VS_ALL,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    checkpoint_path: Path | str | None = None,
    checkpoint_key: str = "",
    progress: bool = True,
    desc: str = "AD-CGAN",
    stop_after_epoch: int | None = None,
) -> ADCGANHistory:
    """Train ``model`` in place on the nominal ``images_uint8`` ((N, H, W) or (N, C, H, W), uint8).

    With ``checkpoint_path`` a checkpoint (every network's and optimiser's state, the RNG states,
    the epoch, the history) is written atomically after every epoch, and a run whose checkpoint
    holds the same ``checkpoint_key`` and spec resumes after its last finished epoch,
    bit-identical on the CPU to an uninterrupted run. ``stop_after_epoch`` ends this call after
    that (total) epoch, e.g. to split a run over time-boxed calls.

    A NaN or infinite loss raises :class:`FloatingPointError` naming the epoch, the step and the
    loss, before anything of that epoch is written: the last good checkpoint stays on disk.
    """
    if images_uint8.dtype != torch.uint8:
        raise TypeError(f"images_uint8 must be a uint8 tensor, not {images_uint8.dtype}")
    device = torch.device(device) if isinstance(device, str) else device
    x_all = images_uint8.to(device)
    if x_all.ndim == 3:
        x_all = x_all.unsqueeze(1)
    n = len(x_all)
    steps_per_epoch = n // spec.batch_size if spec.drop_last else math.ceil(n / spec.batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"{n} training images < batch_size {spec.batch_size} with drop_last: no complete "
                         "batch; lower batch_size or use more images")
    model.to(device)
    optimizers = _optimizers(model, spec)
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    history = ADCGANHistory()
    start_epoch = 0
    path = None if checkpoint_path is None else Path(checkpoint_path)
    state = None if path is None else read_checkpoint(path, checkpoint_key, spec, device)
    if state is not None:
        model.load_state_dict(state["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        torch.set_rng_state(state["torch_rng"].cpu())
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
        gen.set_state(state["generator"].cpu())
        history.losses = [dict(d) for d in state["losses"]]
        history.phases = list(state["phases"])
        start_epoch = int(state["epoch"])
        history.resumed_from_epoch = start_epoch
    infonce = {"negatives": spec.infonce_negatives, "self_mask": spec.infonce_self_mask}
    last = spec.total_epochs if stop_after_epoch is None else min(spec.total_epochs, stop_after_epoch)
    model.train()
    bar = tqdm(range(start_epoch, last), desc=desc, disable=not progress, leave=False,
               initial=start_epoch, total=spec.total_epochs)
    for epoch in bar:
        warm = epoch < spec.warmup_epochs
        order = torch.randperm(n, generator=gen).to(device)
        sums: dict[str, float] = {}
        step = 0

        def check(name: str, loss: torch.Tensor) -> torch.Tensor:
            value = float(loss.detach())
            if not math.isfinite(value):
                kept = (f"the last good checkpoint (epoch {epoch}) is kept at {path}" if path is not None
                        and epoch > 0 else "no checkpoint was written" if path is None
                        else f"no epoch had finished, so there is no checkpoint at {path}")
                phase = "warm-up" if warm else "GAN"
                raise FloatingPointError(
                    f"{desc}: the {name} loss diverged ({value}) at epoch {epoch + 1} of {spec.total_epochs} "
                    f"({phase}), step {step + 1} of {steps_per_epoch}; training stopped and {kept}. "
                    "Lower the learning rates or check the inputs.")
            sums[name] = sums.get(name, 0.0) + value
            return loss

        for step in range(steps_per_epoch):
            idx = order[step * spec.batch_size:(step + 1) * spec.batch_size]
            x = x_all[idx].float().div_(255.0)
            if warm:
                loss = check("autoencoder", autoencoder_objective(model, x, None, spec.dz_mode, latent_weight=0.0))
                _step(loss, optimizers["encoder"], optimizers["generator"])
                continue
            z = model.sample_z(len(x), generator=gen)
            opt_d = optimizers["critic"]
            if spec.critic_grad_accumulation:
                opt_d.zero_grad(set_to_none=True)
            for _ in range(spec.n_critic):
                loss = check("critic", critic_objective(model, x, z, spec.beta, **infonce))
                if not spec.critic_grad_accumulation:
                    opt_d.zero_grad(set_to_none=True)
                loss.backward()
                opt_d.step()
            loss = check("generator", generator_objective(model, x, z, spec.alpha, **infonce))
            _step(loss, optimizers["generator"])
            if spec.dz_mode == "official":
                loss = check("autoencoder", autoencoder_objective(model, x, z, "official", spec.latent_weight))
                _step(loss, optimizers["encoder"], optimizers["generator"], optimizers["latent_disc"])
            else:
                loss = check("autoencoder", autoencoder_objective(model, x, z, "adversarial", spec.latent_weight))
                _step(loss, optimizers["encoder"], optimizers["generator"])
                loss = check("latent_disc", latent_disc_objective(model, x, z))
                _step(loss, optimizers["latent_disc"])
        means = {k: v / steps_per_epoch for k, v in sums.items()}
        if "critic" in means:
            means["critic"] /= spec.n_critic
        history.losses.append(means)
        history.phases.append("warmup" if warm else "gan")
        bar.set_postfix({k: f"{v:.3f}" for k, v in means.items()})
        if path is not None:
            ckpt: dict[str, Any] = {
                "key": checkpoint_key, "spec": spec.to_dict(), "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
                "torch_rng": torch.get_rng_state(), "generator": gen.get_state(),
                "losses": history.losses, "phases": history.phases,
            }
            if device.type == "cuda":
                ckpt["cuda_rng"] = torch.cuda.get_rng_state(device)
            _atomic_torch_save(ckpt, path)
    model.eval()
    return history


def _step(loss: torch.Tensor, *optimizers: torch.optim.Optimizer) -> None:
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    for opt in optimizers:
        opt.step()


def load_adcgan_weights(model: ADCGAN, checkpoint_path: Path | str, checkpoint_key: str,
                        spec: ADCGANTrainSpec) -> bool:
    """Load the weights of this run's *finished* checkpoint into ``model``; False if absent,
    unfinished, another run's or unreadable (see :func:`adlib.train.read_checkpoint`)."""
    state = read_checkpoint(checkpoint_path, checkpoint_key, spec)
    if state is None or state["epoch"] != spec.total_epochs:
        return False
    model.load_state_dict(state["model"])
    return True

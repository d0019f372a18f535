"""Anomaly detectors: one small interface for all five papers.

A :class:`Detector` turns model outputs into anomaly scores with **higher = more anomalous**.
``score_outputs`` is the pure map (logits → scores), so several detectors can re-score one
forward pass (hendrycks2019 Table 10 needs no retraining); ``score`` runs a model over a
tensor of images in large batches under ``torch.inference_mode``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import torch
from torch import nn

from adlib.losses import radial_h, uniform_cross_entropy


class Detector(ABC):
    """Maps model outputs to anomaly scores, higher = more anomalous."""

    name: str = "detector"

    @abstractmethod
    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        """Scores ``(N,)`` from model outputs ``(N, ...)``."""

    @torch.inference_mode()
    def score(self, model: nn.Module, images: torch.Tensor, *, batch_size: int = 1024,
              prepare: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """Score ``images`` with ``model`` in eval mode; ``prepare`` maps a raw batch to model input."""
        return self.score_outputs(model_outputs(model, images, batch_size=batch_size, prepare=prepare))


class MaxSoftmax(Detector):
    """Maximum softmax probability baseline (Hendrycks & Gimpel 2017; hendrycks2019 §4.3).

    s(x) = -max_c softmax(z)_c.
    """

    name = "msp"

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return -torch.softmax(outputs.float(), dim=1).max(dim=1).values


class NegUniformCrossEntropy(Detector):
    """The -H(U; p) score of hendrycks2019 App. E: s(x) = mean_c(z) - logsumexp(z).

    H(U; p) is smallest (log k) for a uniform softmax, so -H(U; p) is largest there.
    """

    name = "neg_uniform_xent"

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return -uniform_cross_entropy(outputs.float())


class ConfidenceBranch(Detector):
    """The learned confidence branch of DeVries & Taylor (2018) (hendrycks2019 §4.3, Table 3).

    ``outputs`` are a branch network's packed outputs ``(N, k + 1)``: logits, then b(x) ∈ [0, 1]
    (see :func:`model_outputs`). b(x) is the network's confidence that x is in-distribution, so
    s(x) = -b(x) [spec §2.5: the paper only says "the confidence branch detects anomalies"].
    """

    name = "confidence_branch"

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return -split_branch_outputs(outputs)[1]


def split_branch_outputs(outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed branch-network outputs ``(N, k + 1)`` → (logits ``(N, k)``, b(x) ``(N,)``)."""
    return outputs[:, :-1].float(), outputs[:, -1].float()


class RadialScore(Detector):
    """The Hypersphere Classifier's score (ruff2021 §3): s(x) = h(φ(x)).

    The paper writes s(x) = ‖φ(x)‖²; for h ∈ {‖z‖₂, ‖z‖₂², pseudo-Huber} h is a monotone
    function of ‖z‖₂, so the ranking (and AUC) is the same. For h = ‖z‖₁ this ranks by ‖z‖₁,
    the quantity the ℓ1 HSC was trained on (spec §2.6, Table 3).
    """

    name = "radial"

    def __init__(self, h: str = "pseudo_huber") -> None:
        self.h = h

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return radial_h(outputs, self.h)


class SquaredNorm(Detector):
    """Deep SAD's score with centre c = 0 (ruff2021): s(x) = ‖φ(x)‖²."""

    name = "squared_norm"

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return (outputs.float().flatten(1) ** 2).sum(dim=1)


class CenterDistance(Detector):
    """One-class Deep SVDD's score (Ruff et al. 2018; ruff2021 Eq. (1)): s(x) = ‖φ(x) − c‖².

    ``squared=False`` gives ‖φ(x) − c‖₂, DeepMAD's d(x) per encoder (singh2021 Algorithm 3); the
    ranking, hence the AUC, is the same."""

    name = "center_distance"

    def __init__(self, center: torch.Tensor | None = None, squared: bool = True) -> None:
        if center is None:
            raise ValueError("center_distance needs the hypersphere centre c (a tensor of the feature size)")
        self.center = center.float()
        self.squared = squared

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        sq = ((outputs.float().flatten(1) - self.center.to(outputs.device)) ** 2).sum(dim=1)
        return sq if self.squared else torch.sqrt(sq)


class OutlierLogit(Detector):
    """A binary nominal-vs-outlier classifier's logit (ruff2021 BCE and Focal classifiers,
    trained with target 1 = outlier): s(x) = wᵀφ(x) + b, a monotone map of P(outlier | x)."""

    name = "outlier_logit"

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.float().flatten()


class NormalLogit(Detector):
    """A one-class classifier whose logit is > 0 for *normal* (DROCC, Goyal et al. 2020; singh2021
    §5.1 plots these logits): s(x) = −f(x), so higher = more anomalous."""

    name = "normal_logit"

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return -outputs.float().flatten()


def any_normal_score(scores: torch.Tensor) -> torch.Tensor:
    """Algorithm 1 of singh2021 (§3): m one-class detectors, "declare x anomalous if all
    classifiers classify it as anomalous". With one threshold T for all detectors (the paper's
    "D(𝓕(x)) < T", swept for the ROC curve), x is anomalous at T iff min_i s_i(x) ≥ T, so the
    combined score is the minimum over the detectors: ``scores`` ``(m, N)`` → ``(N,)``.
    Any per-detector normalisation is the caller's (the paper uses none)."""
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"scores must be (m, N) with m >= 1 detectors, got shape {tuple(scores.shape)}")
    return scores.min(dim=0).values


class ADCGANNormalityScore(Detector):
    """AD-CGAN's normality score (rafiee2021 Eqs. (4)–(5)); despite the name, **higher = more
    anomalous** (the paper: "a higher loss implies an anomalous sample"):

        NS(x) = L_Gr + L_Fr,  L_Gr = λ·L_GD(x) + (1 − λ)·L_GR(x),  L_Fr = ρ·L_FE(x) + (1 − ρ)·L_FL,

    with λ = 0.1 and ρ = 0.5 (Table 1). ``outputs`` of :meth:`score_outputs` are the component
    columns (L_GR, L_GD, L_FE, L_FL) of :meth:`adlib.models.adcgan.ADCGAN.score_components`, so the
    Table 4 variants re-score one forward pass: LG = λ, ρ with the L_Fr part dropped
    (``feature_terms=False``), LFE: ρ = 1, LFL: ρ = 0, GF: ρ = 0.5. :meth:`score` runs an
    :class:`~adlib.models.adcgan.ADCGAN` with :func:`adcgan_score_components` (seeded z).
    """

    name = "adcgan"

    def __init__(self, lam: float = 0.1, rho: float = 0.5, feature_terms: bool = True, reduction: str = "sum",
                 latent_source: str = "sample", seed: int = 0) -> None:
        self.lam, self.rho, self.feature_terms = lam, rho, feature_terms
        self.reduction, self.latent_source, self.seed = reduction, latent_source, seed

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return adcgan_normality_score(outputs, self.lam, self.rho, self.feature_terms)

    @torch.inference_mode()
    def score(self, model: nn.Module, images: torch.Tensor, *, batch_size: int = 1024,
              prepare: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        comps = adcgan_score_components(model, images, batch_size=batch_size, prepare=prepare, seed=self.seed,
                                        reduction=self.reduction, latent_source=self.latent_source)
        return self.score_outputs(torch.stack([comps[k] for k in ADCGAN_COMPONENTS], dim=1))


ADCGAN_COMPONENTS: tuple[str, ...] = ("L_GR", "L_GD", "L_FE", "L_FL")
"""Column order of the AD-CGAN score components (= :data:`adlib.models.adcgan.SCORE_COMPONENTS`)."""


def adcgan_normality_score(components: torch.Tensor, lam: float = 0.1, rho: float = 0.5,
                           feature_terms: bool = True) -> torch.Tensor:
    """NS = λ·L_GD + (1 − λ)·L_GR + ρ·L_FE + (1 − ρ)·L_FL (rafiee2021 Eq. (4)) from the component
    columns (L_GR, L_GD, L_FE, L_FL) ``(N, 4)``; ``feature_terms=False`` keeps L_Gr only (Table 4's
    AD-CGAN_LG). Higher = more anomalous."""
    c = components.float()
    score = lam * c[:, 1] + (1 - lam) * c[:, 0]
    if feature_terms:
        score = score + rho * c[:, 2] + (1 - rho) * c[:, 3]
    return score


@torch.inference_mode()
def adcgan_score_components(model: nn.Module, images: torch.Tensor, *, batch_size: int = 1024,
                            prepare: Callable[[torch.Tensor], torch.Tensor] | None = None, seed: int = 0,
                            reduction: str = "sum", latent_source: str = "sample") -> dict[str, torch.Tensor]:
    """Each component of AD-CGAN's normality score separately (rafiee2021 Eqs. (4)–(5), Table 4):
    ``{"L_GR", "L_GD", "L_FE", "L_FL"}`` → ``(N,)`` float32 on the CPU, from ``model`` (an
    :class:`~adlib.models.adcgan.ADCGAN`) in eval mode. The noise z of L_FL is one N(0, I) draw per
    image from a generator seeded with ``seed``, so scores do not depend on ``batch_size``.
    ``reduction`` and ``latent_source``: see :meth:`~adlib.models.adcgan.ADCGAN.score_components`.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    z_all = torch.randn(len(images), model.latent_dim, 1, 1, generator=torch.Generator().manual_seed(seed))
    outs = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device, non_blocking=True)
        if prepare is not None:
            batch = prepare(batch)
        z = z_all[start:start + batch_size].to(device)
        outs.append(model.score_components(batch, z, reduction, latent_source).float().cpu())
    model.train(was_training)
    comps = torch.cat(outs) if outs else torch.empty(0, len(ADCGAN_COMPONENTS))
    return {k: comps[:, j] for j, k in enumerate(ADCGAN_COMPONENTS)}



class ODIN(Detector):
    """ODIN (Liang et al. 2018), as ahmed2020 uses it with fixed T = 1000, ε = 5e-5 (§5).

    S_i(x; T) = exp(f_i(x)/T) / Σ_j exp(f_j(x)/T);  x̃ = x − ε · sign(−∇_x log S_ŷ(x; T)), ŷ = argmax_i S_i;
    s(x) = −max_i S_i(x̃; T)  (higher = more anomalous).

    The score is computed in log space in float64, −(max_i f_i/T − logsumexp_j f_j/T), since at
    T = 1000 every probability is ≈ 1/k (spec §8.2-3) and float32 ties. The perturbation is applied
    to the model's input, i.e. the *normalised* image (ε in normalised units, not divided by the
    std; ahmed2020 does not say which convention it uses). The model is in eval mode; gradients
    flow to the input only. ``score_outputs`` (logits only) gives the temperature-scaled score
    without the perturbation.
    """

    name = "odin"

    def __init__(self, temperature: float = 1000.0, epsilon: float = 5e-5) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if epsilon < 0:
            raise ValueError(f"epsilon must be >= 0, got {epsilon}")
        self.temperature, self.epsilon = float(temperature), float(epsilon)

    def score_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        z = outputs.double() / self.temperature
        return -(z.max(dim=1).values - torch.logsumexp(z, dim=1))

    def score(self, model: nn.Module, images: torch.Tensor, *, batch_size: int = 512,
              prepare: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        out = []
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size].to(device)
            with torch.no_grad():
                x = (prepare(batch) if prepare is not None else batch.float()).detach()
            x.requires_grad_(True)
            with torch.enable_grad():
                log_s = torch.log_softmax(model(x).double() / self.temperature, dim=1)
                nll = -log_s.gather(1, log_s.argmax(1, keepdim=True)).sum()
                (grad,) = torch.autograd.grad(nll, x)
            with torch.inference_mode():
                out.append(self.score_outputs(model(x - self.epsilon * grad.sign())).cpu())
        model.train(was_training)
        return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)

DETECTORS: dict[str, type[Detector]] = {
    MaxSoftmax.name: MaxSoftmax,
    NegUniformCrossEntropy.name: NegUniformCrossEntropy,
    ConfidenceBranch.name: ConfidenceBranch,
    RadialScore.name: RadialScore,
    SquaredNorm.name: SquaredNorm,
    CenterDistance.name: CenterDistance,
    OutlierLogit.name: OutlierLogit,
    NormalLogit.name: NormalLogit,
    ADCGANNormalityScore.name: ADCGANNormalityScore,
    ODIN.name: ODIN,
}


def get_detector(name: str, **kwargs) -> Detector:
    """Instantiate a detector by name (``kwargs`` go to its constructor, e.g. ``h`` of
    ``radial``); an unknown name lists the valid ones."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; valid detectors: {', '.join(sorted(DETECTORS))}")
    return DETECTORS[name](**kwargs)


@torch.inference_mode()
def model_outputs(model: nn.Module, images: torch.Tensor, *, batch_size: int = 1024,
                  prepare: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Concatenated outputs of ``model`` (eval mode) over ``images``, on the CPU, in float32.

    A model that returns a pair ``(logits, confidence)`` (a confidence-branch network,
    :mod:`adlib.models.branch`) gives packed outputs ``(N, k + 1)``: the logits, then b(x).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    outs = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device, non_blocking=True)
        if prepare is not None:
            batch = prepare(batch)
        out = model(batch)
        if isinstance(out, tuple):
            logits, confidence = out
            out = torch.cat([logits.float(), confidence.float().reshape(-1, 1)], dim=1)
        outs.append(out.float().cpu())
    model.train(was_training)
    return torch.cat(outs) if outs else torch.empty(0)

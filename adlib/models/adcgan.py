"""AD-CGAN networks (rafiee2021, Rafiee Sevyeri & Fevens): encoder E, generator G (= the
autoencoder's decoder, shared weights), the contrastive critic D_cgan and the latent
discriminator D_z, for 28×28×1 ((F)MNIST), 32×32×3 (CIFAR-10) and 64×64×3 (CatsVsDogs) inputs.

The paper fixes only the layer counts (its Table 2); the layer shapes follow the spec's §6.2
tables (the authors' code), except where they contradict Table 2:

* **G** has exactly Table 2's counts (conv/deconv = 2/4, 3/4, 2/5): two 1×1-spatial "stem"
  convolutions (d → 128 → 512), then the deconvolutions up to the image, plus a final 3×3 conv
  for 32×32 only. The code's residual block (2 more convs) and its extra final convs are left
  out, since Table 2 does not count them (spec §3.2: no counting convention fits the code's G).
* **D_cgan** returns ``(C(x), E_ψ(x), C_ψ(x))``: the critic logit, the global feature (sum-pooled
  last conv map, K) and the local feature map (a 1×1 conv, K×M×M) (paper §2.1: "the penultimate
  and ultimate representations of D_cgan"). For 28×28 the 1×1 conv is on the main path
  (M = 11, K = 128); for 32×32 / 64×64 it is a side branch off the 4th conv (M = 6 / 10, K = 2048).
* **D_z** is a per-vector classifier d → 64 → 32 → 1 (3 linear layers); the paper's two-argument
  D_z(a, b) is :meth:`LatentDiscriminator.pair`, the outputs for a and for b (spec §2.6).

All convolutions and linear layers carry spectral normalisation (``torch.nn.utils.parametrizations``,
one power iteration per training forward, frozen in eval mode) except G's second stem conv, as in
the authors' code (the paper is silent). G ends in tanh mapped to [0, 1], the input range.

``width`` scales every hidden width (channels, K, the critic head and D_z's hidden units) for
reduced CPU runs; 1.0 gives the paper's widths. The latent size ``latent_dim`` is d (100; 200 for
CatsVsDogs in the paper). :func:`table2_counts` counts layers the way Table 2 does: Conv2d,
ConvTranspose2d and Linear modules on the path from the input to the output (side branches —
the 32/64 critics' local 1×1 conv — are not counted).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from adlib import losses
from adlib.models import register_model

IMAGE_SIZES: tuple[int, ...] = (28, 32, 64)
SCORE_COMPONENTS: tuple[str, ...] = ("L_GR", "L_GD", "L_FE", "L_FL")
"""Column order of :meth:`ADCGAN.score_components` (paper Eqs. (4)–(5))."""


def scaled(channels: int, width: float) -> int:
    """A hidden width scaled by the width multiplier (at least 1)."""
    return max(1, int(round(channels * width)))


def _maybe_sn(module: nn.Module, use: bool) -> nn.Module:
    return _sn(module) if use else module


def _conv(c_in: int, c_out: int, k: int, s: int = 1, p: int = 0, *, sn: bool = True) -> nn.Module:
    return _maybe_sn(nn.Conv2d(c_in, c_out, k, s, p), sn)


def _deconv(c_in: int, c_out: int, k: int, s: int = 1, p: int = 0, *, sn: bool = True) -> nn.Module:
    return _maybe_sn(nn.ConvTranspose2d(c_in, c_out, k, s, p), sn)


def _linear(n_in: int, n_out: int, *, sn: bool = True) -> nn.Module:
    return _maybe_sn(nn.Linear(n_in, n_out), sn)


# --- architecture tables: (c_out at width 1, kernel, stride, padding, batchnorm, dropout) -------
# Encoder: the 5 convs of spec §6.2; the last maps to d channels at 1×1 (no BN / activation).
_ENCODER = {
    28: dict(slope=0.1, layers=[(64, 3, 1, 0, False, False), (128, 3, 2, 0, True, False),
                                (256, 3, 2, 0, True, False), (256, 3, 1, 0, True, False)], last=(3, 1, 0)),
    32: dict(slope=0.2, layers=[(64, 5, 2, 0, True, True), (128, 5, 1, 0, True, False),
                                (256, 5, 1, 0, True, True), (512, 4, 1, 0, True, True)], last=(3, 1, 0)),
    64: dict(slope=0.2, layers=[(64, 7, 2, 0, True, True), (128, 5, 1, 0, True, False),
                                (256, 7, 2, 0, True, True), (512, 5, 1, 0, True, True)], last=(6, 1, 0)),
}
# Generator deconvs after the stem (512 channels at 1×1): (c_out, k, s, p); c_out None = image.
_GENERATOR = {
    28: dict(deconvs=[(256, 4, 2, 0), (128, 3, 2, 1), (64, 4, 2, 1), (None, 4, 2, 1)], final_conv=False),
    32: dict(deconvs=[(512, 4, 2, 0), (256, 4, 2, 1), (128, 4, 2, 1), (64, 4, 2, 1)], final_conv=True),
    64: dict(deconvs=[(512, 5, 2, 0), (256, 5, 2, 0), (128, 5, 2, 0), (64, 5, 2, 0), (None, 4, 1, 0)],
             final_conv=False),
}
# Critic: trunk convs, local 1×1 conv (K), top convs, head hidden width; local_on_path says whether
# the top convs read the local map (28×28) or the trunk (32/64, the local conv is a side branch).
_CRITIC = {
    28: dict(slope=0.1, trunk=[(64, 3, 2, 0, False, False), (128, 3, 1, 0, True, False)], k=128,
             top=[(128, 3, 2, 0, True, False)], head=256, local_on_path=True),
    32: dict(slope=0.2, trunk=[(64, 5, 1, 1, False, True), (128, 4, 2, 0, True, False),
                               (256, 5, 1, 0, True, False), (512, 5, 1, 0, True, True)], k=2048,
             top=[(1024, 3, 1, 0, True, False), (2048, 3, 2, 0, True, True)], head=2048, local_on_path=False),
    64: dict(slope=0.2, trunk=[(64, 7, 1, 1, False, True), (128, 5, 2, 0, True, False),
                               (256, 5, 1, 0, True, False), (512, 5, 2, 0, True, True)], k=2048,
             top=[(1024, 5, 1, 0, True, False), (2048, 5, 2, 0, True, True)], head=2048, local_on_path=False),
}


def _check_size(image_size: int) -> None:
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"AD-CGAN has architectures for image sizes {IMAGE_SIZES}, not {image_size}")


def _conv_stack(c_in: int, spec: list, slope: float, width: float, dropout: float,
                sn: bool) -> tuple[nn.Sequential, int]:
    """Conv → [BN] → LeakyReLU → [Dropout2d] per row of an architecture table; returns (stack, c_out)."""
    layers: list[nn.Module] = []
    for c_out, k, s, p, bn, drop in spec:
        c_out = scaled(c_out, width)
        layers.append(_conv(c_in, c_out, k, s, p, sn=sn))
        if bn:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.LeakyReLU(slope, inplace=True))
        if drop and dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        c_in = c_out
    return nn.Sequential(*layers), c_in


class Encoder(nn.Module):
    """E: image (C, S, S) → E(x) of shape (N, d, 1, 1): 5 convs (Table 2), then LayerNorm(d)."""

    side_branches: tuple[str, ...] = ()

    def __init__(self, image_size: int = 28, channels: int = 1, latent_dim: int = 100, width: float = 1.0,
                 dropout: float = 0.2, spectral: bool = True) -> None:
        super().__init__()
        _check_size(image_size)
        cfg = _ENCODER[image_size]
        self.features, c = _conv_stack(channels, cfg["layers"], cfg["slope"], width, dropout, spectral)
        self.last = _conv(c, latent_dim, *cfg["last"], sn=spectral)
        self.norm = nn.LayerNorm(latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.last(self.features(x)).flatten(1)
        return self.norm(h)[:, :, None, None]


class Generator(nn.Module):
    """G: z of shape (N, d) or (N, d, 1, 1) → image in [0, 1] (``(tanh + 1) / 2``).

    Stem: conv(d → 128, 3×3, pad 1) → PReLU → conv(128 → 512, 3×3, pad 1, no spectral norm)
    → BN → PReLU on the 1×1 map, then Table 2's deconvolutions (each → BN → PReLU, except the one
    that outputs the image), and for 32×32 a final conv(64 → C, 3×3, pad 1).
    """

    side_branches: tuple[str, ...] = ()

    def __init__(self, image_size: int = 28, channels: int = 1, latent_dim: int = 100, width: float = 1.0,
                 spectral: bool = True) -> None:
        super().__init__()
        _check_size(image_size)
        cfg = _GENERATOR[image_size]
        c1, c2 = scaled(128, width), scaled(512, width)
        layers: list[nn.Module] = [_conv(latent_dim, c1, 3, 1, 1, sn=spectral), nn.PReLU(),
                                   _conv(c1, c2, 3, 1, 1, sn=False), nn.BatchNorm2d(c2), nn.PReLU()]
        c_in = c2
        for c_out, k, s, p in cfg["deconvs"]:
            if c_out is None:
                layers.append(_deconv(c_in, channels, k, s, p, sn=spectral))
                c_in = channels
            else:
                c_out = scaled(c_out, width)
                layers += [_deconv(c_in, c_out, k, s, p, sn=spectral), nn.BatchNorm2d(c_out), nn.PReLU()]
                c_in = c_out
        if cfg["final_conv"]:
            layers.append(_conv(c_in, channels, 3, 1, 1, sn=spectral))
        layers.append(nn.Tanh())
        self.main = nn.Sequential(*layers)
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim == 2:
            z = z[:, :, None, None]
        return (self.main(z) + 1) / 2


class ContrastiveCritic(nn.Module):
    """D_cgan: image → ``(C(x) (N,), E_ψ(x) (N, K), C_ψ(x) (N, K, M, M))``.

    C_ψ(x) is a 1×1 conv of the trunk's map (the local features, paper §2.1 "penultimate");
    E_ψ(x) is the sum over positions of the last conv map (the global feature, "ultimate");
    C(x) = Linear(K → H) → ReLU → Linear(H → 1) of E_ψ(x). ϕ_θ is the identity (spec §2.1).
    """

    def __init__(self, image_size: int = 28, channels: int = 1, width: float = 1.0, dropout: float = 0.2,
                 spectral: bool = True) -> None:
        super().__init__()
        _check_size(image_size)
        cfg = _CRITIC[image_size]
        self.trunk, c = _conv_stack(channels, cfg["trunk"], cfg["slope"], width, dropout, spectral)
        k = scaled(cfg["k"], width)
        self.local = _conv(c, k, 1, sn=spectral)
        self.local_on_path = cfg["local_on_path"]
        self.top, c_top = _conv_stack(k if self.local_on_path else c, cfg["top"], cfg["slope"], width, dropout,
                                      spectral)
        if c_top != k:
            raise AssertionError("the global feature must have the local features' size K")
        hidden = scaled(cfg["head"], width)
        self.head = nn.Sequential(_linear(k, hidden, sn=spectral), nn.ReLU(inplace=True),
                                  _linear(hidden, 1, sn=spectral))
        self.feature_dim = k

    @property
    def side_branches(self) -> tuple[str, ...]:
        return () if self.local_on_path else ("local",)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        local = self.local(h)
        g = self.top(local if self.local_on_path else h).sum(dim=(2, 3))
        return self.head(g).flatten(), g, local


class LatentDiscriminator(nn.Module):
    """D_z: one logit per latent vector, d → 64 → 32 → 1 with LeakyReLU(0.2) (3 linear layers,
    Table 2). ``leaky_logit`` applies the authors' code's LeakyReLU(0.2) to the logit too."""

    side_branches: tuple[str, ...] = ()

    def __init__(self, latent_dim: int = 100, width: float = 1.0, spectral: bool = True,
                 leaky_logit: bool = True) -> None:
        super().__init__()
        h1, h2 = scaled(64, width), scaled(32, width)
        layers: list[nn.Module] = [_linear(latent_dim, h1, sn=spectral), nn.LeakyReLU(0.2),
                                   _linear(h1, h2, sn=spectral), nn.LeakyReLU(0.2), _linear(h2, 1, sn=spectral)]
        if leaky_logit:
            layers.append(nn.LeakyReLU(0.2))
        self.main = nn.Sequential(*layers)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """``v``: (N, d) or (N, d, 1, 1) → logits (N,)."""
        return self.main(v.flatten(1)).flatten()

    def pair(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The paper's D_z(a, b) (Eqs. (3), (5)): the logits of a then of b, shape (2N,)."""
        return self(torch.cat([a.flatten(1), b.flatten(1)], dim=0))


class ADCGAN(nn.Module):
    """The full AD-CGAN: ``encoder`` (E), ``generator`` (G), ``critic`` (D_cgan), ``latent_disc`` (D_z).

    ``forward(x)`` returns the four normality-score components ``(N, 4)`` (columns
    :data:`SCORE_COMPONENTS`) with a fresh z ~ N(0, I) from the global RNG; use
    :func:`adlib.detectors.adcgan_score_components` for seeded, batched scoring.
    """

    def __init__(self, image_size: int = 28, channels: int | None = None, latent_dim: int = 100,
                 width: float = 1.0, dropout: float = 0.2, spectral: bool = True) -> None:
        super().__init__()
        _check_size(image_size)
        channels = (1 if image_size == 28 else 3) if channels is None else channels
        self.image_size, self.channels, self.latent_dim, self.width = image_size, channels, latent_dim, width
        self.encoder = Encoder(image_size, channels, latent_dim, width, dropout, spectral)
        self.generator = Generator(image_size, channels, latent_dim, width, spectral)
        self.critic = ContrastiveCritic(image_size, channels, width, dropout, spectral)
        self.latent_disc = LatentDiscriminator(latent_dim, width, spectral)

    def sample_z(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I_d) of shape (n, d, 1, 1), on the networks' device."""
        device = next(self.parameters()).device
        return torch.randn(n, self.latent_dim, 1, 1, generator=generator).to(device)

    def score_components(self, x: torch.Tensor, z: torch.Tensor, reduction: str = "sum",
                         latent_source: str = "sample") -> torch.Tensor:
        """The per-sample components of the normality score (paper Eqs. (4)–(5)), shape (N, 4):

        L_GR(x) = Σ |x − G(E(x))|,  L_GD(x) = Σ |f_D(x) − f_D(G(E(x)))| with f_D = C_ψ (the
        critic's penultimate, local representation), L_FE(x) = Σ |E(x) − E(G(E(x)))|,
        L_FL = ‖D_z(E(G(z)), z) − D_z(E(x), E(G(z)))‖₁ = |d(ê) − d(E(x))| + |d(z) − d(ê)|
        with d the per-vector D_z and ê = E(G(z)).

        ``reduction``: ``"sum"`` (the paper's Σ) or ``"mean"`` over elements (the authors' code).
        ``latent_source``: ``"sample"`` — G(z) is a generated sample of the noise z (the paper's
        wording under Eq. (5)); ``"reconstruction"`` — "G(z)" is G(E(x)) and only the lone z is
        noise (the authors' code, spec §2.8). Call in eval mode.
        """
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")
        if latent_source not in ("sample", "reconstruction"):
            raise ValueError(f"latent_source must be 'sample' or 'reconstruction', not {latent_source!r}")
        red = (lambda t: t.flatten(1).sum(1)) if reduction == "sum" else (lambda t: t.flatten(1).mean(1))
        e = self.encoder(x)
        x_hat = self.generator(e)
        e_hat = self.encoder(x_hat)
        l_gr = red((x - x_hat).abs())
        l_gd = red((self.critic(x)[2] - self.critic(x_hat)[2]).abs())
        l_fe = red((e - e_hat).abs())
        e_z = e_hat if latent_source == "reconstruction" else self.encoder(self.generator(z))
        d_ez, d_z, d_e = self.latent_disc(e_z), self.latent_disc(z), self.latent_disc(e)
        l_fl = (d_ez - d_e).abs() + (d_z - d_ez).abs()
        return torch.stack([l_gr, l_gd, l_fe, l_fl], dim=1)

    def score_component_sizes(self) -> tuple[int, int, int, int]:
        """How many elements each score component sums (L_GR: the image, L_GD: the critic's local
        map, L_FE: the code, L_FL: one D_z logit per term): dividing the paper's sums by these gives
        the authors' code's means."""
        x = torch.zeros(1, self.channels, self.image_size, self.image_size,
                        device=next(self.parameters()).device)
        was_training = self.training
        self.eval()
        with torch.no_grad():
            local = self.critic(x)[2]
        self.train(was_training)
        return (x[0].numel(), local[0].numel(), self.latent_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score_components(x, self.sample_z(len(x)))


@dataclass(frozen=True)
class LayerCounts:
    """Table 2's columns: numbers of Conv, Deconv and Linear layers."""

    conv: int = 0
    deconv: int = 0
    linear: int = 0


def table2_counts(module: nn.Module) -> LayerCounts:
    """Count layers as rafiee2021 Table 2 does: nn.Conv2d, nn.ConvTranspose2d and nn.Linear
    modules on the input → output path; submodules named in ``module.side_branches`` (the 32/64
    critics' local 1×1 conv) are not counted."""
    skip = tuple(getattr(module, "side_branches", ()))
    conv = deconv = linear = 0
    for name, m in module.named_modules():
        if any(name == s or name.startswith(s + ".") for s in skip):
            continue
        conv += isinstance(m, nn.Conv2d)
        deconv += isinstance(m, nn.ConvTranspose2d)
        linear += isinstance(m, nn.Linear)
    return LayerCounts(conv, deconv, linear)


def adcgan_table2(model: ADCGAN) -> dict[str, LayerCounts]:
    """Table 2's rows for a built model: encoder, generator, critic, D_z."""
    return {"encoder": table2_counts(model.encoder), "generator": table2_counts(model.generator),
            "critic": table2_counts(model.critic), "latent_disc": table2_counts(model.latent_disc)}


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` of the modules' parameters inside the block (restored after),
    so that e.g. the generator's loss, computed through D_cgan, gives D_cgan no gradient."""
    params = [p for m in modules for p in m.parameters()]
    saved = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)


@register_model("adcgan28")
def adcgan28(latent_dim: int = 100, width: float = 1.0, channels: int = 1, **kwargs) -> ADCGAN:
    """AD-CGAN for 28×28 (F)MNIST (Table 2's fMNIST/MNIST column; d = 100)."""
    return ADCGAN(28, channels, latent_dim, width, **kwargs)


@register_model("adcgan32")
def adcgan32(latent_dim: int = 100, width: float = 1.0, channels: int = 3, **kwargs) -> ADCGAN:
    """AD-CGAN for 32×32 CIFAR-10 (Table 2's CIFAR10 column; d = 100)."""
    return ADCGAN(32, channels, latent_dim, width, **kwargs)


@register_model("adcgan64")
def adcgan64(latent_dim: int = 200, width: float = 1.0, channels: int = 3, **kwargs) -> ADCGAN:
    """AD-CGAN for 64×64 CatsVsDogs (Table 2's CatsVsDogs column; d = 200)."""
    return ADCGAN(64, channels, latent_dim, width, **kwargs)


# --- the training objectives, composed "as intended" (who gets which gradient) ------------------
DZ_MODES: tuple[str, ...] = ("adversarial", "official")


def critic_objective(model: ADCGAN, x: torch.Tensor, z: torch.Tensor, beta: float = 0.3,
                     **infonce) -> torch.Tensor:
    """L_Dcgan = L_adv_D + β·L_cgan(X_r) (rafiee2021 Eq. (2)) on real ``x`` and fakes G(z); the
    fakes are made without a graph (``torch.no_grad``, the same values as detaching them), so only
    D_cgan gets a gradient."""

    with torch.no_grad():
        fake = model.generator(z)
    c_fake = model.critic(fake)[0]
    c_real, g_real, l_real = model.critic(x)
    return losses.adcgan_critic_loss(c_real, c_fake, l_real, g_real, beta, **infonce)


def generator_objective(model: ADCGAN, x: torch.Tensor, z: torch.Tensor, alpha: float = 0.3,
                        **infonce) -> torch.Tensor:
    """L_G = L_adv_G + α·L_cgan(X_f) (rafiee2021 Eq. (2)), built with D_cgan :func:`frozen`, so
    only G gets a gradient (through the critic's features of its samples)."""

    with frozen(model.critic):
        c_fake, g_fake, l_fake = model.critic(model.generator(z))
        c_real = model.critic(x)[0]
        return losses.adcgan_generator_loss(c_real, c_fake, l_fake, g_fake, alpha, **infonce)


def autoencoder_objective(model: ADCGAN, x: torch.Tensor, z: torch.Tensor, dz_mode: str = "adversarial",
                          latent_weight: float = 1.0) -> torch.Tensor:
    """The autoencoder's objective L_AE + (latent term) for E and G (= the decoder).

    ``dz_mode="adversarial"`` (the paper's "adversarially learned" D_z): the latent term is E's
    −log D_z(E(x)), built with D_z :func:`frozen`; train D_z with :func:`latent_disc_objective`.
    ``dz_mode="official"`` (the authors' code, spec §2.6): the latent term is L_dz itself (Eq. (3)),
    so E, G *and* D_z get gradients from this one loss and E co-operates with D_z.
    """

    if dz_mode not in DZ_MODES:
        raise ValueError(f"unknown dz_mode {dz_mode!r}; valid: {', '.join(DZ_MODES)}")
    e = model.encoder(x)
    loss = losses.autoencoder_loss(x, model.generator(e))
    if latent_weight == 0:
        return loss
    if dz_mode == "official":
        dz = model.latent_disc
        return loss + latent_weight * losses.latent_discriminator_loss(dz.pair(z, z), dz.pair(z, e))
    with frozen(model.latent_disc):
        return loss + latent_weight * losses.latent_encoder_loss(model.latent_disc(e))


def latent_disc_objective(model: ADCGAN, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """L_dz (rafiee2021 Eq. (3)) for D_z alone: E(x) is detached (the ``"adversarial"`` mode)."""

    dz = model.latent_disc
    with torch.no_grad():
        e = model.encoder(x)
    return losses.latent_discriminator_loss(dz.pair(z, z), dz.pair(z, e))

"""Training losses. Each function documents the equation of the paper it implements."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def uniform_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy from the uniform distribution U to the softmax, H(U; p).

    hendrycks2019 §4.3: H(U; f(x)) = -(1/k) Σ_c log f_c(x) = logsumexp(z) - mean_c(z).
    It is minimal (= log k) when all logits are equal.
    """
    return torch.logsumexp(logits, dim=1) - logits.mean(dim=1)


def outlier_exposure_loss(
    logits_in: torch.Tensor,
    targets: torch.Tensor,
    logits_oe: torch.Tensor | None,
    oe_weight: float = 0.5,
) -> torch.Tensor:
    """Outlier Exposure objective for a k-way classifier (hendrycks2019 §4.3).

    E_{(x,y)~D_in}[-log f_y(x)] + λ · E_{x'~D_out^OE}[H(U; f(x'))], with λ = 0.5 for vision
    and 1.0 for NLP in the paper. With ``logits_oe=None`` (or λ = 0) it is plain cross-entropy.
    """
    loss = F.cross_entropy(logits_in, targets)
    if logits_oe is not None and oe_weight != 0 and len(logits_oe) > 0:
        loss = loss + oe_weight * uniform_cross_entropy(logits_oe).mean()
    return loss


CONFIDENCE_EPS = 1e-12
"""DeVries & Taylor clamp both the softmax and the confidence to [ε, 1 − ε] with ε = 1e-12."""


def confidence_branch_loss(
    logits: torch.Tensor,
    confidence: torch.Tensor,
    targets: torch.Tensor,
    hint_mask: torch.Tensor,
    lmbda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DeVries & Taylor (2018) learned-confidence objective (hendrycks2019 §4.3, Table 3 baseline).

    With p = softmax(z) and c = b(x), both clamped to [ε, 1 − ε], and a per-sample hint mask
    m ∈ {0, 1} (m = 1: this sample may ask for hints; upstream draws m ~ Bernoulli(0.5)):

      c' = c·m + (1 − m),   p' = c'·p + (1 − c')·onehot(y),
      L = NLL(log p', y) + λ_c · mean(−log c).

    Returns ``(L, L_c)`` with the confidence penalty L_c = mean(−log c), which drives the
    budget update of λ_c (:func:`update_confidence_lambda`).
    """
    p = torch.softmax(logits.float(), dim=1).clamp(CONFIDENCE_EPS, 1 - CONFIDENCE_EPS)
    c = confidence.float().clamp(CONFIDENCE_EPS, 1 - CONFIDENCE_EPS)
    m = hint_mask.to(c.dtype)
    c_hint = (c * m + (1 - m)).unsqueeze(1)
    onehot = F.one_hot(targets, num_classes=logits.shape[1]).to(p.dtype)
    p_hint = c_hint * p + (1 - c_hint) * onehot
    nll = F.nll_loss(torch.log(p_hint), targets)
    conf_loss = (-torch.log(c)).mean()
    return nll + lmbda * conf_loss, conf_loss


def update_confidence_lambda(lmbda: float, conf_loss: float, budget: float = 0.3) -> float:
    """DeVries & Taylor's per-step budget rule for λ_c (upstream ``train.py``).

    If the confidence penalty is under the budget β (β > L_c), the network may ask for more
    hints: λ_c ← λ_c / 1.01 (smaller); otherwise λ_c ← λ_c / 0.99 (larger).
    """
    return lmbda / 1.01 if budget > conf_loss else lmbda / 0.99


def branch_outlier_exposure_term(confidence_oe: torch.Tensor) -> torch.Tensor:
    """The OE term of the confidence branch, E_{x~D_out^OE}[log b(x)] (hendrycks2019 §4.3).

    The paper adds 0.5 · this to the branch's objective; minimising it pushes b(x_out) → 0.
    b is clamped to [ε, 1 − ε] as in the D&T loss, so the term is bounded below by log ε.
    """
    return torch.log(confidence_oe.float().clamp(CONFIDENCE_EPS, 1 - CONFIDENCE_EPS)).mean()


def kl_uniform_to_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample KL(U ‖ f(x)) from the uniform distribution over the k classes to the softmax.

    Lee et al. (2018), eqs. (1) and (4) ("confidence loss"): KL(U ‖ p) = Σ_c (1/k) log((1/k) / p_c)
    = H(U; p) − log k, i.e. :func:`uniform_cross_entropy` minus its minimum, so it is ≥ 0 and has
    the same gradient as the OE term. Their code computes ``F.kl_div(log_softmax(z), U) * k``
    (an element-wise mean over N·k entries, times k): the batch mean of this.
    """
    return uniform_cross_entropy(logits) - math.log(logits.shape[1])


def joint_confidence_classifier_loss(logits_in: torch.Tensor, targets: torch.Tensor,
                                     logits_fake: torch.Tensor, beta: float) -> torch.Tensor:
    """The classifier's part of Lee et al. (2018)'s joint confidence loss (their eq. (4)):

    E_{(x,y)~P_in}[−log f_y(x)] + β · E_{x~P_G}[KL(U ‖ f(x))], with x ~ P_G the generator's samples
    (hendrycks2019 §4.3 "Synthetic Outliers", spec §2.6; β = 0.1 in their CIFAR-10 code).
    """
    return F.cross_entropy(logits_in, targets) + beta * kl_uniform_to_softmax(logits_fake).mean()


def gan_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """DCGAN discriminator loss on logits, −E[log D(x)] − E[log(1 − D(G(z)))] (Lee et al. 2018,
    eq. (4)'s GAN terms; their code sums the two BCE losses)."""
    return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))


def joint_confidence_generator_loss(d_fake: torch.Tensor, logits_fake: torch.Tensor, beta: float) -> torch.Tensor:
    """The generator's part of Lee et al. (2018)'s joint confidence loss (their eq. (4); upstream
    ``run_joint_confidence.py``): the non-saturating GAN loss −E[log D(G(z))] plus
    β · E_z[KL(U ‖ f(G(z)))], which pulls the samples towards where the classifier is unsure
    (the boundary of the in-distribution, Lee et al. §2.2)."""
    gan = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
    return gan + beta * kl_uniform_to_softmax(logits_fake).mean()


def oe_margin_loss(nll_in: torch.Tensor, nll_out: torch.Tensor, num_pixels: int) -> torch.Tensor:
    """Outlier Exposure for a density model (hendrycks2019 §4.4, Table 5): the margin ranking loss

        L_OE = max{0, num_pixels + nll(x_in) − nll(x_out)}

    per pair (x_in ~ D_in, x_out ~ D_out^OE), with nll in bits summed over the pixels: it asks the
    outlier's bits per pixel to exceed the inlier's by at least 1. Returns the per-pair losses;
    the fine-tuning objective is nll(x_in) + λ·L_OE (λ = 1 here, spec §2.7 assumption).
    """
    return F.relu(num_pixels + nll_in - nll_out)


# ---------------------------------------------------------------------------------------------
# ruff2021: one-class objectives on a feature map z = φ(x); OE rows are the anomalies


RADIAL_FUNCTIONS: tuple[str, ...] = ("l1", "l2", "l2_squared", "pseudo_huber")
"""The h(z) of ruff2021's radial function l(z) = exp(−h(z)) (App. D, Table 3)."""


def radial_h(z: torch.Tensor, kind: str = "pseudo_huber") -> torch.Tensor:
    """h(z) per sample for ``z`` of shape (N, r) (ruff2021 §3 and App. D):

    ``l1``: ‖z‖₁, ``l2``: ‖z‖₂, ``l2_squared``: ‖z‖₂², ``pseudo_huber`` (the paper's default):
    sqrt(‖z‖₂² + 1) − 1, quadratic near 0 and linear far out.
    """
    z = z.float().flatten(1)
    sq = (z * z).sum(dim=1)
    if kind == "pseudo_huber":
        return torch.sqrt(sq + 1) - 1
    if kind == "l2_squared":
        return sq
    if kind == "l2":
        return torch.sqrt(sq + 1e-12)  # the tiny offset keeps the gradient finite at z = 0
    if kind == "l1":
        return z.abs().sum(dim=1)
    raise ValueError(f"unknown radial function h {kind!r}; valid: {', '.join(RADIAL_FUNCTIONS)}")


def hypersphere_classifier_loss(z: torch.Tensor, is_outlier: torch.Tensor, h: str = "pseudo_huber") -> torch.Tensor:
    """The Hypersphere Classifier (HSC) objective of ruff2021, Eq. (2) with l(z) = exp(−h(z)):

        (1/n) Σ_i  y_i h(φ(x_i)) − (1 − y_i) log(1 − exp(−h(φ(x_i)))),

    y = 1 nominal, y = 0 outlier (``is_outlier`` True). The outlier term is computed as
    −log(−expm1(−h)), exact where 1 − exp(−h) would round to 0. With no outliers and
    h = ‖z‖² it is Deep SVDD with centre c = 0 (:func:`deep_svdd_loss`).
    """
    hz = radial_h(z, h)
    out = is_outlier.to(torch.bool)
    outlier_term = -torch.log(-torch.expm1(-hz.clamp_min(1e-12)))
    return torch.where(out, outlier_term, hz).mean()


def deep_sad_loss(z: torch.Tensor, is_outlier: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Deep SAD (Ruff et al. 2020) as ruff2021 runs it: centre c = 0, η = 1,

        (1/n) Σ_i [ ‖φ(x_i)‖² if nominal else (‖φ(x_i)‖² + ε)⁻¹ ],

    i.e. the labelled anomalies' inverse distance (ỹ = −1 in the exponent); ε = 1e-9 as in the
    authors' code. Weight decay is the optimiser's.
    """
    sq = (z.float().flatten(1) ** 2).sum(dim=1)
    return torch.where(is_outlier.to(torch.bool), 1.0 / (sq + eps), sq).mean()


def deep_svdd_loss(z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """One-class Deep SVDD (Ruff et al. 2018; ruff2021 Eq. (1)): (1/n) Σ_i ‖φ(x_i) − c‖²."""
    return ((z.float().flatten(1) - center.to(z.device).float()) ** 2).sum(dim=1).mean()


def binary_outlier_loss(logits: torch.Tensor, is_outlier: torch.Tensor) -> torch.Tensor:
    """The supervised-OE BCE classifier of ruff2021 (Eq. (2) with l = σ(wᵀz + b)): binary
    cross-entropy on one logit per sample, target 1 = outlier (the authors' code convention;
    the paper writes y = 1 for nominal, which is the same loss with the logit negated)."""
    return F.binary_cross_entropy_with_logits(logits.float().flatten(), is_outlier.float().flatten())


def focal_outlier_loss(logits: torch.Tensor, is_outlier: torch.Tensor, gamma: float = 2.0,
                       alpha: float = 0.5) -> torch.Tensor:
    """Focal loss (Lin et al. 2017) of the supervised-OE classifier (ruff2021 §3, App. E):

        FL(p_t) = −α_t (1 − p_t)^γ log p_t,  p_t = p if outlier else 1 − p,  p = σ(logit),

    with α_t = α for both classes (the paper's α = 0.5 for balanced batches, γ = 2). γ = 0 gives
    α · :func:`binary_outlier_loss`.
    """
    bce = F.binary_cross_entropy_with_logits(logits.float().flatten(), is_outlier.float().flatten(),
                                             reduction="none")
    p_t = torch.exp(-bce)
    return (alpha * (1 - p_t) ** gamma * bce).mean()


# ---------------------------------------------------------------------------------------------
# rafiee2021 (AD-CGAN): relativistic adversarial losses, the local/global InfoNCE term, the
# autoencoder and latent-discriminator terms


def relativistic_discriminator_loss(c_real: torch.Tensor, c_fake: torch.Tensor) -> torch.Tensor:
    """RSGAN critic loss (rafiee2021 Eq. (6)): L_adv_D = −E[log σ(C(x_r) − C(x_f))], with the i-th
    real paired with the i-th fake of the batch; −log σ(a) = softplus(−a)."""
    return F.softplus(-(c_real.float() - c_fake.float())).mean()


def relativistic_generator_loss(c_real: torch.Tensor, c_fake: torch.Tensor) -> torch.Tensor:
    """RSGAN generator loss (rafiee2021 Eq. (6)): L_adv_G = −E[log σ(C(x_f) − C(x_r))]."""
    return F.softplus(-(c_fake.float() - c_real.float())).mean()


INFONCE_NEGATIVES: tuple[str, ...] = ("all", "others", "self")
"""Candidate sets of :func:`local_global_infonce` (rafiee2021 spec §2.3)."""


def local_global_scores(local: torch.Tensor, global_: torch.Tensor) -> torch.Tensor:
    """The matrix of contrastive scores S[n, m, i] = g_θ(C_ψ^(i)(x_m), E_ψ(x_n)) = C_ψ^(i)(x_m)ᵀ ϕ_θ(E_ψ(x_n))
    (rafiee2021 Eq. (1)), for local maps ``local`` (N, K, M, M) and (projected) global features
    ``global_`` (N, K); shape (N, N, M²), positions i in row-major order."""
    return torch.einsum("mki,nk->nmi", local.float().flatten(2), global_.float())


def local_global_infonce(local: torch.Tensor, global_: torch.Tensor, negatives: str = "all",
                         self_mask: float | None = -10.0) -> torch.Tensor:
    """The contrastive term L_cgan(X) of rafiee2021 Eq. (1), batched (one score matrix, one
    log-sum-exp per anchor image instead of a (N·M²)² logit matrix):

        L_cgan(X) = −E_{x∈X} E_{i∈A} log [ exp g(C^(i)(x), E(x)) / Σ_{(x',j)} exp g(C^(j)(x'), E(x)) ],

    A = {0, …, M² − 1}. The positive of anchor (x, i) is the image's own local vector i with its
    own global vector; the candidate set in the denominator is

    * ``"all"`` (default, Eq. (1) as printed): every position of every image of the batch, the
      image's own positions included;
    * ``"others"`` (the authors' code, InfoMax-GAN's loss): the positive plus every position of
      every *other* image; the image's own M² positions enter with logit ``self_mask`` (−10 in the
      code) or are left out (``self_mask=None``);
    * ``"self"`` (the paper's prose): the image's own positions only (a softmax over A).

    ϕ_θ is whatever the caller applied to ``global_`` (the identity in the authors' code).
    """
    if negatives not in INFONCE_NEGATIVES:
        raise ValueError(f"unknown negatives {negatives!r}; valid: {', '.join(INFONCE_NEGATIVES)}")
    s = local_global_scores(local, global_)
    n, _, m2 = s.shape
    idx = torch.arange(n, device=s.device)
    pos = s[idx, idx]  # (N, M²)
    if negatives == "all":
        log_denom = torch.logsumexp(s.flatten(1), dim=1, keepdim=True)
    elif negatives == "self":
        log_denom = torch.logsumexp(pos, dim=1, keepdim=True)
    else:
        own = torch.eye(n, dtype=torch.bool, device=s.device)[:, :, None].expand_as(s)
        others = torch.logsumexp(s.masked_fill(own, float("-inf")).flatten(1), dim=1, keepdim=True)
        log_denom = torch.logaddexp(pos, others)
        if self_mask is not None:
            log_denom = torch.logaddexp(log_denom, torch.full_like(log_denom, math.log(m2) + self_mask))
    return (log_denom - pos).mean()


def adcgan_critic_loss(c_real: torch.Tensor, c_fake: torch.Tensor, local_real: torch.Tensor,
                       global_real: torch.Tensor, beta: float = 0.3, **infonce) -> torch.Tensor:
    """The CGAN critic's loss (rafiee2021 Eq. (2)): L_Dcgan = L_adv_D + β·L_cgan(X_r), the
    contrastive term on the *real* images' features (β = 0.3). ``infonce`` goes to
    :func:`local_global_infonce`."""
    loss = relativistic_discriminator_loss(c_real, c_fake)
    return loss + beta * local_global_infonce(local_real, global_real, **infonce) if beta else loss


def adcgan_generator_loss(c_real: torch.Tensor, c_fake: torch.Tensor, local_fake: torch.Tensor,
                          global_fake: torch.Tensor, alpha: float = 0.3, **infonce) -> torch.Tensor:
    """The generator's loss (rafiee2021 Eq. (2)): L_G = L_adv_G + α·L_cgan(X_f), the contrastive
    term on the *fake* images' critic features (α = 0.3)."""
    loss = relativistic_generator_loss(c_real, c_fake)
    return loss + alpha * local_global_infonce(local_fake, global_fake, **infonce) if alpha else loss


def autoencoder_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """The auxiliary autoencoder's loss L_AE = ‖x − G(E(x))‖² (rafiee2021 §2.1), as the mean
    squared error over elements (the authors' ``MSELoss``)."""
    return F.mse_loss(x_hat.float(), x.float())


def latent_discriminator_loss(dz_zz: torch.Tensor, dz_ze: torch.Tensor) -> torch.Tensor:
    """D_z's loss (rafiee2021 Eq. (3), read with log(1 − D) for the printed "1 − log D"):

        L_dz = −E_z[log D_z(z, z)] − E_{z,x}[log(1 − D_z(z, E(x)))],

    i.e. BCE-with-logits of D_z(z, z) against 1 plus of D_z(z, E(x)) against 0, where D_z(a, b)
    (:meth:`adlib.models.adcgan.LatentDiscriminator.pair`) are the logits of a and of b.
    """
    return (F.binary_cross_entropy_with_logits(dz_zz.float(), torch.ones_like(dz_zz.float()))
            + F.binary_cross_entropy_with_logits(dz_ze.float(), torch.zeros_like(dz_ze.float())))


def latent_encoder_loss(dz_encoded: torch.Tensor) -> torch.Tensor:
    """The encoder's adversarial term against D_z (rafiee2021 §2.1, "adversarially learned
    discriminator D_z"): the non-saturating −E[log D_z(E(x))]. Not in the authors' code, where E
    minimises L_dz together with D_z (spec §2.6)."""
    return F.binary_cross_entropy_with_logits(dz_encoded.float(), torch.ones_like(dz_encoded.float()))


# ---------------------------------------------------------------------------------------------
# singh2021: DeepMAD's compactness + squared-hinge objective; DROCC (Goyal et al. 2020), the
# baseline singh2021 runs with the authors' code


DEEPMAD_WEIGHTINGS: tuple[str, ...] = ("total", "balanced")
"""How :func:`deepmad_loss` normalises its two sums (singh2021 §4; see there)."""


def deepmad_loss(z: torch.Tensor, is_own: torch.Tensor, center: torch.Tensor, delta: float, eta: float = 1.0,
                 weighting: str = "total") -> torch.Tensor:
    """DeepMAD's loss for encoder E_i with centre c_i (singh2021 §4, the loss 𝓛 of Algorithm 3):

        𝓛(θ_i) = (1/N) Σ_{x_j ∈ X_i} ‖E_i(x_j) − c_i‖²
               + (η/N) Σ_{x_k ∈ (∪_j X_j) \\ X_i} max(0, δ − ‖E_i(x_k) − c_i‖₂)²  + (λ/2) Σ_l ‖W^l‖²_F,

    N = |X_1| + … + |X_m|. ``is_own`` marks the rows of class i (label +1); the other rows are the
    other normal classes (label −1), pushed beyond distance δ by a squared hinge on the
    *unsquared* distance (the compactness term is on the squared one, as printed). The λ term
    is the optimiser's weight decay.

    ``weighting="total"`` (default, the equation as printed): both sums over the batch size, i.e.
    the batch mean of ‖z − c‖² (own rows) or η·max(0, δ − ‖z − c‖)² (other rows); the other
    classes then weigh (m − 1) times more than class i. ``"balanced"`` (not in the paper): the
    mean over the own rows plus η times the mean over the other rows.
    """
    if weighting not in DEEPMAD_WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; valid: {', '.join(DEEPMAD_WEIGHTINGS)}")
    sq = ((z.float().flatten(1) - center.to(z.device).float()) ** 2).sum(dim=1)
    own = is_own.to(torch.bool).to(z.device)
    hinge = eta * F.relu(delta - torch.sqrt(sq.clamp_min(1e-12))) ** 2
    if weighting == "total":
        return torch.where(own, sq, hinge).mean()
    zero = sq.sum() * 0
    own_term = sq[own].mean() if own.any() else zero
    other_term = hinge[~own].mean() if (~own).any() else zero
    return own_term + other_term


def project_to_annulus(x_adv: torch.Tensor, x: torch.Tensor, radius: float, gamma: float) -> torch.Tensor:
    """Project each x̃ onto DROCC's annulus N_i(r) = {x̃ : r ≤ ‖x̃ − x_i‖₂ ≤ γ·r} around its x_i
    (Goyal et al. 2020, §3): h ← h · clamp(‖h‖, r, γr) / ‖h‖ with h = x̃ − x, per sample."""
    h = (x_adv - x).flatten(1)
    norm = h.norm(dim=1, keepdim=True).clamp_min(1e-12)
    scale = norm.clamp(radius, gamma * radius) / norm
    return x + (h * scale).view_as(x)


def drocc_adversarial_search(model: torch.nn.Module, x: torch.Tensor, radius: float, gamma: float = 2.0,
                             steps: int = 5, step_size: float = 0.001, project_every: int | None = None) -> torch.Tensor:
    """The inner maximisation of DROCC's objective (Goyal et al. 2020, §3): points x̃_i in the
    annulus N_i(r) around each training point on which the classifier is most wrong when told
    "anomaly",

        x̃_i ≈ argmax_{x̃ ∈ N_i(r)} ℓ(f_θ(x̃), −1),

    by projected normalised gradient ascent: x̃ ← x + N(0, I) (torch's global RNG), then ``steps``
    times x̃ ← x̃ + η_a · ∇/‖∇‖ of BCE(f(x̃), "anomaly"), projecting onto N_i(r) every
    ``project_every`` steps (None: after the last step only) and always at the end. Returns x̃,
    detached. The model's mode (train/eval) is left as it is.
    """
    x = x.detach()
    x_adv = x + torch.randn(x.shape, device=x.device)
    every = project_every or steps
    for step in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = model(x_adv).float().flatten()
            loss = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
            grad, = torch.autograd.grad(loss, x_adv)
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (grad.ndim - 1)))
        x_adv = x_adv.detach() + step_size * grad / norm
        if (step + 1) % every == 0:
            x_adv = project_to_annulus(x_adv, x, radius, gamma)
    return project_to_annulus(x_adv.detach(), x, radius, gamma)


def drocc_loss(logits_normal: torch.Tensor, logits_adv: torch.Tensor, mu: float = 1.0) -> torch.Tensor:
    """DROCC's objective (Goyal et al. 2020, §3) without its λ‖θ‖² term (the optimiser's weight
    decay), logits > 0 meaning *normal*:

        ℓ_dr = (1/n) Σ_i [ ℓ(f_θ(x_i), +1) + μ · ℓ(f_θ(x̃_i), −1) ],

    ℓ = binary cross-entropy on logits, x̃_i from :func:`drocc_adversarial_search` (singh2021
    Table 18: μ = 1, r = 8, ascent step 0.001)."""
    pos, neg = logits_normal.float().flatten(), logits_adv.float().flatten()
    return (F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
            + mu * F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg)))

"""rafiee2021 (AD-CGAN): networks, Table 2 layer counts, losses and the normality score."""

import math

import pytest
import torch
from torch import nn

from adlib import losses
from adlib.detectors import (ADCGAN_COMPONENTS, ADCGANNormalityScore, adcgan_normality_score,
                             adcgan_score_components, get_detector)
from adlib.models import create_model, list_models
from adlib.models.adcgan import (SCORE_COMPONENTS, ADCGAN, LayerCounts, adcgan_table2, autoencoder_objective,
                                 critic_objective, frozen, generator_objective, latent_disc_objective, scaled)

torch.set_num_threads(1)

# Table 2 of the paper (Conv, Deconv, Linear) per module and dataset column.
TABLE2 = {
    28: {"encoder": (5, 0, 0), "generator": (2, 4, 0), "critic": (4, 0, 2), "latent_disc": (0, 0, 3)},  # fMNIST/MNIST
    32: {"encoder": (5, 0, 0), "generator": (3, 4, 0), "critic": (6, 0, 2), "latent_disc": (0, 0, 3)},  # CIFAR10
    64: {"encoder": (5, 0, 0), "generator": (2, 5, 0), "critic": (6, 0, 2), "latent_disc": (0, 0, 3)},  # CatsVsDogs
}
# Local map M and K at width 1 (spec §2.2); latent d of the registered constructors (paper §A.3).
LOCAL = {28: (11, 128), 32: (6, 2048), 64: (10, 2048)}
LATENT = {28: 100, 32: 100, 64: 200}
NAMES = {28: "adcgan28", 32: "adcgan32", 64: "adcgan64"}


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("width", [1.0, 0.25])
@pytest.mark.parametrize("size", [28, 32, 64])
def test_network_output_shapes(size, width):
    model = create_model(NAMES[size], width=width).eval()
    c, d = model.channels, LATENT[size]
    assert c == (1 if size == 28 else 3) and model.latent_dim == d
    x = torch.rand(3, c, size, size, generator=_gen(0))
    with torch.inference_mode():
        e = model.encoder(x)
        assert e.shape == (3, d, 1, 1)
        for z in (torch.randn(3, d, generator=_gen(1)), e):
            img = model.generator(z)
            assert img.shape == (3, c, size, size) and img.min() >= 0 and img.max() <= 1
        logit, glob, local = model.critic(x)
        m, k = LOCAL[size]
        k = scaled(k, width)
        assert logit.shape == (3,) and glob.shape == (3, k) and local.shape == (3, k, m, m)
        assert model.latent_disc(e).shape == (3,) and model.latent_disc.pair(e, e).shape == (6,)
        comps = model(x)
        assert comps.shape == (3, 4) and torch.isfinite(comps).all() and (comps >= 0).all()


def test_width_multiplier_shrinks_the_networks_and_latent_size_is_a_parameter():
    full = sum(p.numel() for p in create_model("adcgan28").parameters())
    small = sum(p.numel() for p in create_model("adcgan28", width=0.25).parameters())
    assert small < full / 5
    model = create_model("adcgan28", width=0.5, latent_dim=16).eval()
    with torch.inference_mode():
        assert model.encoder(torch.rand(2, 1, 28, 28)).shape == (2, 16, 1, 1)
        assert model.generator(torch.randn(2, 16)).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="image sizes"):
        ADCGAN(image_size=48)


def test_registered_names():
    assert {"adcgan28", "adcgan32", "adcgan64"} <= set(list_models())
    assert isinstance(get_detector("adcgan"), ADCGANNormalityScore)
    assert ADCGAN_COMPONENTS == SCORE_COMPONENTS


@pytest.mark.parametrize("width", [1.0, 0.25])
@pytest.mark.parametrize("size", [28, 32, 64])
def test_layer_counts_match_table2(size, width):
    counts = adcgan_table2(create_model(NAMES[size], width=width))
    assert counts == {k: LayerCounts(*v) for k, v in TABLE2[size].items()}


# ---------------------------------------------------------------------------------------------
# losses


def _naive_infonce(local, glob, negatives="all", self_mask=-10.0):
    """Eq. (1) by a loop over anchors (n, i) and candidate pairs, in float64."""
    local, glob = local.double().flatten(2), glob.double()
    n_img, _, m2 = local.shape
    total = 0.0
    for n in range(n_img):
        for i in range(m2):
            pos = float(local[n, :, i] @ glob[n])
            terms = []
            for m in range(n_img):
                for j in range(m2):
                    s = float(local[m, :, j] @ glob[n])
                    if negatives == "all" or (negatives == "self" and m == n) or (negatives == "others" and m != n):
                        terms.append(math.exp(s))
            if negatives == "others":
                terms.append(math.exp(pos))
                if self_mask is not None:
                    terms += [math.exp(self_mask)] * m2
            total += -math.log(math.exp(pos) / sum(terms))
    return total / (n_img * m2)


@pytest.mark.parametrize("negatives,self_mask", [("all", None), ("others", -10.0), ("others", None), ("self", None)])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_batched_infonce_equals_the_naive_loop(n, negatives, self_mask):
    g = _gen(n)
    local, glob = torch.randn(n, 8, 3, 3, generator=g), torch.randn(n, 8, generator=g) * 0.5
    got = losses.local_global_infonce(local, glob, negatives, self_mask).item()
    assert got == pytest.approx(_naive_infonce(local, glob, negatives, self_mask), abs=1e-5)
    assert got >= 0


def test_infonce_on_zero_features_is_the_log_of_the_candidate_count():
    n, m2 = 4, 9
    local, glob = torch.zeros(n, 8, 3, 3), torch.zeros(n, 8)
    assert losses.local_global_infonce(local, glob, "all").item() == pytest.approx(math.log(n * m2))
    assert losses.local_global_infonce(local, glob, "self").item() == pytest.approx(math.log(m2))
    assert losses.local_global_infonce(local, glob, "others").item() == pytest.approx(
        math.log(1 + (n - 1) * m2 + m2 * math.exp(-10)))
    with pytest.raises(ValueError, match="negatives"):
        losses.local_global_infonce(local, glob, "none")


@pytest.mark.parametrize("n", [2, 3, 6])
@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_critic_and_generator_losses_weight_the_infonce_term(n, weight):
    g = _gen(10 + n)
    c_real, c_fake = torch.randn(n, generator=g), torch.randn(n, generator=g)
    local, glob = torch.randn(n, 6, 2, 2, generator=g), torch.randn(n, 6, generator=g)
    naive = _naive_infonce(local, glob)
    d = losses.adcgan_critic_loss(c_real, c_fake, local, glob, beta=weight).item()
    assert d == pytest.approx(losses.relativistic_discriminator_loss(c_real, c_fake).item() + weight * naive, abs=1e-5)
    gl = losses.adcgan_generator_loss(c_real, c_fake, local, glob, alpha=weight).item()
    assert gl == pytest.approx(losses.relativistic_generator_loss(c_real, c_fake).item() + weight * naive, abs=1e-5)


def test_relativistic_losses_match_their_definitions():
    sig = lambda a: 1 / (1 + math.exp(-a))  # noqa: E731
    c_real, c_fake = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([0.0, 1.0, -1.0])
    diffs = [2.0, -1.0, 0.0]
    want_d = -sum(math.log(sig(a)) for a in diffs) / 3
    want_g = -sum(math.log(sig(-a)) for a in diffs) / 3
    assert losses.relativistic_discriminator_loss(c_real, c_fake).item() == pytest.approx(want_d, rel=1e-6)
    assert losses.relativistic_generator_loss(c_real, c_fake).item() == pytest.approx(want_g, rel=1e-6)
    # only the difference matters (relativistic), and equal logits give log 2
    assert losses.relativistic_discriminator_loss(c_real + 5, c_fake + 5).item() == pytest.approx(want_d, rel=1e-6)
    assert losses.relativistic_generator_loss(torch.ones(4), torch.ones(4)).item() == pytest.approx(math.log(2))


def test_autoencoder_and_latent_losses():
    x, x_hat = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.0]])
    assert losses.autoencoder_loss(x, x_hat).item() == pytest.approx((0.25 + 1.0) / 2)
    sp = lambda a: math.log1p(math.exp(a))  # noqa: E731  softplus
    dz_zz, dz_ze = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    want = (sp(-1.0) + sp(2.0)) / 2 + (sp(0.5) + sp(3.0)) / 2  # −log σ(a) = sp(−a), −log(1 − σ(a)) = sp(a)
    assert losses.latent_discriminator_loss(dz_zz, dz_ze).item() == pytest.approx(want, rel=1e-6)
    assert losses.latent_encoder_loss(torch.tensor([0.0])).item() == pytest.approx(math.log(2))


# ---------------------------------------------------------------------------------------------
# normality score


def test_score_combines_the_components_with_lambda_and_rho():
    comps = torch.tensor([[1.0, 10.0, 100.0, 1000.0], [2.0, 0.0, 4.0, 0.0]])
    gr, gd, fe, fl = comps.T
    assert torch.allclose(adcgan_normality_score(comps), 0.1 * gd + 0.9 * gr + 0.5 * fe + 0.5 * fl)
    assert torch.allclose(adcgan_normality_score(comps, 0.3, 0.2), 0.3 * gd + 0.7 * gr + 0.2 * fe + 0.8 * fl)
    lg = 0.1 * gd + 0.9 * gr  # Table 4 variants
    assert torch.allclose(adcgan_normality_score(comps, feature_terms=False), lg)
    assert torch.allclose(adcgan_normality_score(comps, rho=1.0), lg + fe)  # LFE
    assert torch.allclose(adcgan_normality_score(comps, rho=0.0), lg + fl)  # LFL
    assert torch.allclose(ADCGANNormalityScore().score_outputs(comps), lg + 0.5 * fe + 0.5 * fl)  # GF


def _constant_generator_model():
    """A small AD-CGAN whose G outputs the constant 0.5 image (last deconv zeroed: tanh(0) = 0)."""
    torch.manual_seed(0)
    model = ADCGAN(28, width=0.25, latent_dim=8, spectral=False).eval()
    last = [m for m in model.generator.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    return model


@pytest.mark.parametrize("latent_source", ["sample", "reconstruction"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_score_is_higher_for_an_input_that_is_reconstructed_worse(reduction, latent_source):
    model = _constant_generator_model()
    good = torch.full((1, 1, 28, 28), 0.5)  # G(E(good)) = good exactly
    bad = torch.rand(1, 1, 28, 28, generator=_gen(3))
    z = torch.randn(1, 8, 1, 1, generator=_gen(4))
    with torch.inference_mode():
        c_good = model.score_components(good, z, reduction, latent_source)[0]
        c_bad = model.score_components(bad, z, reduction, latent_source)[0]
    assert c_good[:3].abs().max() < 1e-6  # L_GR = L_GD = L_FE = 0 for a perfect reconstruction
    assert (c_bad[:3] > 1e-3).all()
    assert c_bad[3] >= c_good[3] - 1e-6  # L_FL: |d(ê) − d(e)| ≥ 0 added to the same |d(z) − d(ê)|
    for lam, rho in [(0.1, 0.5), (0.0, 1.0), (1.0, 0.0)]:
        s = adcgan_normality_score(torch.stack([c_good, c_bad]), lam, rho)
        assert s[1] > s[0]
    # the sum is the mean times the number of elements
    if reduction == "sum":
        mean = model.score_components(bad, z, "mean", latent_source)[0]
        assert c_bad[0].item() == pytest.approx(mean[0].item() * 28 * 28, rel=1e-5)
        assert c_bad[2].item() == pytest.approx(mean[2].item() * 8, rel=1e-5)


def test_score_components_by_hand_and_seeded_batched_scoring():
    torch.manual_seed(1)
    model = ADCGAN(28, width=0.25, latent_dim=8).eval()
    x = torch.rand(5, 1, 28, 28, generator=_gen(5))
    z = torch.randn(5, 8, 1, 1, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        e = model.encoder(x)
        x_hat = model.generator(e)
        e_hat = model.encoder(x_hat)
        e_z = model.encoder(model.generator(z))
        d = model.latent_disc
        want = torch.stack([
            (x - x_hat).abs().sum((1, 2, 3)),
            (model.critic(x)[2] - model.critic(x_hat)[2]).abs().sum((1, 2, 3)),
            (e - e_hat).abs().sum((1, 2, 3)),
            # ‖D_z(E(G(z)), z) − D_z(E(x), E(G(z)))‖₁ per image
            (d.pair(e_z, z) - d.pair(e, e_z)).abs().reshape(2, 5).sum(0),
        ], dim=1)
    comps = adcgan_score_components(model, x, seed=7, batch_size=2)
    assert torch.allclose(torch.stack([comps[k] for k in ADCGAN_COMPONENTS], 1), want, atol=1e-4, rtol=1e-5)
    det = ADCGANNormalityScore(seed=7)
    s1, s2 = det.score(model, x, batch_size=2), det.score(model, x, batch_size=5)
    assert torch.allclose(s1, s2, atol=1e-4) and torch.allclose(s1, adcgan_normality_score(want), atol=1e-3)
    assert not model.training


# ---------------------------------------------------------------------------------------------
# gradient flow


def _grads(model):
    """Which of the four networks have any non-zero parameter gradient."""
    out = {}
    for name in ("encoder", "generator", "critic", "latent_disc"):
        gs = [p.grad for p in getattr(model, name).parameters()]
        out[name] = any(g is not None and g.abs().sum() > 0 for g in gs)
    return out


@pytest.mark.parametrize("objective,want", [
    (lambda m, x, z: critic_objective(m, x, z), {"critic"}),
    (lambda m, x, z: generator_objective(m, x, z), {"generator"}),
    (lambda m, x, z: autoencoder_objective(m, x, z, "adversarial"), {"encoder", "generator"}),
    (lambda m, x, z: autoencoder_objective(m, x, z, "official"), {"encoder", "generator", "latent_disc"}),
    (lambda m, x, z: latent_disc_objective(m, x, z), {"latent_disc"}),
])
def test_gradients_reach_only_the_intended_networks(objective, want):
    torch.manual_seed(2)
    model = ADCGAN(28, width=0.25, latent_dim=8).train()
    x = torch.rand(4, 1, 28, 28, generator=_gen(8))
    z = torch.randn(4, 8, 1, 1, generator=_gen(9))
    loss = objective(model, x, z)
    assert torch.isfinite(loss)
    loss.backward()
    got = _grads(model)
    assert {k for k, v in got.items() if v} == want
    assert all(p.requires_grad for p in model.parameters())  # frozen() restored the flags


def test_frozen_restores_requires_grad_flags():
    net = nn.Linear(2, 2)
    net.bias.requires_grad_(False)
    with frozen(net):
        assert not net.weight.requires_grad
    assert net.weight.requires_grad and not net.bias.requires_grad

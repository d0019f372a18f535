"""singh2021 method pieces: Algorithm 1's combination rule, the DeepMAD loss on hand-computed
tensors, DROCC's annulus projection and loss, the detectors, the LeNet autoencoder."""

import itertools
import math

import numpy as np
import pytest
import torch

from adlib.detectors import any_normal_score, get_detector
from adlib.losses import deepmad_loss, drocc_adversarial_search, drocc_loss, project_to_annulus
from adlib.models import create_model


def test_any_normal_score_is_the_minimum():
    s = torch.tensor([[0.2, 5.0, 3.0], [4.0, 1.0, 6.0]])  # 2 detectors × 3 samples
    assert any_normal_score(s).tolist() == pytest.approx([0.2, 1.0, 3.0])
    with pytest.raises(ValueError):
        any_normal_score(torch.zeros(3))


def test_any_normal_equals_all_detectors_say_anomalous_at_every_threshold():
    """Algorithm 1: anomalous iff *all* m detectors say anomalous (s_i ≥ T), for every T."""
    rng = np.random.default_rng(0)
    s = torch.from_numpy(rng.normal(size=(4, 200)))
    combined = any_normal_score(s)
    for t in np.quantile(s.numpy(), np.linspace(0, 1, 41)):
        assert torch.equal(combined >= t, (s >= t).all(dim=0))


def test_deepmad_loss_hand_computed():
    c = torch.tensor([0.0, 0.0])
    z = torch.tensor([[3.0, 4.0],   # own class, ‖z − c‖² = 25
                      [0.6, 0.8],   # other class, distance 1 < δ = 2: hinge active, (2 − 1)² = 1
                      [3.0, 0.0]])  # other class, distance 3 > δ: hinge inactive, 0
    own = torch.tensor([True, False, False])
    assert deepmad_loss(z, own, c, delta=2.0, eta=1.0).item() == pytest.approx((25 + 1 + 0) / 3)
    assert deepmad_loss(z, own, c, delta=2.0, eta=0.5).item() == pytest.approx((25 + 0.5) / 3)
    assert deepmad_loss(z, own, c, delta=2.0, weighting="balanced").item() == pytest.approx(25 + 0.5)
    # hinge inactive everywhere: only the compactness term is left
    assert deepmad_loss(z[[0, 2]], own[[0, 2]], c, delta=2.0).item() == pytest.approx(25 / 2)
    with pytest.raises(ValueError):
        deepmad_loss(z, own, c, 2.0, weighting="nope")


def test_deepmad_hinge_pushes_other_classes_out():
    c = torch.zeros(2)
    z = torch.tensor([[0.5, 0.0]], requires_grad=True)
    deepmad_loss(z, torch.tensor([False]), c, delta=2.0).backward()
    assert z.grad[0, 0] < 0  # descending the gradient moves z away from c
    z2 = torch.tensor([[0.5, 0.0]], requires_grad=True)
    deepmad_loss(z2, torch.tensor([True]), c, delta=2.0).backward()
    assert z2.grad[0, 0] > 0  # own class is pulled in


def test_project_to_annulus():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 1, 4, 4, generator=g)
    x_adv = x + torch.randn(50, 1, 4, 4, generator=g) * torch.logspace(-2, 2, 50).view(-1, 1, 1, 1)
    proj = project_to_annulus(x_adv, x, radius=1.0, gamma=2.0)
    d = (proj - x).flatten(1).norm(dim=1)
    assert (d >= 1.0 - 1e-5).all() and (d <= 2.0 + 1e-5).all()
    inside = ((x_adv - x).flatten(1).norm(dim=1) - 1.5).abs() < 0.4  # already in the annulus: unchanged
    assert torch.allclose(proj[inside], x_adv[inside])


def test_drocc_search_stays_in_annulus_and_loss_sanity():
    torch.manual_seed(0)
    model = create_model("lenet", widths=(4,), rep_dim=8, bias=False, logit_head=True, head_hidden=4)
    x = torch.rand(6, 1, 28, 28)
    x_adv = drocc_adversarial_search(model, x, radius=2.0, gamma=2.0, steps=3, step_size=0.01)
    d = (x_adv - x).flatten(1).norm(dim=1)
    assert (d >= 2.0 - 1e-4).all() and (d <= 4.0 + 1e-4).all() and not x_adv.requires_grad
    # BCE(+1) of a confident-normal logit plus μ · BCE(−1) of a confident-anomalous one is ~0
    assert drocc_loss(torch.full((4,), 20.0), torch.full((4,), -20.0)).item() < 1e-6
    assert drocc_loss(torch.zeros(4), torch.zeros(4), mu=1.0).item() == pytest.approx(2 * math.log(2))
    assert drocc_loss(torch.zeros(4), torch.zeros(4), mu=0.0).item() == pytest.approx(math.log(2))


def test_detectors_for_singh2021():
    logits = torch.tensor([3.0, -1.0])
    assert get_detector("normal_logit").score_outputs(logits).tolist() == [-3.0, 1.0]
    det = get_detector("center_distance", center=torch.zeros(2), squared=False)
    assert det.score_outputs(torch.tensor([[3.0, 4.0]])).item() == pytest.approx(5.0)


@pytest.mark.parametrize("channels,side,widths", [(1, 28, (8, 4)), (1, 28, (32, 64, 128)), (3, 32, (32, 64, 128))])
def test_lenet_autoencoder_shapes_and_encoder_weights(channels, side, widths):
    ae = create_model("lenet_autoencoder", in_channels=channels, image_size=side, widths=widths, rep_dim=16, bias=False)
    x = torch.rand(2, channels, side, side)
    out = ae(x)
    assert out.shape == x.shape and (out >= 0).all() and (out <= 1).all()
    enc = create_model("lenet", in_channels=channels, image_size=side, widths=widths, rep_dim=16, bias=False)
    enc.load_state_dict(ae.encoder.state_dict())
    ae.eval(), enc.eval()
    assert torch.equal(enc(x), ae.features(x))


def test_drocc_search_gamma_one_is_the_sphere_and_projection_schedule():
    torch.manual_seed(1)
    model = create_model("lenet", widths=(4,), rep_dim=8, bias=False, logit_head=True, head_hidden=4)
    x = torch.rand(5, 1, 28, 28)
    sphere = drocc_adversarial_search(model, x, radius=3.0, gamma=1.0, steps=20, step_size=0.5, project_every=10)
    assert torch.allclose((sphere - x).flatten(1).norm(dim=1), torch.full((5,), 3.0), atol=1e-4)

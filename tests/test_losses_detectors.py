"""OE loss (hendrycks2019 §4.3) and the classifier-based detectors."""

import math

import pytest
import torch
import torch.nn.functional as F

from adlib.detectors import MaxSoftmax, NegUniformCrossEntropy, get_detector, model_outputs
from adlib.losses import outlier_exposure_loss, uniform_cross_entropy


def test_uniform_cross_entropy_equals_mean_negative_log_softmax():
    z = torch.randn(7, 5, dtype=torch.float64)
    expected = -(F.log_softmax(z, dim=1)).mean(dim=1)
    torch.testing.assert_close(uniform_cross_entropy(z), expected)


def test_uniform_cross_entropy_minimum_is_log_k_at_equal_logits_with_zero_gradient():
    z = torch.full((3, 6), 2.5, requires_grad=True)
    h = uniform_cross_entropy(z)
    torch.testing.assert_close(h, torch.full((3,), math.log(6)))
    h.sum().backward()
    torch.testing.assert_close(z.grad, torch.zeros_like(z))
    assert (uniform_cross_entropy(torch.randn(100, 6) * 3) > math.log(6) - 1e-6).all()


def test_oe_loss_is_cross_entropy_plus_weighted_uniform_term():
    zi, zo = torch.randn(4, 3), torch.randn(8, 3)
    y = torch.tensor([0, 1, 2, 1])
    ce = F.cross_entropy(zi, y)
    torch.testing.assert_close(outlier_exposure_loss(zi, y, None), ce)
    torch.testing.assert_close(outlier_exposure_loss(zi, y, zo, 0.5), ce + 0.5 * uniform_cross_entropy(zo).mean())
    torch.testing.assert_close(outlier_exposure_loss(zi, y, zo, 0.0), ce)


def test_msp_score_higher_for_flatter_softmax():
    confident = torch.tensor([[10.0, 0.0, 0.0]])
    flat = torch.tensor([[0.1, 0.0, 0.0]])
    det = MaxSoftmax()
    assert det.score_outputs(flat) > det.score_outputs(confident)
    torch.testing.assert_close(det.score_outputs(torch.zeros(1, 4)), torch.tensor([-0.25]))


def test_neg_uniform_xent_is_maximal_for_uniform_output():
    det = NegUniformCrossEntropy()
    uniform = det.score_outputs(torch.zeros(1, 5))
    torch.testing.assert_close(uniform, torch.tensor([-math.log(5)]))
    assert (det.score_outputs(torch.randn(50, 5) * 2) <= uniform + 1e-6).all()


def test_get_detector_unknown_lists_valid():
    with pytest.raises(ValueError, match="msp"):
        get_detector("energy?")


def test_model_outputs_batches_and_restores_training_mode():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
    model.train()
    x = torch.randn(10, 2, 2)
    out_small = model_outputs(model, x, batch_size=3)
    out_big = model_outputs(model, x, batch_size=100)
    torch.testing.assert_close(out_small, out_big)  # eval mode: dropout off, batching irrelevant
    assert model.training

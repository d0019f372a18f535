"""ruff2021 losses, detectors and the balanced OE batching (spec §8.3 unit-level tests 1-5)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from adlib import losses
from adlib.detectors import get_detector
from adlib.metrics import auroc
from adlib.train import NominalVsOutlierObjective, TrainSpec, train_classifier


def _z(n=16, d=8, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_radial_functions_match_their_definitions():
    z = torch.tensor([[3.0, -4.0]])
    assert losses.radial_h(z, "l1").item() == pytest.approx(7.0)
    assert losses.radial_h(z, "l2").item() == pytest.approx(5.0)
    assert losses.radial_h(z, "l2_squared").item() == pytest.approx(25.0)
    assert losses.radial_h(z, "pseudo_huber").item() == pytest.approx(math.sqrt(26.0) - 1)
    with pytest.raises(ValueError, match="pseudo_huber"):
        losses.radial_h(z, "l3")


def test_hsc_without_outliers_is_mean_h_and_deep_svdd_with_zero_centre():
    z = _z()
    none = torch.zeros(len(z), dtype=torch.bool)
    for h in losses.RADIAL_FUNCTIONS:
        assert losses.hypersphere_classifier_loss(z, none, h).item() == pytest.approx(losses.radial_h(z, h).mean().item())
    svdd = losses.deep_svdd_loss(z, torch.zeros(z.shape[1]))
    assert losses.hypersphere_classifier_loss(z, none, "l2_squared").item() == pytest.approx(svdd.item(), rel=1e-6)


def test_hsc_outlier_term_is_minus_log_one_minus_exp_minus_h_and_finite_near_zero():
    z = _z(4)
    out = torch.ones(len(z), dtype=torch.bool)
    hz = losses.radial_h(z, "pseudo_huber")
    expected = (-torch.log(1 - torch.exp(-hz))).mean()
    assert losses.hypersphere_classifier_loss(z, out, "pseudo_huber").item() == pytest.approx(expected.item(), rel=1e-5)
    tiny = torch.full((2, 3), 1e-5, requires_grad=True)
    value = losses.hypersphere_classifier_loss(tiny, torch.ones(2, dtype=torch.bool))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(tiny.grad).all()
    # pushing an outlier further out lowers its loss, pulling a nominal point in lowers its loss
    far, near = torch.tensor([[5.0, 0.0]]), torch.tensor([[0.5, 0.0]])
    one = torch.ones(1, dtype=torch.bool)
    assert losses.hypersphere_classifier_loss(far, one) < losses.hypersphere_classifier_loss(near, one)
    assert losses.hypersphere_classifier_loss(near, ~one) < losses.hypersphere_classifier_loss(far, ~one)


def test_deep_sad_uses_inverse_distance_for_outliers():
    z = torch.tensor([[1.0, 1.0], [2.0, 0.0]])
    out = torch.tensor([False, True])
    assert losses.deep_sad_loss(z, out).item() == pytest.approx((2.0 + 1 / (4.0 + 1e-9)) / 2)


def test_focal_with_gamma_zero_is_alpha_times_bce_and_down_weights_easy_samples():
    logits = torch.tensor([4.0, -3.0, 0.2, -0.1, 2.0])
    out = torch.tensor([True, False, True, False, False])
    bce = losses.binary_outlier_loss(logits, out)
    assert bce.item() == pytest.approx(F.binary_cross_entropy_with_logits(logits, out.float()).item())
    assert losses.focal_outlier_loss(logits, out, gamma=0.0, alpha=0.5).item() == pytest.approx(0.5 * bce.item())
    assert losses.focal_outlier_loss(logits, out, gamma=0.0, alpha=1.0).item() == pytest.approx(bce.item())
    focal2 = losses.focal_outlier_loss(logits, out, gamma=2.0, alpha=1.0)
    assert 0 < focal2.item() < bce.item()


def test_detectors_score_higher_for_anomalies_and_agree_in_auc():
    g = torch.Generator().manual_seed(1)
    nominal, anomalous = 0.5 * torch.randn(200, 4, generator=g), 2 + torch.randn(200, 4, generator=g)
    outputs = torch.cat([nominal, anomalous])
    labels = np.r_[np.zeros(200), np.ones(200)]
    aucs = {name: auroc(get_detector(name, **kw).score_outputs(outputs).numpy(), labels)
            for name, kw in [("radial", {"h": "pseudo_huber"}), ("radial", {"h": "l2"}), ("squared_norm", {})]}
    assert len(set(np.round(list(aucs.values()), 12))) == 1 and list(aucs.values())[0] > 0.9
    centre = torch.full((4,), 2.0)
    # distance to a centre placed on the anomalies inverts the ranking
    assert auroc(get_detector("center_distance", center=centre).score_outputs(outputs).numpy(), labels) < 0.1
    logit = get_detector("outlier_logit").score_outputs(torch.tensor([[-1.0], [2.0]]))
    assert logit.tolist() == [-1.0, 2.0]
    with pytest.raises(ValueError, match="centre"):
        get_detector("center_distance")


def test_nominal_vs_outlier_objective_marks_the_oe_rows():
    seen = {}

    def loss_fn(outputs, is_outlier):
        seen["mask"] = is_outlier.tolist()
        return outputs.sum()

    NominalVsOutlierObjective(loss_fn).loss(torch.zeros(5, 2), torch.zeros(3), n_in=3)
    assert seen["mask"] == [False, False, False, True, True]


def test_train_spec_keeps_old_hashes_and_round_trips_new_fields():
    old = TrainSpec().to_dict()
    assert not {"optimizer", "lr_milestones", "drop_last"} & set(old)
    new = TrainSpec(optimizer="adam", lr_milestones=(5, 10), drop_last=True)
    d = new.to_dict()
    assert d["optimizer"] == "adam" and d["lr_milestones"] == [5, 10] and d["drop_last"] is True
    assert TrainSpec(**d) == new
    with pytest.raises(ValueError, match="optimizer"):
        TrainSpec(optimizer="rmsprop")


class _Recorder(nn.Module):
    """A tiny trainable model that records every input batch (pixel 0 carries the image id)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1)
        self.batches = []

    def forward(self, x):
        if self.training:
            self.batches.append((x[:, 0, 0, 0] * 255).round().long().tolist())
        return self.lin(x.flatten(1)[:, :4]).squeeze(1)


def _ids(n, offset):
    x = torch.zeros(n, 2, 2, dtype=torch.uint8)
    x[:, 0, 0] = torch.arange(offset, offset + n, dtype=torch.uint8)
    return x


@pytest.mark.parametrize("n_oe", [1, 3, 200])
def test_balanced_batches_with_small_oe_sets_and_drop_last(n_oe):
    nominal, oe = _ids(300, 0), _ids(n_oe, 1) if n_oe < 200 else _ids(n_oe, 50)
    spec = TrainSpec(epochs=2, batch_size=128, lr=1e-3, optimizer="adam", lr_milestones=(1,), drop_last=True,
                     oe_batch_size=128, oe_weight=0.0)
    model = _Recorder()
    train_classifier(model, nominal, torch.zeros(300, dtype=torch.long), spec, seed=0, oe_images=oe,
                     progress=False, objective=NominalVsOutlierObjective(losses.binary_outlier_loss))
    assert len(model.batches) == 2 * (300 // 128)  # drop_last: 2 full batches per epoch
    oe_ids = set(oe[:, 0, 0].tolist())
    for batch in model.batches:
        assert len(batch) == 256
        assert set(batch[128:]) <= oe_ids  # 128 OE rows, repeated when the OE set is smaller
        if n_oe <= 3:
            assert set(batch[128:]) == oe_ids

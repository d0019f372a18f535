"""hendrycks2019 Table 3: the DeVries & Taylor confidence branch, its OE term, the -b(x) detector,
and the runner end to end at smoke scale."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from adlib.detectors import ConfidenceBranch, get_detector, model_outputs, split_branch_outputs
from adlib.losses import branch_outlier_exposure_term, confidence_branch_loss, update_confidence_lambda
from adlib.models import create_model
from adlib.papers.hendrycks2019 import confidence_branch as cb
from adlib.train import ConfidenceBranchObjective


def test_dt_loss_interpolates_towards_the_label_by_one_minus_confidence():
    logits = torch.log(torch.tensor([[0.2, 0.5, 0.3]]))
    y = torch.tensor([0])
    c = torch.tensor([0.4])
    total, conf = confidence_branch_loss(logits, c, y, hint_mask=torch.ones(1), lmbda=0.0)
    # p' = c·p + (1 − c)·onehot(y): p'_y = 0.4·0.2 + 0.6 = 0.68
    assert total.item() == pytest.approx(-math.log(0.68), rel=1e-5)
    assert conf.item() == pytest.approx(-math.log(0.4), rel=1e-5)
    # no hint (m = 0): c' = 1, plain cross-entropy; λ_c adds λ_c · (−log c)
    total, _ = confidence_branch_loss(logits, c, y, hint_mask=torch.zeros(1), lmbda=0.5)
    assert total.item() == pytest.approx(-math.log(0.2) - 0.5 * math.log(0.4), rel=1e-5)


def test_dt_loss_asking_for_hints_lowers_nll_but_costs_confidence():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    y = torch.tensor([2])  # a wrong prediction
    c = torch.tensor([0.9], requires_grad=True)
    total, _ = confidence_branch_loss(logits, c, y, torch.ones(1), lmbda=0.0)
    total.backward()
    assert c.grad.item() > 0  # with λ_c = 0, lowering c (asking for the hint) lowers the loss
    c.grad = None
    total, _ = confidence_branch_loss(torch.tensor([[-5.0, -5.0, 8.0]]), c, y, torch.ones(1), lmbda=1.0)
    total.backward()
    assert c.grad.item() < 0  # a confident right answer: the penalty pushes c up


def test_lambda_budget_update_direction():
    assert update_confidence_lambda(0.1, conf_loss=0.1, budget=0.3) == pytest.approx(0.1 / 1.01)  # under budget
    assert update_confidence_lambda(0.1, conf_loss=0.5, budget=0.3) == pytest.approx(0.1 / 0.99)  # over budget
    assert update_confidence_lambda(0.1, conf_loss=0.5, budget=0.3) > 0.1 > update_confidence_lambda(0.1, 0.1)


def test_branch_oe_term_is_mean_log_b_and_pushes_outlier_confidence_down():
    b = torch.tensor([0.5, 0.25], requires_grad=True)
    term = branch_outlier_exposure_term(b)
    assert term.item() == pytest.approx((math.log(0.5) + math.log(0.25)) / 2)
    term.backward()
    assert (b.grad > 0).all()  # gradient descent on +0.5·E[log b] lowers b(x_out)
    assert branch_outlier_exposure_term(torch.zeros(3)).item() == pytest.approx(math.log(1e-12))  # clamped


def test_objective_adds_the_oe_term_only_for_the_outlier_rows_and_updates_lambda():
    torch.manual_seed(0)
    logits = torch.randn(6, 3)
    conf = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    y = torch.tensor([0, 1, 2, 0])
    plain = ConfidenceBranchObjective(lmbda=0.1, oe_weight=0.0)
    with_oe = ConfidenceBranchObjective(lmbda=0.1, oe_weight=0.5)
    torch.manual_seed(1)
    a = plain.loss((logits, conf), y, n_in=4)
    torch.manual_seed(1)
    b = with_oe.loss((logits, conf), y, n_in=4)
    assert (b - a).item() == pytest.approx(0.5 * (math.log(0.2) + math.log(0.1)) / 2, rel=1e-5)
    with_oe.after_step()
    assert with_oe.lmbda != 0.1 and with_oe.state_dict() == {"lmbda": with_oe.lmbda}


def test_branch_model_outputs_pack_logits_then_confidence_and_detector_is_minus_b():
    torch.manual_seed(0)
    model = create_model("mnist_convnet_branch", num_classes=4)
    x = torch.rand(5, 1, 28, 28)
    out = model_outputs(model, x)
    assert out.shape == (5, 5)
    logits, b = split_branch_outputs(out)
    assert ((b > 0) & (b < 1)).all()
    scores = get_detector("confidence_branch").score_outputs(out)
    assert torch.equal(scores, -b)  # higher = more anomalous = lower confidence
    packed = torch.tensor([[0.0, 0.0, 0.9], [0.0, 0.0, 0.1]])
    assert ConfidenceBranch().score_outputs(packed)[1] > ConfidenceBranch().score_outputs(packed)[0]


def test_configs():
    branch, tuned = cb.run_config("cpu", "branch", 0), cb.run_config("cpu", "branch_oe", 0)
    assert branch["data"] == tuned["data"] and "finetune" in tuned and "finetune" not in branch
    assert branch["branch"] == {"lmbda": 0.1, "budget": 0.3, "hint_prob": 0.5}
    assert tuned["finetune"]["oe_weight"] == 0.5 and branch["model"]["name"] == "mnist_convnet_branch"
    assert cb.run_config("paper", "branch", 0, in_dataset="cifar100")["model"] == \
        {"name": "wrn40_4_branch", "num_classes": 100}
    with pytest.raises(ValueError, match="cifar10"):
        cb.run_config("paper", "branch", 0, in_dataset="svhn")
    with pytest.raises(ValueError, match="branch_oe"):
        cb.run_config("cpu", "oe_tune", 0)


def test_smoke_runner_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    for method in cb.METHODS:
        metrics, arrays = cb.run(cb.run_config("smoke", method, 0))
        assert 0 <= metrics["test_accuracy"] <= 1 and metrics["lambda_c"] > 0
        for det in cb.DETECTORS:
            for key in ("FPR95", "AUROC", "AUPR"):
                assert 0 <= metrics["ood_mean"][det][key] <= 1
            assert np.isfinite(arrays[f"{det}__in"]).all()
        assert set(metrics["mean_confidence"]) == {"in", *metrics["ood"]["msp"]}
    assert len(list(tmp_path.rglob("branch-*.pt"))) == 1  # the OE run reused the cached branch network

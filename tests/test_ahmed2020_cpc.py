"""ahmed2020's CPC auxiliary task (Appendix C; spec §2.5, §6, §8.1 "(T6 + Appendix C)"): symmetric
padding, conditional batch norm, the CPC networks, the same-image InfoNCE and the task itself."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from adlib.models import create_model, list_models
from adlib.papers.ahmed2020.cpc import (
    CPC_NETWORKS,
    AuxiliaryTask,
    ConditionalBatchNorm2d,
    CPCContext,
    CPCTask,
    SymmetricConv2d,
    cpc_infonce,
    extract_patches,
    grid_shape,
    symmetric_pad2d,
)


class _Harness(nn.Module):
    """The part of ahmed2020's ``MultiTaskNet`` that CPCTask relies on: ``net``, ``aux`` and the
    ``task(name)`` context manager that calls ``set_task`` on every submodule of ``net``."""

    def __init__(self, net: nn.Module, aux: nn.Module) -> None:
        super().__init__()
        self.net, self.aux = net, aux

    def _set(self, name: str) -> None:
        for m in self.net.modules():
            if hasattr(m, "set_task"):
                m.set_task(name)

    @contextlib.contextmanager
    def task(self, name: str):
        self._set(name)
        try:
            yield
        finally:
            self._set("classification")


def _cpu_model(seed: int = 0) -> _Harness:
    torch.manual_seed(seed)
    net = create_model("wrn_cpc_cpu", num_classes=9)
    return _Harness(net, CPCTask.for_scale("cpu", net.code_dim))


# ---------------------------------------------------------------------------------------------
# Symmetric padding
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,pad", [
    ((2, 3, 5, 7), 1),
    ((1, 1, 4, 4), 2),
    ((1, 2, 3, 6), (0, 2, 3, 1)),   # (left, right, top, bottom), asymmetric; top pad = height
    ((2, 1, 1, 1), 1),              # a 1×1 map: the pixel is repeated
    ((3, 8), (1, 0, 0, 2)),         # plain 2-D input
])
def test_symmetric_pad_matches_numpy(shape, pad):
    x = torch.randn(*shape, dtype=torch.float64)
    left, right, top, bottom = (pad,) * 4 if isinstance(pad, int) else pad
    widths = [(0, 0)] * (len(shape) - 2) + [(top, bottom), (left, right)]
    expected = np.pad(x.numpy(), widths, mode="symmetric")
    got = symmetric_pad2d(x, pad)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got.numpy(), expected)
    # …and it is not PyTorch's "reflect" (which leaves out the edge pixel)
    if min(shape[-2:]) > max(left, right, top, bottom) and max(left, right, top, bottom) > 0 and len(shape) == 4:
        assert not torch.equal(got, F.pad(x, (left, right, top, bottom), mode="reflect"))


def test_symmetric_pad_rejects_pad_beyond_the_size():
    with pytest.raises(ValueError, match="exceeds"):
        symmetric_pad2d(torch.zeros(1, 1, 3, 3), 4)


def test_symmetric_conv_keeps_sizes_and_has_no_border_effect():
    torch.manual_seed(0)
    for stride in (1, 2):
        sym = SymmetricConv2d(2, 4, 3, stride=stride)
        zero = nn.Conv2d(2, 4, 3, stride=stride, padding=1, bias=False)
        for size in (7, 8):
            x = torch.randn(1, 2, size, size)
            assert sym(x).shape == zero(x).shape
    # a constant image stays constant under symmetric padding (zero padding darkens the border)
    conv = SymmetricConv2d(1, 1, 3)
    out = conv(torch.ones(1, 1, 6, 6))
    assert torch.allclose(out, out[0, 0, 2, 2].expand_as(out))
    conv0 = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    conv0.weight.data.copy_(conv.weight.data.abs())
    out0 = conv0(torch.ones(1, 1, 6, 6))
    assert not torch.allclose(out0, out0[0, 0, 2, 2].expand_as(out0))


# ---------------------------------------------------------------------------------------------
# Conditional batch norm
# ---------------------------------------------------------------------------------------------


def test_conditional_bn_with_one_task_equals_batchnorm2d():
    torch.manual_seed(0)
    ref = nn.BatchNorm2d(5, momentum=0.2)
    cbn = ConditionalBatchNorm2d(5, tasks=("classification",), momentum=0.2)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-1, 1)
        cbn.weight[0].copy_(ref.weight)
        cbn.bias[0].copy_(ref.bias)
    for _ in range(3):
        x = torch.randn(4, 5, 3, 3) * 2 + 1
        a, b = ref(x), cbn(x)
        torch.testing.assert_close(b, a)
        g = torch.randn_like(a)
        ga, = torch.autograd.grad(a, ref.weight, g)
        gb, = torch.autograd.grad(b, cbn.weight, g)
        torch.testing.assert_close(gb[0], ga)
    torch.testing.assert_close(cbn.running_mean[0], ref.running_mean)
    torch.testing.assert_close(cbn.running_var[0], ref.running_var)
    assert int(cbn.num_batches_tracked[0]) == int(ref.num_batches_tracked) == 3
    ref.eval()
    cbn.eval()
    x = torch.randn(2, 5, 3, 3)
    torch.testing.assert_close(cbn(x), ref(x))


def test_conditional_bn_keeps_affines_and_running_stats_per_task():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(3)
    assert cbn.tasks == ("classification", "cpc") and cbn.task == "classification"
    cbn(torch.randn(8, 3, 4, 4))                      # classification: zero-mean inputs
    cls_mean = cbn.running_mean[0].clone()
    cbn.set_task("cpc")
    out = cbn(torch.randn(8, 3, 4, 4) + 10.0)         # cpc: inputs around 10
    # only the cpc row of the statistics moved
    torch.testing.assert_close(cbn.running_mean[0], cls_mean)
    assert torch.all(cbn.running_mean[1] > 0.5) and torch.all(cls_mean.abs() < 0.5)
    assert cbn.num_batches_tracked.tolist() == [1, 1]
    # only the cpc affine gets gradients
    out.square().sum().backward()
    assert cbn.weight.grad[0].abs().sum() == 0 and cbn.weight.grad[1].abs().sum() > 0
    with torch.no_grad():
        cbn.weight[1].fill_(2.0)
        cbn.bias[1].fill_(3.0)
    cbn.eval()
    x = torch.randn(2, 3, 4, 4)
    cpc_out = cbn(x)
    cbn.set_task("classification")
    cls_out = cbn(x)
    expected_cls = (x - cls_mean[:, None, None]) / torch.sqrt(cbn.running_var[0][:, None, None] + cbn.eps)
    torch.testing.assert_close(cls_out, expected_cls)
    expected_cpc = 2.0 * (x - cbn.running_mean[1][:, None, None]) / torch.sqrt(
        cbn.running_var[1][:, None, None] + cbn.eps) + 3.0
    torch.testing.assert_close(cpc_out, expected_cpc)
    with pytest.raises(ValueError, match="unknown task"):
        cbn.set_task("rotation")


def test_conditional_bn_can_share_running_stats():
    cbn = ConditionalBatchNorm2d(2, per_task_stats=False)
    cbn(torch.randn(4, 2, 3, 3))
    cbn.set_task("cpc")
    cbn(torch.randn(4, 2, 3, 3))
    assert cbn.running_mean.shape == (1, 2) and cbn.num_batches_tracked.tolist() == [2]
    assert cbn.weight.shape == (2, 2)


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------


def test_cpu_network_registered_with_task_switching():
    assert {"wrn_imagenet_cpc", "wrn_cpc_cpu"} <= set(list_models())
    assert set(CPC_NETWORKS.values()) <= set(list_models())
    model = _cpu_model()
    net = model.net
    x = torch.randn(3, 1, 28, 28)
    assert net(x).shape == (3, 9) and net.features(x).shape == (3, net.feature_dim) == (3, 64)
    assert net.encode_patches(torch.randn(5, 1, 8, 8)).shape == (5, net.code_dim) == (5, 64)
    cbns = [m for m in net.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(cbns) == 4 * 2 + 1 and not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert convs and all(isinstance(m, SymmetricConv2d) for m in convs)
    with model.task("cpc"):
        assert all(m.task == "cpc" for m in cbns)
    assert all(m.task == "classification" for m in cbns)


def test_paper_network_forward_backward_at_224():
    torch.manual_seed(0)
    net = create_model("wrn_imagenet_cpc", num_classes=12)
    assert net.conv1.stride == (2, 2) and net.feature_dim == 256 and net.code_dim == 256
    assert [len(g) for g in net.groups] == [4, 4, 4, 4]
    assert [g[0].conv2.out_channels for g in net.groups] == [64, 128, 256, 256]
    n_params = sum(p.numel() for p in net.parameters())
    assert 10_000_000 < n_params < 11_500_000
    model = _Harness(net, CPCTask.for_scale("paper", net.code_dim))
    aux = model.aux
    assert aux.grid() == (6, 6) and len(aux.predictors) == 5
    logits = net(torch.randn(2, 3, 224, 224))
    assert logits.shape == (2, 12)
    F.cross_entropy(logits, torch.tensor([0, 5])).backward()
    bn = net.groups[0][0].bn1
    assert bn.weight.grad[0].abs().sum() > 0 and bn.weight.grad[1].abs().sum() == 0
    net.zero_grad(set_to_none=True)
    with torch.no_grad():   # zero-initialised W_k would pass no gradient to the encoder yet
        for w in aux.predictors:
            w.weight.normal_(0, 1e-3)
    with model.task("cpc"):
        loss = aux.loss(model, torch.randn(1, 3, 224, 224))
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    # the cpc step trains the encoder (first three groups) through the cpc affines only,
    # and leaves the classifier's private group and head alone
    assert bn.weight.grad[1].abs().sum() > 0 and bn.weight.grad[0].abs().sum() == 0
    assert net.fc.weight.grad is None and net.groups[3][0].conv1.weight.grad is None
    assert all(w.weight.grad.abs().sum() > 0 for w in aux.predictors)


# ---------------------------------------------------------------------------------------------
# Patches, InfoNCE and the context network
# ---------------------------------------------------------------------------------------------


def test_patch_grid_shape_and_content():
    assert grid_shape(224, 224, 64, 32) == (6, 6)   # [39]'s patches on ahmed2020's 224 crop
    assert grid_shape(256, 256, 64, 32) == (7, 7)   # [39]'s own 256×256 crops
    assert grid_shape(28, 28, 8, 4) == (6, 6)       # the cpu scale
    x = torch.randn(2, 1, 28, 28)
    p = extract_patches(x, 8, 4)
    assert p.shape == (2, 6, 6, 1, 8, 8)
    assert torch.equal(p[1, 2, 5], x[1, :, 8:16, 20:28])
    assert extract_patches(torch.randn(1, 3, 224, 224), 64, 32).shape == (1, 6, 6, 3, 64, 64)
    q = extract_patches(torch.randn(1, 1, 30, 31), 8, 4, offset=(2, 3))
    assert q.shape == (1, 6, 6, 1, 8, 8)
    task = CPCTask.for_scale("cpu", 64)
    assert task.grid() == (6, 6) and math.isclose(task.chance, math.log(36))
    assert CPCTask.for_scale("paper", 256).chance == pytest.approx(math.log(36))


def test_random_grid_offset_uses_the_generator_and_is_centred_in_eval():
    task = CPCTask.for_scale("cpu", 64)
    x = torch.zeros(1, 1, 31, 31)    # still a 6×6 grid, with 3 spare pixels per dimension
    assert task.grid(31, 31) == (6, 6)
    draws = {task._offset(x, torch.Generator().manual_seed(s)) for s in range(20)}
    assert len(draws) > 1 and all(0 <= a <= 3 and 0 <= b <= 3 for a, b in draws)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert task._offset(x, g1) == task._offset(x, g2)
    assert task._offset(torch.zeros(1, 1, 28, 28), g1) == (0, 0)
    task.eval()
    assert task._offset(x, g1) == (1, 1)


def _naive_infonce(z, preds):
    n, rows, cols, _ = z.shape
    terms = []
    for b in range(n):
        for k, pred in enumerate(preds, start=1):
            for i in range(rows - k):
                for j in range(cols):
                    scores = [float(z[b, u, v] @ pred[b, i, j]) for u in range(rows) for v in range(cols)]
                    pos = float(z[b, i + k, j] @ pred[b, i, j])
                    terms.append(-math.log(math.exp(pos) / sum(math.exp(s) for s in scores)))
    return sum(terms) / len(terms)


def test_infonce_matches_a_naive_loop():
    torch.manual_seed(0)
    z = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    preds = [torch.randn(2, 4 - k, 3, 5, dtype=torch.float64) for k in (1, 2)]
    assert cpc_infonce(z, preds).item() == pytest.approx(_naive_infonce(z, preds), rel=1e-6)
    per_image = cpc_infonce(z, preds, reduction="none")
    assert per_image.shape == (2,)
    assert per_image[1].item() == pytest.approx(_naive_infonce(z[1:], [p[1:] for p in preds]), rel=1e-6)
    # equal scores everywhere: the chance value log(R·C)
    assert cpc_infonce(z, [torch.zeros_like(p) for p in preds]).item() == pytest.approx(math.log(12))
    with pytest.raises(ValueError, match="offset 2"):
        cpc_infonce(z, [preds[0], preds[0]])


def test_negatives_come_from_the_same_image_only():
    torch.manual_seed(0)
    z = torch.randn(3, 4, 4, 6)
    preds = [torch.randn(3, 4 - k, 4, 6) for k in (1, 2)]
    base = cpc_infonce(z, preds, reduction="none")
    z2 = z.clone()
    z2[1] = torch.randn(4, 4, 6) * 5   # another image's codes (its candidates) change
    other = cpc_infonce(z2, preds, reduction="none")
    torch.testing.assert_close(other[[0, 2]], base[[0, 2]])
    assert not torch.isclose(other[1], base[1])
    # the same through the whole task (eval mode: BN uses running statistics, so images do not
    # interact through batch statistics)
    model = _cpu_model()
    model.eval()
    with torch.no_grad():
        for w in model.aux.predictors:
            w.weight.normal_(0, 0.05)
        x = torch.randn(3, 1, 28, 28)
        with model.task("cpc"):
            a = model.aux.image_losses(model, x)
            x[2] = torch.randn(1, 28, 28)
            b = model.aux.image_losses(model, x)
    torch.testing.assert_close(b[:2], a[:2])
    assert not torch.isclose(b[2], a[2])


def test_context_network_is_causal_over_rows():
    torch.manual_seed(0)
    ctx = CPCContext(4, blocks=3)
    z = torch.randn(1, 4, 6, 6, requires_grad=True)
    c = ctx(z)
    assert c.shape == z.shape
    for i in range(6):
        g, = torch.autograd.grad(c[0, :, i].sum(), z, retain_graph=True)
        assert g[0, :, i + 1:].abs().sum() == 0           # nothing from the rows below
        assert g[0, :, :i + 1].abs().sum(dim=(0, 2)).gt(0).all()   # every row at or above i is used


# ---------------------------------------------------------------------------------------------
# The task
# ---------------------------------------------------------------------------------------------


def test_cpc_task_interface():
    task = CPCTask.for_scale("cpu", 64)
    assert isinstance(task, AuxiliaryTask) and isinstance(task, nn.Module) and task.name == "cpc"
    assert len(task.predictors) == 2
    with pytest.raises(ValueError, match="unknown scale"):
        CPCTask.for_scale("gpu", 64)
    with pytest.raises(ValueError, match="offsets"):
        CPCTask(64, patch_size=8, stride=4, offsets=6, image_size=28)


def test_cpc_loss_starts_at_chance_and_falls_clearly_below_it():
    """Overfitting one batch: the pipeline can learn (Adam, not the paper's optimiser — that is
    :func:`test_smoke_cpc_multitask_with_the_paper_optimiser_stays_finite_and_learns`)."""
    from adlib.data.images import load_fashion_mnist

    images, _ = load_fashion_mnist("train")
    x = ((images[:16].float() / 255 - 0.286) / 0.353)[:, None]
    model = _cpu_model(seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    chance = model.aux.chance
    losses = []
    with model.task("cpc"):
        for _ in range(40):
            loss = model.aux.loss(model, x, torch.Generator().manual_seed(0))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert losses[0] == pytest.approx(chance, rel=1e-5)     # zero-initialised predictors
    # unit-norm codes and contexts: the scores are bounded by ‖W_k‖, which has to grow first
    assert losses[-1] < 0.5 * chance, losses   # ≈ 1.33–1.52 over seeds 0–3 (0.5·log 36 = 1.79)
    # the classification running statistics were not touched by the cpc steps
    bn = model.net.groups[0][0].bn1
    assert torch.all(bn.running_mean[0] == 0) and torch.all(bn.running_var[0] == 1)
    assert bn.num_batches_tracked.tolist() == [0, 40]


def test_codes_and_contexts_are_unit_norm():
    model = _cpu_model()
    x = torch.randn(2, 1, 28, 28) * 5
    with model.task("cpc"):
        z = model.aux.codes(model, x)
        raw = model.net.encode_patches(extract_patches(x, 8, 4).reshape(72, 1, 8, 8)).reshape(2, 6, 6, -1)
        with torch.no_grad():
            for w in model.aux.predictors:
                w.weight.copy_(torch.eye(64))   # W_k = I: the predictions are the contexts
        preds = model.aux.predictions(z)
    assert z.shape == (2, 6, 6, 64)
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(2, 6, 6))
    assert raw.norm(dim=-1).min() > 2      # the raw pooled codes are not (≈ 8 at init)
    torch.testing.assert_close(z, raw / raw.norm(dim=-1, keepdim=True))
    for k, p in enumerate(preds, start=1):
        assert p.shape == (2, 6 - k, 6, 64)
        torch.testing.assert_close(p.norm(dim=-1), torch.ones(2, 6 - k, 6))


def test_smoke_cpc_multitask_with_the_paper_optimiser_stays_finite_and_learns():
    """The smoke CPC run through ``train_multitask`` with the paper's optimiser (SGD, Nesterov 0.9,
    lr 0.1, wd 5e-4) and λ = 10: with the raw pooled codes ℓ_CPC reached ≈ 1e14, then NaN, in the
    second epoch; with unit-norm codes and contexts it stays finite and falls below log 36."""
    from adlib.papers.ahmed2020 import experiments as E
    from adlib.papers.ahmed2020.multitask import MultiTaskSpec, train_multitask

    c = E.run_config("smoke", "fmnist_tops", 1, "cpc", 0, network="cpc")
    train = c["train"] | {"epochs": 3, "lr_milestones": [3]}
    assert (train["lr"], train["momentum"], train["nesterov"], train["weight_decay"], train["aux_weight"]) == (
        0.1, 0.9, True, 5e-4, 10.0)
    d = E.build_data(c["data"])
    pipe = E.make_pipeline(c["pipeline"])
    torch.manual_seed(0)
    model = E.build_model(c, 3, 1)
    h = train_multitask(model, d.train_x, d.train_y, MultiTaskSpec(**train), seed=0, pipeline=pipe,
                        progress=False)
    chance = model.aux.chance
    assert len(h.losses) == len(h.aux_losses) == 3
    assert all(math.isfinite(v) for v in h.losses + h.aux_losses), (h.losses, h.aux_losses)
    assert h.aux_losses[0] <= chance + 0.05, h.aux_losses   # starts at chance (W_k = 0)
    assert h.aux_losses[-1] < chance, h.aux_losses          # ≈ 3.12–3.16 over seeds 0–2 (chance 3.58)
    assert not model.training
    with torch.no_grad():
        logits = model(pipe(d.test_x, train=False))
    assert logits.shape == (len(d.test_x), 3) and torch.isfinite(logits).all()

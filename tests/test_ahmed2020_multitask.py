"""ahmed2020 multi-task training (rotation auxiliary task, alternating updates, frozen BN statistics,
random-centre masking, checkpoint/resume), ODIN and the small CPU network."""

import math

import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from adlib.detectors import ODIN, model_outputs
from adlib.models import create_model
from adlib.models.smallconv import SmallConvNet
from adlib.papers.ahmed2020.multitask import (
    AuxiliaryTask,
    MultiTaskNet,
    MultiTaskSpec,
    RotationTask,
    aux_transform,
    frozen_bn_stats,
    random_centre_mask,
    train_multitask,
)
from adlib.train import ImagePipeline

torch.set_num_threads(1)

# A known asymmetric 3×3 image (one image, one channel): every transform below is distinct.
IMG = torch.arange(1.0, 10.0).view(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]


# ------------------------------------------------------------------------------------------------
# aux_transform
# ------------------------------------------------------------------------------------------------


def test_rotation_is_counter_clockwise_rot90_and_four_compose_to_the_identity():
    r1 = aux_transform(IMG, 1, "rotation")
    assert torch.equal(r1, torch.rot90(IMG, 1, dims=(2, 3)))
    # counter-clockwise by 90°: the top row becomes the right-hand column read bottom-up
    assert r1[0, 0].tolist() == [[3, 6, 9], [2, 5, 8], [1, 4, 7]]
    assert torch.equal(aux_transform(IMG, 0), IMG)
    assert torch.equal(aux_transform(IMG, 2), IMG.flip(2).flip(3))
    x = torch.randn(2, 3, 5, 5)
    out = x
    for _ in range(4):
        out = aux_transform(out, 1)
    assert torch.equal(out, x)
    assert torch.equal(aux_transform(aux_transform(x, 1), 3), x)
    assert len({tuple(aux_transform(IMG, r).flatten().tolist()) for r in range(4)}) == 4
    assert aux_transform(x, 1).is_contiguous()


def test_flip_transpose_is_the_public_codes_set():
    f = [aux_transform(IMG, r, "flip_transpose")[0, 0].tolist() for r in range(4)]
    assert f[0] == IMG[0, 0].tolist()
    assert f[1] == [[7, 8, 9], [4, 5, 6], [1, 2, 3]]  # vertical flip (rows reversed)
    assert f[2] == [[1, 4, 7], [2, 5, 8], [3, 6, 9]]  # transpose
    assert f[3] == [[3, 6, 9], [2, 5, 8], [1, 4, 7]]  # transpose, then vertical flip
    # Only the last of the public code's transforms is a true rotation: transpose + vertical flip
    # is the counter-clockwise 90° rotation (the paper's r = 1); r = 1, 2 are reflections.
    assert torch.equal(aux_transform(IMG, 3, "flip_transpose"), aux_transform(IMG, 1, "rotation"))
    for r in (1, 2):
        assert all(not torch.equal(aux_transform(IMG, r, "flip_transpose"), aux_transform(IMG, k, "rotation"))
                   for k in range(4))
    assert aux_transform(torch.randn(2, 1, 4, 4), 2, "flip_transpose").is_contiguous()


@pytest.mark.parametrize("r, name, match", [(4, "rotation", "0..3"), (-1, "rotation", "0..3"),
                                            (0, "rotate", "unknown auxiliary")])
def test_aux_transform_rejects_bad_arguments(r, name, match):
    with pytest.raises(ValueError, match=match):
        aux_transform(IMG, r, name)


# ------------------------------------------------------------------------------------------------
# RotationTask and MultiTaskNet
# ------------------------------------------------------------------------------------------------


def _net(width=2, num_classes=3, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    return SmallConvNet(num_classes=num_classes, width=width, in_channels=1, dropout=dropout)


def _model(aux=True, rotations_per_image=1, transforms="rotation", seed=0, dropout=0.0):
    net = _net(seed=seed, dropout=dropout)
    task = RotationTask(net.feature_dim, transforms, rotations_per_image) if aux else None
    return MultiTaskNet(net, task)


@pytest.mark.parametrize("transforms", ["rotation", "flip_transpose"])
def test_four_transforms_per_image_give_a_4x_batch_in_transform_order(transforms):
    task = RotationTask(8, transforms, rotations_per_image=4)
    x = torch.randn(5, 1, 6, 6)
    xs, t = task.batch(x)
    assert xs.shape == (20, 1, 6, 6)
    assert t.tolist() == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5
    for r in range(4):
        assert torch.equal(xs[5 * r:5 * (r + 1)], aux_transform(x, r, transforms))


@pytest.mark.parametrize("transforms", ["rotation", "flip_transpose"])
def test_one_transform_per_image_is_seeded_and_matches_its_target(transforms):
    task = RotationTask(8, transforms, rotations_per_image=1)
    x = torch.randn(64, 2, 5, 5)
    xs, t = task.batch(x, torch.Generator().manual_seed(3))
    assert xs.shape == x.shape and t.shape == (64,) and t.dtype == torch.int64
    assert set(t.tolist()) == {0, 1, 2, 3}  # 64 draws: every transform shows up
    for i in range(64):
        assert torch.equal(xs[i:i + 1], aux_transform(x[i:i + 1], int(t[i]), transforms))
    xs2, t2 = task.batch(x, torch.Generator().manual_seed(3))
    assert torch.equal(t, t2) and torch.equal(xs, xs2)
    with pytest.raises(ValueError, match="square"):
        task.batch(torch.randn(2, 1, 4, 5), torch.Generator().manual_seed(0))


def test_rotation_task_rejects_bad_settings():
    with pytest.raises(ValueError, match="rotations_per_image"):
        RotationTask(8, rotations_per_image=2)
    with pytest.raises(ValueError, match="unknown auxiliary"):
        RotationTask(8, transforms="jigsaw")


@pytest.mark.parametrize("per_image", [1, 4])
def test_rotation_loss_reaches_the_head_and_the_trunk_but_not_the_classifier(per_image):
    model = _model(rotations_per_image=per_image)
    model.train()
    loss = model.aux.loss(model, torch.randn(6, 1, 8, 8), torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert loss.item() == pytest.approx(math.log(4), abs=1.0)  # about chance at initialisation
    loss.backward()
    assert model.aux.head.weight.grad is not None and model.aux.head.weight.grad.abs().sum() > 0
    first_conv = model.net.body[0]
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0
    assert model.net.fc.weight.grad is None and model.net.fc.bias.grad is None


def test_multitask_net_forwards_the_classifier_and_checks_the_network():
    model = _model()
    model.eval()
    x = torch.randn(3, 1, 8, 8)
    assert torch.equal(model(x), model.net(x))
    assert torch.equal(model.features(x), model.net.features(x))
    assert model(x).shape == (3, 3)
    with pytest.raises(TypeError, match="features"):
        MultiTaskNet(nn.Linear(3, 2))


class _Switchable(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = []

    def set_task(self, name):
        self.calls.append(name)


class _NetWithSwitch(nn.Module):
    def __init__(self):
        super().__init__()
        self.switch = _Switchable()
        self.fc = nn.Linear(2, 2)
        self.feature_dim = 2

    def features(self, x):
        return x

    def forward(self, x):
        return self.fc(x)


def test_task_context_switches_task_conditional_layers_and_always_switches_back():
    model = MultiTaskNet(_NetWithSwitch())
    with model.task("rotation"):
        assert model.net.switch.calls == ["rotation"]
    assert model.net.switch.calls == ["rotation", "classification"]
    with pytest.raises(RuntimeError):
        with model.task("cpc"):
            raise RuntimeError("boom")
    assert model.net.switch.calls[-2:] == ["cpc", "classification"]


# ------------------------------------------------------------------------------------------------
# frozen_bn_stats
# ------------------------------------------------------------------------------------------------


def test_frozen_bn_stats_keeps_running_stats_but_uses_batch_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 2, 1),
                        nn.BatchNorm2d(2, momentum=None))
    net.train()
    net(torch.randn(8, 1, 6, 6) * 2 + 1)  # move the running stats away from their initial values
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(8, 1, 6, 6) * 3 - 2
    with frozen_bn_stats(net):
        assert net[1].momentum == 0.0 and net[4].momentum == 0.0
        out = net(x)
    after = net.state_dict()
    for k, v in before.items():
        assert torch.equal(after[k], v), k  # running_mean, running_var, num_batches_tracked, weights
    assert int(after["1.num_batches_tracked"]) == 1
    assert net[1].momentum == 0.1 and net[4].momentum is None
    net.eval()
    with torch.no_grad():
        assert not torch.allclose(out, net(x), atol=1e-3)  # training mode: batch statistics, not running
    # same output as plain train-mode BN (which also normalises with the batch statistics)
    net.train()
    with torch.no_grad():
        assert torch.allclose(out, net(x), atol=1e-6)
    assert int(net[1].num_batches_tracked) == 2  # outside the block the stats update again


def test_frozen_bn_stats_restores_momentum_after_an_error():
    bn = nn.BatchNorm1d(4, momentum=0.3)
    with pytest.raises(RuntimeError):
        with frozen_bn_stats(nn.Sequential(bn)):
            raise RuntimeError("boom")
    assert bn.momentum == 0.3


# ------------------------------------------------------------------------------------------------
# random_centre_mask
# ------------------------------------------------------------------------------------------------


def test_random_centre_mask_zeros_one_square_inside_the_central_window():
    n, h, size, window = 400, 12, 3, 6
    x = torch.ones(n, 2, h, h)
    out = random_centre_mask(x, size, window, torch.Generator().manual_seed(0))
    zero = out == 0
    assert torch.equal(zero[:, 0], zero[:, 1])  # the same square in every channel
    zero = zero[:, 0]
    assert zero.flatten(1).sum(1).tolist() == [size * size] * n
    lo = (h - window) // 2
    outside = torch.ones(h, h, dtype=torch.bool)
    outside[lo:lo + window, lo:lo + window] = False
    assert not zero[:, outside].any()
    corners = set()
    for img in zero:
        rows, cols = torch.nonzero(img, as_tuple=True)
        top, left = int(rows.min()), int(cols.min())
        assert int(rows.max()) - top == size - 1 and int(cols.max()) - left == size - 1  # a square
        corners.add((top, left))
    span = window - size + 1
    assert corners == {(lo + i, lo + j) for i in range(span) for j in range(span)}  # every position reachable
    assert torch.equal(x, torch.ones_like(x))  # not in place
    again = random_centre_mask(x, size, window, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert not torch.equal(out, random_centre_mask(x, size, window, torch.Generator().manual_seed(1)))


def test_random_centre_mask_at_the_papers_sizes():
    x = torch.ones(50, 3, 32, 32)
    out = random_centre_mask(x, 16, 21, torch.Generator().manual_seed(0))
    assert ((out == 0).sum((1, 2, 3)) == 3 * 256).all()
    assert (out[:, :, :5] == 1).all() and (out[:, :, 26:] == 1).all()  # window rows 5..25
    full = random_centre_mask(torch.ones(2, 1, 8, 8), 8, 8)
    assert (full == 0).all()


@pytest.mark.parametrize("size, window", [(0, 5), (6, 5), (3, 9), (-1, 4)])
def test_random_centre_mask_rejects_bad_sizes(size, window):
    with pytest.raises(ValueError, match="size"):
        random_centre_mask(torch.ones(1, 1, 8, 8), size, window)


# ------------------------------------------------------------------------------------------------
# MultiTaskSpec and train_multitask
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, match", [({"aux_bn_stats": "none"}, "aux_bn_stats"), ({"epochs": 0}, "epochs"),
                                       ({"batch_size": 0}, "batch_size"), ({"aux_weight": -0.1}, "aux_weight"),
                                       ({"mask_size": 5, "mask_window": 4}, "mask_size")])
def test_spec_rejects_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        MultiTaskSpec(**kw)


def test_spec_defaults_are_the_papers_cifar_recipe():
    s = MultiTaskSpec(lr_milestones=[60, 120, 160])
    assert (s.epochs, s.batch_size, s.lr, s.momentum, s.nesterov, s.weight_decay) == (200, 128, 0.1, 0.9, True, 5e-4)
    assert s.lr_milestones == (60, 120, 160) and s.lr_gamma == 0.2 and s.aux_weight == 0.5
    assert s.aux_bn_stats == "frozen" and s.to_dict()["lr_milestones"] == [60, 120, 160]


N_TRAIN, BATCH = 20, 8  # 3 steps per epoch, the last one smaller


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (N_TRAIN, 8, 8), generator=g, dtype=torch.uint8),
            torch.randint(0, 3, (N_TRAIN,), generator=g))


PIPE = ImagePipeline(mean=(0.5,), std=(0.25,), crop_padding=1, hflip=True)


def _spec(**kw):
    base = dict(epochs=2, batch_size=BATCH, lr=0.05, lr_milestones=(1,), aux_weight=0.5, amp=False)
    return MultiTaskSpec(**{**base, **kw})


class _StepRecorder:
    """Snapshots around every optimiser step: which parameters have gradients, the heads' weights,
    the first BN layer's running mean."""

    def __init__(self, model):
        self.model, self.events = model, []
        self.bn = model.net.body[1]

    def _snap(self):
        m = self.model
        return {"fc": m.net.fc.weight.detach().clone(),
                "head": None if m.aux is None else m.aux.head.weight.detach().clone(),
                "bn_mean": self.bn.running_mean.clone()}

    def pre(self, opt, args, kwargs):
        m = self.model
        self.events.append({"fc_grad": m.net.fc.weight.grad is not None,
                            "head_grad": m.aux is not None and m.aux.head.weight.grad is not None,
                            "trunk_grad": m.net.body[0].weight.grad is not None, "before": self._snap()})

    def post(self, opt, args, kwargs):
        self.events[-1]["after"] = self._snap()

    def __enter__(self):
        self.handles = [register_optimizer_step_pre_hook(self.pre), register_optimizer_step_post_hook(self.post)]
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


@pytest.mark.parametrize("bn_mode", ["frozen", "shared"])
def test_alternating_steps_update_only_their_own_head(bn_mode):
    model = _model()
    x, y = _data()
    spec = _spec(aux_bn_stats=bn_mode)
    with _StepRecorder(model) as rec:
        hist = train_multitask(model, x, y, spec, seed=0, pipeline=PIPE, progress=False)
    steps = spec.epochs * math.ceil(N_TRAIN / BATCH)
    ev = rec.events
    assert len(ev) == 2 * steps  # one classification step, then one auxiliary step, per batch
    for i in range(0, len(ev), 2):
        cls, aux = ev[i], ev[i + 1]
        # classification step: trunk + W_cls; the rotation head has no gradient and does not move
        # (zero_grad(set_to_none=True): no weight decay or momentum either)
        assert cls["fc_grad"] and cls["trunk_grad"] and not cls["head_grad"]
        assert torch.equal(cls["before"]["head"], cls["after"]["head"])
        assert not torch.equal(cls["before"]["fc"], cls["after"]["fc"])
        # auxiliary step: trunk + W_rot; the classifier's head does not move
        assert aux["head_grad"] and aux["trunk_grad"] and not aux["fc_grad"]
        assert torch.equal(aux["before"]["fc"], aux["after"]["fc"])
        assert not torch.equal(aux["before"]["head"], aux["after"]["head"])
        # BN running stats between the classification step's end and the auxiliary step's optimiser
        # step: changed only by the auxiliary forward pass, which only "shared" lets through
        same = torch.equal(cls["after"]["bn_mean"], aux["before"]["bn_mean"])
        assert same == (bn_mode == "frozen")
    tracked = {int(m.num_batches_tracked) for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    assert tracked == {steps if bn_mode == "frozen" else 2 * steps}
    assert all(m.momentum == 0.1 for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert len(hist.losses) == len(hist.aux_losses) == spec.epochs
    assert all(math.isfinite(v) for v in hist.losses + hist.aux_losses)
    assert not model.training  # left in eval mode


def test_without_the_auxiliary_weight_the_rotation_head_never_moves():
    model = _model()
    head0 = {k: v.clone() for k, v in model.aux.head.state_dict().items()}
    x, y = _data()
    spec = _spec(aux_weight=0.0)
    with _StepRecorder(model) as rec:
        hist = train_multitask(model, x, y, spec, seed=0, pipeline=PIPE, progress=False)
    steps = spec.epochs * math.ceil(N_TRAIN / BATCH)
    assert len(rec.events) == steps and not any(e["head_grad"] for e in rec.events)
    for k, v in model.aux.head.state_dict().items():
        assert torch.equal(v, head0[k])  # weight decay 5e-4 would have shrunk it had it a gradient
    assert hist.aux_losses == [] and len(hist.losses) == spec.epochs
    assert {int(m.num_batches_tracked) for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == {steps}
    # the same with λ > 0: the head moves
    model2 = _model()
    train_multitask(model2, x, y, _spec(), seed=0, pipeline=PIPE, progress=False)
    assert not torch.equal(model2.aux.head.weight, head0["weight"])


def test_classification_only_run_equals_one_without_an_auxiliary_task():
    x, y = _data()
    a, b = _model(aux=True), _model(aux=False)
    train_multitask(a, x, y, _spec(aux_weight=0.0), seed=4, pipeline=PIPE, progress=False)
    train_multitask(b, x, y, _spec(aux_weight=0.0), seed=4, pipeline=PIPE, progress=False)
    sa, sb = a.net.state_dict(), b.net.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sb)


def test_masking_applies_to_the_classification_step_only():
    seen = []

    class Probe(AuxiliaryTask):
        name = "probe"

        def __init__(self):
            super().__init__()
            self.head = nn.Linear(8, 1)

        def loss(self, model, x, generator=None):
            seen.append(("aux", x.detach().clone()))
            return self.head(model.net.features(x)).pow(2).mean()

    net = _net()
    model = MultiTaskNet(net, Probe())
    orig = net.forward

    def forward(x):
        seen.append(("cls", x.detach().clone()))
        return orig(x)

    net.forward = forward
    x, y = _data()
    pipe = ImagePipeline(mean=(0.5,), std=(0.25,))  # no augmentation: no zeros by chance
    train_multitask(model, x, y, _spec(epochs=1, mask_size=3, mask_window=4), seed=0, pipeline=pipe,
                    progress=False)
    kinds = [k for k, _ in seen]
    assert kinds == ["cls", "aux"] * math.ceil(N_TRAIN / BATCH)
    for (_, xc), (_, xa) in zip(seen[::2], seen[1::2]):
        assert ((xc == 0).flatten(1).sum(1) == 9).all()  # a 3×3 zero square per image
        assert (xa != 0).all()  # the auxiliary step gets the unmasked batch (no uint8 pixel maps to 0)
        assert torch.equal(xc != 0, xc == xa)  # the masked pixels are the only difference


def test_evaluate_runs_in_eval_mode_after_every_epoch():
    calls = []

    def evaluate(m):
        calls.append(m.training)
        return {"fc_sum": m.net.fc.weight.detach().sum(), "n": len(calls)}

    x, y = _data()
    hist = train_multitask(_model(), x, y, _spec(epochs=3, lr_milestones=(1, 2)), seed=0, pipeline=PIPE,
                           progress=False, evaluate=evaluate)
    assert calls == [False, False, False]
    assert [m["n"] for m in hist.epoch_metrics] == [1.0, 2.0, 3.0]
    assert all(isinstance(v, float) for m in hist.epoch_metrics for v in m.values())


def test_train_multitask_rejects_bad_data():
    x, y = _data()
    with pytest.raises(ValueError, match="labels"):
        train_multitask(_model(), x, y[:-1], _spec(), seed=0, progress=False)
    with pytest.raises(ValueError, match="no training images"):
        train_multitask(_model(), x[:0], y[:0], _spec(), seed=0, progress=False)


def test_a_non_finite_loss_is_a_clear_error():
    x, y = _data()
    model = _model()
    with torch.no_grad():
        model.net.fc.bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        train_multitask(model, x, y, _spec(), seed=0, pipeline=PIPE, progress=False)


class _Stop(Exception):
    pass


def test_resume_after_an_interruption_is_bit_identical(tmp_path):
    x, y = _data()
    spec = _spec(epochs=3, lr_milestones=(1, 2))  # the LR drops inside the resumed part too

    def evaluate(m):
        return {"fc_sum": float(m.net.fc.weight.detach().sum()), "head_sum": float(m.aux.head.weight.detach().sum())}

    straight = _model(dropout=0.3)  # dropout: the global torch RNG must be restored as well
    ref = train_multitask(straight, x, y, spec, seed=7, pipeline=PIPE, progress=False, evaluate=evaluate,
                          checkpoint_path=tmp_path / "straight.pt", checkpoint_key="k")
    assert ref.resumed_from_epoch is None

    def evaluate_then_crash(m):
        if len(evaluate_then_crash.calls) == 2:
            raise _Stop  # dies in epoch 3, before its checkpoint
        evaluate_then_crash.calls.append(1)
        return evaluate(m)

    evaluate_then_crash.calls = []
    ckpt = tmp_path / "run.pt"
    with pytest.raises(_Stop):
        train_multitask(_model(dropout=0.3), x, y, spec, seed=7, pipeline=PIPE, progress=False,
                        evaluate=evaluate_then_crash, checkpoint_path=ckpt, checkpoint_key="k")
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2
    resumed_model = _model(dropout=0.3, seed=123)  # other initial weights: they come from the checkpoint
    hist = train_multitask(resumed_model, x, y, spec, seed=7, pipeline=PIPE, progress=False, evaluate=evaluate,
                           checkpoint_path=ckpt, checkpoint_key="k")
    assert hist.resumed_from_epoch == 2
    a, b = straight.state_dict(), resumed_model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert hist.losses == ref.losses and hist.aux_losses == ref.aux_losses
    assert hist.epoch_metrics == ref.epoch_metrics and len(hist.epoch_metrics) == 3
    # a finished run resumes at its end without training
    again_model = _model(dropout=0.3, seed=5)
    again = train_multitask(again_model, x, y, spec, seed=7, pipeline=PIPE, progress=False, evaluate=evaluate,
                            checkpoint_path=ckpt, checkpoint_key="k")
    assert again.resumed_from_epoch == 3 and again.epoch_metrics == ref.epoch_metrics
    assert all(torch.equal(v, a[k]) for k, v in again_model.state_dict().items())


def test_a_checkpoint_of_another_spec_or_key_is_not_used(tmp_path):
    x, y = _data()
    ckpt = tmp_path / "c.pt"
    train_multitask(_model(), x, y, _spec(epochs=1), seed=0, pipeline=PIPE, progress=False,
                    checkpoint_path=ckpt, checkpoint_key="k")
    with pytest.warns(Warning, match="another run"):
        h = train_multitask(_model(), x, y, _spec(epochs=1, aux_weight=1.0), seed=0, pipeline=PIPE,
                            progress=False, checkpoint_path=ckpt, checkpoint_key="k")
    assert h.resumed_from_epoch is None
    with pytest.warns(Warning, match="another run"):
        h = train_multitask(_model(), x, y, _spec(epochs=1, aux_weight=1.0), seed=0, pipeline=PIPE,
                            progress=False, checkpoint_path=ckpt, checkpoint_key="other")
    assert h.resumed_from_epoch is None


def test_training_is_seeded():
    x, y = _data()
    a, b, c = _model(dropout=0.3), _model(dropout=0.3), _model(dropout=0.3)
    for m, seed in ((a, 1), (b, 1), (c, 2)):
        train_multitask(m, x, y, _spec(), seed=seed, pipeline=PIPE, progress=False)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert not torch.equal(a.net.fc.weight, c.net.fc.weight)


# ------------------------------------------------------------------------------------------------
# ODIN
# ------------------------------------------------------------------------------------------------


def _linear(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(5, 3).double()


def _odin_by_hand(lin, x, t, eps):
    """x̃ = x + ε·sign(∇_x log S_ŷ(x; T)); −(max z̃/T − logsumexp z̃/T), for z = Wx + b."""
    w, b = lin.weight.detach(), lin.bias.detach()
    z = (x @ w.T + b) / t
    p = torch.softmax(z, 1)
    yhat = z.argmax(1)
    grad = (w[yhat] - p @ w) / t  # ∂/∂x of z_ŷ − logsumexp(z)
    zt = ((x + eps * grad.sign()) @ w.T + b) / t
    return -(zt.max(1).values - torch.logsumexp(zt, 1))


def test_odin_score_outputs_is_the_temperature_scaled_msp_in_log_space():
    logits = torch.tensor([[10.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    s = ODIN().score_outputs(logits)
    assert s.dtype == torch.float64
    expected = -torch.log(torch.softmax(logits.double() / 1000, 1).max(1).values)
    assert torch.allclose(s, expected, rtol=0, atol=1e-15)
    assert s[1].item() == pytest.approx(math.log(3), rel=1e-14)  # uniform logits: the most anomalous
    assert s[0] < s[2] < s[3] < s[1]  # more confident, lower score; distinct even at T = 1000


def test_odin_without_perturbation_equals_score_outputs():
    lin = _linear()
    x = torch.randn(16, 5, dtype=torch.float64)
    odin = ODIN(1000.0, 0.0)
    s = odin.score(lin, x, prepare=lambda b: b)
    assert s.dtype == torch.float64
    assert torch.equal(s, odin.score_outputs(lin(x).detach()))
    # a float32 network scored through the usual path (model_outputs)
    net = _net(width=2).eval()
    imgs = torch.randint(0, 256, (6, 8, 8), dtype=torch.uint8)
    prep = lambda b: PIPE(b)  # noqa: E731
    assert torch.allclose(odin.score(net, imgs, prepare=prep),
                          odin.score_outputs(model_outputs(net, imgs, prepare=prep)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("t, eps", [(1000.0, 5e-5), (1000.0, 0.05), (1.0, 0.01)])
def test_odin_perturbation_matches_the_formula_and_makes_inputs_look_more_normal(t, eps):
    lin = _linear(1)
    x = torch.randn(32, 5, dtype=torch.float64) * 3
    s = ODIN(t, eps).score(lin, x, prepare=lambda b: b, batch_size=10)  # several batches
    assert torch.allclose(s, _odin_by_hand(lin, x, t, eps), rtol=1e-10, atol=0)
    s0 = ODIN(t, 0.0).score(lin, x, prepare=lambda b: b)
    assert (s < s0).all()  # the step raises max softmax: a lower (more normal) score


def test_odin_leaves_the_model_as_it_was():
    net = _net(width=2)
    net.train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    imgs = torch.randint(0, 256, (5, 8, 8), dtype=torch.uint8)
    s = ODIN().score(net, imgs, prepare=lambda b: PIPE(b))
    assert s.shape == (5,) and s.dtype == torch.float64 and torch.isfinite(s).all()
    assert net.training  # flag restored
    assert all(p.grad is None for p in net.parameters())  # gradients only to the input
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())  # eval mode: BN stats kept
    net.eval()
    ODIN().score(net, imgs, prepare=lambda b: PIPE(b))
    assert not net.training
    assert ODIN().score(net, imgs[:0], prepare=lambda b: PIPE(b)).dtype == torch.float64


def test_odin_rejects_bad_settings():
    with pytest.raises(ValueError, match="temperature"):
        ODIN(0.0)
    with pytest.raises(ValueError, match="epsilon"):
        ODIN(1000.0, -1e-5)


# ------------------------------------------------------------------------------------------------
# SmallConvNet
# ------------------------------------------------------------------------------------------------


def test_small_convnet_size_and_shapes():
    net = create_model("small_convnet", num_classes=9, width=16, in_channels=1)
    assert isinstance(net, SmallConvNet)
    assert sum(p.numel() for p in net.parameters()) == 35_609
    net.eval()
    x = torch.randn(4, 1, 28, 28)
    assert net.features(x).shape == (4, 64) and net.feature_dim == 64
    assert net(x).shape == (4, 9)
    assert net.features(torch.randn(2, 1, 8, 8)).shape == (2, 64)  # the digits' 8×8 images
    rgb = SmallConvNet(num_classes=10, width=4, in_channels=3)
    assert rgb.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="width"):
        SmallConvNet(width=0)


def test_small_convnet_dropout_only_in_training():
    net = SmallConvNet(num_classes=3, width=4, dropout=0.5)
    x = torch.randn(4, 1, 8, 8)
    net.eval()
    assert torch.equal(net.features(x), net.features(x))
    net.train()
    torch.manual_seed(0)
    f = net.features(x)
    assert (f == 0).any()  # dropped units
    nodrop = SmallConvNet(num_classes=3, width=4, dropout=0.0)
    assert nodrop.train().features(x).shape == (4, 16)

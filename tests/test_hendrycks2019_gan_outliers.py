"""hendrycks2019 Table 4: the DCGAN, Lee et al.'s joint confidence loss, the joint training stage,
and the runner end to end at smoke scale."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from adlib.losses import gan_discriminator_loss, joint_confidence_classifier_loss, \
    joint_confidence_generator_loss, kl_uniform_to_softmax, uniform_cross_entropy
from adlib.models import create_model
from adlib.models.dcgan import DCGANGenerator
from adlib.papers.hendrycks2019 import gan_outliers as go
from adlib.train import ImagePipeline


@pytest.mark.parametrize("g_name,d_name,shape", [
    ("dcgan28_generator", "dcgan28_discriminator", (1, 28, 28)),
    ("dcgan32_generator", "dcgan32_discriminator", (3, 32, 32)),
])
def test_generator_and_discriminator_shapes_and_ranges(g_name, d_name, shape):
    torch.manual_seed(0)
    gen, disc = create_model(g_name), create_model(d_name)
    z = torch.randn(5, 100) * 10  # large noise drives tanh into saturation
    x = gen(z)
    assert x.shape == (5, *shape)
    assert x.min() >= 0 and x.max() <= 1 and x.std() > 0
    assert torch.equal(gen(z[:, :, None, None]), x)  # (N, nz) and (N, nz, 1, 1) are the same noise
    assert disc(x).shape == (5,)  # one logit per image
    with pytest.raises(ValueError, match="divisible"):
        DCGANGenerator(image_size=30)


def test_dcgan_lite_sizes_follow_the_spec():
    gen = create_model("dcgan28_generator")
    convs = [m for m in gen.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [128, 64, 1] and convs[0].in_channels == 100
    disc = create_model("dcgan28_discriminator")
    assert [c.out_channels for c in disc.modules() if isinstance(c, torch.nn.Conv2d)] == [32, 64, 1]


def test_kl_to_uniform_is_the_oe_uniform_cross_entropy_minus_log_k():
    torch.manual_seed(0)
    logits = torch.randn(7, 5) * 3
    kl = kl_uniform_to_softmax(logits)
    assert torch.allclose(kl, uniform_cross_entropy(logits) - math.log(5), atol=1e-6)
    # Lee et al.'s code: F.kl_div(log_softmax(z), U) * k (element-wise mean) = the batch mean
    uniform = torch.full_like(logits, 1 / 5)
    # (reduction "mean", the old default: the sum over all N·k entries divided by N·k)
    upstream = torch.nn.functional.kl_div(torch.log_softmax(logits, 1), uniform, reduction="sum") / logits.numel() * 5
    assert kl.mean().item() == pytest.approx(upstream.item(), rel=1e-5)
    assert (kl >= 0).all() and kl_uniform_to_softmax(torch.zeros(2, 5)).abs().max() < 1e-6


def test_joint_losses_add_beta_times_kl():
    torch.manual_seed(0)
    logits_in, logits_fake = torch.randn(4, 3), torch.randn(6, 3)
    y = torch.tensor([0, 1, 2, 0])
    ce = torch.nn.functional.cross_entropy(logits_in, y)
    full = joint_confidence_classifier_loss(logits_in, y, logits_fake, beta=0.1)
    assert full.item() == pytest.approx((ce + 0.1 * kl_uniform_to_softmax(logits_fake).mean()).item(), rel=1e-6)
    d_fake = torch.tensor([0.0, 0.0])
    assert joint_confidence_generator_loss(d_fake, torch.zeros(2, 3), beta=1.0).item() == pytest.approx(math.log(2))
    # a perfect discriminator (large logits on real, very negative on fake) has a small loss
    assert gan_discriminator_loss(torch.full((3,), 20.0), torch.full((3,), -20.0)).item() < 1e-6


def _tiny_data(n=96, k=3):
    g = torch.Generator().manual_seed(0)
    return (torch.rand(n, 1, 28, 28, generator=g) * 255).to(torch.uint8), torch.randint(0, k, (n,), generator=g)


def _nets():
    torch.manual_seed(0)
    return (create_model("mnist_convnet", num_classes=3), create_model("dcgan28_generator"),
            create_model("dcgan28_discriminator"))


def _joint_once(spec, checkpoint_path=None):
    nets = _nets()
    x, y = _tiny_data()
    go.train_joint(*nets, x, y, spec, seed=3, pipeline=ImagePipeline(), checkpoint_path=checkpoint_path,
                   checkpoint_key="k", progress=False)
    return nets


def _same(a, b):
    return all(torch.equal(va, vb) for va, vb in zip(a.state_dict().values(), b.state_dict().values()))


def test_joint_stage_is_deterministic_on_cpu_and_resumes_bit_identically(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    spec = go.JointSpec(epochs=2, batch_size=32, lr_decay_epochs=(1,), epoch_subset=64)
    a, b = _joint_once(spec), _joint_once(spec)
    assert all(_same(na, nb) for na, nb in zip(a, b))
    # killed right after writing the epoch-1 checkpoint, then resumed: the same weights as in one go
    real_write, path = go.atomic_write, tmp_path / "joint.pt"

    def write_then_die(target, write):
        real_write(target, write)
        raise RuntimeError("killed")

    monkeypatch.setattr(go, "atomic_write", write_then_die)
    with pytest.raises(RuntimeError, match="killed"):
        _joint_once(spec, checkpoint_path=path)
    monkeypatch.setattr(go, "atomic_write", real_write)
    torch.manual_seed(123)  # the resumed run must restore every RNG state itself
    nets = _nets()
    hist = go.train_joint(*nets, *_tiny_data(), spec, seed=3, checkpoint_path=path, checkpoint_key="k",
                          progress=False)
    assert hist.resumed_from_epoch == 1 and len(hist.classifier) == 2
    assert all(_same(na, nb) for na, nb in zip(a, nets))
    # the GAN changes the classifier: without it (the baseline) the weights differ
    c = _joint_once(dataclasses.replace(spec, gan=False, beta=0.0))[0]
    assert not _same(a[0], c)


def test_configs():
    base, gan, tuned = (go.run_config("cpu", m, 0) for m in go.METHODS)
    assert base["data"] == gan["data"] == tuned["data"] and base["experiment"] == "gan_oe"
    assert base["joint"]["gan"] is False and "generator" not in base and gan["joint"]["gan"] is True
    assert gan["joint"]["beta"] == 0.1 and gan["joint"]["epoch_subset"] == 3_000
    assert tuned["finetune"]["oe_weight"] == 0.5 and "finetune" not in gan
    assert {k: v for k, v in gan["joint"].items() if k not in ("gan", "beta")} == \
        {k: v for k, v in base["joint"].items() if k not in ("gan", "beta")}  # one recipe for both
    paper = go.run_config("paper", "gan", 0, in_dataset="cifar100")
    assert paper["model"] == {"name": "wrn", "depth": 40, "widen_factor": 4, "num_classes": 100}
    assert paper["generator"]["name"] == "dcgan32_generator" and paper["joint"]["lr_decay_epochs"] == [60]
    with pytest.raises(ValueError, match="cifar10"):
        go.run_config("paper", "gan", 0, in_dataset="svhn")
    with pytest.raises(ValueError, match="gan_oe"):
        go.run_config("cpu", "oe_tune", 0)


def test_generated_images_reach_a_standardising_pipeline_in_its_space():
    pipe = ImagePipeline(mean=(0.5,), std=(0.25,))
    x = torch.tensor([0.0, 0.5, 1.0]).view(3, 1, 1, 1)
    assert torch.allclose(go.to_input_space(x, pipe).flatten(), torch.tensor([-2.0, 0.0, 2.0]))
    assert go.to_input_space(x, ImagePipeline()) is x


def test_smoke_runner_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    for method in go.METHODS:
        metrics, arrays = go.run(go.run_config("smoke", method, 0))
        assert 0 <= metrics["test_accuracy"] <= 1
        for key in ("FPR95", "AUROC", "AUPR"):
            assert 0 <= metrics["ood_mean"]["msp"][key] <= 1
        assert np.isfinite(arrays["msp__in"]).all()
        assert all(np.isfinite(v).all() for v in metrics["joint_losses"].values())
        if method == "baseline":
            assert "generated_mean_msp" not in metrics and "generated" not in arrays
        else:
            assert 1 / 6 <= metrics["generated_mean_msp"] <= 1
        if method == "gan":
            assert arrays["generated"].shape == (64, 1, 28, 28) and arrays["generated"].dtype == np.uint8
    assert len(list(tmp_path.rglob("gan-*.pt"))) == 1  # the OE run reused the cached GAN stage

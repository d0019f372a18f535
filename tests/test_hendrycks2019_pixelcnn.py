"""hendrycks2019 Table 5 / Figure 2: the PixelCNN's causal mask, nll in bits, the OE margin loss,
and a smoke run of the runner."""

import math

import numpy as np
import pytest
import torch

from adlib.losses import oe_margin_loss
from adlib.models import create_model, list_models
from adlib.models.pixelcnn import nll_bits
from adlib.papers.hendrycks2019 import pixelcnn as px


def test_pixelcnn_is_registered_and_maps_to_256_levels_per_pixel():
    assert "pixelcnn_small" in list_models()
    model = create_model("pixelcnn_small")
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 256, 28, 28)


@pytest.mark.parametrize("pixel", [0, 29, 14 * 28 + 14, 783])
def test_causal_mask_output_at_a_pixel_ignores_that_pixel_and_every_later_one(pixel):
    torch.manual_seed(0)
    model = create_model("pixelcnn_small").eval()
    x = torch.rand(1, 1, 28, 28)
    y = x.clone().flatten()
    y[pixel:] = torch.rand(784 - pixel)  # change pixel i and everything after it in raster order
    with torch.no_grad():
        a = model(x).flatten(2)
        b = model(y.view(1, 1, 28, 28)).flatten(2)
    assert torch.equal(a[..., :pixel + 1], b[..., :pixel + 1])  # logits of pixels ≤ i: unchanged
    if pixel < 783:
        assert not torch.equal(a[..., pixel + 1:], b[..., pixel + 1:])  # later ones do see it


def test_nll_bits_of_a_uniform_model_is_8_bits_per_pixel():
    logits = torch.zeros(3, 256, 28, 28)
    levels = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    assert torch.allclose(nll_bits(logits, levels), torch.full((3,), 8.0 * 784))


def test_margin_loss_is_zero_past_the_margin_and_linear_before_it():
    nll_in = torch.tensor([1000.0, 1000.0, 1000.0, 1000.0])
    nll_out = torch.tensor([1784.0, 2500.0, 1700.0, 900.0])
    loss = oe_margin_loss(nll_in, nll_out, 784)
    assert torch.equal(loss, torch.tensor([0.0, 0.0, 84.0, 884.0]))
    # linear with slope +1 in nll_in and -1 in nll_out below the margin
    a, b = torch.tensor([500.0], requires_grad=True), torch.tensor([600.0], requires_grad=True)
    oe_margin_loss(a, b, 784).sum().backward()
    assert a.grad.item() == 1.0 and b.grad.item() == -1.0


def test_synthetic_floats_are_quantised_to_levels():
    levels = px.as_levels(torch.tensor([[[0.0, 1.0], [0.5, 0.002]]]))
    assert levels.dtype == torch.uint8 and levels.shape == (1, 1, 2, 2)
    assert levels.flatten().tolist() == [0, 255, 128, 1]


def test_configs():
    base, tuned = px.run_config("cpu", "bpp", 0), px.run_config("cpu", "bpp_oe", 0)
    assert base["pretrain"] == tuned["pretrain"] and "finetune" in tuned and "finetune" not in base
    assert base["num_pixels"] == 784 and base["data"]["ood_ratio"] == 5 and base["data"]["n_draws"] == 10
    assert px.run_config("paper", "bpp", 0)["data"]["in_dataset"] == "cifar10"
    with pytest.raises(ValueError, match="valid methods"):
        px.run_config("cpu", "baseline", 0)
    with pytest.raises(NotImplementedError, match="PixelCNN"):
        px.run(px.run_config("paper", "bpp", 0))


def test_smoke_runner_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("ADLIB_PROGRESS", "0")
    for method in px.METHODS:
        metrics, arrays = px.run(px.run_config("smoke", method, 0))
        for name, m in metrics["ood"]["bpp"].items():
            assert all(math.isfinite(m[k]) for k in ("FPR95", "AUROC", "AUPR")), name
        assert all(math.isfinite(v) and v > 0 for v in metrics["mean_bpp"].values())
        assert all(np.isfinite(a).all() for a in arrays.values())
    assert len(list(tmp_path.rglob("pixelcnn-*.pt"))) == 1  # the OE run reused the cached base model


def test_forward_is_the_convolutional_head_with_each_pixels_logits_adjacent_in_memory():
    """The last 1×1 convolution runs as a matrix product over pixels: the same logits as the
    convolution, laid out so that nll_bits' (N·H·W, 256) rows are a view, not a copy."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = create_model("pixelcnn_small").eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        logits = model(x)
        h = model.input_conv(2 * x - 1)
        for conv in model.res:
            h = h + conv(F.relu(h))
        by_conv = model.head2(F.relu(model.head1(F.relu(h))))
    assert logits.shape == by_conv.shape == (3, 256, 28, 28)
    assert torch.allclose(logits, by_conv, atol=1e-5)
    assert logits.permute(0, 2, 3, 1).is_contiguous()
    levels = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    plain = F.cross_entropy(by_conv, levels[:, 0].long(), reduction="none").flatten(1).sum(1) / math.log(2)
    assert torch.allclose(nll_bits(logits, levels), plain, rtol=1e-5)
    assert torch.allclose(nll_bits(by_conv.contiguous(), levels), plain, rtol=1e-5)  # any layout

"""Model registry and the architectures of hendrycks2019."""

import pytest
import torch

from adlib.models import create_model, list_models


def test_registry_lists_and_rejects_unknown():
    assert {"mnist_convnet", "wrn", "wrn40_2", "wrn16_4"} <= set(list_models())
    with pytest.raises(ValueError, match="wrn40_2"):
        create_model("resnet9000")


@pytest.mark.parametrize("name,shape,params", [
    ("mnist_convnet", (2, 1, 28, 28), (21_000, 22_500)),
    ("wrn40_2", (2, 3, 32, 32), (2_200_000, 2_300_000)),   # WRN-40-2 has ~2.2 M parameters
    ("wrn16_4", (2, 3, 32, 32), (2_700_000, 2_800_000)),   # WRN-16-4 has ~2.7 M parameters
    ("allconvnet", (2, 3, 32, 32), (1_400_000, 1_420_000)),  # All-CNN-C with BN: ~1.4 M parameters
    ("allconvnet_small", (2, 1, 28, 28), (7_000, 7_500)),
])
def test_shapes_and_sizes(name, shape, params):
    model = create_model(name, num_classes=7)
    out = model(torch.randn(*shape))
    assert out.shape == (shape[0], 7)
    n = sum(p.numel() for p in model.parameters())
    assert params[0] <= n <= params[1]
    feats = model.features(torch.randn(*shape))
    assert feats.ndim == 2 and feats.shape[0] == shape[0]


def test_channels_last_lays_out_the_weights_and_keeps_the_function():
    torch.manual_seed(0)
    plain = create_model("mnist_convnet", num_classes=6)
    nhwc = create_model("mnist_convnet", num_classes=6, memory_format="channels_last")
    assert not plain.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    assert nhwc.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    nhwc.load_state_dict(plain.state_dict())  # copies in place: the layout stays
    assert nhwc.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    plain.eval(), nhwc.eval()
    x = torch.rand(8, 1, 28, 28)
    torch.testing.assert_close(nhwc(x), plain(x), rtol=1e-5, atol=1e-5)  # same function, other kernels


def test_unknown_memory_format_is_an_error_that_lists_the_valid_ones():
    with pytest.raises(ValueError, match="channels_last"):
        create_model("mnist_convnet", memory_format="nhwc")


def test_wrn_works_on_64px_and_rejects_bad_depth():
    model = create_model("wrn", depth=16, widen_factor=1, num_classes=200)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 200)
    with pytest.raises(ValueError, match="6n\\+4"):
        create_model("wrn", depth=15)


# ---------------------------------------------------------------------------------------------
# ruff2021's ImageNet network: ResNet-18 with CBAM in every BasicBlock
# ---------------------------------------------------------------------------------------------


def _cbam_params(c: int, r: int = 16) -> int:
    """One CBAM: the shared MLP C→C/r→C with biases, plus the 7×7 2→1 spatial conv and its BN."""
    mlp = c * (c // r) + c // r + (c // r) * c + c
    return mlp + 2 * 7 * 7 + 2


def test_resnet18_cbam_shapes_size_and_head():
    torch.manual_seed(0)
    model = create_model("imagenet_resnet18_cbam").eval()
    with torch.no_grad():
        z = model(torch.randn(2, 3, 224, 224))
        assert z.shape == (2, 256) and torch.isfinite(z).all()
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 256)  # global adaptive average pooling
        assert torch.equal(model.features(torch.ones(1, 3, 64, 64)), model(torch.ones(1, 3, 64, 64)))
    # torchvision's resnet18 has 11,689,512 parameters, 513,000 of them in its 512→1000 fc layer;
    # two CBAM modules per stage at widths 64/128/256/512; the final Linear 512→256.
    trunk = 11_689_512 - 513_000
    cbam = 2 * sum(_cbam_params(c) for c in (64, 128, 256, 512))
    assert cbam == 89_880
    expected = trunk + cbam + 512 * 256 + 256
    assert sum(p.numel() for p in model.parameters()) == expected == 11_397_720

    head = create_model("imagenet_resnet18_cbam", logit_head=True, rep_dim=32, in_channels=1).eval()
    with torch.no_grad():
        assert head(torch.randn(2, 1, 64, 64)).shape == (2,)
        assert head.features(torch.randn(2, 1, 64, 64)).shape == (2, 32)
    assert head.head.in_features == 32 and head.backbone.conv1.in_channels == 1


def test_resnet18_cbam_init_follows_the_authors_code():
    torch.manual_seed(0)
    model = create_model("imagenet_resnet18_cbam")
    block = model.layer2[0]
    # Kaiming-normal fan_out on the 3×3 convs: std sqrt(2 / (9 * 128)); the 1×1 shortcut conv keeps
    # PyTorch's default (kaiming_uniform a=sqrt(5): std 1/sqrt(3 * fan_in) = 1/sqrt(192)).
    assert abs(block.conv1.weight.std().item() - (2 / (9 * 128)) ** 0.5) < 0.002
    assert abs(block.shortcut[0].weight.std().item() - 192 ** -0.5) < 0.005
    assert torch.all(block.cbam.spatial.bn.weight == 0) and torch.all(block.bn2.weight == 1)
    assert all(torch.all(m.bias == 0) for m in model.modules() if isinstance(m, torch.nn.Linear))


def test_cbam_attention_shapes_and_gates_in_unit_interval():
    from adlib.models.resnet_cbam import CBAM

    torch.manual_seed(0)
    cbam = CBAM(32, reduction=16)
    x = torch.randn(3, 32, 9, 11)
    out = cbam(x)
    assert out.shape == x.shape
    channel = cbam.channel.gate(x)
    assert channel.shape == (3, 32, 1, 1)
    assert (channel > 0).all() and (channel < 1).all()
    # A bare CBAM has spatial BN weight 1 (a non-trivial gate); the full network's init sets it to
    # 0 as the authors' code does, which makes the spatial gate exactly 0.5 at the start.
    spatial = cbam.spatial.gate(x)
    assert spatial.shape == (3, 1, 9, 11)
    assert (spatial > 0).all() and (spatial < 1).all() and spatial.std() > 0.05
    # F' = M_c(F) ⊙ F, then F'' = M_s(F') ⊙ F' (channel first, then spatial)
    refined = x * channel
    assert torch.allclose(out, refined * cbam.spatial.gate(refined), atol=1e-6)
    with torch.no_grad():
        torch.nn.init.zeros_(cbam.spatial.bn.weight)
        assert torch.allclose(cbam.spatial.gate(x), torch.full((3, 1, 9, 11), 0.5))

"""ahmed2020's networks (spec §6): WRN-28-10, the 4-group STL-10 WRN and the ImageNet-subset WRN, and
the guarantee that the existing WRNs (hendrycks2019's stored results) are unchanged."""

from __future__ import annotations

import hashlib

import pytest
import torch

from adlib.models import create_model, list_models
from adlib.models.wrn import WideResNet


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _keys_signature(model: torch.nn.Module) -> str:
    text = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()


def _trunk_output(model: WideResNet, x: torch.Tensor) -> torch.Tensor:
    out = model.conv1(x)
    if model.stem_pool is not None:
        out = model.stem_pool(out)
    return model.blocks(out)


def test_registered():
    assert {"wrn28_10", "wrn_stl10", "wrn_imagenet", "wrn", "wrn40_2", "wrn16_4"} <= set(list_models())


def test_existing_wrns_keep_their_state_dict_keys_and_defaults():
    # signatures of the key names and shapes computed with adlib/models/wrn.py before the ahmed2020 options
    assert _keys_signature(create_model("wrn40_2")) == (
        "c887f1a3951870705796121243f1e1e8f1d25840aa43ccb41db6ddd9d2759d0c")
    assert _keys_signature(create_model("wrn16_4")) == (
        "0027ac56a44b008a73ca0498288ffd923c844246d845c69327830f5ee9c66cca")
    model = create_model("wrn40_2")
    assert model.stem_pool is None and model.conv1.stride == (1, 1)
    assert len(model.blocks) == 18 and model.feature_dim == 128
    assert _n_params(model) == 2_243_546
    assert not any(isinstance(m, torch.nn.AvgPool2d) for m in model.modules())


def test_wrn28_10_is_the_plain_wrn_with_depth_28_width_10():
    a = create_model("wrn28_10")
    torch.manual_seed(0)
    b = create_model("wrn", depth=28, widen_factor=10)
    assert _keys_signature(a) == _keys_signature(b)
    assert _n_params(a) == 36_479_194  # WRN-28-10's well-known 36.5 M parameters (10 classes)
    assert a.feature_dim == 640 and len(a.blocks) == 12
    x = torch.randn(2, 3, 32, 32)
    a.eval()
    with torch.no_grad():
        assert tuple(a(x).shape) == (2, 10) and tuple(a.features(x).shape) == (2, 640)


def test_stl10_network_structure():
    model = create_model("wrn_stl10")
    assert len(model.blocks) == 16 and model.feature_dim == 256 and model.fc.in_features == 256
    widths = [b.conv2.out_channels for b in model.blocks]
    assert widths == [64] * 4 + [128] * 4 + [256] * 4 + [256] * 4
    strides = [b.conv1.stride[0] for b in model.blocks]
    assert strides == [1, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1]
    assert all(b.dropout == 0.3 for b in model.blocks) and model.stem_pool is None
    # WRN-28-4 (5.85 M) plus 4 blocks of 256 channels (4 × 2 × 9 × 256² + a 1×1 shortcut)
    base = _n_params(create_model("wrn", depth=28, widen_factor=4))
    assert _n_params(model) == base + 4 * 2 * 9 * 256 * 256 + 256 * 256 + 4 * 2 * 2 * 256


def test_imagenet_network_structure():
    model = create_model("wrn_imagenet", num_classes=11)
    assert isinstance(model.stem_pool, torch.nn.AvgPool2d)
    assert model.stem_pool.kernel_size == 2 and model.stem_pool.stride == 2
    assert all(b.dropout == 0.0 for b in model.blocks)
    assert model.fc.out_features == 11
    same = create_model("wrn_stl10", num_classes=11)
    assert _keys_signature(model) == _keys_signature(same)  # the pooling has no parameters
    assert create_model("wrn_imagenet", stem_stride=2).conv1.stride == (2, 2)


@pytest.mark.parametrize("name, px, final", [
    ("wrn_stl10", 96, 12), ("wrn_imagenet", 224, 14), ("wrn_stl10", 32, 4), ("wrn_imagenet", 32, 2),
])
def test_feature_map_sizes(name, px, final):
    model = create_model(name, widen_factor=1)  # narrow: the geometry is the same, the cost is not
    with torch.no_grad():
        out = _trunk_output(model, torch.randn(1, 3, px, px))
    assert tuple(out.shape[2:]) == (final, final)


def test_cpc_variant_halves_the_resolution_once_more():
    model = create_model("wrn_imagenet", widen_factor=1, stem_stride=2)
    with torch.no_grad():
        assert tuple(_trunk_output(model, torch.randn(1, 3, 224, 224)).shape[2:]) == (7, 7)


@pytest.mark.parametrize("name, px", [("wrn_stl10", 96), ("wrn_imagenet", 224), ("wrn_stl10", 32)])
def test_forward_backward_shapes(name, px):
    torch.manual_seed(0)
    model = create_model(name, num_classes=9, widen_factor=1)
    model.train()
    x = torch.randn(2, 3, px, px, requires_grad=True)
    logits = model(x)
    assert tuple(logits.shape) == (2, 9)
    feats = model.features(x)
    assert tuple(feats.shape) == (2, model.feature_dim) == (2, 64)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 8])).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name, px", [("wrn_stl10", 96), ("wrn_imagenet", 224)])
def test_full_width_forward(name, px):
    model = create_model(name)
    model.eval()
    x = torch.randn(1, 3, px, px)
    with torch.no_grad():
        feats = model.features(x)
        assert tuple(feats.shape) == (1, 256)
        assert torch.allclose(model(x), model.fc(feats))


def test_bad_options():
    with pytest.raises(ValueError, match="extra_groups"):
        WideResNet(28, 1, extra_groups=-1)
    with pytest.raises(ValueError, match="6n\\+4"):
        WideResNet(36, 4)

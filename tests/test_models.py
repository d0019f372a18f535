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


def test_wrn_works_on_64px_and_rejects_bad_depth():
    model = create_model("wrn", depth=16, widen_factor=1, num_classes=200)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 200)
    with pytest.raises(ValueError, match="6n\\+4"):
        create_model("wrn", depth=15)

"""Model registry (in the style of timm's): ``create_model("wrn40_2", num_classes=10)``.

Every model maps a float image batch ``(N, C, H, W)`` to logits ``(N, k)`` and exposes
``features(x)`` returning the penultimate representation, which detectors with a branch
or a latent distance (ruff2021, singh2021) build on. The confidence-branch variants
(``*_branch``, :mod:`adlib.models.branch`) return ``(logits, b(x))`` instead. The DCGAN
generator and discriminator of :mod:`adlib.models.dcgan` (``dcgan*``) and the PixelCNN density
model of :mod:`adlib.models.pixelcnn` (``pixelcnn_small``) are not classifiers. ahmed2020's CPC
networks (:mod:`adlib.models.wrn_cpc`: ``wrn_imagenet_cpc``, ``wrn_cpc_cpu``) also expose
``encode_patches`` and ``set_task`` (task-conditional batch norm).
"""

from __future__ import annotations

from typing import Callable

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model constructor under ``name`` (a decorator)."""

    def decorator(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = fn
        return fn

    return decorator


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`."""
    return sorted(_REGISTRY)


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; an unknown name is an error that lists the valid ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(list_models())}")
    return _REGISTRY[name](**kwargs)


# Importing the modules registers their models.
from adlib.models import convnet as _convnet  # noqa: E402,F401
from adlib.models import wrn as _wrn  # noqa: E402,F401
from adlib.models import allconv as _allconv  # noqa: E402,F401
from adlib.models import branch as _branch  # noqa: E402,F401
from adlib.models import gru as _gru  # noqa: E402,F401
from adlib.models import dcgan as _dcgan  # noqa: E402,F401
from adlib.models import pixelcnn as _pixelcnn  # noqa: E402,F401
from adlib.models import lenet as _lenet  # noqa: E402,F401
from adlib.models import resnet_cbam as _resnet_cbam  # noqa: E402,F401
from adlib.models import adcgan as _adcgan  # noqa: E402,F401
from adlib.models import smallconv as _smallconv  # noqa: E402,F401
from adlib.models import wrn_cpc as _wrn_cpc  # noqa: E402,F401

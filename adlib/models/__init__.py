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


MEMORY_FORMATS = ("contiguous", "channels_last")
"""How a model's 4-D weights are laid out. ``channels_last`` (NHWC) lets oneDNN run the small
convolutions and poolings of the cpu-scale networks about 1.2-1.8x faster on one thread (measured
in ``benchmarks/train_throughput.py``); the arithmetic differs in the last bits from
``contiguous``, so it is part of a run's config (``cfg["model"]["memory_format"]``), never a
silent switch."""


def create_model(name: str, *, memory_format: str = "contiguous", **kwargs) -> nn.Module:
    """Build a registered model; an unknown name is an error that lists the valid ones.

    ``memory_format="channels_last"`` converts the model's 4-D parameters to NHWC
    (:data:`MEMORY_FORMATS`); its inputs need no conversion, convolutions follow the weights.
    Loading a state dict into the model keeps the layout (``load_state_dict`` copies in place).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(list_models())}")
    if memory_format not in MEMORY_FORMATS:
        raise ValueError(f"unknown memory_format {memory_format!r}; valid: {', '.join(MEMORY_FORMATS)}")
    model = _REGISTRY[name](**kwargs)
    if memory_format == "channels_last":
        import torch

        model = model.to(memory_format=torch.channels_last)
    return model


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

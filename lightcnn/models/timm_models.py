"""Every timm model as a backbone, named ``timm/<model>`` through timm's own listing.

timm's ``num_classes=0`` models already meet the backbone contract: ``num_features`` is set
and ``forward`` returns pooled ``(B, num_features)`` features.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from torch import nn

from lightcnn.errors import LightCNNError
from lightcnn.registry import BACKBONES


def timm_backbone(
    model_name: str,
    in_channels: int = 3,
    pretrained: bool = False,
    weights: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Create ``timm.create_model(model_name, num_classes=0, in_chans=in_channels)``.

    Args:
        model_name: any name from ``timm.list_models()``.
        in_channels: from the DataModule; timm adapts the stem (summing or repeating
            pretrained first-layer weights).
        pretrained: download timm's weights (needs network; off by default).
        weights: a local weights file (``.pth``/``.safetensors``), loaded with no network.
        **kwargs: passed to ``timm.create_model`` (``drop_rate``, ``drop_path_rate``, ...).

    Raises:
        LightCNNError: missing weights file, or pretrained weights that cannot be fetched.
    """
    import timm

    overlay = None
    if weights is not None:
        if not Path(weights).is_file():
            raise LightCNNError(f"timm/{model_name}: weights file {weights!r} does not exist")
        overlay = {"file": str(Path(weights).resolve())}
    try:
        return timm.create_model(
            model_name,
            pretrained=pretrained or weights is not None,
            num_classes=0,
            in_chans=in_channels,
            pretrained_cfg_overlay=overlay,
            **kwargs,
        )
    except (OSError, RuntimeError, ConnectionError) as err:
        if pretrained and weights is None:
            raise LightCNNError(
                f"timm/{model_name}: could not fetch pretrained weights ({type(err).__name__}: {err}); "
                f"without network, download them elsewhere and pass backbone_args.weights: /path/to/file"
            ) from err
        raise


def _list(pattern: str) -> list[str]:
    import timm

    return timm.list_models(pattern)


def _get(model_name: str) -> Any:
    factory = functools.partial(timm_backbone, model_name)
    functools.update_wrapper(factory, timm_backbone)
    return factory


BACKBONES.add_provider("timm", _list, _get)

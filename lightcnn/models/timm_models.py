"""Every timm model as a backbone, named ``timm/<model>`` through timm's own listing.

timm's ``num_classes=0`` models already meet the backbone contract: ``num_features`` is set
and ``forward`` returns pooled ``(B, num_features)`` features.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
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
    def create() -> nn.Module:
        return timm.create_model(model_name, pretrained=pretrained or weights is not None, num_classes=0,
                                 in_chans=in_channels, pretrained_cfg_overlay=overlay, **kwargs)

    try:
        if pretrained and weights is None and not _hub_reachable():
            # Offline, huggingface_hub retries for about a minute before it gives up; ask only its
            # local cache instead, which answers at once (weights fetched earlier still load).
            with _hub_offline():
                return create()
        return create()
    except (OSError, RuntimeError, ConnectionError) as err:
        if pretrained and weights is None:
            raise LightCNNError(
                f"timm/{model_name}: could not fetch pretrained weights ({type(err).__name__}: {err}); "
                f"without network, download them elsewhere and pass backbone_args.weights: /path/to/file"
            ) from err
        raise


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub (``HF_ENDPOINT``) answers a TCP connection within ``timeout``
    seconds (name lookup included, which has no timeout of its own: hence the thread)."""
    import socket
    import threading
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    return bool(result and result[0])


@contextlib.contextmanager
def _hub_offline() -> Iterator[None]:
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def _list(pattern: str) -> list[str]:
    import timm

    return timm.list_models(pattern)


def _get(model_name: str) -> Any:
    factory = functools.partial(timm_backbone, model_name)
    functools.update_wrapper(factory, timm_backbone)
    return factory


BACKBONES.add_provider("timm", _list, _get)

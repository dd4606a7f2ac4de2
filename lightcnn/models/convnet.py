"""The labs' plain CNNs: one configurable ``ConvNet`` and its named presets.

Each preset is the ``ConvNet`` signature with other defaults, so every preset takes the same
options (``width``, ``depth``, ``kernel_size``, ``batchnorm``, ``dropout``, ...) from YAML:

    backbone: cifar10_base
    backbone_args: {batchnorm: true, dropout: 0.25}
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from lightcnn.errors import LightCNNError
from lightcnn.models.base import dense_block, with_depth
from lightcnn.registry import BACKBONES


BatchNormPosition = Literal["before_relu", "after_relu", "after_pool"]
DropoutAt = Literal["pool_and_dense", "pool", "dense"]


class ConvNet(nn.Module):
    """Conv blocks (conv, [BatchNorm], ReLU, [max-pool, Dropout]), flatten, dense layers.

    Args:
        in_channels, image_size: input shape, supplied from the DataModule.
        channels: output channels of each conv layer.
        pool_after: indices of conv layers followed by a 2x2 max-pool.
        dense: widths of the dense layers after flattening; the last is ``num_features``
            (with none, ``num_features`` is the flattened size).
        kernel_size: conv kernel size.
        padding: ``"valid"`` (none, as Keras' default) or ``"same"``.
        width: multiplier on every conv and dense width.
        depth: number of conv layers; fewer truncates ``channels``, more repeats the last one
            (without extra pools). ``None`` keeps ``channels``.
        batchnorm: ``true``: BatchNorm after every conv and dense layer; a list of conv-layer
            indices (0-based): after those conv layers only (``[0]``: the first conv only).
        batchnorm_position: ``before_relu`` (conv without bias, BatchNorm, ReLU: the usual
            PyTorch block), ``after_relu`` (conv, ReLU, BatchNorm: Keras's
            ``Conv2D(activation="relu")`` followed by ``BatchNormalization()``) or
            ``after_pool`` (conv, ReLU, pool, BatchNorm; with ``batchnorm: true``, layers
            without a pool get it after the ReLU). Dense layers follow ``before_relu`` or
            else ``after_relu``.
        dropout: dropout probability.
        dropout_at: where dropout goes: after every pool and every dense layer
            (``pool_and_dense``), after the pools only, or after the dense layers only.

    Shapes: ``(B, in_channels, image_size, image_size)`` -> ``(B, num_features)``.

    Raises:
        LightCNNError: an option out of range, a placement on a layer that does not exist, or an
            image too small for the layers asked for.
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 32,
        channels: Sequence[int] = (32, 64, 64),
        pool_after: Sequence[int] = (0, 1),
        dense: Sequence[int] = (64,),
        kernel_size: int = 3,
        padding: Literal["valid", "same"] = "valid",
        width: float = 1.0,
        depth: int | None = None,
        batchnorm: bool | Sequence[int] = False,
        batchnorm_position: BatchNormPosition = "before_relu",
        dropout: float = 0.0,
        dropout_at: DropoutAt = "pool_and_dense",
    ) -> None:
        super().__init__()
        _check_options(kernel_size, width, depth, dropout, padding)
        chans = [max(1, round(c * width)) for c in with_depth(list(channels), depth)]
        bn_convs = _placement(batchnorm, batchnorm_position, chans, pool_after, dense, dropout, dropout_at)
        pre = batchnorm_position == "before_relu"
        layers: list[nn.Module] = []
        size, prev = image_size, in_channels
        for i, c in enumerate(chans):
            bn = i in bn_convs
            pooled = i in pool_after
            layers += [nn.Conv2d(prev, c, kernel_size, padding=padding, bias=not (bn and pre))]
            layers += [nn.BatchNorm2d(c)] if bn and pre else []
            layers += [nn.ReLU(inplace=True)]
            layers += [nn.BatchNorm2d(c)] if bn and not pre and not (pooled and batchnorm_position == "after_pool") else []
            prev = c
            size = size if padding == "same" else size - kernel_size + 1
            if pooled:
                layers += [nn.MaxPool2d(2)]
                size //= 2
                layers += [nn.BatchNorm2d(c)] if bn and batchnorm_position == "after_pool" else []
                layers += [nn.Dropout(dropout)] if dropout and dropout_at != "dense" else []
            if size < 1:
                raise LightCNNError(
                    f"ConvNet: a {image_size}x{image_size} image shrinks to nothing after conv layer {i + 1} "
                    f"of {len(chans)} (kernel_size={kernel_size}, padding={padding!r}); "
                    f"use fewer layers (depth), padding 'same', or a larger image_size"
                )
        head, self.num_features = dense_block(
            prev * size * size, [max(1, round(w * width)) for w in dense], batchnorm is True,
            dropout if dropout_at != "pool" else 0.0, bn_after_relu=not pre,
        )
        self.layers = nn.Sequential(*layers, nn.Flatten(), *head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _placement(
    batchnorm: bool | Sequence[int], position: str, chans: list[int], pool_after: Sequence[int],
    dense: Sequence[int], dropout: float, dropout_at: str,
) -> set[int]:
    """The conv layers that get BatchNorm; a ``LightCNNError`` for a placement that makes no sense."""
    n = len(chans)
    if position not in ("before_relu", "after_relu", "after_pool"):
        raise LightCNNError(f"ConvNet: batchnorm_position={position!r}; valid: before_relu, after_relu, after_pool")
    if dropout_at not in ("pool_and_dense", "pool", "dense"):
        raise LightCNNError(f"ConvNet: dropout_at={dropout_at!r}; valid: pool_and_dense, pool, dense")
    if batchnorm is True:
        chosen = set(range(n))
    elif batchnorm is False or batchnorm is None:
        chosen = set()
    else:
        chosen = set(batchnorm)
        beyond = sorted(i for i in chosen if not 0 <= i < n)
        if beyond:
            raise LightCNNError(
                f"ConvNet: batchnorm={list(batchnorm)} names conv layer {beyond[0]}, but the net has {n} conv layers; "
                f"valid indices: 0-{n - 1} (or batchnorm: true for all)"
            )
    if position != "before_relu" and not chosen:
        raise LightCNNError(f"ConvNet: batchnorm_position={position!r} but batchnorm is off; set batchnorm: true or a list of conv layers")
    if position == "after_pool" and batchnorm is not True:
        unpooled = sorted(chosen - set(pool_after))
        if unpooled:
            raise LightCNNError(
                f"ConvNet: batchnorm_position='after_pool' but conv layer {unpooled[0]} has no pool after it "
                f"(pool_after={list(pool_after)}); valid layers for it: {sorted(chosen & set(pool_after)) or sorted(set(pool_after))}"
            )
    if dropout_at != "pool_and_dense":
        missing = "dense layer (dense: [])" if dropout_at == "dense" and not dense else (
            "pool (pool_after: [])" if dropout_at == "pool" and not [i for i in pool_after if i < n] else "")
        if not dropout:
            raise LightCNNError(f"ConvNet: dropout_at={dropout_at!r} but dropout is 0; set dropout > 0")
        if missing:
            raise LightCNNError(f"ConvNet: dropout_at={dropout_at!r} but the net has no {missing}")
    return chosen


def _check_options(kernel_size: int, width: float, depth: int | None, dropout: float, padding: str) -> None:
    checks = [
        (kernel_size >= 1, f"kernel_size must be >= 1, got {kernel_size}"),
        (width > 0, f"width must be > 0, got {width}"),
        (depth is None or depth >= 1, f"depth must be >= 1 (or null), got {depth}"),
        (0.0 <= dropout < 1.0, f"dropout must be in [0, 1), got {dropout}"),
        (padding in ("valid", "same"), f"padding must be 'valid' or 'same', got {padding!r}"),
    ]
    for ok, msg in checks:
        if not ok:
            raise LightCNNError(f"ConvNet: {msg}")


def _preset(name: str, doc: str, **defaults: Any) -> None:
    """Register ``name`` as ConvNet with other defaults, keeping an introspectable signature."""

    def factory(**kwargs: Any) -> ConvNet:
        return ConvNet(**{**defaults, **kwargs})

    sig = inspect.signature(ConvNet)
    params = [p.replace(default=defaults.get(p.name, p.default), kind=p.KEYWORD_ONLY) for p in sig.parameters.values()]
    factory.__signature__ = sig.replace(parameters=params, return_annotation=ConvNet)  # type: ignore[attr-defined]
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    BACKBONES.register(name)(factory)


BACKBONES.register("convnet")(ConvNet)
_preset(
    "cifar10_base",
    "The labs' CIFAR-10 net: conv 32-64-64 3x3 valid, pools after the first two, dense 64 "
    "(122,570 parameters with a 10-way head on 32x32x3).",
    in_channels=3, image_size=32, channels=(32, 64, 64), pool_after=(0, 1), dense=(64,),
)
_preset(
    "cifar100_cnn",
    "The labs' CIFAR-100 net: conv 32-64-128 3x3 same, a pool after each, dense 256-128.",
    in_channels=3, image_size=32, channels=(32, 64, 128), pool_after=(0, 1, 2), dense=(256, 128), padding="same",
)
_preset(
    "mnist_cnn",
    "The labs' MNIST net: conv 16-32-64 3x3 same, pools after the first two, flattened (7*7*64).",
    in_channels=1, image_size=28, channels=(16, 32, 64), pool_after=(0, 1), dense=(), padding="same",
)
_preset(
    "embed_cnn",
    "The labs' embedding net: conv 32-32, pool, conv 64-64 (3x3 valid), flattened.",
    in_channels=1, image_size=28, channels=(32, 32, 64, 64), pool_after=(1,), dense=(),
)

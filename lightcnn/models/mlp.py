"""The labs' dense-only baseline: flatten the image, then fully connected layers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lightcnn.errors import LightCNNError
from lightcnn.models.base import dense_block, with_depth
from lightcnn.registry import BACKBONES


@BACKBONES.register("mlp")
class MLP(nn.Module):
    """Flatten, then ``depth`` dense layers (Linear, [BatchNorm], ReLU, [Dropout]).

    Args:
        in_channels, image_size: input shape, supplied from the DataModule.
        hidden: widths of the dense layers; the last is ``num_features``.
        width: multiplier on every width.
        depth: number of layers; fewer truncates ``hidden``, more repeats the last width.
        batchnorm: BatchNorm1d after every Linear.
        dropout: dropout probability after every layer.

    A dense net has no kernel: ``kernel_size`` is not an option here.
    Shapes: ``(B, in_channels, image_size, image_size)`` -> ``(B, num_features)``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        hidden: Sequence[int] = (256, 128),
        width: float = 1.0,
        depth: int | None = None,
        batchnorm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not hidden or width <= 0 or (depth is not None and depth < 1) or not 0.0 <= dropout < 1.0:
            raise LightCNNError(
                f"MLP: need a non-empty hidden list, width > 0, depth >= 1 and dropout in [0, 1); "
                f"got hidden={list(hidden)}, width={width}, depth={depth}, dropout={dropout}"
            )
        widths = [max(1, round(s * width)) for s in with_depth(list(hidden), depth)]
        layers, self.num_features = dense_block(in_channels * image_size * image_size, widths, batchnorm, dropout)
        self.layers = nn.Sequential(nn.Flatten(), *layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

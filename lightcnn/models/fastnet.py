"""A fast CIFAR net after Keller Jordan's airbench94: a small patch stem and three conv groups.

Each group is conv 3x3, max-pool 2, BatchNorm, GELU, conv 3x3, BatchNorm, GELU; a global max-pool
ends it. airbench94 (widths 64-256-256) reaches 94 % on CIFAR-10 in about ten epochs; ``width:
0.5`` is the CPU version, about four times cheaper. Differences from airbench: the 2x2 stem is
learned from a normal initialisation rather than set to the data's whitening transform, and the
BatchNorm scales train (the task's head brings its own bias).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from lightcnn.errors import LightCNNError
from lightcnn.registry import BACKBONES


def _group(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c_out), nn.GELU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.GELU(),
    )


@BACKBONES.register("fastnet")
class FastNet(nn.Module):
    """Stem (conv 2x2 to ``stem`` channels, GELU), three conv groups, global max-pool.

    Args:
        in_channels, image_size: input shape (at least 16 px: three poolings).
        widths: channels of the three groups, before ``width`` scaling.
        stem: stem channels (airbench: 24 = 2 x 3 x 2 x 2).
        width: multiplier for ``widths`` (0.5 = the CPU recipe).
    """

    def __init__(
        self, in_channels: int = 3, image_size: int = 32, widths: Sequence[int] = (64, 256, 256), stem: int = 24, width: float = 1.0
    ) -> None:
        super().__init__()
        if width <= 0 or stem < 1 or len(widths) != 3 or min(widths) < 1 or image_size < 16:
            raise LightCNNError(
                f"fastnet: need width > 0, stem >= 1, three positive widths and image_size >= 16; "
                f"got width={width}, stem={stem}, widths={list(widths)}, image_size={image_size}"
            )
        chans = [max(1, round(w * width)) for w in widths]
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, stem, 2), nn.GELU(),
            _group(stem, chans[0]), _group(chans[0], chans[1]), _group(chans[1], chans[2]),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )
        self.num_features = chans[2]

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.layers(x)

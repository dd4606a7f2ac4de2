"""Example plugin: a two-layer CNN registered as the backbone ``tinynet``.

Use it by name:         backbone: tinynet
                        backbone_args: {width: 32}
or by class path:       backbone: {class_path: plugins.tinynet.TinyNet, init_args: {width: 32}}
"""

import torch
from torch import nn

from lightcnn.registry import BACKBONES


@BACKBONES.register("tinynet")
class TinyNet(nn.Module):
    """conv(width) - pool - conv(2*width) - global average pool.

    The backbone contract: an int ``num_features`` and ``forward`` mapping (B, C, H, W) to
    (B, num_features). ``in_channels`` is filled in from the data, by name or by class path.
    """

    def __init__(self, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.num_features = 2 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

"""Horizontal and vertical flips."""

from __future__ import annotations

import torch

from lightcnn.augment.base import BatchAugment, register


@register("hflip")
class HorizontalFlip(BatchAugment):
    """Mirror left-right each image with probability ``p`` (default 0.5)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return x.flip(-1)


@register("vflip")
class VerticalFlip(BatchAugment):
    """Mirror top-bottom each image with probability ``p`` (default 0.5)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return x.flip(-2)

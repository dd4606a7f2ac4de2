"""Horizontal and vertical flips."""

from __future__ import annotations

import torch

from lightcnn.augment.base import BatchAugment, register
from lightcnn.errors import LightCNNError


@register("hflip")
class HorizontalFlip(BatchAugment):
    """Mirror left-right each image with probability ``p`` (default 0.5).

    With ``alternate: true`` (airbench's alternating flip) each training image is mirrored in
    every other epoch instead, starting from a pseudo-random half (a hash of its index): over any
    two consecutive epochs every image is seen both ways, where random flips repeat an
    orientation half of the time. ``p`` must then be 0.5. Without image indices (the preview
    grid) it flips at random like ``p``.
    """

    def __init__(self, p: float = 0.5, alternate: bool = False) -> None:
        super().__init__(p)
        if alternate and p != 0.5:
            raise LightCNNError(f"augmentation hflip: alternate: true flips half of the images each epoch, so p must be 0.5; got p={p}")
        self.alternate = alternate
        self.needs_index = alternate

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return x.flip(-1)

    def apply_indexed(self, x: torch.Tensor, g: torch.Generator, index: torch.Tensor, epoch: int) -> torch.Tensor:
        """Mirror the images whose index hash's low bit differs from the epoch's parity."""
        start = ((index.to(x.device) * 2654435761) >> 16) & 1  # Knuth's multiplicative hash: a fixed, even split
        chosen = (start ^ (epoch & 1)).bool()
        # A select, not x[chosen.nonzero()]: no wait for the device to count the chosen images,
        # which on a GPU would stop the host from queueing the step ahead of it.
        return torch.where(chosen.view(-1, *[1] * (x.dim() - 1)), x.flip(-1), x)


@register("vflip")
class VerticalFlip(BatchAugment):
    """Mirror top-bottom each image with probability ``p`` (default 0.5)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return x.flip(-2)

"""Cutout: blank a random square per image."""

from __future__ import annotations

import torch

from lightcnn.augment.base import BatchAugment, register


@register("cutout")
class Cutout(BatchAugment):
    """Set a ``size`` x ``size`` square, centred at a random pixel (it may overhang the border),
    to ``fill``."""

    def __init__(self, size: int = 8, p: float = 1.0, fill: float = 0.0) -> None:
        super().__init__(p)
        self.check("size", size, 1, 4096)
        self.check("fill", fill, 0.0, 1.0)
        self.size, self.fill = size, fill

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        cy = torch.randint(0, h, (b, 1, 1), generator=g, device=x.device)
        cx = torch.randint(0, w, (b, 1, 1), generator=g, device=x.device)
        ys = torch.arange(h, device=x.device).view(1, h, 1)
        xs = torch.arange(w, device=x.device).view(1, 1, w)
        top, left = cy - self.size // 2, cx - self.size // 2
        inside = (ys >= top) & (ys < top + self.size) & (xs >= left) & (xs < left + self.size)
        return torch.where(inside[:, None], torch.full_like(x, self.fill), x)

    def misfit(self, size: int) -> str | None:
        if self.size >= size:
            return f"size={self.size} is not smaller than the {size}-px images: it would blank (nearly) all of every image it touches"
        return None

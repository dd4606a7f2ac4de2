"""Brightness, contrast, saturation, hue and random grayscale, per sample, batched.

Factors follow torchvision's ColorJitter: brightness, contrast and saturation multiply by a
factor drawn from U(1 - f, 1 + f); hue shifts by U(-h, h) of the colour wheel.
"""

from __future__ import annotations

import math

import torch

from lightcnn.augment.base import BatchAugment, register, uniform

LUMA = (0.299, 0.587, 0.114)


def luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma ``(b, 1, H, W)`` of RGB images (or the single channel of gray ones)."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _per_image(v: torch.Tensor) -> torch.Tensor:
    return v.view(-1, 1, 1, 1)


class _Factor(BatchAugment):
    def __init__(self, factor: float, p: float, high: float = 1.0) -> None:
        super().__init__(p)
        self.check("factor", factor, 0.0, high)
        self.factor = factor

    def draw(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return _per_image(uniform(len(x), 1 - self.factor, 1 + self.factor, g, x.device))


@register("brightness")
class Brightness(_Factor):
    """Multiply intensities by U(1 - factor, 1 + factor)."""

    def __init__(self, factor: float = 0.2, p: float = 1.0) -> None:
        super().__init__(factor, p)

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return (x * self.draw(x, g)).clamp_(0, 1)


@register("contrast")
class Contrast(_Factor):
    """Blend with the image's mean gray level by U(1 - factor, 1 + factor)."""

    def __init__(self, factor: float = 0.2, p: float = 1.0) -> None:
        super().__init__(factor, p)

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        mean = luma(x).mean(dim=(1, 2, 3), keepdim=True)
        return ((x - mean) * self.draw(x, g) + mean).clamp_(0, 1)


@register("saturation")
class Saturation(_Factor):
    """Blend with the image's grayscale version by U(1 - factor, 1 + factor); no-op on gray images."""

    def __init__(self, factor: float = 0.2, p: float = 1.0) -> None:
        super().__init__(factor, p)

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if x.shape[1] == 1:
            return x
        gray = luma(x)
        return ((x - gray) * self.draw(x, g) + gray).clamp_(0, 1)


@register("hue")
class Hue(BatchAugment):
    """Shift hue by U(-factor, factor) of a full turn (factor <= 0.5); no-op on gray images.

    A rotation of the chroma plane in YIQ space: one 3x3 matrix per image, exact for luma and a
    close, much cheaper stand-in for an HSV round trip.
    """

    _TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))

    def __init__(self, factor: float = 0.05, p: float = 1.0) -> None:
        super().__init__(p)
        self.check("factor", factor, 0.0, 0.5)
        self.factor = factor

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if x.shape[1] == 1:
            return x
        to_yiq = torch.tensor(self._TO_YIQ, device=x.device, dtype=x.dtype)
        theta = uniform(len(x), -self.factor, self.factor, g, x.device) * (2 * math.pi)
        cos, sin = torch.cos(theta), torch.sin(theta)
        rot = torch.zeros(len(x), 3, 3, device=x.device, dtype=x.dtype)
        rot[:, 0, 0] = 1
        rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
        m = torch.linalg.inv(to_yiq) @ rot @ to_yiq  # (b, 3, 3)
        return torch.einsum("bij,bjhw->bihw", m, x).clamp_(0, 1)


@register("grayscale")
class RandomGrayscale(BatchAugment):
    """Replace the image by its luma (kept as 3 channels) with probability ``p`` (default 0.5)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return luma(x).expand_as(x).contiguous()

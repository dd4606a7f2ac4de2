"""Rotation, translation (shift) and random crop with padding, per sample, batched."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from lightcnn.augment.base import BatchAugment, register, uniform


def _affine(x: torch.Tensor, angle: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, fill: float) -> torch.Tensor:
    """Rotate by ``angle`` (radians) and shift by ``(tx, ty)`` (fractions of the size), per image.

    One ``affine_grid`` + bilinear ``grid_sample`` for the batch; pixels from outside get ``fill``.
    """
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, -2 * tx], 1), torch.stack([sin, cos, -2 * ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    if fill == 0.0:
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    ones = torch.ones_like(x[:, :1])
    out = F.grid_sample(torch.cat([x, ones], 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[:, :-1] + (1 - out[:, -1:]) * fill


@register("rotation")
class Rotation(BatchAugment):
    """Rotate by an angle drawn from U(-degrees, degrees); corners filled with ``fill``."""

    def __init__(self, degrees: float = 15.0, p: float = 1.0, fill: float = 0.0) -> None:
        super().__init__(p)
        self.check("degrees", degrees, 0.0, 180.0)
        self.check("fill", fill, 0.0, 1.0)
        self.degrees, self.fill = degrees, fill

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        angle = uniform(len(x), -self.degrees, self.degrees, g, x.device) * (math.pi / 180)
        zero = torch.zeros_like(angle)
        return _affine(x, angle, zero, zero, self.fill)


@register("translate")
class Translate(BatchAugment):
    """Shift by U(-fraction, fraction) of the width and of the height, independently."""

    def __init__(self, fraction: float = 0.1, p: float = 1.0, fill: float = 0.0) -> None:
        super().__init__(p)
        self.check("fraction", fraction, 0.0, 1.0)
        self.check("fill", fill, 0.0, 1.0)
        self.fraction, self.fill = fraction, fill

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        tx = uniform(len(x), -self.fraction, self.fraction, g, x.device)
        ty = uniform(len(x), -self.fraction, self.fraction, g, x.device)
        return _affine(x, torch.zeros_like(tx), tx, ty, self.fill)


@register("random_crop")
class RandomCrop(BatchAugment):
    """Pad by ``padding`` pixels, then crop ``size`` x ``size`` at a random place per image.

    ``size`` defaults to the input size (the usual CIFAR "pad 4 and crop 32"). When ``size`` is
    smaller than the images, validation and test images are centre-cropped to it, and the model
    sees ``size`` x ``size`` images.
    """

    def __init__(
        self, size: int | None = None, padding: int = 4, p: float = 1.0,
        padding_mode: Literal["constant", "reflect", "replicate"] = "constant",
    ) -> None:
        super().__init__(p)
        self.check("padding", padding, 0, 256)
        if size is not None:
            self.check("size", size, 1, 4096)
        if padding_mode not in ("constant", "reflect", "replicate"):
            from lightcnn.errors import LightCNNError

            raise LightCNNError(f"augmentation random_crop: padding_mode={padding_mode!r}; valid: constant, reflect, replicate")
        self.size, self.padding, self.padding_mode = size, padding, padding_mode

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        size = self.size or h
        pad = self.padding
        if pad:
            x = F.pad(x, (pad, pad, pad, pad), mode=self.padding_mode)
        top = torch.randint(0, h + 2 * pad - size + 1, (b,), generator=g, device=x.device)
        left = torch.randint(0, w + 2 * pad - size + 1, (b,), generator=g, device=x.device)
        ar = torch.arange(size, device=x.device)
        rows = (top[:, None] + ar)[:, None, :, None]  # (b, 1, size, 1)
        cols = (left[:, None] + ar)[:, None, None, :]  # (b, 1, 1, size)
        batch = torch.arange(b, device=x.device)[:, None, None, None]
        chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        return x[batch, chan, rows, cols]

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.p < 1.0 and self.size and self.size != x.shape[-1]:
            # Images left uncropped would have another size: centre-crop those instead.
            keep = torch.rand(len(x), generator=g, device=x.device) < self.p
            out = self.eval_transform(x).clone()
            if keep.any():
                out[keep] = self.apply(x[keep], g)
            return out
        return super().__call__(x, g)

    def eval_transform(self, x: torch.Tensor) -> torch.Tensor:
        size = self.size or x.shape[-1]
        top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
        return x[..., top : top + size, left : left + size]

    def output_size(self, size: int) -> int:
        return self.size or size

"""Rotation, translation (shift), scale (zoom) and random crop with padding, per sample, batched."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from lightcnn.augment.base import BatchAugment, register, uniform


FillMode = Literal["constant", "reflect", "nearest"]
_PADDING = {"reflect": "reflection", "nearest": "border"}  # grid_sample's names


def _warp(x: torch.Tensor, theta: torch.Tensor, fill: float, fill_mode: str = "constant") -> torch.Tensor:
    """Sample each image at ``theta @ (x, y, 1)`` (normalised output coords -> input coords), bilinear;
    pixels from outside get ``fill`` (``constant``), the image mirrored about its edge
    (``reflect``: ``d c b a | a b c d | d c b a``, Keras's default) or the nearest edge pixel
    (``nearest``). One ``grid_sample`` for the batch."""
    # The sampling grid by broadcasting (F.affine_grid's batched matmul is slow for small images on CPU).
    h, w = x.shape[-2:]
    ys = ((torch.arange(h, device=x.device, dtype=x.dtype) * 2 + 1) / h - 1).view(1, h, 1)
    xs = ((torch.arange(w, device=x.device, dtype=x.dtype) * 2 + 1) / w - 1).view(1, 1, w)
    t = theta.to(x.dtype)[:, :2, :, None, None]  # (n, 2, 3, 1, 1)
    grid = torch.stack([t[:, 0, 0] * xs + t[:, 0, 1] * ys + t[:, 0, 2], t[:, 1, 0] * xs + t[:, 1, 1] * ys + t[:, 1, 2]], -1)
    if fill_mode != "constant":
        return F.grid_sample(x, grid, mode="bilinear", padding_mode=_PADDING[fill_mode], align_corners=False)
    if fill == 0.0:
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    ones = torch.ones_like(x[:, :1])
    out = F.grid_sample(torch.cat([x, ones], 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[:, :-1] + (1 - out[:, -1:]) * fill


class AffineAugment(BatchAugment):
    """An op that is one affine map per image. Consecutive ones with the same ``fill`` and
    ``fill_mode`` are composed by the pipeline into a single resampling (one interpolation
    instead of several)."""

    def __init__(self, p: float = 1.0, fill: float = 0.0, fill_mode: FillMode = "constant") -> None:
        super().__init__(p)
        self.check("fill", fill, 0.0, 1.0)
        if fill_mode not in ("constant", "reflect", "nearest"):
            from lightcnn.errors import LightCNNError

            raise LightCNNError(f"augmentation {self.name}: fill_mode={fill_mode!r}; valid: constant, reflect, nearest")
        self.fill, self.fill_mode = fill, fill_mode

    def matrices(self, n: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
        """``(n, 3, 3)`` maps from output to input coordinates, identity for images not chosen."""
        chosen = self.chosen(n, g, device)
        m = self.draw(n, g, device)
        eye = torch.eye(3, device=device).expand(n, 3, 3)
        return torch.where(chosen[:, None, None], m, eye)

    def draw(self, n: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} must define draw()")

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return warp_composed([self], x, g)

    def fuses_with(self, previous: BatchAugment) -> bool:
        return isinstance(previous, AffineAugment) and (previous.fill, previous.fill_mode) == (self.fill, self.fill_mode)

    @staticmethod
    def composed(ops: list, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return warp_composed(ops, x, g)


def warp_composed(ops: list[AffineAugment], x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Apply consecutive affine ops as one resampling: ``theta = M1 @ M2 @ ...`` per image (an
    output pixel of op k samples op k-1's output at ``M_k p``); untouched images are skipped."""
    theta = ops[0].matrices(len(x), g, x.device)
    for op in ops[1:]:
        theta = theta @ op.matrices(len(x), g, x.device)
    moved = (theta - torch.eye(3, device=x.device)).abs().flatten(1).amax(1) > 1e-7
    idx = moved.nonzero().flatten()
    if len(idx):
        x[idx] = _warp(x[idx], theta[idx], ops[0].fill, ops[0].fill_mode)
    return x


def _matrix(cos: torch.Tensor, sin: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    row0 = torch.stack([cos, -sin, -2 * tx], 1)
    row1 = torch.stack([sin, cos, -2 * ty], 1)
    row2 = torch.tensor([0.0, 0.0, 1.0], device=cos.device).expand(len(cos), 3)
    return torch.stack([row0, row1, row2], 1)


@register("rotation")
class Rotation(AffineAugment):
    """Rotate by an angle drawn from U(-degrees, degrees); corners filled with ``fill``
    (``fill_mode: constant``), by reflection (``reflect``, as Keras's ``RandomRotation``) or
    with the nearest edge pixel (``nearest``). Keras's ``RandomRotation(0.05)`` is
    ``{name: rotation, degrees: 18, fill_mode: reflect}`` (0.05 of a full turn)."""

    def __init__(self, degrees: float = 15.0, p: float = 1.0, fill: float = 0.0, fill_mode: FillMode = "constant") -> None:
        super().__init__(p, fill, fill_mode)
        self.check("degrees", degrees, 0.0, 180.0)
        self.degrees = degrees

    def draw(self, n: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
        angle = uniform(n, -self.degrees, self.degrees, g, device) * (math.pi / 180)
        zero = torch.zeros_like(angle)
        return _matrix(torch.cos(angle), torch.sin(angle), zero, zero)


@register("translate")
class Translate(AffineAugment):
    """Shift by U(-fraction, fraction) of the width and of the height, independently; the
    uncovered edge is filled as ``rotation``'s (``fill``, ``fill_mode``)."""

    def __init__(self, fraction: float = 0.1, p: float = 1.0, fill: float = 0.0, fill_mode: FillMode = "constant") -> None:
        super().__init__(p, fill, fill_mode)
        self.check("fraction", fraction, 0.0, 1.0)
        self.fraction = fraction

    def draw(self, n: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
        tx = uniform(n, -self.fraction, self.fraction, g, device)
        ty = uniform(n, -self.fraction, self.fraction, g, device)
        one, zero = torch.ones_like(tx), torch.zeros_like(tx)
        return _matrix(one, zero, tx, ty)


@register("scale")
class Scale(AffineAugment):
    """Zoom by a factor drawn from U(1 - fraction, 1 + fraction) (above 1 enlarges), about the
    centre, the same in both directions (Keras's ``RandomZoom`` with equal height and width
    factors); the uncovered border is filled as ``rotation``'s."""

    def __init__(self, fraction: float = 0.1, p: float = 1.0, fill: float = 0.0, fill_mode: FillMode = "constant") -> None:
        super().__init__(p, fill, fill_mode)
        self.check("fraction", fraction, 0.0, 0.9)
        self.fraction = fraction

    def draw(self, n: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
        inv = 1.0 / uniform(n, 1 - self.fraction, 1 + self.fraction, g, device)  # output -> input coordinates
        zero = torch.zeros_like(inv)
        return _matrix(inv, zero, zero, zero)


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
        # One flat gather per image (4x faster here than 4-D advanced indexing).
        ar = torch.arange(size, device=x.device)
        wp = x.shape[-1]
        flat = ((top[:, None] + ar)[:, :, None] * wp + (left[:, None] + ar)[:, None, :]).view(b, 1, size * size)
        c = x.shape[1]
        return x.reshape(b, c, -1).gather(2, flat.expand(b, c, size * size)).view(b, c, size, size)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.p < 1.0 and self.size and self.size != x.shape[-1]:
            # Images left uncropped would have another size: centre-crop those instead.
            keep = self.chosen(len(x), g, x.device)
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

    def misfit(self, size: int) -> str | None:
        if self.padding_mode != "constant" and self.padding >= size:
            return (f"padding={self.padding} with padding_mode {self.padding_mode} must be smaller than the {size}-px "
                    f"images it pads (or use padding_mode constant)")
        if (self.size or size) > size + 2 * self.padding:
            return f"size={self.size} is larger than the {size}-px images padded by {self.padding} on each side ({size + 2 * self.padding} px)"
        return None

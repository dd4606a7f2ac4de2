"""Brightness, contrast, saturation, hue and random grayscale, per sample, batched.

Factors follow torchvision's ColorJitter: brightness, contrast and saturation multiply by a
factor drawn from U(1 - f, 1 + f); hue shifts by U(-h, h) of the colour wheel. A ``[low, high]``
pair instead of ``f`` draws from U(low, high) (TensorFlow's ``random_saturation(0.5, 2.0)`` is
``{name: saturation, factor: [0.5, 2.0]}``), and ``brightness`` with ``mode: add`` adds its draw
as TensorFlow's ``random_brightness(max_delta)`` does.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from lightcnn.augment.base import BatchAugment, register, uniform
from lightcnn.errors import LightCNNError

LUMA = (0.299, 0.587, 0.114)


class ColorAugment(BatchAugment):
    """An op that is one affine colour map per image, ``x -> A x + b`` over channels.

    Consecutive colour ops are composed by the pipeline into one map and one pass over the
    pixels. Unlike applying them one by one, intermediate values are not clipped to [0, 1]:
    only the result is.
    """

    def affine(self, n: int, c: int, mean: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A (n, c, c), b (n, c))`` for images whose current channel means are ``mean (n, c)``."""
        raise TypeError(f"{type(self).__name__} must define affine()")

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return color_composed([self], x, g)

    def fuses_with(self, previous: BatchAugment) -> bool:
        return isinstance(previous, ColorAugment)

    @staticmethod
    def composed(ops: list, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return color_composed(ops, x, g)


def _weights(c: int, device: torch.device) -> torch.Tensor:
    return torch.tensor(LUMA if c == 3 else (1.0,) * c, device=device) / (1.0 if c == 3 else c)


def color_composed(ops: list[ColorAugment], x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Apply consecutive colour ops as one per-image affine map ``A x + b`` (images no op chose
    are left alone); each op sees the channel means its predecessors produced."""
    n, c = x.shape[:2]
    dev = x.device
    mu = x.mean(dim=(2, 3))
    eye = torch.eye(c, device=dev).expand(n, c, c)
    a, b = eye, torch.zeros(n, c, device=dev)
    touched = torch.zeros(n, dtype=torch.bool, device=dev)
    for op in ops:
        chosen = op.chosen(n, g, dev)
        cur = (a @ mu[:, :, None]).squeeze(-1) + b
        ai, bi = op.affine(n, c, cur, g)
        ai = torch.where(chosen[:, None, None], ai, eye)
        bi = torch.where(chosen[:, None], bi, torch.zeros_like(bi))
        a, b = ai @ a, (ai @ b[:, :, None]).squeeze(-1) + bi
        touched |= chosen
    idx = touched.nonzero().flatten()
    if len(idx):
        # c multiply-adds instead of an einsum: per-image 3x3 matmuls run as slow tiny bmm's on CPU.
        xs, ai = x[idx], a[idx]
        out = b[idx, :, None, None].expand(len(idx), c, *x.shape[2:]).clone()
        for j in range(c):
            out.addcmul_(ai[:, :, j, None, None], xs[:, j : j + 1])
        x[idx] = out.clamp_(0, 1)
    return x


Factor = float | tuple[float, float]


class _Factor(ColorAugment):
    """``factor`` f draws U(1 - f, 1 + f) (f in [0, 1]); ``[low, high]`` draws U(low, high)."""

    def __init__(self, factor: Factor, p: float, centre: float = 1.0, lowest: float = 0.0) -> None:
        super().__init__(p)
        self.low, self.high = self.bounds(factor, centre, lowest)
        self.factor = factor

    def bounds(self, factor: Factor, centre: float, lowest: float = 0.0) -> tuple[float, float]:
        """``(low, high)`` of the draw for ``factor`` f (``centre`` +- f) or a pair, checked."""
        if isinstance(factor, (list, tuple)):
            if len(factor) != 2:
                raise LightCNNError(f"augmentation {self.name}: factor={list(factor)} must be one number or a [low, high] pair")
            low, high = float(factor[0]), float(factor[1])
            if low > high:
                raise LightCNNError(f"augmentation {self.name}: factor=[{low}, {high}] has low > high; give [low, high] with low <= high")
            self.check("factor[0]", low, lowest, 1e6)
            self.check("factor[1]", high, lowest, 1e6)
            return low, high
        self.check("factor", factor, 0.0, 1.0)
        return centre - factor, centre + factor

    def draw(self, n: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
        return uniform(n, self.low, self.high, g, device).view(n, 1, 1)


@register("brightness")
class Brightness(_Factor):
    """Multiply intensities by U(1 - factor, 1 + factor) (``mode: multiply``, torchvision's), or
    add U(-factor, factor) to them (``mode: add``, TensorFlow's ``random_brightness``); a
    ``[low, high]`` factor draws from U(low, high) in either mode."""

    def __init__(self, factor: Factor = 0.2, p: float = 1.0, mode: Literal["multiply", "add"] = "multiply") -> None:
        if mode not in ("multiply", "add"):
            raise LightCNNError(f"augmentation brightness: mode={mode!r}; valid: multiply, add")
        self.mode = mode
        added = mode == "add"
        super().__init__(factor, p, centre=0.0 if added else 1.0, lowest=-1.0 if added else 0.0)

    def affine(self, n: int, c: int, mean: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.draw(n, g, mean.device)
        if self.mode == "add":
            return torch.eye(c, device=mean.device).expand(n, c, c), f.view(n, 1).expand(n, c)
        return f * torch.eye(c, device=mean.device), torch.zeros(n, c, device=mean.device)


@register("contrast")
class Contrast(_Factor):
    """Blend with the image's mean gray level by U(1 - factor, 1 + factor), or U(low, high) for a
    ``[low, high]`` factor (TensorFlow's ``random_contrast(0.3, 1.0)``; TensorFlow blends each
    channel with its own mean, this with the mean luma, as torchvision does)."""

    def __init__(self, factor: Factor = 0.2, p: float = 1.0) -> None:
        super().__init__(factor, p)

    def affine(self, n: int, c: int, mean: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.draw(n, g, mean.device)
        gray = (mean * _weights(c, mean.device)).sum(1)  # mean luma of each image
        return f * torch.eye(c, device=mean.device), ((1 - f.view(n)) * gray)[:, None].expand(n, c)


@register("saturation")
class Saturation(_Factor):
    """Blend with the image's grayscale version by U(1 - factor, 1 + factor), or U(low, high) for a
    ``[low, high]`` factor (TensorFlow's ``random_saturation(0.5, 2.0)``); no-op on gray images."""

    def __init__(self, factor: Factor = 0.2, p: float = 1.0) -> None:
        super().__init__(factor, p)

    def affine(self, n: int, c: int, mean: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.draw(n, g, mean.device)
        eye = torch.eye(c, device=mean.device)
        to_gray = torch.ones(c, 1, device=mean.device) @ _weights(c, mean.device)[None]
        a = f * eye + (1 - f) * to_gray if c == 3 else eye.expand(n, c, c)
        return a, torch.zeros(n, c, device=mean.device)


@register("hue")
class Hue(ColorAugment):
    """Shift hue by U(-factor, factor) of a full turn (factor <= 0.5); no-op on gray images.

    A rotation of the chroma plane in YIQ space: one 3x3 matrix per image, exact for luma and a
    close, much cheaper stand-in for an HSV round trip.
    """

    _TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))

    def __init__(self, factor: float = 0.05, p: float = 1.0) -> None:
        super().__init__(p)
        self.check("factor", factor, 0.0, 0.5)
        self.factor = factor

    def affine(self, n: int, c: int, mean: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        dev = mean.device
        theta = uniform(n, -self.factor, self.factor, g, dev) * (2 * math.pi)
        if c != 3:
            return torch.eye(c, device=dev).expand(n, c, c), torch.zeros(n, c, device=dev)
        to_yiq = torch.tensor(self._TO_YIQ, device=dev)
        rot = torch.zeros(n, 3, 3, device=dev)
        rot[:, 0, 0] = 1
        rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = theta.cos(), -theta.sin(), theta.sin(), theta.cos()
        return torch.linalg.inv(to_yiq) @ rot @ to_yiq, torch.zeros(n, 3, device=dev)


@register("grayscale")
class RandomGrayscale(ColorAugment):
    """Replace the image by its luma (kept as 3 channels) with probability ``p`` (default 0.5)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def affine(self, n: int, c: int, mean: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        to_gray = torch.ones(c, 1, device=mean.device) @ _weights(c, mean.device)[None]
        return to_gray.expand(n, c, c), torch.zeros(n, c, device=mean.device)

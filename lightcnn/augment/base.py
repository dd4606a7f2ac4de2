"""Batched augmentation: the op contract (the ordered pipeline is in ``pipeline.py``).

Why not torchvision.transforms.v2 on the batch: v2 draws one set of random parameters per call,
so a whole batch would be flipped or rotated together. Kornia draws per sample, but measured
slower here (``benchmarks/augment.py``). These ops draw per-sample parameters from one seeded
generator and work on the whole ``(B, C, H, W)`` float batch on the model's device.
"""

from __future__ import annotations

import torch

from lightcnn.errors import LightCNNError
from lightcnn.registry import AUGMENTATIONS


class BatchAugment:
    """One augmentation, applied to each image of a batch with probability ``p``.

    Subclasses implement ``apply(x, g)`` on the selected images: ``x`` is float ``(b, C, H, W)``
    in [0, 1] and ``g`` the generator to draw their random parameters from. They validate their
    parameters in ``__init__`` with ``self.check``.
    """

    needs_index = False  # True: in training, ``apply_indexed(x, g, index, epoch)`` is used instead

    def __init__(self, p: float = 1.0) -> None:
        self.check("p", p, 0.0, 1.0)
        self.p = p

    @property
    def name(self) -> str:
        return getattr(type(self), "registered_name", type(self).__name__)

    def check(self, param: str, value: float, low: float, high: float, low_open: bool = False) -> None:
        """Raise ``LightCNNError`` naming the op, the parameter and the valid range."""
        ok = (low < value if low_open else low <= value) and value <= high
        if not ok:
            bracket = "(" if low_open else "["
            raise LightCNNError(f"augmentation {self.name}: {param}={value} is out of range; valid: {bracket}{low}, {high}]")

    def chosen(self, n: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
        """Boolean ``(n,)``: which images this op touches (each with probability ``p``; no draw at p = 1)."""
        if self.p >= 1.0:
            return torch.ones(n, dtype=torch.bool, device=device)
        return torch.rand(n, generator=g, device=device) < self.p

    def fuses_with(self, previous: BatchAugment) -> bool:
        """Whether this op can join ``previous``'s run in one ``composed`` call (ops that can be
        fused override this and ``composed``)."""
        return False

    @staticmethod
    def composed(ops: list[BatchAugment], x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Apply a run of fused ops; the default applies them one by one."""
        for op in ops:
            x = op(x, g)
        return x

    def apply(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} must define apply()")

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Augment the chosen images of ``x``, writing into ``x`` (the pipeline owns its batch)."""
        if self.p >= 1.0:
            return self.apply(x, g)
        chosen = self.chosen(len(x), g, x.device).nonzero().flatten()
        if len(chosen) == 0:
            return x
        x[chosen] = self.apply(x[chosen], g)
        return x

    def eval_transform(self, x: torch.Tensor) -> torch.Tensor:
        """What validation and test images get instead (identity, except crops)."""
        return x

    def output_size(self, size: int) -> int:
        return size

    def misfit(self, size: int) -> str | None:
        """Why this op cannot work on ``size`` x ``size`` images (its input in the pipeline), or
        None. Checked when the DataModule is built, before any image is read."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items() if k != "needs_index")
        return f"{self.name}({args})"


def uniform(n: int, low: float, high: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` draws from U(low, high) on ``device``."""
    return torch.rand(n, generator=g, device=device) * (high - low) + low


def register(name: str):  # noqa: ANN201 - a class decorator
    """``@register("hflip")``: add to ``AUGMENTATIONS`` and remember the name for messages."""

    def deco(cls: type[BatchAugment]) -> type[BatchAugment]:
        cls.registered_name = name
        return AUGMENTATIONS.register(name)(cls)

    return deco

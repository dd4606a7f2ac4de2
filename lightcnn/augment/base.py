"""Batched augmentation: the op contract and the ordered pipeline built from YAML.

Why not torchvision.transforms.v2 on the batch: v2 draws one set of random parameters per call,
so a whole batch would be flipped or rotated together. Kornia draws per sample, but measured
slower here (``benchmarks/augment.py``). These ops draw per-sample parameters from one seeded
generator and work on the whole ``(B, C, H, W)`` float batch on the model's device.
"""

from __future__ import annotations

from typing import Any

import torch

from lightcnn.errors import LightCNNError
from lightcnn.registry import AUGMENTATIONS, check_options


class BatchAugment:
    """One augmentation, applied to each image of a batch with probability ``p``.

    Subclasses implement ``apply(x, g)`` on the selected images: ``x`` is float ``(b, C, H, W)``
    in [0, 1] and ``g`` the generator to draw their random parameters from. They validate their
    parameters in ``__init__`` with ``self.check``.
    """

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

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{self.name}({args})"


def uniform(n: int, low: float, high: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` draws from U(low, high) on ``device``."""
    return torch.rand(n, generator=g, device=device) * (high - low) + low


class Pipeline:
    """An ordered list of augmentations, built from YAML dicts ``{name: hflip, p: 0.5, ...}``.

    Raises:
        LightCNNError: an entry without ``name``, an unknown name (close matches listed), an
            unknown parameter (valid ones listed) or a value out of range (valid range given).
    """

    def __init__(self, ops: list[BatchAugment]) -> None:
        from lightcnn.augment.color import ColorAugment, color_composed
        from lightcnn.augment.geometric import AffineAugment, warp_composed

        self.ops = ops
        # Runs of consecutive affine ops (same fill) become one resampling, and runs of colour ops
        # one per-image colour matrix: one pass over the pixels per run instead of one per op.
        self._groups: list[tuple] = []
        for op in ops:
            kind = AffineAugment if isinstance(op, AffineAugment) else ColorAugment if isinstance(op, ColorAugment) else None
            prev = self._groups[-1] if self._groups else None
            if kind is not None and prev is not None and prev[0] is kind and (kind is ColorAugment or prev[2][-1].fill == op.fill):
                prev[2].append(op)
            elif kind is not None:
                self._groups.append((kind, warp_composed if kind is AffineAugment else color_composed, [op]))
            else:
                self._groups.append((None, None, [op]))

    @classmethod
    def from_config(cls, entries: list[dict[str, Any]] | None) -> Pipeline | None:
        if not entries:
            return None
        ops = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or "name" not in entry:
                raise LightCNNError(
                    f"data.augment[{i}] must be a mapping with a 'name' (e.g. {{name: hflip, p: 0.5}}), got {entry!r}; "
                    f"names: {', '.join(AUGMENTATIONS)}"
                )
            options = {k: v for k, v in entry.items() if k != "name"}
            op_cls = AUGMENTATIONS.get(str(entry["name"]))
            check_options(op_cls, options, f"augmentation {entry['name']} (data.augment[{i}])")
            ops.append(op_cls(**options))
        return cls(ops)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Apply every op in order. ``x`` may be modified in place: pass a batch you own
        (training passes the float copy it has just made of the uint8 batch)."""
        # No final clamp: every op keeps [0, 1] (colour runs clamp what they touch; flips, crops,
        # cutout and bilinear warps with a fill in [0, 1] cannot leave it).
        for _, composed, ops in self._groups:
            x = composed(ops, x, g) if composed is not None else ops[0](x, g)
        return x

    def eval_transform(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.ops:
            x = op.eval_transform(x)
        return x

    def output_size(self, size: int) -> int:
        for op in self.ops:
            size = op.output_size(size)
        return size

    def __repr__(self) -> str:
        return f"Pipeline({', '.join(map(repr, self.ops))})"


def register(name: str):  # noqa: ANN201 - a class decorator
    """``@register("hflip")``: add to ``AUGMENTATIONS`` and remember the name for messages."""

    def deco(cls: type[BatchAugment]) -> type[BatchAugment]:
        cls.registered_name = name
        return AUGMENTATIONS.register(name)(cls)

    return deco

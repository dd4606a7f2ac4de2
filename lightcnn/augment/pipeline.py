"""The ordered augmentation pipeline, built from YAML entries ``{name: hflip, p: 0.5, ...}``."""

from __future__ import annotations

from typing import Any

import torch

from lightcnn.augment.base import BatchAugment
from lightcnn.errors import LightCNNError
from lightcnn.registry import AUGMENTATIONS, _where, check_options
from lightcnn.yaml_spacing import unglued

RANGE_SLACK = 1e-5  # float rounding at the ends of [0, 1]; a real overshoot is far larger


def _no_space(entry: Any) -> str:
    """YAML read ``{name:hflip}`` as ``{'name:hflip': None}``: say so."""
    glued = [k for k, v in entry.items() if v is None and unglued(k)] if isinstance(entry, dict) else []
    return f" (YAML needs a space after each ':': {{{unglued(glued[0])}}}, not {{{glued[0]}}})" if glued else ""


class Pipeline:
    """An ordered list of augmentations, built from YAML dicts ``{name: hflip, p: 0.5, ...}``.

    Raises:
        LightCNNError: an entry without ``name``, an unknown name (close matches listed), an
            unknown parameter (valid ones listed) or a value out of range (valid range given).
    """

    def __init__(self, ops: list[BatchAugment]) -> None:
        self.ops = ops
        self.checked = False  # the first training batch checks every op's output: check_run
        # Runs of consecutive ops that fuse (affine ops with the same fill: one resampling; colour
        # ops: one per-image colour matrix) become one pass over the pixels instead of one per op.
        self._runs: list[list[BatchAugment]] = []
        for op in ops:
            if self._runs and op.fuses_with(self._runs[-1][-1]):
                self._runs[-1].append(op)
            else:
                self._runs.append([op])

    @classmethod
    def from_config(cls, entries: list[dict[str, Any]] | None, size: int | None = None) -> Pipeline | None:
        """The pipeline of ``entries``; with ``size`` (the stored images'), each op
        is also checked against the images it will get (a crop larger than its padded input)."""
        if not entries:
            return None
        ops = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or "name" not in entry:
                raise LightCNNError(
                    f"data.augment[{i}] must be a mapping with a 'name' (e.g. {{name: hflip, p: 0.5}}), got {entry!r}"
                    f"{_no_space(entry)}; names: {', '.join(AUGMENTATIONS)}"
                )
            options = {k: v for k, v in entry.items() if k != "name"}
            op_cls = AUGMENTATIONS.get(str(entry["name"]))
            check_options(op_cls, options, f"augmentation {entry['name']} (data.augment[{i}])")
            try:
                ops.append(op_cls(**options))
            except (TypeError, ValueError) as err:  # a constraint the annotations do not state
                raise LightCNNError(f"augmentation {entry['name']} (data.augment[{i}]) {options}: {err}") from err
            except LightCNNError as err:  # the op's own range check: say which entry it was
                head = f"augmentation {op_cls.registered_name}:"
                msg = str(err)
                raise LightCNNError(msg.replace(head, f"augmentation {entry['name']} (data.augment[{i}]):", 1)) from None
        if size is not None:
            for i, op in enumerate(ops):
                problem = op.misfit(size)
                if problem:
                    raise LightCNNError(f"augmentation {entries[i]['name']} (data.augment[{i}]): {problem}")
                size = op.output_size(size)
        return cls(ops)

    @property
    def needs_index(self) -> bool:
        """Whether an op wants each training image's index and the epoch (``apply_indexed``)."""
        return any(op.needs_index for op in self.ops)

    def __call__(self, x: torch.Tensor, g: torch.Generator, index: torch.Tensor | None = None, epoch: int = 0) -> torch.Tensor:
        """Apply every op in order. ``x`` may be modified in place: pass a batch you own
        (training passes the float copy it has just made of the uint8 batch). ``index`` (each
        image's position in its split) and ``epoch`` go to ops that need them."""
        # No final clamp: every op keeps [0, 1] (colour runs clamp what they touch; flips, crops,
        # cutout and bilinear warps with a fill in [0, 1] cannot leave it).
        for run in self._runs:
            given = None if self.checked else (x.shape, x.dtype, x.device)
            try:
                if len(run) > 1:
                    x = run[0].composed(run, x, g)
                elif run[0].needs_index and index is not None:
                    x = run[0].apply_indexed(x, g, index, epoch)
                else:
                    x = run[0](x, g)
            except (IndexError, RuntimeError) as err:  # a plugin op's shape mismatch, in it or where its images go back
                if self.checked or isinstance(err, torch.OutOfMemoryError) or all(_builtin(op) for op in run):
                    raise  # a built-in op's error is a lightcnn bug: its traceback is what to report
                raise LightCNNError(f"{_contract(run)} failed on a batch of shape {tuple(given[0])}: {type(err).__name__}: {err}") from err
            if given is not None:
                check_run(run, x, *given)
        self.checked = True
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


def _builtin(op: BatchAugment) -> bool:
    return type(op).__module__.startswith("lightcnn.")


def _contract(run: list[BatchAugment]) -> str:
    names = " + ".join(f"{op.name} ({_where(type(op))})" for op in run)
    return f"augmentation {names} breaks the augmentation contract (a float batch (B, C, H, W) in [0, 1] in, the same B, C, dtype and device out, H and W as its output_size says, values in [0, 1]):"


def check_run(run: list[BatchAugment], x: object, shape: torch.Size, dtype: torch.dtype, device: torch.device) -> None:
    """What one run of ops returned for the first training batch, against the op contract. Once
    per fit: the range needs a reduction and a read of its result.

    Raises:
        LightCNNError: the op (its file), what it should return and what it returned.
    """
    if not isinstance(x, torch.Tensor):
        raise LightCNNError(f"{_contract(run)} it returned a {type(x).__name__}")
    h, w = shape[2], shape[3]
    for op in run:
        h, w = op.output_size(h), op.output_size(w)
    want = (shape[0], shape[1], h, w)
    if tuple(x.shape) != want or x.dtype != dtype or x.device != device:
        raise LightCNNError(f"{_contract(run)} given {tuple(shape)} {dtype} on {device}, it should return {want} {dtype} on "
                            f"{device}; it returned {tuple(x.shape)} {x.dtype} on {x.device}")
    low, high = (float(v) for v in torch.aminmax(x))
    if not (low >= -RANGE_SLACK and high <= 1 + RANGE_SLACK):
        raise LightCNNError(f"{_contract(run)} it returned values in [{low:g}, {high:g}]; clamp them to [0, 1] "
                            f"(x.clamp_(0, 1)); a model's normalisation comes after the augmentations")

"""Which classes a DataModule trains on: subsets, held-out classes, per-class batches."""

from __future__ import annotations

import warnings

import torch

from lightcnn.errors import LightCNNError


def resolve_classes(names: list[str], classes: list[str | int] | None, owner: str) -> list[int]:
    """Label ids (of ``names``) of ``data.classes``, in the given order; all when None.

    Raises:
        LightCNNError: unknown or repeated names, or fewer than two classes to learn to tell apart.
    """
    if classes is None:
        if len(names) < 2:
            raise LightCNNError(f"{owner} has {len(names)} class ({', '.join(names)}): a classifier or an embedding "
                                f"learns to tell classes apart and needs at least 2 (for an image folder: one "
                                f"subfolder per class)")
        return list(range(len(names)))
    lookup = {n: i for i, n in enumerate(names)}
    unknown = [c for c in map(str, classes) if c not in lookup]
    if unknown:
        raise LightCNNError(f"data.classes: unknown class {unknown} for {owner}; valid: {names}")
    if len(set(map(str, classes))) != len(classes) or not classes:
        raise LightCNNError(f"data.classes must list distinct class names, got {classes}")
    if len(classes) < 2:
        raise LightCNNError(f"data.classes keeps {len(classes)} class ({classes[0]}) of {owner}: a classifier or an "
                            f"embedding needs at least 2; valid: {names}")
    return [lookup[str(c)] for c in classes]


def resolve_heldout(names: list[str], train: list[str | int] | None, heldout: list[str | int] | None) -> list[int]:
    """Label ids (of ``names``) of the classes kept out of training."""
    if train is not None and heldout is not None:
        raise LightCNNError("give data.train_classes or data.heldout_classes, not both")
    if train is None and heldout is None:
        return []
    given = [str(c) for c in (train if train is not None else heldout)]
    key = "train_classes" if train is not None else "heldout_classes"
    unknown = [c for c in given if c not in names]
    if unknown:
        raise LightCNNError(f"data.{key}: unknown class {unknown}; valid: {names}")
    held = [i for i, n in enumerate(names) if (n not in given) == (train is not None)]
    if len(held) == len(names):
        raise LightCNNError(f"data.{key} holds out every class: nothing is left to train on")
    if len(names) - len(held) < 2:
        kept = [n for i, n in enumerate(names) if i not in held]
        raise LightCNNError(f"data.{key} leaves 1 class to train on ({kept[0]}): training needs at least 2 classes "
                            f"to tell apart (metric learning has no negative pairs with one)")
    return held


def per_class_batch_size(batch_size: int | None, cpb: int | None, m: int | None, bpe: int | None) -> int:
    """The training batch size, checked against ``classes_per_batch x m_per_class`` when set."""
    if (cpb is None) != (m is None):
        raise LightCNNError("data.classes_per_batch and data.m_per_class go together: set both, or neither")
    if bpe is not None and (bpe < 1 or m is None):
        raise LightCNNError(f"data.batches_per_epoch={bpe} needs per-class batches (m_per_class) and must be >= 1")
    if m is None:
        return 128 if batch_size is None else batch_size
    if batch_size is not None and batch_size != cpb * m:
        raise LightCNNError(
            f"data.batch_size={batch_size} is not classes_per_batch x m_per_class = {cpb} x {m} = {cpb * m}; "
            f"set batch_size: {cpb * m} or leave it out"
        )
    return cpb * m


def check_labels(y: torch.Tensor, num_classes: int, what: str) -> None:
    """Every label is one of ``0..num_classes-1``: a label outside is refused, never dropped.

    Raises:
        LightCNNError: ``what``, how many labels are outside, and which values.
    """
    bad = (y < 0) | (y >= num_classes)
    if bool(bad.any()):
        values = torch.unique(y[bad]).tolist()
        shown = ", ".join(map(str, values[:10])) + (", ..." if len(values) > 10 else "")
        raise LightCNNError(
            f"{what}: {int(bad.sum())} of {len(y)} labels are outside 0..{num_classes - 1} (values: {shown}); "
            f"the dataset has {num_classes} classes, so these files are damaged or from another dataset"
        )


def keep_classes(x: torch.Tensor, y: torch.Tensor, class_ids: list[int], num_all: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of ``class_ids`` (of ``num_all`` labels), relabelled 0..k-1 in that order."""
    if class_ids == list(range(num_all)):
        return x, y
    remap = torch.full((num_all,), -1, dtype=torch.long)
    remap[torch.tensor(class_ids)] = torch.arange(len(class_ids))
    new = remap[y]
    keep = new >= 0
    return x[keep], new[keep]


def warn_small_classes(y: torch.Tensor, names: list[str], m: int) -> None:
    """Warn about classes with fewer than ``m`` training images (sampled with replacement)."""
    counts = torch.bincount(y, minlength=len(names))
    small = [f"{names[c]} ({int(counts[c])})" for c in range(len(names)) if 0 < counts[c] < m]
    if small:
        warnings.warn(
            f"classes with fewer than m_per_class={m} training images are sampled with replacement: {', '.join(small)}",
            stacklevel=2,
        )


def warn_empty_classes(y: torch.Tensor, names: list[str], split: str, skip: list[int] | tuple[int, ...] = ()) -> None:
    """Warn about classes (but ``skip``) with no images in ``split``: a class too small for the
    seeded split (one image, say) is then never trained on, or missing from the validation
    metrics, which would otherwise only show as a support of 0 in the per-class report."""
    counts = torch.bincount(y, minlength=len(names))
    empty = [names[c] for c in range(len(names)) if counts[c] == 0 and c not in skip]
    if empty and len(y):
        shown = ", ".join(empty[:10]) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        what = "the model never sees them" if split == "train" else "their metrics there are empty"
        warnings.warn(f"{len(empty)} class(es) have no images in the {split} split ({what}): {shown}; "
                      f"add images or drop them with data.classes", stacklevel=2)

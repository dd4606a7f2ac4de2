"""Which classes a DataModule trains on: subsets, held-out classes, per-class batch sizes."""

from __future__ import annotations

from lightcnn.errors import LightCNNError


def resolve_classes(names: list[str], classes: list[str | int] | None, owner: str) -> list[int]:
    """Label ids (of ``names``) of ``data.classes``, in the given order; all when None."""
    if classes is None:
        return list(range(len(names)))
    lookup = {n: i for i, n in enumerate(names)}
    unknown = [c for c in map(str, classes) if c not in lookup]
    if unknown:
        raise LightCNNError(f"data.classes: unknown class {unknown} for {owner}; valid: {names}")
    if len(set(map(str, classes))) != len(classes) or not classes:
        raise LightCNNError(f"data.classes must list distinct class names, got {classes}")
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

"""Seeded, stratified splits of labelled indices."""

from __future__ import annotations

import torch

from lightcnn.errors import LightCNNError


def stratified_split(y: torch.Tensor, num_classes: int, frac: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded split of indices stratified by label: ``(rest, taken)``; ``rest`` sorted, ``taken``
    interleaved by class.

    Per-class counts use largest-remainder allocation, so exactly ``round(frac * len(y))`` are taken.
    ``taken`` (a validation or test split) is interleaved because evaluation reads it in order:
    with ``limit_val_batches`` / ``limit_test_batches`` (Lightning takes the first batches) a split
    in the data's order would hold only the first classes of a class-sorted source (an image
    folder, Flowers 17, the offline MNIST sample). ``rest`` keeps the data's order: training
    shuffles it anyway, and seeded runs keep their batches.
    """
    counts = torch.bincount(y, minlength=num_classes).double()
    want = counts * frac
    k = want.floor().long()
    short = round(frac * len(y)) - int(k.sum())
    k[torch.argsort(want - k, descending=True, stable=True)[:short]] += 1
    g = torch.Generator().manual_seed(seed)
    rest, taken = [], []
    for c in range(num_classes):
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        taken.append(idx[: k[c]])
        rest.append(idx[k[c] :])
    # Interleaved by class in proportion (image i of a class taking k sits at (i + 0.5) / k): any
    # first batches hold every class in its share, in a seeded order within each class.
    place = torch.cat([(torch.arange(len(t)) + 0.5) / max(len(t), 1) for t in taken])
    return torch.cat(rest).sort().values, torch.cat(taken)[torch.argsort(place, stable=True)]


def val_split(y: torch.Tensor, num_classes: int, val_size: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded, stratified ``(train_idx, val_idx)``; ``val_size`` a fraction or a count.

    Raises:
        LightCNNError: ``val_size`` takes every image.
    """
    if val_size >= len(y):
        raise LightCNNError(
            f"data.val_size={val_size:g} takes every training image ({len(y)} after the class subset); "
            f"use a fraction such as 0.1 or a smaller count"
        )
    frac = val_size if val_size < 1 else val_size / len(y)
    return stratified_split(y, num_classes, frac, seed)

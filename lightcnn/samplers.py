"""Batch samplers that yield index tensors, so in-memory datasets are batched by indexing.

They shard by rank themselves (the CLI turns off Lightning's automatic DistributedSampler), so the
same sampler serves one process and DDP.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, Sampler, SequentialSampler


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class IndexBatchSampler(Sampler[torch.Tensor]):
    """Yield ``LongTensor`` batches of indices into ``range(n)``.

    Args:
        n: dataset size.
        batch_size: indices per batch (per rank).
        shuffle: a fresh seeded permutation each epoch (``seed + epoch``); else in order.
        drop_last: drop the last incomplete batch.
        seed: base seed for the permutation.

    Under DDP each rank takes ``perm[rank::world]`` of the same permutation, cut to ``n // world``,
    when shuffling (disjoint, equal-sized, so every rank runs the same number of steps), and a
    contiguous block when not (so evaluation sees every sample exactly once, with no padding
    duplicates).
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool = False, drop_last: bool = False, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.n, self.batch_size, self.shuffle, self.drop_last, self.seed = n, batch_size, shuffle, drop_last, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of each epoch."""
        self.epoch = epoch

    def _indices(self) -> torch.Tensor:
        rank, world = rank_and_world()
        if self.shuffle:
            # Equal shards (n // world each): ranks with unequal step counts deadlock under DDP.
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            return torch.randperm(self.n, generator=g)[rank::world][: self.n // world]
        per = -(-self.n // world)
        return torch.arange(rank * per, min(self.n, (rank + 1) * per))

    def __iter__(self) -> Iterator[torch.Tensor]:
        idx = self._indices()
        stop = len(idx) - len(idx) % self.batch_size if self.drop_last else len(idx)
        yield from idx[:stop].split(self.batch_size)

    def __len__(self) -> int:
        _, world = rank_and_world()
        m = self.n // world if self.shuffle else len(self._indices())
        return m // self.batch_size if self.drop_last else -(-m // self.batch_size)


class TensorBatches(Dataset):
    """A dataset indexed by a whole batch of indices: ``ds[idx] -> (x[idx], y[idx])``.

    Used with ``DataLoader(ds, sampler=IndexBatchSampler(...), batch_size=None)`` so one batch is
    one tensor gather instead of per-sample Python and a collate.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, with_index: bool = False, names: list[str] | None = None) -> None:
        self.x, self.y, self.with_index, self.names = x, y, with_index, names

    def __getitem__(self, idx: torch.Tensor) -> tuple:
        """``(x, y)``; with ``with_index`` also the indices, and the inputs' names when given."""
        if not self.with_index:
            return self.x[idx], self.y[idx]
        if self.names is None:
            return self.x[idx], self.y[idx], idx
        return self.x[idx], self.y[idx], idx, [self.names[i] for i in idx.tolist()]

    def __len__(self) -> int:
        return len(self.y)


class MPerClassBatchSampler(Sampler[torch.Tensor]):
    """Batches of ``classes_per_batch`` classes x ``m_per_class`` images each, rank-aware.

    The draws are pytorch-metric-learning's ``MPerClassSampler`` (a fresh random set of classes
    per batch; ``m`` images of each without replacement, or with replacement for a class that has
    fewer than ``m``), seeded with ``seed + epoch``. Under DDP each rank takes whole batches
    ``rank::world`` of one shared draw, so every rank's every batch keeps m images per class (a
    DistributedSampler would interleave single indices and break that).

    Args:
        labels: ``(N,)`` labels of the training split.
        classes_per_batch, m_per_class: batch composition.
        batches_per_epoch: batches per epoch over all ranks (default: enough to cover N once),
            rounded up to a multiple of the world size so every rank runs the same number of steps.
        seed: base seed.

    Raises:
        LightCNNError: fewer classes than ``classes_per_batch``, or ``m_per_class`` < 1.
    """

    def __init__(
        self, labels: torch.Tensor, classes_per_batch: int, m_per_class: int,
        batches_per_epoch: int | None = None, seed: int = 0,
    ) -> None:
        from lightcnn.errors import LightCNNError

        present = int(torch.unique(labels).numel())
        if m_per_class < 1 or classes_per_batch < 1:
            raise LightCNNError(f"data.m_per_class and data.classes_per_batch must be >= 1, got {m_per_class}, {classes_per_batch}")
        if classes_per_batch > present:
            raise LightCNNError(
                f"data.classes_per_batch={classes_per_batch} but the training split has only {present} classes; "
                f"use classes_per_batch <= {present}"
            )
        self.labels = labels.cpu().numpy()
        self.cpb, self.m, self.seed, self.epoch = classes_per_batch, m_per_class, seed, 0
        self.batch_size = classes_per_batch * m_per_class
        self.total = batches_per_epoch or -(-len(labels) // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _total(self, world: int) -> int:
        """Batches drawn per epoch: ``total`` rounded up to a multiple of the world size, so every
        rank takes the same number (unequal step counts deadlock DDP)."""
        return -(-self.total // world) * world

    def __len__(self) -> int:
        _, world = rank_and_world()
        return self._total(world) // world

    def __iter__(self) -> Iterator[torch.Tensor]:
        import numpy as np
        from pytorch_metric_learning.samplers import MPerClassSampler
        from pytorch_metric_learning.utils import common_functions as c_f

        rank, world = rank_and_world()
        total = self._total(world)
        # PML draws from the module-global c_f.NUMPY_RANDOM; swap in a seeded one while drawing.
        saved = c_f.NUMPY_RANDOM
        c_f.NUMPY_RANDOM = np.random.RandomState(self.seed + self.epoch)
        try:
            sampler = MPerClassSampler(self.labels, self.m, self.batch_size, length_before_new_iter=total * self.batch_size)
            flat = torch.tensor(list(iter(sampler)), dtype=torch.long)
        finally:
            c_f.NUMPY_RANDOM = saved
        batches = flat.view(total, self.batch_size)
        yield from batches[rank::world]


class FixedBatches(SequentialSampler):
    """The same index batches every epoch, in order: the first epoch's batches of ``sampler``.

    For Lightning's ``overfit_batches``, which trains and validates on the same few batches each
    epoch: Lightning replaces any train or validation sampler that is not a ``SequentialSampler``
    with a per-sample one over the dataset, which would break batching by indexing (one image per
    "batch"). This one is the sequential sampler Lightning asks for, over whole batches.
    """

    def __init__(self, sampler: Sampler[torch.Tensor]) -> None:  # noqa: D107 - SequentialSampler's data_source is not used
        self.batches = list(sampler)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

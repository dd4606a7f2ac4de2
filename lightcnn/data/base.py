"""Shared DataModule logic for datasets that fit in memory as uint8 tensors.

A dataset file only says how to read its splits (``load``) and what its classes are. This base
class does the rest: class subsets, a seeded stratified validation split, normalisation
statistics, index-batched loaders, and the uint8 -> float conversion on the model's device.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from lightcnn.augment import Pipeline
from lightcnn.errors import LightCNNError
from lightcnn.samplers import IndexBatchSampler, MPerClassBatchSampler, TensorBatches

Split = tuple[torch.Tensor, torch.Tensor]  # images (N, C, H, W) uint8, labels (N,) int64


def stratified_split(y: torch.Tensor, num_classes: int, frac: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded split of indices stratified by label: ``(rest, taken)``, sorted.

    Per-class counts use largest-remainder allocation, so exactly ``round(frac * len(y))`` are taken.
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
    return torch.cat(rest).sort().values, torch.cat(taken).sort().values


def to_luma(x: torch.Tensor) -> torch.Tensor:
    """uint8 RGB ``(N, 3, H, W)`` -> uint8 luma ``(N, 1, H, W)`` (ITU-R 601: 0.299 R + 0.587 G +
    0.114 B, rounded), in chunks: the one grayscale conversion for training data and loose files."""
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return torch.cat([(c.float() * weights).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8) for c in x.split(4096)])


def fetch_archive(url: str, root: str, md5: str) -> str | None:
    """Download and extract an official archive into ``root``, checking its MD5.

    Returns None on success, else the reason it failed (no network, bad checksum, ...), for the
    caller's "files not found" message.
    """
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(url, download_root=root, md5=md5)
    except Exception as err:  # noqa: BLE001 - any failure means "not available"
        text = str(err).strip().splitlines()
        return f"{type(err).__name__}: {text[-1] if text else ''}"
    return None


class InMemoryDataModule(LightningDataModule):
    """Base for in-memory image datasets.

    Subclasses set ``native_channels`` and ``native_size`` and implement ``all_class_names``
    and ``load(train)``.

    Args:
        root: folder holding the dataset's files.
        batch_size: training batch size (default 128, or classes_per_batch x m_per_class).
        eval_batch_size: validation/test batch size (default: ``2 * batch_size``).
        val_size: held-out share of the training split (a fraction in (0, 1), or a count >= 1).
        split_seed: seed of the stratified validation split.
        classes: train on these classes only (names), relabelled 0..k-1 in the given order.
        grayscale: convert RGB images to one luma channel (ITU-R 601: 0.299 R + 0.587 G + 0.114 B).
        image_size: resize images (antialiased bilinear) to this square size once, at load time.
        augment: ordered augmentations for training batches, e.g. ``[{name: hflip},
            {name: random_crop, padding: 4}, {name: rotation, degrees: 10, p: 0.5}]``
            (``lightcnn list augmentations``); applied on the model's device after transfer.
        augment_seed: seed of the augmentation generator (its state is saved in checkpoints).
        train_classes / heldout_classes: train on some classes only (give one of the two); the
            held-out ones stay in validation and test, where retrieval metrics are reported for
            seen, held-out and all classes.
        classes_per_batch, m_per_class: per-class training batches (``MPerClassBatchSampler``):
            every batch holds ``classes_per_batch`` classes x ``m_per_class`` images.
        batches_per_epoch: epoch length with per-class batches (default: cover the train split once).
        mean, std: per-channel normalisation in [0, 1] units; ``None`` computes them from the
            training split.
        data_on_device: keep the uint8 splits on the training device (a GPU's memory), so a batch
            is gathered there and nothing crosses the bus per step.
        predict_files: image files, folders or glob patterns for ``lightcnn predict`` (decoded to
            this dataset's channels and size); ``None`` predicts the test split.

    Exposes ``num_classes``, ``class_names``, ``in_channels`` and ``image_size`` from ``__init__``
    on, so the CLI can link them into the task before any file is read.
    """

    native_channels: int = 1
    native_size: int = 28

    def __init__(
        self,
        root: str = "data",
        batch_size: int | None = None,
        eval_batch_size: int | None = None,
        val_size: float = 0.1,
        split_seed: int = 0,
        classes: list[str | int] | None = None,
        grayscale: bool = False,
        image_size: int | None = None,
        augment: list[dict[str, Any]] | None = None,
        augment_seed: int = 0,
        train_classes: list[str | int] | None = None,
        heldout_classes: list[str | int] | None = None,
        classes_per_batch: int | None = None,
        m_per_class: int | None = None,
        batches_per_epoch: int | None = None,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        predict_files: list[str] | None = None,
        data_on_device: bool = False,
    ) -> None:
        super().__init__()
        batch_size = self._per_class_batches(batch_size, classes_per_batch, m_per_class, batches_per_epoch)
        if image_size is not None and image_size < 1:
            raise LightCNNError(f"data.image_size must be >= 1 (or null for the native size), got {image_size}")
        self.grayscale, self.stored_size = grayscale, image_size or self.native_size
        self.augment, self.augment_seed = Pipeline.from_config(augment), augment_seed
        self._generators: dict[torch.device, torch.Generator] = {}
        if batch_size < 1 or (eval_batch_size is not None and eval_batch_size < 1):
            raise LightCNNError(f"data.batch_size and data.eval_batch_size must be >= 1, got {batch_size}, {eval_batch_size}")
        if val_size < 0:
            raise LightCNNError(f"data.val_size must be a fraction in [0, 1) or a count >= 1, got {val_size}")
        for key, val in (("mean", mean), ("std", std)):
            if val is not None and len(val) != self.in_channels:
                raise LightCNNError(f"data.{key} has {len(val)} values but the images have {self.in_channels} channels")
        if std is not None and min(std) <= 0:
            raise LightCNNError(f"data.std must be positive, got {std}")
        self.root, self.batch_size = root, batch_size
        self.eval_batch_size = eval_batch_size or 2 * batch_size
        self.val_size, self.split_seed = val_size, split_seed
        self.mean, self.std = mean, std
        self._class_ids = self._resolve_classes(classes)
        self.heldout_class_ids = self._resolve_heldout(train_classes, heldout_classes)
        self.splits: dict[str, Split] = {}
        self.predict_files = predict_files
        self.data_on_device = data_on_device
        self.predict_inputs: list[str] = []  # what each predicted row is: a file, or empty for split indices

    def _per_class_batches(self, batch_size: int | None, cpb: int | None, m: int | None, bpe: int | None) -> int:
        if (cpb is None) != (m is None):
            raise LightCNNError("data.classes_per_batch and data.m_per_class go together: set both, or neither")
        if bpe is not None and (bpe < 1 or m is None):
            raise LightCNNError(f"data.batches_per_epoch={bpe} needs per-class batches (m_per_class) and must be >= 1")
        self.classes_per_batch, self.m_per_class, self.batches_per_epoch = cpb, m, bpe
        if m is None:
            return batch_size or 128
        if batch_size is not None and batch_size != cpb * m:
            raise LightCNNError(
                f"data.batch_size={batch_size} is not classes_per_batch x m_per_class = {cpb} x {m} = {cpb * m}; "
                f"set batch_size: {cpb * m} or leave it out"
            )
        return cpb * m

    def _resolve_heldout(self, train: list[str | int] | None, heldout: list[str | int] | None) -> list[int]:
        """Label ids (in this module's label space) of the classes kept out of training."""
        if train is not None and heldout is not None:
            raise LightCNNError("give data.train_classes or data.heldout_classes, not both")
        if train is None and heldout is None:
            return []
        names = self.class_names
        given = [str(c) for c in (train if train is not None else heldout)]
        key = "train_classes" if train is not None else "heldout_classes"
        unknown = [c for c in given if c not in names]
        if unknown:
            raise LightCNNError(f"data.{key}: unknown class {unknown}; valid: {names}")
        held = [i for i, n in enumerate(names) if (n not in given) == (train is not None)]
        if len(held) == len(names):
            raise LightCNNError(f"data.{key} holds out every class: nothing is left to train on")
        return held

    @property
    def heldout_class_names(self) -> list[str]:
        return [self.class_names[i] for i in self.heldout_class_ids]

    # --- what a dataset file provides -------------------------------------------------------
    @property
    def all_class_names(self) -> list[str]:
        """Every class of the dataset, in label order."""
        raise TypeError(f"{type(self).__name__} must define all_class_names")

    def load(self, train: bool) -> Split:
        """Read the official train (``True``) or test split as uint8 images and int64 labels."""
        raise TypeError(f"{type(self).__name__} must define load()")

    # --- linked into the task ---------------------------------------------------------------
    @property
    def class_names(self) -> list[str]:
        return [self.all_class_names[i] for i in self._class_ids]

    @property
    def num_classes(self) -> int:
        return len(self._class_ids)

    @property
    def in_channels(self) -> int:
        return 1 if self.grayscale else self.native_channels

    @property
    def image_size(self) -> int:
        """The size the model sees: the stored size, or a ``random_crop`` size."""
        return self.augment.output_size(self.stored_size) if self.augment else self.stored_size

    # --- preparation --------------------------------------------------------------------------
    def _resolve_classes(self, classes: list[str | int] | None) -> list[int]:
        names = self.all_class_names
        if classes is None:
            return list(range(len(names)))
        lookup = {n: i for i, n in enumerate(names)}
        unknown = [c for c in map(str, classes) if c not in lookup]
        if unknown:
            raise LightCNNError(f"data.classes: unknown class {unknown} for {type(self).__name__}; valid: {names}")
        if len(set(map(str, classes))) != len(classes) or not classes:
            raise LightCNNError(f"data.classes must list distinct class names, got {classes}")
        return [lookup[str(c)] for c in classes]

    def _subset(self, split: Split) -> Split:
        x, y = split
        if self._class_ids == list(range(len(self.all_class_names))):
            return x, y
        remap = torch.full((len(self.all_class_names),), -1, dtype=torch.long)
        remap[torch.tensor(self._class_ids)] = torch.arange(len(self._class_ids))
        new = remap[y]
        keep = new >= 0
        return x[keep], new[keep]

    def _val_split(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Seeded, stratified ``(train_idx, val_idx)``."""
        if self.val_size >= len(y):
            raise LightCNNError(
                f"data.val_size={self.val_size:g} takes every training image ({len(y)} after the class subset); "
                f"use a fraction such as 0.1 or a smaller count"
            )
        frac = self.val_size if self.val_size < 1 else self.val_size / len(y)
        return stratified_split(y, self.num_classes, frac, self.split_seed)

    def _convert(self, split: Split) -> Split:
        """Apply ``grayscale`` and ``image_size`` once, in chunks, keeping uint8."""
        x, y = split
        if self.grayscale and x.shape[1] == 3:
            x = to_luma(x)
        if x.shape[1] != self.in_channels:
            raise LightCNNError(f"{type(self).__name__}: images have {x.shape[1]} channels, expected {self.in_channels}")
        if x.shape[-1] != self.stored_size or x.shape[-2] != self.stored_size:
            size = (self.stored_size, self.stored_size)
            x = torch.cat([
                F.interpolate(c.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
                .round_().clamp_(0, 255).to(torch.uint8)
                for c in x.split(4096)
            ])
        return x.contiguous(), y

    def setup(self, stage: str | None = None) -> None:
        """Load (once) the train/val split and, for test or predict, the test split."""
        if "train" not in self.splits:
            x, y = self._convert(self._subset(self.load(train=True)))
            tr, va = self._val_split(y)
            if self.heldout_class_ids:  # training sees the train classes only
                self.splits["train_all_classes"] = (x[tr], y[tr])  # references for inference
                tr = tr[~torch.isin(y[tr], torch.tensor(self.heldout_class_ids))]
            self.splits["train"], self.splits["val"] = (x[tr], y[tr]), (x[va], y[va])
            if self.mean is None or self.std is None:
                xf = self.splits["train"][0].double().div_(255)
                self.mean = self.mean or xf.mean(dim=(0, 2, 3)).tolist()
                self.std = self.std or xf.std(dim=(0, 2, 3)).clamp_min(1e-6).tolist()
        if stage in (None, "test", "predict") and "test" not in self.splits:
            self.splits["test"] = self._convert(self._subset(self.load(train=False)))

    # --- loaders ------------------------------------------------------------------------------
    def _loader(self, split: str, train: bool) -> DataLoader:
        if split not in self.splits:
            self.setup("test" if split == "test" else "fit")
        x, y = self.splits[split]
        device = self.trainer.strategy.root_device if self.data_on_device and self.trainer is not None else None
        if device is not None and x.device != device:
            x, y = self.splits[split] = (x.to(device), y.to(device))
        if len(y) == 0:
            raise LightCNNError(f"{type(self).__name__}: the {split} split is empty (val_size={self.val_size}, classes={self.class_names})")
        bs = self.batch_size if train else self.eval_batch_size
        if train and self.m_per_class is not None:
            self._warn_small_classes(y)
            sampler: Any = MPerClassBatchSampler(y, self.classes_per_batch, self.m_per_class, self.batches_per_epoch, self.split_seed)
        else:
            sampler = IndexBatchSampler(len(y), bs, shuffle=train, drop_last=train and len(y) > bs, seed=self.split_seed)
        return DataLoader(TensorBatches(x, y), sampler=sampler, batch_size=None)

    def _warn_small_classes(self, y: torch.Tensor) -> None:
        counts = torch.bincount(y, minlength=self.num_classes)
        small = [f"{self.class_names[c]} ({int(counts[c])})" for c in range(self.num_classes) if 0 < counts[c] < self.m_per_class]
        if small:
            warnings.warn(
                f"classes with fewer than m_per_class={self.m_per_class} training images are sampled with "
                f"replacement: {', '.join(small)}",
                stacklevel=2,
            )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader:
        """The files in ``predict_files`` if given, else the test split; batches carry the index
        of each image as a third element, so predictions can be traced back to their input."""
        if self.predict_files:
            from lightcnn.data.files import expand, load_files

            paths = expand(self.predict_files)
            x = load_files(paths, self.in_channels, self.image_size)
            self.splits["predict"] = (x, torch.full((len(x),), -1, dtype=torch.long))
            self.predict_inputs = [str(p) for p in paths]
            if self.mean is None or self.std is None:
                self.setup("fit")  # normalise as in training
        else:
            self.setup("predict")
            self.splits["predict"] = self.splits["test"]
            self.predict_inputs = []
        x, y = self.splits["predict"]
        sampler = IndexBatchSampler(len(y), self.eval_batch_size)
        return DataLoader(TensorBatches(x, y, with_index=True), sampler=sampler, batch_size=None)

    def generator(self, device: torch.device) -> torch.Generator:
        """The augmentation generator for ``device``, seeded with ``augment_seed`` on first use."""
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.augment_seed)
        return self._generators[device]

    def on_after_batch_transfer(self, batch: Split, dataloader_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images -> [augmented in training] -> normalised float32, on the model's device
        (moving uint8 is 4x cheaper than float)."""
        x, y, *index = batch  # predict batches carry indices
        x = x.float().div_(255)
        if self.augment is not None:
            training = self.trainer is not None and self.trainer.training
            x = self.augment(x, self.generator(x.device)) if training else self.augment.eval_transform(x)
        if self.mean is None or self.std is None:
            raise LightCNNError(f"{type(self).__name__}: setup() has not run, so there are no normalisation statistics")
        key = (x.device, tuple(self.mean), tuple(self.std))
        if getattr(self, "_norm_key", None) != key:  # build the constants once per device
            self._norm_key = key
            self._norm = (
                torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1),
                torch.tensor(self.std, device=x.device).view(1, -1, 1, 1),
            )
        mean, std = self._norm
        return (x.sub_(mean).div_(std), y, *index)

    def state_dict(self) -> dict:
        """Normalisation statistics (so test uses the training ones) and the augmentation
        generators' states (so a resumed run draws what an uninterrupted one would)."""
        gens = {str(d): g.get_state() for d, g in self._generators.items()}
        return {"mean": self.mean, "std": self.std, "augment_generators": gens}

    def load_state_dict(self, state_dict: dict) -> None:
        self.mean, self.std = state_dict.get("mean", self.mean), state_dict.get("std", self.std)
        for device, state in state_dict.get("augment_generators", {}).items():
            self.generator(torch.device(device)).set_state(state)

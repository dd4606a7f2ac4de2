"""Shared DataModule logic for datasets that fit in memory as uint8 tensors.

A dataset file only says how to fetch its files (``fetch``, run from ``prepare_data``: once per
node), how to read its splits (``load``) and what its classes are. This base class does the rest:
class subsets, a seeded stratified validation split, normalisation statistics (handed to the task
through ``data_info``), index-batched loaders, uint8 -> [0, 1] and augmentation on the device.
"""

from __future__ import annotations

from os.path import expanduser
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader

from lightcnn.augment.pipeline import Pipeline
from lightcnn.data.classes import (check_labels, keep_classes, per_class_batch_size, resolve_classes, resolve_heldout,
                                   warn_empty_classes, warn_small_classes)
from lightcnn.data.images import convert_images, predict_file_list
from lightcnn.data.info import DataInfo
from lightcnn.data.on_device import AugmentOnDevice
from lightcnn.data.splits import val_split
from lightcnn.data.stats import channel_mean_std
from lightcnn.errors import LightCNNError
from lightcnn.samplers import FixedBatches, IndexBatchSampler, MPerClassBatchSampler, TensorBatches

Split = tuple[torch.Tensor, torch.Tensor]  # images (N, C, H, W) uint8, labels (N,) int64


class InMemoryDataModule(AugmentOnDevice, LightningDataModule):
    """Base for in-memory image datasets.

    Subclasses set ``native_channels`` and ``native_size`` and implement ``all_class_names``
    and ``load(train)``; labels outside the classes are refused as they load (``label_source``).

    Args:
        root: folder holding the dataset's files.
        batch_size: training batch size (default 128, or classes_per_batch x m_per_class).
        eval_batch_size: validation/test batch size (default: ``2 * batch_size``).
        val_size: held-out share of the training split (a fraction in (0, 1), or a count >= 1).
        val_on_test: the notebooks' protocol: validate on the test split and train on the whole
            training split (``val_size`` must then be 0). Validation then picks the best
            checkpoint on test images, so test figures overstate what new images would get; run
            reports and checkpoints say so (``DataInfo.val_is_test``). Never the default.
        split_seed: seed of the stratified validation split.
        classes: train on these classes only (names), relabelled 0..k-1 in the given order.
        grayscale: convert RGB images to one luma channel (ITU-R 601: 0.299 R + 0.587 G + 0.114 B).
        image_size: resize images (antialiased bilinear) to this square size once, at load time.
        augment: ordered augmentations for training batches, e.g. ``[{name: hflip},
            {name: random_crop, padding: 4}, {name: rotation, degrees: 10, p: 0.5}]``
            (``lightcnn list augmentations``); applied on the model's device after transfer.
        augment_seed: seed of the augmentation generator (saved in checkpoints).
        train_classes / heldout_classes: train on some classes only (give one of the two); the held-out
            ones stay in validation and test (retrieval metrics for seen, held-out and all classes).
        classes_per_batch, m_per_class: per-class training batches (``MPerClassBatchSampler``):
            every batch holds ``classes_per_batch`` classes x ``m_per_class`` images.
        batches_per_epoch: epoch length with per-class batches (default: cover the train split once).
        mean, std: per-channel normalisation in [0, 1] units; ``None``: from the training split.
        data_on_device: keep the uint8 splits on the training device (a GPU's memory): batches are gathered there.
        predict_files: image files, folders (with their subfolders) or glob patterns (one, or a list) for ``lightcnn predict`` (decoded to
            this dataset's channels and size); ``None`` predicts the test split.

    ``data_info`` (``lightcnn.data.DataInfo``) holds what the task needs, from ``__init__`` on
    (the normalisation once ``setup`` has computed it), so the CLI can link it into the task
    before any file is read.
    """

    native_channels: int = 1
    native_size: int = 28
    download: bool = False  # datasets that can fetch their files set it from their `download` option

    def __init__(
        self,
        root: str = "data",
        batch_size: int | None = None,
        eval_batch_size: int | None = None,
        val_size: float = 0.1,
        val_on_test: bool = False,
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
        mean: list[float] | None = None, std: list[float] | None = None,
        predict_files: list[str] | str | None = None,
        data_on_device: bool = False,
    ) -> None:
        super().__init__()
        batch_size = per_class_batch_size(batch_size, classes_per_batch, m_per_class, batches_per_epoch)
        self.classes_per_batch, self.m_per_class, self.batches_per_epoch = classes_per_batch, m_per_class, batches_per_epoch
        if image_size is not None and image_size < 1:
            raise LightCNNError(f"data.image_size must be >= 1 (or null for the native size), got {image_size}")
        self.grayscale, self.stored_size = grayscale, image_size or self.native_size
        self.augment, self.augment_seed = Pipeline.from_config(augment, self.stored_size), augment_seed
        self._generators: dict[torch.device, torch.Generator] = {}
        if batch_size < 1 or (eval_batch_size is not None and eval_batch_size < 1):
            raise LightCNNError(f"data.batch_size and data.eval_batch_size must be >= 1, got {batch_size}, {eval_batch_size}")
        if val_size < 0 or val_size > 1 and val_size != int(val_size):
            raise LightCNNError(f"data.val_size must be a fraction in [0, 1) or a count >= 1, got {val_size}")
        for key, val in (("mean", mean), ("std", std)):
            if val is not None and len(val) != self.in_channels:
                raise LightCNNError(f"data.{key} has {len(val)} values but the images have {self.in_channels} channels")
        if std is not None and min(std) <= 0:
            raise LightCNNError(f"data.std must be positive, got {std}")
        self.root, self.batch_size = expanduser(root), batch_size  # ~/data as torchvision's datasets read it
        self.eval_batch_size = eval_batch_size or 2 * batch_size
        if val_on_test and val_size:
            raise LightCNNError(f"data.val_on_test validates on the test split: set data.val_size: 0 (got {val_size}), "
                                f"or drop val_on_test to hold out part of the training split")
        self.val_size, self.split_seed, self.val_on_test = val_size, split_seed, val_on_test
        self.mean, self.std = mean, std
        self._class_ids = resolve_classes(self.all_class_names, classes, f"{type(self).__name__} (root {self.root})")
        self.heldout_class_ids = resolve_heldout(self.class_names, train_classes, heldout_classes)
        self.splits: dict[str, Split] = {}
        self.predict_files = predict_file_list(predict_files)
        self.data_on_device = data_on_device

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

    def label_source(self, train: bool) -> str:  # where a split's labels come from, for messages
        return f"under {self.root}"

    # --- the data facts handed to the task -------------------------------------------------
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

    @property
    def data_info(self) -> DataInfo:
        """What the task needs to know (``lightcnn.data.DataInfo``); the normalisation is known
        when given in the config or once ``setup`` has computed it from the training split."""
        return DataInfo(
            num_classes=self.num_classes, in_channels=self.in_channels, image_size=self.image_size,
            class_names=tuple(self.class_names), heldout_class_ids=tuple(self.heldout_class_ids),
            mean=None if self.mean is None else tuple(self.mean), std=None if self.std is None else tuple(self.std),
            val_is_test=self.val_on_test,
        )

    def split_sizes(self) -> dict[str, int]:
        """Images per loaded split (for the run report)."""
        return {k: len(v[1]) for k, v in self.splits.items() if k != "predict"}

    def samples_png(self, n: int = 25) -> bytes:
        """The first ``n`` training images with their class names, 5 per row."""
        from lightcnn.report.preview import samples_png

        self.setup("fit")
        x, y = self.splits["train"]
        return samples_png(x[:n], y[:n], self.class_names)

    def augment_preview_png(self, n: int = 6, rows: int = 6, seed: int = 0) -> bytes | None:
        """A grid of training images with ``n`` augmented versions each, or None without augmentation."""
        if self.augment is None:
            return None
        from lightcnn.report.preview import preview_png

        self.setup("fit")
        x, y = self.splits["train"]
        return preview_png(x, y, self.class_names, self.augment, n=n, rows=rows, seed=seed)

    # --- preparation --------------------------------------------------------------------------
    def _read(self, train: bool) -> Split:
        """A split with the class subset, ``grayscale`` and ``image_size`` applied (uint8)."""
        x, y = self.load(train=train)
        check_labels(y, len(self.all_class_names), f"{type(self).__name__}: the {'train' if train else 'test'} labels "
                     f"({self.label_source(train)})")
        x, y = keep_classes(x, y, self._class_ids, len(self.all_class_names))
        return convert_images(x, self.in_channels, self.stored_size, self.grayscale, type(self).__name__), y

    def fetch(self) -> str | None:
        """Download the dataset's files when they are missing (a dataset file that can download
        overrides this); return None when they are there, else why not."""
        return None

    def prepare_data(self) -> None:
        self.fetch_once()

    def fetch_once(self) -> str:
        """Run ``fetch`` once per DataModule: from ``prepare_data`` (once per node, never on
        every rank), or on first need when used without a Trainer. Returns why files may be
        missing, for the caller's not-found message."""
        if not self.download:
            return "downloading is off (download: false)"
        if not hasattr(self, "_fetch_failure"):
            self._fetch_failure = self.fetch()
        return f"the download failed ({self._fetch_failure})"

    def setup(self, stage: str | None = None) -> None:
        """Read (once) what ``stage`` needs: train/val (and their normalisation statistics) for
        fit and validate, the test split for test, the ``predict_files`` or the test split for
        predict. Nothing is read that the stage does not use."""
        if stage in (None, "fit", "validate") and "train" not in self.splits:
            self._setup_train()
        if stage in (None, "test") or (stage == "predict" and not self.predict_files):
            if "test" not in self.splits:
                self.splits["test"] = self._read(train=False)
                warn_empty_classes(self.splits["test"][1], self.class_names, "test")

    def _setup_train(self) -> None:
        x, y = self._read(train=True)
        if self.val_on_test:
            self.splits.setdefault("test", self._read(train=False))
            rank_zero_warn("validating on the test split (data.val_on_test, the notebooks' protocol): every val/ "
                           "figure is a test figure, and the best checkpoint is picked on test images")
        tr, va = val_split(y, self.num_classes, self.val_size, self.split_seed)
        if self.heldout_class_ids:  # training sees the train classes only
            self.splits["train_all_classes"] = (x[tr], y[tr])  # references for inference
            tr = tr[~torch.isin(y[tr], torch.tensor(self.heldout_class_ids))]
        self.splits["train"], self.splits["val"] = (x[tr], y[tr]), self.splits["test"] if self.val_on_test else (x[va], y[va])
        warn_empty_classes(self.splits["train"][1], self.class_names, "train", skip=self.heldout_class_ids)
        warn_empty_classes(self.splits["val"][1], self.class_names, "val")
        if self.mean is None or self.std is None:
            mean, std = channel_mean_std(self.splits["train"][0])
            self.mean = self.mean or mean
            self.std = self.std or [max(s, 1e-6) for s in std]

    # --- loaders ------------------------------------------------------------------------------
    def _loader(self, split: str, train: bool) -> DataLoader:
        if split not in self.splits:
            self.setup("test" if split == "test" else "fit")
        if split not in self.splits:
            raise LightCNNError(f"{type(self).__name__}: no {split} split was loaded")
        x, y = self.splits[split]
        device = self.trainer.strategy.root_device if self.data_on_device and self.trainer is not None else None
        if device is not None and x.device != device:
            x, y = self.splits[split] = (x.to(device), y.to(device))
        if len(y) == 0:
            raise LightCNNError(f"{type(self).__name__}: the {split} split is empty (val_size={self.val_size}, classes={self.class_names})")
        bs = self.batch_size if train else self.eval_batch_size
        overfit = getattr(self.trainer, "overfit_batches", 0) > 0 and split in ("train", "val")
        if train and self.m_per_class is not None:
            warn_small_classes(y, self.class_names, self.m_per_class)
            sampler: Any = MPerClassBatchSampler(y, self.classes_per_batch, self.m_per_class, self.batches_per_epoch, self.split_seed)
        else:
            sampler = IndexBatchSampler(len(y), bs, shuffle=train or overfit, drop_last=train and len(y) > bs, seed=self.split_seed)
        sampler = FixedBatches(sampler) if overfit else sampler  # overfit_batches: one seeded draw (splits may be class-sorted), every epoch
        with_index = train and self.augment is not None and self.augment.needs_index  # alternating flip
        return DataLoader(TensorBatches(x, y, with_index=with_index), sampler=sampler, batch_size=None)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader:
        """The files in ``predict_files`` if given, else the test split. Batches are
        ``(x, y, index, inputs)``: the position of each image and what it is (its file, or its
        position in the test split), so predictions can be traced back to their input."""
        if self.predict_files:
            from lightcnn.data.images import expand, load_files

            paths = expand(self.predict_files)
            x = load_files(paths, self.in_channels, self.image_size)
            self.splits["predict"] = (x, torch.full((len(x),), -1, dtype=torch.long))
            names = [str(p) for p in paths]
        else:
            self.setup("predict")
            self.splits["predict"] = self.splits["test"]
            names = [str(i) for i in range(len(self.splits["test"][1]))]
        x, y = self.splits["predict"]
        sampler = IndexBatchSampler(len(y), self.eval_batch_size)
        return DataLoader(TensorBatches(x, y, with_index=True, names=names), sampler=sampler, batch_size=None)

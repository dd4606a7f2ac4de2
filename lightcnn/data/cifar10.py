"""CIFAR-10 from the official "python version" pickles (``root/cifar-10-batches-py/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lightcnn.data.base import InMemoryDataModule, Split
from lightcnn.data.classes import check_labels
from lightcnn.data.download import fetch_archive, root_is_dataset_folder
from lightcnn.errors import LightCNNError
from lightcnn.data.cifar_pickle import read_cifar_pickle
from lightcnn.registry import DATAMODULES


@DATAMODULES.register()
class CIFAR10DataModule(InMemoryDataModule):
    """CIFAR-10: 32x32 RGB, 10 classes, 50,000 train / 10,000 test.

    Local files are trusted as they are (no checksum); when they are missing and ``download`` is
    on, the official archive is downloaded and its MD5 checked.

    Args:
        download: fetch the official archive when files are missing.
        **kwargs: see ``InMemoryDataModule`` (``grayscale: true, image_size: 28`` feeds CIFAR
            to an MNIST-shaped net).
    """

    folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    md5 = "c58f30108f718f92721af3b95e74349a"
    files = {True: [f"data_batch_{i}" for i in range(1, 6)], False: ["test_batch"]}
    meta_file, label_key = "batches.meta", "labels"
    native_channels, native_size = 3, 32

    def __init__(self, root: str = "data", download: bool = True, **kwargs: Any) -> None:
        super().__init__(root=root, **kwargs)
        self.download = download

    @property
    def base_dir(self) -> Path:
        return Path(self.root) / self.folder

    def _missing(self) -> list[str]:
        expected = [self.meta_file, *self.files[True], *self.files[False]]
        return [f for f in expected if not (self.base_dir / f).is_file()]

    def fetch(self) -> str | None:
        """Download and MD5-check the official archive when files are missing; None when they are
        there, else why not."""
        if not self._missing():
            return None
        failure = fetch_archive(self.url, self.root, self.md5)
        return failure or ("the archive did not contain them" if self._missing() else None)

    def _ensure_files(self) -> None:
        if not self._missing():
            return
        misplaced = root_is_dataset_folder(self.root, self.folder)
        if misplaced:  # before any download into it
            raise LightCNNError(f"{type(self).__name__}: missing {', '.join(self._missing())} in {self.base_dir}/: {misplaced}")
        reason = self.fetch_once()
        missing = self._missing()
        if missing:
            raise LightCNNError(
                f"{type(self).__name__}: missing {', '.join(missing)} in {self.base_dir}/; {reason}. Get the "
                f"official 'python version' archive ({self.url}) and extract it into {self.root}/, "
                f"or point data.init_args.root at a folder that has {self.folder}/"
            )

    @property
    def all_class_names(self) -> list[str]:
        return ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def load(self, train: bool) -> Split:
        self._ensure_files()
        xs, ys = [], []
        for name in self.files[train]:
            d = read_cifar_pickle(self.base_dir / name)
            data, labels = np.asarray(d.get("data")), np.asarray(d.get(self.label_key))
            if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
                raise LightCNNError(
                    f"CIFAR file {self.base_dir / name}: 'data' has shape {data.shape} and '{self.label_key}' "
                    f"{len(labels)} entries; expected (N, 3072) and N"
                )
            if labels.dtype.kind not in "iu" or data.dtype.kind not in "iu":
                raise LightCNNError(f"CIFAR file {self.base_dir / name}: 'data' holds {data.dtype} and '{self.label_key}' "
                                    f"{labels.dtype} values; expected integer pixels and labels")
            check_labels(torch.from_numpy(labels.astype(np.int64)), len(self.all_class_names),
                         f"CIFAR file {self.base_dir / name} ('{self.label_key}')")
            xs.append(data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32))
            ys.append(labels.astype(np.int64))
        return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

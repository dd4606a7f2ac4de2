"""Any folder of class subfolders of images (torchvision's ImageFolder layout), split and cached."""

from __future__ import annotations

import hashlib
import time
import warnings
from os.path import expanduser
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info

from lightcnn.data.base import InMemoryDataModule, Split
from lightcnn.data.images import DECODER_VERSION, IMAGE_SUFFIXES, decode_many, folder_files
from lightcnn.data.splits import stratified_split
from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write
from lightcnn.registry import DATAMODULES

ANNOUNCE_DECODING = 1000  # images: say when decoding starts and how long it took

Samples = list[tuple[Path, int]]


@DATAMODULES.register()
class ImageFolderDataModule(InMemoryDataModule):
    """Your own images: ``root/<class>/<image>``, one subfolder per class (sorted names = labels).

    All images are decoded once (shorter side to ``image_size``, centre crop), kept as uint8 and
    cached in ``root/.lightcnn_cache/`` so the next run skips decoding. There is no official test
    set: a seeded split stratified by class makes train/val/test.

    Args:
        root: the folder holding the class subfolders.
        image_size: square size images are stored at.
        split: train/val/test fractions per class (summing to 1); with ``val_on_test`` the val
            share is 0 (``[0.8, 0, 0.2]``).
        cache: keep decoded tensors in ``root/.lightcnn_cache/`` (skipped if not writable).
        **kwargs: see ``InMemoryDataModule`` (except ``val_size``: use ``split``).

    Non-image files are skipped and counted in a warning; an unreadable image, an empty class
    folder or a folder with no class subfolders is an error naming the path.
    """

    native_channels = 3
    scan_at_init = True  # local folders are checked when the DataModule is built

    def __init__(
        self,
        root: str = "data/images",
        image_size: int = 64,
        split: tuple[float, float, float] = (0.6, 0.2, 0.2),
        cache: bool = True,
        **kwargs: Any,
    ) -> None:
        if "val_size" in kwargs:
            raise LightCNNError(f"{type(self).__name__} takes data.split (train, val, test fractions), not val_size")
        if len(split) != 3 or min(split) < 0 or abs(sum(split) - 1) > 1e-6 or split[0] <= 0:
            raise LightCNNError(f"data.split must be three fractions (train, val, test) summing to 1, got {list(split)}")
        if kwargs.get("val_on_test") and (split[1] or not split[2]):
            raise LightCNNError(
                f"data.val_on_test validates on the test split: data.split {list(split)} needs a val share of 0 and a "
                f"test share above 0, e.g. [0.8, 0, 0.2]"
            )
        self.root, self.split, self.cache = expanduser(root), tuple(split), cache
        self.native_size = image_size  # decoded straight to this size
        self._scanned: Samples | None = self.scan() if self.scan_at_init else None  # bad folders fail at once
        super().__init__(root=root, val_size=split[1] / (split[0] + split[1]), image_size=image_size, **kwargs)

    # --- finding the files ----------------------------------------------------------------------
    @property
    def image_dir(self) -> Path:
        """The folder of class subfolders (``root``)."""
        return Path(self.root)

    def class_dirs(self) -> list[Path]:
        base = Path(self.root)
        if not base.is_dir():
            raise LightCNNError(f"{type(self).__name__}: image folder {base} does not exist (expected {base}/<class>/<image files>)")
        dirs = sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not dirs:
            raise LightCNNError(f"{type(self).__name__}: {base} has no class subfolders (expected {base}/<class>/<image files>)")
        return dirs

    def scan(self) -> Samples:
        """``(path, label)`` for every image file, in a stable order; skipped files are counted."""
        samples: Samples = []
        skipped: list[Path] = []
        for label, d in enumerate(self.class_dirs()):
            images, hidden, others = folder_files(d)  # hidden files hold metadata, copies and tools' files
            skipped += sorted(hidden + others)
            if not images:
                raise LightCNNError(f"{type(self).__name__}: class folder {d} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            samples += [(p, label) for p in images]
        if skipped:
            warnings.warn(f"{self.root}: skipped {len(skipped)} file(s) that are not images or are hidden, "
                          f"e.g. {skipped[0]}", stacklevel=2)
        return samples

    @property
    def _samples(self) -> Samples:
        """Every image file with its label, scanned once, when the images are first needed."""
        if self._scanned is None:
            self._scanned = self.scan()
        return self._scanned

    @property
    def all_class_names(self) -> list[str]:
        if getattr(self, "_class_names", None) is None:
            self._class_names = [d.name for d in self.class_dirs()]
        return self._class_names

    # --- decoding, cached ---------------------------------------------------------------------
    def _cache_path(self) -> Path:
        h = hashlib.sha256(f"{self.native_size}|decoder {DECODER_VERSION}".encode())
        for p, label in self._samples:
            st = p.stat()
            h.update(f"{p}|{label}|{st.st_size}|{st.st_mtime_ns}".encode())
        return self.image_dir / ".lightcnn_cache" / f"{type(self).__name__}_{self.native_size}px_{h.hexdigest()[:16]}.pt"

    def decode_all(self) -> Split:
        if getattr(self, "_decoded", None) is None:
            self._decoded = self._decode_or_cached()
        return self._decoded

    def _decode_or_cached(self) -> Split:
        path = self._cache_path()
        if self.cache and path.is_file():
            try:
                cached = torch.load(path, weights_only=True)
                x, y = cached["x"], cached["y"]
                if len(x) == len(y) == len(self._samples) and tuple(x.shape[-2:]) == (self.native_size,) * 2:
                    return x, y
                raise ValueError(f"it holds {len(y)} images for {len(self._samples)} files")
            except Exception as err:  # noqa: BLE001 - a cache is only a copy: any damage means decode again
                warnings.warn(f"image cache {path} is unreadable ({type(err).__name__}); decoding the images again and "
                              f"rewriting it", stacklevel=2)
        n, start = len(self._samples), time.perf_counter()
        if n >= ANNOUNCE_DECODING:  # a long, silent wait otherwise (~30 ms per 12-megapixel JPEG on 2 cores)
            rank_zero_info(f"{type(self).__name__}: decoding {n:,} images of {self.image_dir} once at {self.native_size} px"
                           + (f" (cached in {path.parent}/)" if self.cache else ""))
        x = torch.from_numpy(decode_many([p for p, _ in self._samples], self.native_size, f"{type(self).__name__} ({self.root})"))
        if n >= ANNOUNCE_DECODING:
            rank_zero_info(f"{type(self).__name__}: decoded {n:,} images in {time.perf_counter() - start:.1f} s")
        y = torch.tensor([label for _, label in self._samples], dtype=torch.long)
        if self.cache:
            try:
                with atomic_write(path, "wb") as f:
                    torch.save({"x": x, "y": y}, f)
            except (LightCNNError, OSError) as err:
                warnings.warn(f"not caching decoded images ({err})", stacklevel=2)
        return x, y

    def load(self, train: bool) -> Split:
        """The test split (``split[2]`` of every class, seeded, stratified; interleaved by class,
        see ``stratified_split``) or the rest, in the folder's order."""
        x, y = self.decode_all()
        rest, test = stratified_split(y, len(self.all_class_names), self.split[2], self.split_seed + 1)
        keep = rest if train else test
        return x[keep], y[keep]

"""Oxford Flowers 17: the official archive layout or an ImageFolder copy."""

from __future__ import annotations

import re
from os.path import expanduser
from pathlib import Path
from typing import Any

from lightcnn.data.download import fetch_archive
from lightcnn.data.image_folder import ImageFolderDataModule, Samples
from lightcnn.errors import LightCNNError
from lightcnn.registry import DATAMODULES

NAMES = [
    "daffodil", "snowdrop", "lily_valley", "bluebell", "crocus", "iris", "tigerlily", "tulip", "fritillary",
    "sunflower", "daisy", "colts_foot", "dandelion", "cowslip", "buttercup", "windflower", "pansy",
]


@DATAMODULES.register()
class Flowers17DataModule(ImageFolderDataModule):
    """The 17-category Oxford flowers, 80 images per class, split 60/20/20 per class by default.

    Looked for under ``root``, in order:
    1. the official archive layout: ``root/jpg/image_0001.jpg … image_1360.jpg`` (also
       ``root/17flowers/jpg/``), where images 80k+1 … 80k+80 are class k;
    2. an ImageFolder layout: ``root/flowers17/<NN_name>/image_NNNN.jpg`` (17 subfolders, sorted
       in the official class order);
    3. a download of the official ``17flowers.tgz`` into ``root`` (extracting ``jpg/``).

    Args:
        root: the data root (as for the other datasets), not the image folder itself.
        download: fetch the official archive when neither layout is found.
        **kwargs: see ``ImageFolderDataModule`` (image_size, split, cache, ...).
    """

    url = "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/17flowers.tgz"
    scan_at_init = False  # the files may still have to be downloaded (prepare_data)

    def __init__(self, root: str = "data", download: bool = True, image_size: int = 64, **kwargs: Any) -> None:
        self.data_root, self.download = expanduser(root), download
        super().__init__(root=root, image_size=image_size, **kwargs)

    def _find(self) -> Path | None:
        base = Path(self.data_root)
        return next((c for c in (base / "jpg", base / "17flowers" / "jpg", base / "flowers17") if c.is_dir()), None)

    def fetch(self) -> str | None:
        """Download the official archive into ``root`` when neither layout is there; None when
        one is, else why not."""
        if self._find() is not None:
            return None
        failure = fetch_archive(self.url, str(self.data_root), md5=None)
        return failure or ("the archive has no jpg/" if self._find() is None else None)

    @property
    def image_dir(self) -> Path:
        """The folder holding the images (official ``jpg/`` or the ImageFolder copy).

        Raises:
            LightCNNError: neither layout under ``root`` (after a download, when on).
        """
        found = self._find()
        if found is not None:
            return found
        reason = self.fetch_once()
        found = self._find()
        if found is not None:
            return found
        base = Path(self.data_root)
        raise LightCNNError(
            f"Flowers 17 not found under {base}: expected {base}/jpg/image_0001.jpg … image_1360.jpg (the official "
            f"archive, {self.url}) or {base}/flowers17/<class>/*.jpg (17 class folders); {reason}"
        )

    def _official(self) -> bool:
        return self.image_dir.name == "jpg"

    def class_dirs(self) -> list[Path]:
        if self._official():
            return [self.image_dir]
        base = self.image_dir
        dirs = sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
        if len(dirs) != 17:
            raise LightCNNError(f"Flowers 17: {base} has {len(dirs)} class folders, expected 17")
        return dirs

    def scan(self) -> Samples:
        if not self._official():
            return super().scan()
        files = sorted(p for p in self.image_dir.glob("image_*.jpg") if re.fullmatch(r"image_\d{4}\.jpg", p.name))
        if len(files) != 1360:
            raise LightCNNError(f"Flowers 17: {self.image_dir} has {len(files)} image_NNNN.jpg files, expected 1360")
        return [(p, (int(p.stem[6:]) - 1) // 80) for p in files]

    @property
    def all_class_names(self) -> list[str]:
        return list(NAMES)

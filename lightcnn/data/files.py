"""Loose image files (for ``predict`` and ``visualize``): paths, folders or glob patterns,
decoded to the dataset's channels and size."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import torch

from lightcnn.data.base import to_luma
from lightcnn.data.image_folder import IMAGE_SUFFIXES, decode
from lightcnn.errors import LightCNNError


def expand(patterns: list[str] | str) -> list[Path]:
    """Files named by ``patterns`` (files, folders of images, or glob patterns), sorted, deduplicated.

    Raises:
        LightCNNError: a pattern that matches nothing (named).
    """
    found: list[Path] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        path = Path(pattern)
        if path.is_dir():
            hits = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            hits = [path]
        else:
            hits = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not hits:
            raise LightCNNError(f"data.predict_files: {pattern!r} matches no image file (give files, folders or glob patterns)")
        found += hits
    return list(dict.fromkeys(found))


def load_files(paths: list[Path], channels: int, size: int) -> torch.Tensor:
    """uint8 images ``(N, channels, size, size)``: shorter side resized, centre-cropped, converted
    to grayscale when ``channels == 1`` by the DataModules' own ``to_luma`` (so a file is seen as
    training data was; within one level of PIL's ``L``).

    Raises:
        LightCNNError: a file that is not a readable image (named).
    """
    x = torch.stack([torch.from_numpy(np.ascontiguousarray(decode(path, size))) for path in paths])
    return to_luma(x) if channels == 1 else x

"""Loose image files (for ``predict`` and ``visualize``): paths, folders or glob patterns,
decoded to the dataset's channels and size."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import torch

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
    to grayscale (ITU-R 601 luma, as PIL's ``L``) when ``channels == 1``.

    Raises:
        LightCNNError: a file that is not a readable image (named).
    """
    out = []
    for path in paths:
        rgb = decode(path, size)
        if channels == 1:
            r, g, b = rgb.astype(np.int32)
            luma = (r * 299 + g * 587 + b * 114 + 500) // 1000
            rgb = luma[None].astype(np.uint8)
        out.append(torch.from_numpy(np.ascontiguousarray(rgb)))
    return torch.stack(out)

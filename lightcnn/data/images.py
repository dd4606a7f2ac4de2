"""Image files: which suffixes count as images, decoding to a square uint8 array (upright, 8 bits
per channel), the one grayscale conversion (luma), and expanding files / folders / glob patterns."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lightcnn.data.memory import check_fits
from lightcnn.errors import LightCNNError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
# Part of the image-folder cache keys: bump it when ``decode`` returns other pixels for the same
# file, so that caches written by an earlier version are decoded again. 2: EXIF orientation
# applied, 16-bit images scaled to 8 bits, float and 32-bit pixels refused, JPEGs decoded at a
# reduced DCT scale where it still covers the size.
DECODER_VERSION = 2
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


def to_luma(x: torch.Tensor) -> torch.Tensor:
    """uint8 RGB ``(N, 3, H, W)`` -> uint8 luma ``(N, 1, H, W)`` (ITU-R 601: 0.299 R + 0.587 G +
    0.114 B, rounded), in chunks: the one grayscale conversion for training data and loose files."""
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return torch.cat([(c.float() * weights).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8) for c in x.split(4096)])


def convert_images(x: torch.Tensor, channels: int, size: int, grayscale: bool, owner: str) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` converted once, in chunks: to luma when ``grayscale``, resized
    (antialiased bilinear) to ``size`` x ``size`` when it differs; still uint8.

    Raises:
        LightCNNError: the images do not have ``channels`` channels after the conversion, or
            would not fit in memory at ``size``.
    """
    import torch.nn.functional as F

    if grayscale and x.shape[1] == 3:
        x = to_luma(x)
    if x.shape[1] != channels:
        raise LightCNNError(f"{owner}: images have {x.shape[1]} channels, expected {channels}")
    if x.shape[-1] != size or x.shape[-2] != size:
        check_fits(len(x), channels, size, owner)
        x = torch.cat([
            F.interpolate(c.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            .round_().clamp_(0, 255).to(torch.uint8)
            for c in x.split(4096)
        ])
    return x.contiguous()


def decode(path: Path, size: int) -> np.ndarray:
    """One image as uint8 RGB ``(3, size, size)``: shorter side resized to ``size``, centre-cropped.

    Raises:
        LightCNNError: the file cannot be read as an image (named).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            # A JPEG is decoded straight at 1/2, 1/4 or 1/8 scale when that still covers size x size
            # (its DCT scaling): 2.4x faster on a 12-megapixel photo for any size up to 375 px.
            im.draft(None, (size, size))
            # upright as viewers show it: a phone photo's EXIF orientation is applied, not ignored
            # (in place, so that the file's format, which _eight_bit reads, stays known)
            ImageOps.exif_transpose(im, in_place=True)
            im = _eight_bit(im, path).convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
            im = im.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
            left, top = (nw - size) // 2, (nh - size) // 2
            im = im.crop((left, top, left + size, top + size))
            return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
    except Image.DecompressionBombError as err:
        raise LightCNNError(f"image {path} is refused as a possible decompression bomb: {err} (Pillow's guard against "
                            f"files that decode to huge images; downscale it, or raise PIL.Image.MAX_IMAGE_PIXELS in your code)") from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:  # Pillow raises SyntaxError for some broken headers
        raise LightCNNError(f"cannot read image {path}: {err}") from err


def decode_many(paths: list[Path], size: int, owner: str = "") -> np.ndarray:
    """``decode`` of every path, stacked ``(N, 3, size, size)``, in order, on as many threads as
    torch's intra-op threads (one per core, or what ``--threads`` set: Pillow's decoders release
    the GIL, 1.7x on 2 cores). The first unreadable file is named.

    Raises:
        LightCNNError: as ``decode``; the decoded images would not fit in memory (``owner`` named).
    """
    from concurrent.futures import ThreadPoolExecutor

    if not paths:
        return np.zeros((0, 3, size, size), dtype=np.uint8)
    check_fits(len(paths), 3, size, owner or f"{len(paths):,} image files")
    workers = min(torch.get_num_threads(), len(paths))
    if workers < 2:
        return np.stack([decode(p, size) for p in paths])
    with ThreadPoolExecutor(workers) as pool:
        return np.stack(list(pool.map(lambda p: decode(p, size), paths, chunksize=16)))


def _eight_bit(im: Any, path: Path) -> Any:
    """``im`` with 8 bits per channel. A 16-bit gray image (PNG, TIFF, PGM) is scaled from
    0-65535 to 0-255: Pillow's ``convert`` clips it at 255 instead, which turns a 16-bit scan
    nearly all white. Float and 32-bit integer pixels have no fixed range, so they are refused
    rather than guessed (Pillow would clip floats in [0, 1] to black). 16-bit RGB files Pillow
    already reads as 8-bit RGB, scaled.

    Raises:
        LightCNNError: float, 32-bit or signed 16-bit pixels (the file named).
    """
    from PIL import Image

    if im.mode in _SIXTEEN_BIT_MODES or (im.mode == "I" and _sixteen_bit_file(im)):
        scaled = np.rint(np.asarray(im).astype(np.float32) / 257.0).clip(0, 255).astype(np.uint8)
        return Image.fromarray(scaled, "L")
    if im.mode == "F" or im.mode.startswith("I"):
        kind = "floating-point" if im.mode == "F" else "32-bit or signed integer"
        raise LightCNNError(f"image {path} has {kind} pixels (Pillow mode {im.mode}), whose range lightcnn cannot "
                            f"know: it reads 8-bit and 16-bit images; save it as an 8- or 16-bit PNG or TIFF")
    return im


def _sixteen_bit_file(im: Any) -> bool:
    """Whether Pillow's 32-bit mode ``I`` holds unsigned 16-bit samples: 16-bit PNG and PGM files
    (Pillow scales a PGM's maxval to 65535), and TIFFs with 16 bits per unsigned sample."""
    if im.format in ("PNG", "PPM"):
        return True
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (0,))
        unsigned = im.tag_v2.get(339, (1,))
        first = (lambda v: v[0] if isinstance(v, tuple) else v)
        return first(bits) == 16 and first(unsigned) == 1
    return False


def predict_file_list(predict_files: list[str] | str | None) -> list[str] | None:
    """``data.predict_files`` as a list, or None (predict the test split).

    Raises:
        LightCNNError: an empty list or string, which would have predicted the test split instead.
    """
    if predict_files is None:
        return None
    if not predict_files or (isinstance(predict_files, list) and not all(predict_files)):
        raise LightCNNError(f"data.predict_files: {predict_files!r} names no file; give files, folders or glob patterns, "
                            f"or leave it out (null) to predict the test split")
    return [predict_files] if isinstance(predict_files, str) else list(predict_files)


def expand(patterns: list[str] | str) -> list[Path]:
    """Files named by ``patterns`` (files, folders of images, or glob patterns), sorted, deduplicated.

    Raises:
        LightCNNError: a pattern that matches nothing (named).
    """
    found: list[Path] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        path = Path(pattern).expanduser()
        if path.is_dir():
            hits = _folder_images(path, pattern)
        elif path.is_file():
            hits = [path]
        else:
            hits = sorted(p for p in _glob(str(path)) if p.is_file())
        if not hits:
            raise LightCNNError(f"data.predict_files: {pattern!r} matches no image file (give files, folders or glob patterns)")
        found += hits
    unique: dict[Path, Path] = {}
    for p in found:  # one entry per file, however many links or patterns lead to it
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def folder_files(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """``(images, hidden, others)``: the files in ``folder`` and its subfolders, sorted, split into
    images, hidden files (a hidden name, or inside a hidden folder: macOS's ._photo.jpg beside
    photo.jpg is metadata with an image's suffix, .ipynb_checkpoints holds copies, .git tools'
    files) and the other files. How an image folder's class folder and a ``predict_files``
    folder are read."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    is_hidden = [any(part.startswith(".") for part in p.relative_to(folder).parts) for p in files]
    hidden = [p for p, h in zip(files, is_hidden) if h]
    shown = [p for p, h in zip(files, is_hidden) if not h]
    images = [p for p in shown if p.suffix.lower() in IMAGE_SUFFIXES]
    return images, hidden, [p for p in shown if p.suffix.lower() not in IMAGE_SUFFIXES]


def _folder_images(folder: Path, pattern: str) -> list[Path]:
    """The images in ``folder`` and its subfolders (``folder_files``); other files are counted in a warning."""
    images, _, others = folder_files(folder)
    if images and others:
        warnings.warn(f"data.predict_files: {pattern!r}: skipped {len(others)} file(s) that are not images, "
                      f"e.g. {others[0]}", stacklevel=3)
    return images


def _glob(pattern: str) -> list[Path]:
    """Matches of a glob pattern; ``**`` does not descend into symbolic links to folders, so
    link loops cannot make it run for ever (``glob.glob`` follows them)."""
    anchor = Path(pattern).anchor
    rest = pattern[len(anchor):]
    if not rest:
        return []
    return list(Path(anchor or ".").glob(rest))


def load_files(paths: list[Path], channels: int, size: int) -> torch.Tensor:
    """uint8 images ``(N, channels, size, size)``: shorter side resized, centre-cropped, converted
    to grayscale when ``channels == 1`` by the DataModules' own ``to_luma`` (so a file is seen as
    training data was; within one level of PIL's ``L``).

    Raises:
        LightCNNError: a file that is not a readable image (named).
    """
    x = torch.from_numpy(decode_many(paths, size))
    return to_luma(x) if channels == 1 else x

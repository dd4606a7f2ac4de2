"""Whether a dataset held in memory as uint8 fits before it is built: a data.image_size typo
(5000 for 50) asked the allocator for hundreds of GB and ended in a C++ traceback, or in the
system's out-of-memory killer with no message at all."""

from __future__ import annotations

from pathlib import Path

from lightcnn.errors import LightCNNError


def available_bytes() -> int | None:
    """The memory the kernel says can be allocated without swapping (``MemAvailable``), or None
    where there is no ``/proc/meminfo`` (not Linux): then nothing is checked."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return ""  # unreachable


def check_fits(images: int, channels: int, size: int, owner: str, copies: int = 2) -> None:
    """Raise before building ``images`` uint8 images of ``channels`` x ``size`` x ``size`` when
    ``copies`` of them (the pieces and the stacked whole, while it is built) exceed the
    available memory.

    Raises:
        LightCNNError: naming data.image_size, the memory needed and the memory available.
    """
    need = copies * images * channels * size * size
    have = available_bytes()
    if have is not None and need > have:
        raise LightCNNError(
            f"{owner}: data.image_size={size} would hold {images:,} images of {channels}x{size}x{size} pixels in memory, "
            f"{_size(need)} while they are built, and {_size(have)} is available: give a smaller data.image_size "
            f"(null for the images' own size)"
        )

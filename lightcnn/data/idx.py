"""The IDX file format of MNIST and Fashion-MNIST (plain or gzipped)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from lightcnn.errors import LightCNNError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (plain or ``.gz``) into an array, checking magic number and size.

    The IDX header is two zero bytes, a dtype code, the number of dimensions, then one
    big-endian uint32 per dimension; the data follows.

    Raises:
        LightCNNError: bad magic number, unknown dtype, or a size that disagrees with the header
            (a truncated download); the message names the file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise LightCNNError(f"cannot read IDX file {path}: {err} (corrupt or truncated; delete it and fetch it again)") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise LightCNNError(
            f"{path} is not an IDX file: bad magic number {raw[:4].hex() or '(empty file)'} "
            f"(expected 0000 08 01 for labels or 0000 08 03 for images)"
        )
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise LightCNNError(f"IDX file {path} is truncated inside its header ({len(raw)} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = head + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise LightCNNError(
            f"IDX file {path} has {len(raw):,} bytes but its header (shape {shape}) needs {expected:,}: "
            f"the file is {'truncated' if len(raw) < expected else 'too long'}; delete it and fetch it again"
        )
    return np.frombuffer(raw, dtype=dtype, offset=head).reshape(shape)

"""File formats and safe writing: IDX reading (MNIST family) and atomic file replacement."""

from __future__ import annotations

import contextlib
import gzip
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Write ``path`` through a temporary file in the same folder, renamed into place on success.

    A crash or an exception leaves the previous file (if any) untouched and no partial file.

    Raises:
        LightCNNError: the folder cannot be created or written to.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise LightCNNError(f"cannot write {path}: {err}") from err
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a CIFAR file from the internet must not
    be able to run code when it is read."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are expected)")


def read_cifar_pickle(path: str | Path) -> dict:
    """Read one CIFAR "python version" pickle; keys are returned as str (the official files are
    Python 2 pickles with bytes keys).

    Raises:
        LightCNNError: missing, truncated or corrupt file, or one holding more than arrays; the
            message names the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = _ArrayUnpickler(f, encoding="latin1").load()
    except FileNotFoundError as err:
        raise LightCNNError(f"CIFAR file {path} is missing") from err
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise LightCNNError(f"CIFAR file {path} is corrupt or truncated ({type(err).__name__}: {err}); delete it and fetch it again") from err
    if not isinstance(raw, dict):
        raise LightCNNError(f"CIFAR file {path} holds a {type(raw).__name__}, expected a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}

"""Safe writing: atomic file replacement."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from lightcnn.errors import LightCNNError, exception_chain


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
    check_file_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        hint = f" (no space left on the device holding {path.parent}/)" if _full_disk(err) else ""
        raise LightCNNError(f"cannot write {path}: {err.strerror or err}{hint}") from err
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if _full_disk(err):
            raise LightCNNError(f"no space left on the device holding {path.parent}/ while writing {path.name} "
                                f"(nothing was replaced); free some space and run again") from err
        raise


def check_file_target(path: str | Path, option: str = "") -> None:
    """Raise a ``LightCNNError`` when ``path``, where a file is to be written, is a folder (the
    option that named it first, when given). Commands call it before long work, not after."""
    if Path(path).is_dir():
        named = f"{option} {path}" if option else str(path)
        raise LightCNNError(f"{named} is a folder, but a file is written here: give a file name (nothing was written)")


def _full_disk(err: BaseException) -> bool:
    """A full disk or quota anywhere in the chain (torch.save reports one as a RuntimeError
    whose context is the OSError)."""
    return any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) for e in exception_chain(err))

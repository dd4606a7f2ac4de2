"""The CIFAR-10/100 "python version" pickle files, read without running code."""

from __future__ import annotations

import pickle
from pathlib import Path

from lightcnn.errors import LightCNNError


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
    except (OSError, MemoryError) as err:
        raise LightCNNError(f"CIFAR file {path} cannot be read ({type(err).__name__}: {err}); delete it and fetch it again") from err
    except Exception as err:  # noqa: BLE001 - whatever damaged bytes make the unpickler raise, it is the file's fault
        raise LightCNNError(f"CIFAR file {path} is corrupt or truncated ({type(err).__name__}: {err}); delete it and fetch it again") from err
    if not isinstance(raw, dict):
        raise LightCNNError(f"CIFAR file {path} holds a {type(raw).__name__}, expected a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}

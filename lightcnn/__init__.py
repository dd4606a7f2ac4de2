"""lightcnn: a modular trainer for image CNNs on PyTorch Lightning.

``lightcnn.Experiment`` runs a task on a DataModule from Python; the DataModules are in
``lightcnn.data``, the tasks in ``lightcnn.tasks``, the backbones in ``lightcnn.models``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Experiment", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `lightcnn --help` and `lightcnn list` stay quick.
    if name == "Experiment":
        from lightcnn.experiment import Experiment

        return Experiment
    raise AttributeError(f"module 'lightcnn' has no attribute {name!r}")

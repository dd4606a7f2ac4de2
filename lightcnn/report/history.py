"""A run's history as per-epoch series plus the last test values.

Read from lightcnn's own ``history.json`` (written by ``RunRecord`` whatever the loggers), or,
for run folders from before it existed, from the CSV logger's ``metrics.csv``: that writes one
row per logging call, so an epoch's values are spread over several rows and a resumed run
appends rows for epochs it repeats; ``History`` keeps, per key and epoch, the last value written.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from lightcnn.errors import LightCNNError


@dataclass
class History:
    """Per-epoch values ``series[key][epoch]`` and the final ``test`` values ``test[key]``."""

    series: dict[str, dict[int, float]] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)

    @property
    def epochs(self) -> list[int]:
        """Epochs with any training or validation value, ascending."""
        return sorted({e for values in self.series.values() for e in values})

    def get(self, key: str) -> tuple[list[int], list[float]]:
        """``(epochs, values)`` of one key, ascending; empty lists if it was never logged."""
        values = self.series.get(key, {})
        epochs = sorted(values)
        return epochs, [values[e] for e in epochs]

    def last(self, key: str) -> float | None:
        epochs, values = self.get(key)
        return values[-1] if values else None

    def aligned(self, *keys: str) -> tuple[list[int], list[list[float]]]:
        """Epochs where every key has a value, and the values of each key on those epochs."""
        common = sorted(set.intersection(*(set(self.series.get(k, {})) for k in keys))) if keys else []
        return common, [[self.series[k][e] for e in common] for k in keys]


HISTORY = "history.json"  # lightcnn's record of a run, in its folder: {"epochs": {"0": {...}}, "test": {...}}


def read_record(path: str | Path) -> tuple[dict[int, dict[str, float]], dict[str, float]]:
    """``(epochs, test)`` of a ``history.json``: per epoch its values, and the last test values.

    Raises:
        LightCNNError: the file is not a lightcnn history (named).
    """
    try:
        saved = json.loads(Path(path).read_text())
        epochs = {int(e): {k: float(v) for k, v in values.items()} for e, values in saved.get("epochs", {}).items()}
        test = {k: float(v) for k, v in saved.get("test", {}).items()}
    except (ValueError, AttributeError, TypeError) as err:
        raise LightCNNError(f"{path} is not a lightcnn history file ({type(err).__name__}: {err})") from err
    return epochs, test


def read_run_history(run: str | Path) -> History:
    """The history of a run folder: ``history.json``, else ``metrics.csv``.

    Raises:
        LightCNNError: neither file is there, or the one found cannot be read (named).
    """
    run = Path(run)
    path = run / HISTORY
    if not path.is_file():
        if (run / "metrics.csv").is_file():
            return read_history(run / "metrics.csv")
        runs = sorted((d for d in run.glob("*/") if (d / HISTORY).is_file() or (d / "metrics.csv").is_file()),
                      key=lambda d: (len(d.name), d.name))
        if runs:  # an experiment's folder (runs/mnist_classify), or a sweep's, holding run folders
            shown = ", ".join(d.name for d in runs[:5]) + (", ..." if len(runs) > 5 else "")
            raise LightCNNError(f"{run} holds run folders ({shown}), not one run's history: give a run folder, "
                                f"e.g. {runs[-1]}")
        raise LightCNNError(f"{run} has no {HISTORY}: the run was stopped before its first epoch ended, or this is not a run folder")
    epochs, test = read_record(path)
    history = History(test=test)
    for epoch, values in epochs.items():
        for key, value in values.items():
            history.series.setdefault(key, {})[epoch] = value
    return history


def read_history(path: str | Path) -> History:
    """Parse a Lightning ``metrics.csv``; keys starting with ``test/`` go to ``History.test``.

    Raises:
        LightCNNError: the file is missing, empty or has no ``epoch`` column (named).
    """
    path = Path(path)
    if not path.is_file():
        raise LightCNNError(f"{path} does not exist: the run folder has no metrics (was the run stopped before its first epoch ended?)")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "epoch" not in reader.fieldnames:
            raise LightCNNError(f"{path} is not a Lightning metrics.csv: no 'epoch' column (columns: {reader.fieldnames})")
        rows = list(reader)
    history = History()
    for row in rows:
        epoch = _number(row.get("epoch"))
        for key, raw in row.items():
            value = _number(raw)
            if key in ("epoch", "step") or value is None:
                continue
            if key.startswith("test/"):
                history.test[key] = value
            elif epoch is not None:
                history.series.setdefault(key, {})[int(epoch)] = value
    return history


def _number(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if not math.isnan(value) else None

"""lightcnn's own record of a run, independent of the loggers: ``history.json`` in the run folder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn

from lightcnn.io import atomic_write
from lightcnn.report.history import HISTORY, read_record
from lightcnn.run import run_dir


def scalars(metrics: dict[str, Any], keep: Any) -> dict[str, float]:
    """Finite scalar values of ``metrics`` whose key passes ``keep``, as floats."""
    out = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError, RuntimeError):  # not a scalar
            continue
        if keep(key) and math.isfinite(number):
            out[key] = number
    return out


class RunRecord(Callback):
    """Keeps every epoch's scalars (training, validation, timing) and the last test values, on
    rank 0, in ``history.json`` in the run folder, rewritten atomically after each epoch and
    test: ``{"epochs": {"0": {"train/loss_epoch": ..., "val/acc": ...}, ...}, "test": {...}}``.

    The history also travels in checkpoints, so a resumed run (even after ``kill -9``) continues
    it without duplicate or lost epochs. Step-level values (``*_step``) are left out.
    """

    def __init__(self) -> None:
        self.epochs: dict[int, dict[str, float]] = {}
        self.test: dict[str, float] = {}
        self._val: dict[str, float] = {}
        self._pending: int | None = None  # an epoch trained in this process and not yet recorded
        self._dir: Path | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._dir = run_dir(trainer)
        path = self._dir / HISTORY
        if path.is_file() and not self.epochs:  # a later command in the same run folder keeps the history
            self.epochs, self.test = read_record(path)  # a corrupt file is an error, not silently replaced

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == TrainerFn.FITTING:
            self._val = scalars(trainer.callback_metrics, lambda k: k.startswith("val/"))

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Runs before the task's own epoch-end logging: the epoch is recorded when its checkpoint
        # is saved (after that logging), or when the next epoch or the fit starts/ends.
        self._pending = trainer.current_epoch

    def _record(self, trainer: Trainer) -> None:
        if self._pending is None:
            return
        values = scalars(trainer.callback_metrics, lambda k: not k.startswith(("val/", "test/")) and not k.endswith("_step"))
        self.epochs[self._pending] = values | self._val
        self._write(trainer)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        if trainer.state.fn == TrainerFn.FITTING and self._pending == trainer.current_epoch:
            self._record(trainer)
        checkpoint["lightcnn_history"] = {str(k): v for k, v in self.epochs.items()}

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("lightcnn_history")
        if isinstance(saved, dict) and trainer.state.fn == TrainerFn.FITTING:  # resuming: epochs after it are redone
            self.epochs = {int(k): v for k, v in saved.items()}

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._record(trainer)
        self._pending, self._val = None, {}

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._record(trainer)
        self._pending = None

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.test = scalars(trainer.callback_metrics, lambda k: k.startswith("test/"))
        self._write(trainer)

    def _write(self, trainer: Trainer) -> None:
        if not trainer.is_global_zero or self._dir is None:
            return
        record = {"epochs": {str(k): self.epochs[k] for k in sorted(self.epochs)}, "test": self.test}
        with atomic_write(self._dir / HISTORY) as f:
            json.dump(record, f, indent=1)

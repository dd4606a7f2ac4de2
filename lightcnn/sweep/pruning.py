"""Optuna pruning from the per-epoch validation metric, as a Lightning callback.

optuna-integration's ``PyTorchLightningPruningCallback`` (checked in 5.0.0) does import the
``lightning`` namespace, but it is another package to install, in DDP it accepts only an RDB
storage (not the journal file a sweep uses by default) and reads a private Trainer attribute, and
it raises ``TrialPruned`` inside the fit, which abandons the epoch's checkpoint and run report.
This one needs the Optuna trial on rank 0 only (the sweep worker), broadcasts the decision so
every rank stops after the same epoch, and stops the fit the normal way (``should_stop``).
"""

from __future__ import annotations

import math
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class OptunaPruning(Callback):
    """Report ``monitor`` to ``trial`` after each validation epoch; stop the fit (after that
    epoch, so its checkpoint and report are written) when Optuna's pruner says so.

    Args:
        trial: the ``optuna.Trial`` (None in the other ranks of a DDP trial).
        monitor: a validation key, e.g. ``val/acc``.
    """

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial, self.monitor = trial, monitor
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = False
        value = trainer.callback_metrics.get(self.monitor)
        if self.trial is not None and value is not None and math.isfinite(float(value)):
            self.trial.report(float(value), step=trainer.current_epoch)
            prune = bool(self.trial.should_prune())
        if trainer.world_size > 1:
            prune = bool(trainer.strategy.broadcast(prune, src=0))
        if prune:
            self.pruned_at = trainer.current_epoch
            trainer.should_stop = True

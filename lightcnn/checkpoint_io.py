"""Crash-safe files written by the Trainer: checkpoints and the saved config.

Lightning's ``TorchCheckpointIO`` writes through an fsspec transaction whose temporary file lives
in the system temp folder; moving it into the run folder is a copy when the two are on different
file systems, so ``kill -9`` at the wrong moment can leave a truncated ``last.ckpt``. Here the
temporary file sits beside the target, is fsynced, and is renamed over it (atomic on POSIX).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import SaveConfigCallback

from lightcnn.io import atomic_write
from lightcnn.run import run_dir


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose ``save_checkpoint`` replaces the file atomically: a reader (or
    a resume after a crash) sees the previous checkpoint or the new one, never part of one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        with atomic_write(os.fspath(path), "wb") as f:
            torch.save(checkpoint, f)


class AtomicSaveConfigCallback(SaveConfigCallback):
    """Saves the resolved config into the run folder on rank 0 like ``SaveConfigCallback``
    (always overwriting: a resumed run re-saves its own config), but atomically."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.already_saved:
            return
        log_dir = str(run_dir(trainer))  # the run folder, whatever the loggers
        if trainer.is_global_zero and self.save_to_log_dir:
            with atomic_write(os.path.join(log_dir, self.config_filename)) as f:
                f.write(self.parser.dump(_as_fit_config(self.config), skip_none=False))
            self.save_config(trainer, pl_module, stage)
        self.already_saved = bool(trainer.strategy.broadcast(True))


def _as_fit_config(config: Any) -> Any:
    """The config as ``fit`` takes it: a config parsed without a subcommand (``Experiment``, sweep
    trials) also holds validate/test/predict's own keys (``verbose``, ``return_predictions``),
    which would make ``lightcnn test --ckpt_path <that run's checkpoint>`` refuse its config.yaml."""
    import inspect

    fit_keys = set(inspect.signature(Trainer.fit).parameters)
    others = {k for m in ("validate", "test", "predict") for k in inspect.signature(getattr(Trainer, m)).parameters} - fit_keys
    present = [k for k in others if k in config]
    if not present:
        return config
    config = config.clone()
    for key in present:
        del config[key]
    return config

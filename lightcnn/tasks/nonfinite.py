"""Stop a fit whose training loss (or a parameter) became NaN or infinite, without a host sync
per step on accelerators; mixed into ``BaseTask``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from lightcnn.errors import LightCNNError


class NonFiniteCheck:
    """``on_train_batch_end`` accumulates a non-finite flag on the device; it is read every step
    on CPU, every 50 steps on accelerators and before every checkpoint (``_stop_if_nonfinite``)."""

    _nonfinite: torch.Tensor | None = None  # any non-finite training loss since the last check

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        first_batch = batch_idx == 0 and self.trainer.current_epoch == 0
        if self.device.type == "cpu" and loss.numel() == 1:
            # On CPU reading the value costs no wait: one item() (0.2 us) instead of the flag's tensor
            # ops and their read (isfinite, not, bool: 4.7 us a step, measured warm on the 2-core machine)
            if not math.isfinite(loss.item()):
                self._stop_if_nonfinite(first_batch=first_batch, bad_loss=True)
            return
        bad = ~torch.isfinite(loss.detach())
        self._nonfinite = bad if self._nonfinite is None else self._nonfinite | bad
        # On CPU a check costs nothing; on an accelerator it waits for the device, so check every
        # 50 steps there (and always before a checkpoint is written, see on_save_checkpoint).
        if self.device.type == "cpu" or (batch_idx + 1) % 50 == 0:
            # checked on the run's first batch: its loss came from weights no step had touched yet
            self._stop_if_nonfinite(first_batch=first_batch)

    def _stop_if_nonfinite(self, check_parameters: bool = False, first_batch: bool = False, bad_loss: bool = False) -> None:
        """Raise if a training loss since the last check (``bad_loss``: one already read as such,
        or else the device flag) or, when asked, a parameter is NaN or infinite. ``first_batch``:
        the only loss checked is the run's first, computed before any update, so the optimizer's
        settings cannot be the cause and the message says where to look."""
        bad_loss = bad_loss or (self._nonfinite is not None and bool(self._nonfinite))
        self._nonfinite = None
        bad_param = check_parameters and not bad_loss and not all(bool(torch.isfinite(p).all()) for p in self.parameters())
        if not (bad_loss or bad_param):
            return
        trainer = self.trainer
        saved = [c.best_model_path for c in trainer.checkpoint_callbacks if Path(c.best_model_path or "x").stem == "last"]
        kept = saved[0] if saved and saved[0] else "none yet: no epoch had finished"
        if bad_loss and first_batch:
            raise LightCNNError(
                "the training loss is NaN or infinite on the run's first batch, before any weight update: the "
                "learning rate and schedule cannot have caused it. The model's output for that batch is already "
                "non-finite: check the backbone's forward and initial weights (a plugin's especially) and the "
                "data for NaN or extreme values. No checkpoint was written."
            )
        what = "the training loss became NaN or infinite" if bad_loss else "a model parameter became NaN or infinite"
        raise LightCNNError(
            f"{what} at epoch {trainer.current_epoch}, step {trainer.global_step}: training stopped. The last good "
            f"checkpoint is kept ({kept}). Lower model.lr, add warm-up (scheduler: onecycle) or gradient clipping "
            f"(trainer.gradient_clip_val), and check the data for extreme values."
        )


"""``RunCheckpoint``: the run folder's ``best.ckpt`` and ``last.ckpt`` writers."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` as a task's ``configure_callbacks`` returns it for the run
    folder (``checkpoints/best.ckpt`` by the task's monitor, ``checkpoints/last.ckpt`` every
    epoch). Its own type tells these apart from a ``ModelCheckpoint`` a user configured, which
    the task hands back to Lightning so that it is kept (``user_checkpoints``)."""

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last(trainer)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        super().on_train_end(trainer, pl_module)
        self._save_last(trainer)

    def _save_last(self, trainer: Any) -> None:
        """``last.ckpt`` (the writer without a monitor) at the end of every training epoch and of
        the fit, when its last save is older than the current step. Lightning saves at the end of
        each epoch only where validation runs every epoch; with ``check_val_every_n_epoch`` above
        1 it saves when a validation ends, so the epochs after each validation went unsaved (a
        crash resumed from up to N - 1 epochs back), and with no validation at all (``max_epochs``
        below N) nothing was saved: the whole training lost. Its saves after validation (several
        an epoch with a fractional ``val_check_interval``) are kept."""
        if self.monitor is None and not self._should_skip_saving_checkpoint(trainer):
            self._save_none_monitor_checkpoint(trainer, self._monitor_candidates(trainer))


def user_checkpoints(callbacks: list[Any]) -> list[ModelCheckpoint]:
    """The ``ModelCheckpoint`` callbacks among ``callbacks`` that are not a run's own, nor the
    bare one Lightning adds when none is given (no dirpath, filename or monitor: it would write
    ``epoch=N-step=M.ckpt``, a copy of ``last.ckpt``, beside the run's own)."""
    def bare(c: ModelCheckpoint) -> bool:
        return type(c) is ModelCheckpoint and c.dirpath is None and c.filename is None and c.monitor is None

    return [c for c in callbacks if isinstance(c, ModelCheckpoint) and not isinstance(c, RunCheckpoint) and not bare(c)]

"""``RunCheckpoint``: the run folder's ``best.ckpt`` and ``last.ckpt`` writers."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` as a task's ``configure_callbacks`` returns it for the run
    folder (``checkpoints/best.ckpt`` by the task's monitor, ``checkpoints/last.ckpt`` every
    epoch). Its own type tells these apart from a ``ModelCheckpoint`` a user configured, which
    the task hands back to Lightning so that it is kept (``user_checkpoints``)."""


def user_checkpoints(callbacks: list[Any]) -> list[ModelCheckpoint]:
    """The ``ModelCheckpoint`` callbacks among ``callbacks`` that are not a run's own, nor the
    bare one Lightning adds when none is given (no dirpath, filename or monitor: it would write
    ``epoch=N-step=M.ckpt``, a copy of ``last.ckpt``, beside the run's own)."""
    def bare(c: ModelCheckpoint) -> bool:
        return type(c) is ModelCheckpoint and c.dirpath is None and c.filename is None and c.monitor is None

    return [c for c in callbacks if isinstance(c, ModelCheckpoint) and not isinstance(c, RunCheckpoint) and not bare(c)]

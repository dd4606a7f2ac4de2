"""``EpochLines``: one line per epoch instead of progress bars, for logs (a file, CI, a batch job)."""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch.callbacks import ProgressBar

from lightcnn.registry import CALLBACKS
from lightcnn.terminal import write_line


@CALLBACKS.register()
class EpochLines(ProgressBar):
    """A progress "bar" that prints one line when each training epoch ends (after its
    validation): the epoch, what the progress bar would show (training loss, validation
    metrics) and the epoch's seconds. Nothing per step.

    The ``lightcnn`` command uses it instead of tqdm bars when its output is not a terminal,
    where redrawn bars become kilobytes of ``\\r``-joined lines; name it in
    ``trainer.callbacks`` to have it always.

    Example line: ``epoch 3/10  train/loss 0.3121  val/acc 0.9812  (12.4 s)``
    """

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._start: float | None = None
        self._pending: tuple[int, float | None] | None = None  # (epoch, seconds) not yet printed

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._flush(trainer)
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        # Callbacks run before the task's own on_train_epoch_end, which logs the epoch's mean
        # training loss: the line is written when the next epoch starts or training ends.
        seconds = time.perf_counter() - self._start if self._start is not None else None
        self._pending = (trainer.current_epoch, seconds)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._flush(trainer)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._flush(trainer)

    def _flush(self, trainer: Any) -> None:
        pending, self._pending = self._pending, None
        if pending is None or not (self._enabled and trainer.is_global_zero):
            return
        epoch, seconds = pending
        shown = {k: v for k, v in trainer.progress_bar_metrics.items() if not k.endswith("_step")}
        loss = trainer.callback_metrics.get("train/loss_epoch")
        values = ({"train/loss": loss} if loss is not None else {}) | shown
        text = "  ".join(f"{k} {_number(v)}" for k, v in values.items())
        total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
        took = f"  ({seconds:.1f} s)" if seconds is not None else ""
        write_line(f"epoch {epoch + 1}/{total}  {text}{took}")


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.4f}" if abs(number) < 1000 else f"{number:.4g}"

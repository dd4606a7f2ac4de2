"""Checks of a run's settings made before anything is built or written: values Lightning would
accept and then do nothing with (``max_epochs 0``, resuming a finished run), run names that
would leave the runs folder, and monitors no task logs (which Lightning reports only after a
whole epoch)."""

from __future__ import annotations

import difflib
from pathlib import PurePath
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.option_types import fits

EPOCH_METRICS = ("train/loss_step", "train/loss_epoch", "time/epoch_s", "time/fit_s", "model/params")


def check_run_name(name: str | None) -> None:
    """A run name is a relative path inside the runs folder (``a`` or ``study/a``).

    Raises:
        LightCNNError: an absolute name, a ``..`` part or an empty part.
    """
    if name is None:
        return
    path = PurePath(name)
    if not name.strip() or path.is_absolute() or any(part in ("..", ".", "") for part in name.replace("\\", "/").split("/")):
        raise LightCNNError(
            f"--name {name!r}: a run name is a folder inside the runs folder, such as 'mnist_try' or 'study/a'; "
            f"to write elsewhere, set --trainer.default_root_dir"
        )


def check_trainer_values(trainer: dict[str, Any], subcommand: str | None) -> None:
    """Refuse epoch and step limits that make a fit train nothing or make no sense.

    Raises:
        LightCNNError: the key, its value and what is valid.
    """
    if trainer.get("barebones") is True:
        raise LightCNNError("trainer.barebones=true: Lightning's barebones mode turns off logging, checkpoints and the "
                            "model summary, which a lightcnn run is made of (its history, report and best.ckpt); leave it "
                            "off: lightcnn keeps Lightning's per-step cost low itself (BENCHMARKS.md, 'Framework overhead')")
    _check_batch_counts(trainer)
    if subcommand not in (None, "fit"):
        return
    for key in ("max_epochs", "min_epochs", "max_steps", "min_steps"):
        value = trainer.get(key)
        if not fits(value, int):
            continue
        if key.startswith("max") and value == 0:
            raise LightCNNError(f"trainer.{key}=0 trains nothing; give a positive number (-1 for no limit), "
                                f"or use `lightcnn validate` / `lightcnn test` to evaluate without training")
        if value < -1:
            raise LightCNNError(f"trainer.{key}={value}: must be a positive number, or -1 for no limit")
    for unit in ("epochs", "steps"):  # Lightning stops at the max and never says that the min was not met
        low, high = trainer.get(f"min_{unit}"), trainer.get(f"max_{unit}")
        if all(fits(v, int) for v in (low, high)) and 0 < high < low:
            raise LightCNNError(f"trainer.min_{unit}={low} is above trainer.max_{unit}={high}: Lightning would stop at "
                                f"{high} {unit}; lower min_{unit} or raise max_{unit}")
    for key in ("accumulate_grad_batches", "check_val_every_n_epoch", "log_every_n_steps"):
        value = trainer.get(key)
        if fits(value, int) and value < 1:
            raise LightCNNError(f"trainer.{key}={value}: must be a whole number >= 1")
    clip = trainer.get("gradient_clip_val")
    if fits(clip, float) and clip < 0:
        raise LightCNNError(f"trainer.gradient_clip_val={clip}: must be >= 0 (0 or null: no clipping)")
    limit = trainer.get("limit_train_batches")
    if fits(limit, float) and limit <= 0:
        raise LightCNNError(f"trainer.limit_train_batches={limit:g} trains nothing; give a fraction in (0, 1] or a number of batches >= 1")


def _check_batch_counts(trainer: dict[str, Any]) -> None:
    """Batch counts Lightning takes as an int (batches) or a float (a fraction of the loader).
    An int ``val_check_interval`` of 0 crashed the fit at its first batch (integer modulo by
    zero); a float 0.0 validated after every batch; for negative ints Lightning answers that the
    value "has to be in [0.0, 1.0] or an int"."""
    interval = trainer.get("val_check_interval")
    if fits(interval, float) and (interval <= 0 or (isinstance(interval, float) and interval > 1)):
        raise LightCNNError(f"trainer.val_check_interval={interval}: give a fraction of an epoch in (0, 1] or a whole number "
                            f"of training batches >= 1 (null: once an epoch)")
    for key in ("limit_val_batches", "limit_test_batches", "limit_predict_batches", "overfit_batches"):
        value = trainer.get(key)
        if fits(value, float) and (value < 0 or (isinstance(value, float) and value > 1)):
            raise LightCNNError(f"trainer.{key}={value}: give a fraction in [0, 1] or a whole number of batches >= 0 (0: none)")
    sanity = trainer.get("num_sanity_val_steps")
    if fits(sanity, float) and sanity < -1:
        raise LightCNNError(f"trainer.num_sanity_val_steps={sanity}: give a number of batches >= 0, or -1 for all of them")


def check_precision_choice(trainer: dict[str, Any]) -> None:
    """``trainer.precision`` and a precision plugin in ``trainer.plugins`` (``NativeBF16Precision``)
    both choose the precision; Lightning refuses the pair only once the Trainer is built.

    Raises:
        LightCNNError: both are set (named), with the way to keep one.
    """
    precision = trainer.get("precision")
    if precision is None:
        return
    plugins = trainer.get("plugins") or []
    for plugin in plugins if isinstance(plugins, list) else [plugins]:
        cls = _plugin_class(plugin)
        if cls is not None and _is_precision_plugin(cls):
            raise LightCNNError(f"trainer.precision {precision} and trainer.plugins' {cls.__name__} both set the precision: "
                                f"keep one (--trainer.plugins null drops the config's plugins)")


def _plugin_class(plugin: Any) -> type | None:
    """The class of a ``trainer.plugins`` entry: parsed (``class_path``) or already built; ``None``
    for Lightning's plugin names (strings)."""
    if isinstance(plugin, str):
        return None
    path = plugin.get("class_path") if hasattr(plugin, "get") else None
    if not isinstance(path, str):
        return type(plugin)
    import importlib

    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None  # the parser has already said what is wrong with the path


def _is_precision_plugin(cls: type) -> bool:
    from lightning.pytorch.plugins.precision import Precision

    return isinstance(cls, type) and issubclass(cls, Precision)


def check_resume(state: dict, ckpt: str, trainer: dict[str, Any], way_out: str | None = None) -> None:
    """A fit resumed from a checkpoint that has already reached ``max_epochs`` / ``max_steps``
    would train nothing and leave nothing new. ``way_out`` replaces the command line's advice
    (raise the limit, or test the checkpoint) for callers that are not the command.

    Raises:
        LightCNNError: how far the checkpoint got, and what to do instead.
    """
    try:
        done = int(state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        return  # not a Lightning fit checkpoint with loop state: Lightning decides
    steps = int(state.get("global_step") or 0)
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps")
    over = key = None
    if isinstance(max_epochs, int) and max_epochs > 0 and done >= max_epochs:
        over, key = f"has finished {done} epoch{'s' * (done != 1)} of max_epochs={max_epochs}: resuming would train nothing", "max_epochs"
    elif isinstance(max_steps, int) and max_steps > 0 and steps >= max_steps:
        over, key = f"has taken {steps} steps of max_steps={max_steps}: resuming would train nothing", "max_steps"
    if over:
        advice = way_out or f"Raise --trainer.{key} to train on, or evaluate it with `lightcnn test --ckpt_path {ckpt}`"
        raise LightCNNError(f"{ckpt} {over}. {advice}")


def monitorable(task: Any) -> set[str] | None:
    """The metric names a lightcnn task logs during a fit (what a callback may monitor), or None
    for a task that is not lightcnn's own (its logging is not declared)."""
    from lightcnn.report.spec import known_metrics

    if not type(task).__module__.startswith("lightcnn."):
        return None
    return {k for k in known_metrics(type(task)) if not k.startswith("test/")} | set(EPOCH_METRICS)


def check_monitors(callbacks: list[Any], task: Any) -> None:
    """Every ``monitor`` of the user's callbacks (EarlyStopping, ModelCheckpoint...) names a
    metric the task logs, checked before the first epoch rather than after it.

    Raises:
        LightCNNError: the callback, its monitor and the names that can be monitored.
    """
    names = monitorable(task)
    if names is None:
        return
    for cb in callbacks:
        monitor = getattr(cb, "monitor", None)
        head, _, tail = str(monitor).rpartition("/")
        per_class = head in names and tail in getattr(task, "class_names", ())  # val/f1/<class>
        if isinstance(monitor, str) and monitor not in names and not per_class:
            close = difflib.get_close_matches(monitor.replace("_", "/"), sorted(names), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            shown = sorted(n for n in names if n.count("/") == 1)
            raise LightCNNError(
                f"{type(cb).__name__}(monitor={monitor!r}): {type(task).__name__} logs no such metric; {hint}"
                f"metrics that can be monitored: {', '.join(shown)} (and per class, where logged)"
            )


def check_validation_reached(trainer: Any) -> None:
    """A fresh fit whose ``max_steps`` end it before its first validation (Lightning validates
    at the end of an epoch, or every ``val_check_interval`` batches, never because ``max_steps``
    was reached mid-epoch) would end with no validation value at all: an ``EarlyStopping`` on a
    ``val/`` metric would then fail after the training, and the run would have no best
    checkpoint and no validation report. Checked when training starts (the epoch's length is
    known then). Without a step limit, ``_check_last_epochs_validated`` checks the epochs.

    Raises:
        LightCNNError: an ``EarlyStopping`` monitors a ``val/`` metric that would never be logged.
    """
    import math

    max_steps, batches = trainer.max_steps, trainer.num_training_batches
    if trainer.global_step > 0 or not isinstance(trainer.val_check_interval, (int, float)) or not sum(trainer.num_val_batches or [0]):
        return  # a resumed fit, validation by the clock, or none at all
    if max_steps is None or max_steps < 0:
        _check_last_epochs_validated(trainer)  # no step limit: the epochs decide
        return
    if not math.isfinite(batches):
        return  # an epoch of unknown length
    accumulate = max(1, trainer.accumulate_grad_batches)
    first = math.ceil(trainer.val_check_batch / accumulate)
    if trainer.check_val_every_n_epoch is not None:
        first += (trainer.check_val_every_n_epoch - 1) * math.ceil(batches / accumulate)
    if max_steps >= first:
        return
    why = (f"trainer.max_steps={max_steps} ends the fit before its first validation (after {first} training steps; "
           f"Lightning does not validate when max_steps stops an epoch)")
    fix = f"raise trainer.max_steps to {first} or more, or validate every {max_steps} batches (trainer.val_check_interval: {max_steps})"
    _never_validated(trainer, why, "the run will have no validation values, no best checkpoint and no validation report", fix)


def _never_validated(trainer: Any, why: str, consequence: str, fix: str) -> None:
    """A fit that will never validate: an ``EarlyStopping`` on a ``val/`` metric is refused (it
    would fail after the training), otherwise a warning says ``why`` and the ``consequence``."""
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.utilities import rank_zero_warn

    for cb in trainer.callbacks:
        if isinstance(cb, EarlyStopping) and str(cb.monitor).startswith("val/"):
            raise LightCNNError(f"{why}, so EarlyStopping(monitor={cb.monitor!r}) would have nothing to check; {fix}")
    rank_zero_warn(f"{why}: {consequence}; {fix}")


def _check_last_epochs_validated(trainer: Any) -> None:
    """Lightning validates after every ``check_val_every_n_epoch``-th epoch only, never because
    the last epoch was reached: with ``max_epochs`` not a multiple of it, the last epochs are
    never validated, so neither ``best.ckpt`` nor ``fit --test true`` (which tests it) can be
    from them; with ``max_epochs`` below it the fit never validates at all. Warned before
    training (``RunCheckpoint`` saves the final weights in ``last.ckpt`` either way); an
    ``EarlyStopping`` on a ``val/`` metric that is never logged is refused, as above."""
    from lightning.pytorch.utilities import rank_zero_warn

    every, epochs = trainer.check_val_every_n_epoch, trainer.max_epochs
    if not isinstance(every, int) or every <= 1 or epochs is None or epochs < 1 or epochs % every == 0:
        return
    last = epochs - epochs % every  # the last validated epoch (1-based), 0: none
    fix = f"set trainer.max_epochs to a multiple of {every} or trainer.check_val_every_n_epoch to a divisor of {epochs}"
    if last == 0:
        why = f"trainer.check_val_every_n_epoch={every} with trainer.max_epochs={epochs}: the fit never validates"
        _never_validated(trainer, why, "no validation values, no best checkpoint (last.ckpt holds the final weights)", fix)
        return
    skipped = f"epoch {epochs} is" if last + 1 == epochs else f"epochs {last + 1}-{epochs} are"
    rank_zero_warn(f"trainer.check_val_every_n_epoch={every} with trainer.max_epochs={epochs}: {skipped} never validated, "
                   f"so best.ckpt (and fit --test true) can only be from epoch {last} or before (last.ckpt holds the final "
                   f"weights); {fix}")


def check_something_trained(trainer: Any) -> None:
    """A fresh fit whose DataModule's training loader yields no batch: Lightning prints "No
    training batches" and the command ended with status 0, a run folder holding an untrained
    model. (``limit_train_batches: 0`` is refused before the fit.) Called when the fit ends.

    Raises:
        LightCNNError: nothing was trained in a fit that was not resumed from a later point.
    """
    if trainer.num_training_batches == 0 and trainer.global_step == 0 and not trainer.ckpt_path:
        dm = getattr(trainer, "datamodule", None)
        raise LightCNNError(f"{type(dm).__name__ if dm is not None else 'the DataModule'}'s train_dataloader yields no "
                            f"batches: nothing was trained; check its training split (and data.batch_size with drop_last)")

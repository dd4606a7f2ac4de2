"""What the ``lightcnn`` command prints around training: no advertisements, one line per warning,
messages on their own lines beside progress bars, a compact test summary.

Lightning logs through the ``lightning.pytorch`` / ``lightning.fabric`` loggers (a stream handler
each) and warns through ``warnings``; tqdm bars redraw their line with ``\\r``. A message written
while a bar is on screen lands glued to it unless it goes through ``tqdm.write``, which clears the
bars, writes the line and redraws them.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

# Lightning's info lines that advertise other products, and lines that are lightcnn's own business.
DROPPED_INFO = (
    "💡 Tip:",  # litlogger / litmodels advertisements
    "returned in `LightningModule.configure_callbacks` will override",  # the task's own ModelCheckpoint: intended
    "`Trainer.fit` stopped: `max_epochs=",  # the planned end, not news (other reasons to stop are kept)
    "`weights_only` was not set, defaulting to",  # only Lightning's own temporary files (lr-find): lightcnn always sets it
    "Skipping setting a default `ModelSummary`",
    "not found. Creating it.",  # MLflow's first run of an experiment  # lightcnn's summary (with FLOPs) replaces it on purpose
)
# Warnings that are wrong or not actionable for a lightcnn user (why, beside each).
IGNORED_WARNINGS = (
    ".*does not have many workers.*",  # in-memory batches need no workers
    ".*litlogger.*",  # an advertisement
    ".*args parameter is intended to run from within Python.*",  # the CLI passes its own argv on purpose
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",  # inside Lightning, not ours to fix
    ".*Checkpoint directory .* exists and is not empty.*",  # resuming a run folder writes into it
    ".*infer the batch indices fetched from your dataloader.*",  # predict writes its own indices
    ".*is smaller than the logging interval.*",  # epoch values, what the curves show, are logged whatever the interval
)


def write_line(message: str, file: TextIO | None = None) -> None:
    """Print ``message`` on its own line(s) (default: stdout), clearing and redrawing any tqdm
    bar on screen."""
    file = file or sys.stdout
    bars = _open_bars()
    if bars:
        from tqdm import tqdm

        tqdm.write(message, file=file)
    else:
        print(message, file=file, flush=True)


def _open_bars() -> bool:
    tqdm_module = sys.modules.get("tqdm")
    if tqdm_module is None:
        return False
    return bool(getattr(tqdm_module.tqdm, "_instances", None))


class _LineHandler(logging.Handler):
    """A stream handler that keeps messages off progress-bar lines: information on stdout (with
    the progress it belongs to), warnings and errors on stderr (so that stderr holds only them)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_line(self.format(record), sys.stdout if record.levelno < logging.WARNING else sys.stderr)
        except Exception:  # a logging handler must not raise
            self.handleError(record)


def _keep(record: logging.LogRecord) -> bool:
    """Not one of ``DROPPED_INFO``, judged by the message's first line: a report of many lines (a
    profiler's, whose rows name every hook) is never dropped for a word in its body."""
    first = record.getMessage().split("\n", 1)[0]
    return not any(part in first for part in DROPPED_INFO)


def _origin(filename: str) -> str:
    """The package a warning comes from (``lightning``, ``torch``, ``lightcnn``), from its file."""
    parts = Path(filename).parts
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts and parts.index(anchor) + 1 < len(parts):
            return parts[parts.index(anchor) + 1].removesuffix(".py")
    return "lightcnn" if "lightcnn" in parts else Path(filename).stem


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None,
                  line: str | None = None) -> None:
    text = " ".join(str(message).split())  # one line: no source echo, no embedded newlines
    write_line(f"{_origin(filename)}: warning: {text}", file or sys.stderr)


def _recording_warnings() -> bool:
    """Whether warnings are being recorded (``catch_warnings(record=True)``, as pytest does):
    then they stay with the recorder rather than going to the terminal."""
    impl = getattr(warnings, "_showwarnmsg_impl", None)
    return getattr(impl, "__self__", None) is not None and isinstance(impl.__self__, list)


# Where rank_zero_info/warn create their records (Lightning's notices): ``_keep`` filters them.
RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


def _ignore_listed_warnings() -> None:
    for pattern in IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


def quiet_terminal() -> None:
    """Set up the ``lightcnn`` command's terminal (call once, after Lightning is imported)."""
    _ignore_listed_warnings()
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")  # Lightning's use of jsonargparse, not ours
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # MLflow logs its store's set-up at INFO
    if not _recording_warnings():
        warnings.showwarning = _show_warning
    for name in ("lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:  # Lightning's own; a user's handlers stay
                logger.removeHandler(handler)
                handler = _LineHandler()
                handler.addFilter(_keep)  # also what Lightning's other modules (loggers) log
                logger.addHandler(handler)
    for name in RANK_ZERO_LOGGERS:
        rank_zero = logging.getLogger(name)
        if _keep not in rank_zero.filters:
            rank_zero.addFilter(_keep)


@contextmanager
def lightning_notices_dropped() -> Iterator[None]:
    """For the duration, Lightning's advertisements, its notices about what lightcnn does on
    purpose and the warnings in ``IGNORED_WARNINGS`` are left out, as the command leaves them out;
    afterwards the process's warning filters and Lightning's loggers are as they were. For
    ``Experiment``'s calls in a user's own process (a notebook, a script), where ``quiet_terminal``,
    which changes them for good, is the command's business only."""
    added = [logger for logger in map(logging.getLogger, RANK_ZERO_LOGGERS) if _keep not in logger.filters]
    for logger in added:
        logger.addFilter(_keep)
    try:
        with warnings.catch_warnings():
            _ignore_listed_warnings()
            yield
    finally:
        for logger in added:
            logger.removeFilter(_keep)


def print_summary(metrics: dict[str, Any], stage: str, run: Path | None, ckpt: str | None, named: tuple[str, ...] = ()) -> None:
    """The headline ``{stage}/x`` values and those ``named`` (the task's ``report_spec`` scores and
    metrics), one per line; per-class and other values only counted, with where the full tables
    are (Lightning's table of every value is ``--verbose true``)."""
    values = {k: float(v) for k, v in metrics.items() if k.startswith(f"{stage}/")}
    headline = {k: v for k, v in values.items() if k.count("/") == 1 or k in named}
    rest = len(values) - len(headline)
    source = f" of {ckpt}" if ckpt else ""
    lines = [f"{stage} results{source}:"]
    width = max(map(len, headline), default=0)
    lines += [f"  {k:<{width}}  {v:.4f}" for k, v in sorted(headline.items())]
    if rest:
        files = sorted(p.name for p in run.glob(f"{stage}_*")) if run else []
        where = f" in {run}/: {', '.join([*files, 'history.json', 'report.md'])}" if run else ""
        lines.append(f"  (+{rest} per-class and other values{where})")
    write_line("\n".join(lines), sys.stdout)

"""``ReportSpec``: what a task contributes to its run report and to ``compare``.

Each task class carries one (``Task.report_spec``), so the report code names no task and never
guesses the kind of run from metric keys: it looks the task up by the name recorded in the run
folder and asks its spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# (document, run folder, history) -> None: appends the task's own sections.
Section = Callable[[Any, Path, Any], None]


@dataclass(frozen=True)
class ReportSpec:
    """What to show for one kind of run.

    Args:
        curves: panels of the curves figure, ``(title, (key, ...))``; training keys dashed.
        overfit: ``(key, "min" | "max")`` the divergence verdict watches on validation, beside
            ``train/loss_epoch``; None to skip.
        gap: ``(train key, val key)`` whose last-epoch difference is the train-val gap; or None.
        epoch_table: per-epoch columns of the report's table.
        scores: the figures of the summary table and of ``compare`` (``val/*`` keys are the
            best checkpoint's when they are the monitored metric).
        sections: functions adding the task's own sections (per-class tables, retrieval, ...).
        metrics: further keys the task logs every validation/test epoch; with the keys above
            they are what a sweep may optimise (``lightcnn.sweep.check.known_metrics``).
    """

    curves: tuple[tuple[str, tuple[str, ...]], ...] = (("loss", ("train/loss_epoch", "val/loss")),)
    overfit: tuple[str, str] | None = ("val/loss", "min")
    gap: tuple[str, str] | None = None
    epoch_table: tuple[str, ...] = ("train/loss_epoch", "val/loss", "time/epoch_s")
    scores: tuple[str, ...] = ("val/loss", "test/loss")
    sections: tuple[Section, ...] = field(default=())
    metrics: tuple[str, ...] = ()


GENERIC = ReportSpec()


def known_metrics(task: type) -> set[str]:
    """The keys a task declares it logs: its monitor and its report spec's keys, each val/test
    name under both stages."""
    spec = task.report_spec
    keys = {task.monitor, *spec.scores, *spec.epoch_table, *spec.metrics, *(k for _, ks in spec.curves for k in ks)}
    keys |= {k for pair in (spec.gap, spec.overfit) if pair for k in pair if "/" in k}
    names = {k.split("/", 1)[1] for k in keys if k.startswith(("val/", "test/"))}
    return {k for k in keys if k.startswith("train/")} | {f"{s}/{n}" for s in ("val", "test") for n in names}

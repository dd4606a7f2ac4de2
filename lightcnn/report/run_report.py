"""``report.md`` and ``report.html`` for one run folder, built only from the files in it, so
``lightcnn report RUN_DIR`` can rebuild them at any time.

Reads ``history.json`` (lightcnn's own record; ``metrics.csv`` for older runs), ``config.yaml``,
``run_info.json`` (the task, parameters, FLOPs, the monitored metric) and whatever files the
task's report sections use. What to show comes from the task's ``ReportSpec``, looked up by the
task name recorded in ``run_info.json``: nothing here names a task or reads metric keys to guess one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write
from lightcnn.report.document import Document
from lightcnn.report.figures import curves_png
from lightcnn.report.history import History, read_run_history
from lightcnn.report.overfit import Verdict, overfitting_verdict
from lightcnn.report.spec import GENERIC, ReportSpec


def load_run(run_dir: str | Path) -> tuple[Path, History, dict[str, Any]]:
    """``(run_dir, history, info)``; ``info`` is ``run_info.json`` (empty when missing).

    Raises:
        LightCNNError: not a folder, or no readable history in it.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise LightCNNError(f"{run} is not a run folder (expected e.g. runs/mnist_classify/version_0)")
    history = read_run_history(run)
    info: dict[str, Any] = {}
    if (run / "run_info.json").is_file():
        try:
            info = json.loads((run / "run_info.json").read_text())
        except ValueError as err:
            raise LightCNNError(f"{run / 'run_info.json'} is not valid JSON: {err}") from err
    if "task" not in info:  # a run from before run_info.json: the task its resolved config names
        info["task"] = str(_config_value(run, "model", "class_path") or "").rpartition(".")[2] or None
    task = _task(info)
    if "monitor" not in info and task is not None:
        info |= {"monitor": task.monitor, "monitor_mode": task.monitor_mode}
    return run, history, info


def _config_value(run: Path, *keys: str) -> Any:
    import yaml

    try:
        value: Any = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else None
    except yaml.YAMLError:
        return None
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _task(info: dict[str, Any]) -> Any:
    """The registered task class the run names, or None."""
    from lightcnn.registry import TASKS

    name = info.get("task")  # the class name: a plugin's task may be registered under another
    return TASKS.find(name) if isinstance(name, str) else None


def spec_of(info: dict[str, Any]) -> ReportSpec:
    """The report spec of the run's task (registered tasks and plugins), else the generic one."""
    task = _task(info)
    return getattr(task, "report_spec", GENERIC) if task is not None else GENERIC

def best_epoch(history: History, info: dict[str, Any]) -> tuple[int | None, float | None]:
    """The epoch with the best monitored value, and that value."""
    epochs, values = history.get(info.get("monitor", ""))
    if not epochs:
        return None, None
    sign = -1 if info.get("monitor_mode") == "max" else 1
    i = min(range(len(values)), key=lambda j: (sign * values[j], j))
    return epochs[i], values[i]


def verdict_of(history: History, info: dict[str, Any], patience: int = 3, gap_threshold: float = 0.05) -> Verdict | None:
    """The overfitting verdict on the criterion the task's spec names (validation loss, or a
    score such as MAP@R); None without training and validation values."""
    spec = spec_of(info)
    if spec.overfit is None:
        return None
    criterion, mode = spec.overfit
    if criterion not in history.series or "train/loss_epoch" not in history.series:
        return None
    epochs, (train, val) = history.aligned("train/loss_epoch", criterion)
    _, (train_acc, val_acc) = history.aligned(*spec.gap) if spec.gap and spec.gap[0] in history.series else ([], ([], []))
    return overfitting_verdict(epochs, train, val, mode, train_acc or None, val_acc or None, patience, gap_threshold)


VAL_IS_TEST = ("**Validated on the test split** (`data.val_on_test`, the notebooks' protocol): every `val/` figure is "
               "a test figure, and the best checkpoint was picked on test images, so its test figures overstate what new "
               "images would get.")


def summary_rows(history: History, info: dict[str, Any]) -> list[list[object]]:
    epochs, times = history.get("time/epoch_s")
    b, value = best_epoch(history, info)
    rows: list[list[object]] = [
        ["task", info.get("task")],
        ["backbone", info.get("backbone")],
        ["data", info.get("data")],
        ["parameters", info.get("params") or _int(history.last("model/params"))],
        ["FLOPs per image (forward)", info.get("flops")],
        ["epochs trained", len(history.epochs)],
        ["training time (s)", history.last("time/fit_s")],
        ["mean epoch time (s)", sum(times) / len(times) if times else None],
        [f"best epoch (by {info.get('monitor')})", None if b is None else f"{b} ({value:.4f})"],
    ]
    rows += [[k, history.test[k]] for k in spec_of(info).scores if k in history.test]
    return rows


def build_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``curves.png``, ``report.md`` and ``report.html`` into the run folder (atomically);
    return the two report paths."""
    run, history, info = load_run(run_dir)
    doc = Document(f"Run report: {run.parent.name}/{run.name}")
    doc.heading("Summary")
    if info.get("val_is_test"):
        doc.para(VAL_IS_TEST)
    doc.table(["", "value"], summary_rows(history, info))
    verdict = verdict_of(history, info)
    if history.epochs:
        _training_section(doc, run, history, info, verdict)
    for section in spec_of(info).sections:
        section(doc, run, history)
    if (run / "samples.png").is_file():
        doc.heading("Data sample")
        doc.image(run / "samples.png", "training images with their class names")
    if (run / "augment_preview.png").is_file():
        doc.heading("Augmentation preview")
        doc.para("First column: the evaluation view; the others: augmented training views, as the model saw them.")
        doc.image(run / "augment_preview.png", "augmentation preview")
    if (run / "config.yaml").is_file():
        doc.heading("Resolved config")
        doc.code((run / "config.yaml").read_text())
    return doc.write(run, "report")


def _training_section(doc: Document, run: Path, history: History, info: dict[str, Any], verdict: Verdict | None) -> None:
    spec = spec_of(info)
    b, _ = best_epoch(history, info)
    panels = [(title, [k for k in keys if k in history.series]) for title, keys in spec.curves]
    panels = [(title, keys) for title, keys in panels if keys]
    with atomic_write(run / "curves.png", "wb") as f:
        f.write(curves_png(history, panels, b, verdict))
    doc.heading("Training curves")
    doc.image(run / "curves.png", "train vs validation curves")
    doc.heading("Overfitting")
    doc.para(verdict.message if verdict else "not judged: the run has no per-epoch training and validation values")
    doc.heading("Per epoch")
    keys = [k for k in spec.epoch_table if k in history.series]
    rows = [[e, *[history.series[k].get(e) for k in keys]] for e in history.epochs]
    doc.table(["epoch", *keys], rows)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)

"""``report.md`` and ``report.html`` for one run folder, built only from the files in it, so
``lightcnn report RUN_DIR`` can rebuild them at any time.

Reads ``metrics.csv`` (required), ``config.yaml``, ``run_info.json`` (parameters, FLOPs, the
monitored metric), ``{val,test}_per_class.json`` with their confusion and misclassified PNGs,
``augment_preview.png`` and ``umap/*.png``, whichever exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write
from lightcnn.report.document import Document
from lightcnn.report.figures import curves_png
from lightcnn.report.history import History, read_history
from lightcnn.report.overfit import Verdict, overfitting_verdict

RETRIEVAL = ("map_at_r", "r_precision", "p_at_1", "nmi", "ami")


def load_run(run_dir: str | Path) -> tuple[Path, History, dict[str, Any]]:
    """``(run_dir, history, info)``; ``info`` is ``run_info.json`` completed with defaults.

    Raises:
        LightCNNError: not a folder, or no readable ``metrics.csv`` in it.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise LightCNNError(f"{run} is not a run folder (expected e.g. runs/mnist_classify/version_0)")
    history = read_history(run / "metrics.csv")
    info: dict[str, Any] = {}
    if (run / "run_info.json").is_file():
        info = json.loads((run / "run_info.json").read_text())
    if "monitor" not in info:  # a run from before run_info.json existed: infer
        for key, mode in (("val/acc", "max"), ("val/map_at_r", "max"), ("val/loss", "min")):
            if key in history.series:
                info |= {"monitor": key, "monitor_mode": mode}
                break
    info.setdefault("task", "ClassificationTask" if "val/acc" in history.series or "test/acc" in history.test else "EmbeddingTask")
    return run, history, info


def best_epoch(history: History, info: dict[str, Any]) -> tuple[int | None, float | None]:
    """The epoch with the best monitored value, and that value."""
    epochs, values = history.get(info.get("monitor", ""))
    if not epochs:
        return None, None
    sign = -1 if info.get("monitor_mode") == "max" else 1
    i = min(range(len(values)), key=lambda j: (sign * values[j], j))
    return epochs[i], values[i]


def verdict_of(history: History, info: dict[str, Any], patience: int = 3, gap_threshold: float = 0.05) -> Verdict | None:
    """The overfitting verdict, judged on validation loss (or the monitored score when there is
    no validation loss, as for embeddings); None without training and validation values."""
    criterion, mode = ("val/loss", "min") if "val/loss" in history.series else (info.get("monitor"), info.get("monitor_mode", "max"))
    if criterion not in history.series or "train/loss_epoch" not in history.series:
        return None
    epochs, (train, val) = history.aligned("train/loss_epoch", criterion)
    _, (train_acc, val_acc) = history.aligned("train/acc", "val/acc") if "train/acc" in history.series else ([], ([], []))
    return overfitting_verdict(epochs, train, val, mode, train_acc or None, val_acc or None, patience, gap_threshold)


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
    rows += [[k, v] for k, v in sorted(history.test.items()) if k in ("test/acc", "test/loss", "test/f1", "test/map_at_r")]
    return rows


def build_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``curves.png``, ``report.md`` and ``report.html`` into the run folder (atomically);
    return the two report paths."""
    run, history, info = load_run(run_dir)
    doc = Document(f"Run report: {run.parent.name}/{run.name}")
    doc.heading("Summary")
    doc.table(["", "value"], summary_rows(history, info))
    verdict = verdict_of(history, info)
    if history.epochs:
        _training_section(doc, run, history, info, verdict)
    for stage in ("val", "test"):
        _classification_section(doc, run, stage)
    _embedding_section(doc, run, history)
    if (run / "augment_preview.png").is_file():
        doc.heading("Augmentation preview")
        doc.para("First column: the evaluation view; the others: augmented training views, as the model saw them.")
        doc.image(run / "augment_preview.png", "augmentation preview")
    if (run / "config.yaml").is_file():
        doc.heading("Resolved config")
        doc.code((run / "config.yaml").read_text())
    return doc.write(run, "report")


def _training_section(doc: Document, run: Path, history: History, info: dict[str, Any], verdict: Verdict | None) -> None:
    b, _ = best_epoch(history, info)
    score = ["train/acc", "val/acc"] if "val/acc" in history.series else [k for k in ("val/seen/map_at_r", "val/heldout/map_at_r", "val/all/map_at_r") if k in history.series]
    panels = [("loss", [k for k in ("train/loss_epoch", "val/loss") if k in history.series])]
    if score:
        panels.append(("accuracy" if "val/acc" in history.series else "MAP@R", score))
    with atomic_write(run / "curves.png", "wb") as f:
        f.write(curves_png(history, panels, b, verdict))
    doc.heading("Training curves")
    doc.image(run / "curves.png", "train vs validation curves")
    doc.heading("Overfitting")
    doc.para(verdict.message if verdict else "not judged: the run has no per-epoch training and validation values")
    doc.heading("Per epoch")
    keys = [k for k in ("train/loss_epoch", "val/loss", "train/acc", "val/acc", "val/map_at_r", "time/epoch_s") if k in history.series]
    rows = [[e, *[history.series[k].get(e) for k in keys]] for e in history.epochs]
    doc.table(["epoch", *keys], rows)


def _classification_section(doc: Document, run: Path, stage: str) -> None:
    path = run / f"{stage}_per_class.json"
    if not path.is_file():
        return
    summary = json.loads(path.read_text())
    name = {"val": "Validation (last epoch)", "test": "Test"}[stage]
    doc.heading(f"{name}: per-class precision, recall, F1")
    doc.para(f"accuracy {summary['accuracy']:.4f}; macro precision {summary['macro']['precision']:.4f}, "
             f"recall {summary['macro']['recall']:.4f}, F1 {summary['macro']['f1']:.4f}")
    doc.table(["class", "precision", "recall", "f1", "support"],
              [[r["class"], r["precision"], r["recall"], r["f1"], r["support"]] for r in summary["classes"]])
    names = [r["class"] for r in summary["classes"]]
    pairs = most_confused(summary["confusion"], names)
    if pairs:
        doc.heading(f"{name}: most confused pairs", 3)
        doc.table(["true", "predicted as", "count", "share of true class"], pairs)
    for suffix, alt in (("confusion", "confusion matrix"), ("misclassified", "misclassified images")):
        if (run / f"{stage}_{suffix}.png").is_file():
            doc.heading(f"{name}: {alt}", 3)
            doc.image(run / f"{stage}_{suffix}.png", f"{stage} {alt}")


def most_confused(confusion: list[list[int]], names: list[str], k: int = 5) -> list[list[object]]:
    """The ``k`` largest off-diagonal cells: ``[true, predicted, count, share of true class]``."""
    cells = [(confusion[i][j], i, j) for i in range(len(names)) for j in range(len(names)) if i != j and confusion[i][j] > 0]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [[names[i], names[j], n, f"{n / max(1, sum(confusion[i])):.1%}"] for n, i, j in cells[:k]]


def _embedding_section(doc: Document, run: Path, history: History) -> None:
    sources = {"val (last epoch)": {k: history.last(k) for k in history.series if k.startswith("val/")}, "test": history.test}
    rows = []
    for stage, values in sources.items():
        prefix = "val" if stage.startswith("val") else "test"
        for model in ("", "baseline_untrained/", "baseline_pixels/"):
            for group in ("seen", "heldout", "all"):
                got = [values.get(f"{prefix}/{model}{group}/{m}") for m in RETRIEVAL]
                if any(v is not None for v in got):
                    rows.append([stage, model.rstrip("/").replace("baseline_", "baseline: ") or "model", group, *got])
    umaps = sorted((run / "umap").glob("*.png")) if (run / "umap").is_dir() else []
    if not rows and not umaps:
        return
    doc.heading("Retrieval (leave-one-out within each group)")
    if rows:
        doc.table(["split", "embedding", "classes", *RETRIEVAL], rows)
    for png in umaps:
        doc.heading(f"UMAP: {png.stem}", 3)
        doc.image(png, f"UMAP {png.stem}")


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)

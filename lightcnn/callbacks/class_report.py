"""After ``test``: the per-class table (CSV, JSON) and the confusion matrix (PNG) in the run folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from lightcnn.io import atomic_write
from lightcnn.registry import CALLBACKS
from lightcnn.run import run_dir
from lightcnn.outputs import ClassificationOutputs, Misclassified


def per_class_rows(results: dict[str, torch.Tensor], class_names: list[str]) -> list[dict[str, Any]]:
    """One row per class: precision, recall, F1 and support (true count), from computed metrics."""
    support = results["confusion"].sum(dim=1)
    return [
        {
            "class": name,
            "precision": float(results["precision_per_class"][i]),
            "recall": float(results["recall_per_class"][i]),
            "f1": float(results["f1_per_class"][i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    ]


def confusion_png(confusion: torch.Tensor, class_names: list[str], title: str) -> bytes:
    """The confusion matrix as a PNG: rows true, columns predicted, counts written when it fits."""
    from lightcnn.report.figures import pyplot, to_png

    plt = pyplot()

    n = len(class_names)
    side = min(4 + 0.45 * n, 30)
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    cm = confusion.numpy()
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ticks = range(n)
    ax.set_xticks(ticks, class_names, rotation=90 if n > 10 else 45, ha="center" if n > 10 else "right", fontsize=8)
    ax.set_yticks(ticks, class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 20:
        thresh = cm.max() / 2 if cm.max() else 1
        for i in range(n):
            for j in range(n):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7, color="white" if cm[i, j] > thresh else "black")
    fig.tight_layout()
    return to_png(fig)


def write_class_report(results: dict[str, torch.Tensor], class_names: list[str], out_dir: Path, stage: str = "test") -> list[Path]:
    """Write ``{stage}_per_class.csv``, ``{stage}_per_class.json`` and ``{stage}_confusion.png``
    atomically into ``out_dir``; return their paths."""
    rows = per_class_rows(results, class_names)
    paths = [out_dir / f"{stage}_per_class.csv", out_dir / f"{stage}_per_class.json", out_dir / f"{stage}_confusion.png"]
    with atomic_write(paths[0], newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        macro = {k: float(results[k]) for k in ("precision", "recall", "f1")}
        writer.writerow({"class": "macro avg", **macro, "support": sum(r["support"] for r in rows)})
    summary = {
        "accuracy": float(results["acc"]),
        "macro": {k: float(results[k]) for k in ("precision", "recall", "f1")},
        "classes": rows,
        "confusion": results["confusion"].tolist(),
    }
    with atomic_write(paths[1]) as f:
        json.dump(summary, f, indent=2)
    acc = float(results["acc"])
    with atomic_write(paths[2], "wb") as f:
        f.write(confusion_png(results["confusion"], class_names, f"{stage} confusion matrix (accuracy {acc:.4f})"))
    return paths


def misclassified_png(examples: list[Misclassified], class_names: list[str], title: str) -> bytes:
    """A grid of misclassified images (in [0, 1]), each titled with its true class and the
    top-2 predicted classes with their probabilities."""
    from lightcnn.report.figures import image_grid_png

    x = torch.stack([e.image.float() for e in examples])
    titles = []
    for y, probs in ((e.target, e.probs) for e in examples):
        top = probs.topk(min(2, len(probs)))
        guesses = ", ".join(f"{class_names[int(i)][:12]} {float(p):.2f}" for p, i in zip(top.values, top.indices))
        titles.append(f"true {class_names[y][:12]}\n{guesses}")
    return image_grid_png(x, titles, cols=6, suptitle=title)


@CALLBACKS.register()
class ClassReport(Callback):
    """Writes per-class reports into the run folder on rank 0: for the last validation epoch when
    a fit ends (``val_*``), and for the test split when ``test`` ends (``test_*``).

    Files: ``{stage}_per_class.csv``/``.json``, ``{stage}_confusion.png`` and
    ``{stage}_misclassified.png``, from the task's ``ClassificationOutputs`` for that stage
    (tasks that produce none are skipped).
    """

    def _write(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        outputs = getattr(pl_module, "outputs", {}).get(stage)  # declared by BaseTask; other modules have none
        if not trainer.is_global_zero or not isinstance(outputs, ClassificationOutputs):
            return
        out = run_dir(trainer)
        paths = write_class_report(outputs.metrics, outputs.class_names, out, stage)
        if outputs.misclassified:
            png = misclassified_png(outputs.misclassified, outputs.class_names,
                                    f"{stage}: misclassified examples (true class; top-2 predicted probabilities)")
            with atomic_write(out / f"{stage}_misclassified.png", "wb") as f:
                f.write(png)
        print(f"per-class report: {paths[0]}, {paths[1].name}, {paths[2].name}")

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._write(trainer, pl_module, "val")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._write(trainer, pl_module, "test")

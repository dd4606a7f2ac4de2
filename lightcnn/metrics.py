"""Metric collections per stage, all torchmetrics (so DDP ranks are reduced correctly)."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

PER_CLASS = ("precision", "recall", "f1")


def classification_metrics(num_classes: int) -> MetricCollection:
    """Accuracy, macro and per-class precision/recall/F1, and the confusion matrix.

    Keys after ``compute()``: ``acc``, ``precision``, ``recall``, ``f1`` (macro; classes absent
    from both targets and predictions are left out, as scikit-learn does), ``precision_per_class``,
    ``recall_per_class``, ``f1_per_class`` (shape ``(num_classes,)``) and ``confusion``
    (``(num_classes, num_classes)``, rows = true class, columns = predicted).
    """
    per = {"precision": MulticlassPrecision, "recall": MulticlassRecall, "f1": MulticlassF1Score}
    metrics: dict = {"acc": MulticlassAccuracy(num_classes, average="micro")}
    metrics |= {name: cls(num_classes, average="macro") for name, cls in per.items()}
    metrics |= {f"{name}_per_class": cls(num_classes, average="none") for name, cls in per.items()}
    metrics["confusion"] = MulticlassConfusionMatrix(num_classes)
    return MetricCollection(metrics)


def split_results(results: dict[str, torch.Tensor], stage: str, class_names: list[str]) -> dict[str, torch.Tensor]:
    """Flatten computed metrics to loggable scalars: ``{stage}/{metric}`` and
    ``{stage}/{metric}/{class_name}``; the confusion matrix is not a scalar and is left out."""
    out: dict[str, torch.Tensor] = {}
    for key, value in results.items():
        if key == "confusion":
            continue
        if key.endswith("_per_class"):
            base = key.removesuffix("_per_class")
            out |= {f"{stage}/{base}/{name}": value[i] for i, name in enumerate(class_names)}
        else:
            out[f"{stage}/{key}"] = value
    return out

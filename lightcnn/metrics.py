"""Metric collections per stage, all torchmetrics (so DDP ranks are reduced correctly)."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassFBetaScore,
    MulticlassPrecision,
    MulticlassRecall,
)

PER_CLASS = ("precision", "recall", "f1")


def classification_metrics(num_classes: int, micro: bool = False, f_beta: float | None = None) -> MetricCollection:
    """Accuracy, macro and per-class precision/recall/F1, and the confusion matrix.

    Keys after ``compute()``: ``acc``, ``precision``, ``recall``, ``f1`` (macro; classes absent
    from both targets and predictions are left out, as scikit-learn does), ``precision_per_class``,
    ``recall_per_class``, ``f1_per_class`` (shape ``(num_classes,)``) and ``confusion``
    (``(num_classes, num_classes)``, rows = true class, columns = predicted).

    ``micro``: also ``micro_precision``, ``micro_recall`` and ``micro_f1`` (pooled over classes,
    as the notebooks' summed one-vs-rest confusion matrices; for one label per image all three
    equal the accuracy). ``f_beta``: also ``fbeta`` (macro), ``fbeta_per_class`` and, with
    ``micro``, ``micro_fbeta``.
    """
    per = {"precision": MulticlassPrecision, "recall": MulticlassRecall, "f1": MulticlassF1Score}
    metrics: dict = {"acc": MulticlassAccuracy(num_classes, average="micro")}
    metrics |= {name: cls(num_classes, average="macro") for name, cls in per.items()}
    metrics |= {f"{name}_per_class": cls(num_classes, average="none") for name, cls in per.items()}
    if micro:
        metrics |= {f"micro_{name}": cls(num_classes, average="micro") for name, cls in per.items()}
    if f_beta is not None:
        metrics["fbeta"] = MulticlassFBetaScore(f_beta, num_classes, average="macro")
        metrics["fbeta_per_class"] = MulticlassFBetaScore(f_beta, num_classes, average="none")
        if micro:
            metrics["micro_fbeta"] = MulticlassFBetaScore(f_beta, num_classes, average="micro")
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


RETRIEVAL = {
    "precision_at_1": "p_at_1",
    "r_precision": "r_precision",
    "mean_average_precision_at_r": "map_at_r",
    "NMI": "nmi",
    "AMI": "ami",
}


def _kmeans(x: torch.Tensor, num_clusters: int) -> torch.Tensor:
    # PML's default k-means needs faiss; scikit-learn's is enough for NMI/AMI at these sizes.
    from sklearn.cluster import KMeans

    labels = KMeans(num_clusters, n_init=1, random_state=0).fit_predict(x.detach().cpu().numpy())
    return torch.from_numpy(labels)


def retrieval_metrics(emb: torch.Tensor, labels: torch.Tensor, clustering: bool = True) -> dict[str, float]:
    """Leave-one-out retrieval within one set: every embedding queries all the others.

    Uses pytorch-metric-learning's ``AccuracyCalculator`` with cosine similarity and
    ``k="max_bin_count"`` (what MAP@R and R-precision need). Returns ``p_at_1``, ``r_precision``,
    ``map_at_r`` and, with ``clustering`` (k-means with as many clusters as classes), ``nmi`` and
    ``ami``. Sets with fewer than 2 images, or a class with a single image only, return NaN for
    what cannot be computed.
    """
    from pytorch_metric_learning.distances import CosineSimilarity
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    include = [k for k in RETRIEVAL if clustering or k not in ("NMI", "AMI")]
    if len(labels) < 2:
        return {RETRIEVAL[k]: float("nan") for k in include}
    if int(torch.unique(labels).numel()) < 2:
        include = [k for k in include if k not in ("NMI", "AMI")]
    calc = AccuracyCalculator(
        include=tuple(include), k="max_bin_count", device=emb.device,
        knn_func=CustomKNN(CosineSimilarity(), batch_size=2048), kmeans_func=_kmeans,
    )
    out = calc.get_accuracy(emb.float(), labels)
    return {RETRIEVAL[k]: float(v) for k, v in out.items()}


def retrieval_by_group(
    emb: torch.Tensor, labels: torch.Tensor, heldout: list[int], clustering: bool = True
) -> dict[str, dict[str, float]]:
    """``retrieval_metrics`` for the ``seen`` classes, the ``heldout`` classes and ``all``, each
    leave-one-out within its own images (queries and references from the same split)."""
    is_held = torch.isin(labels, torch.tensor(heldout, dtype=labels.dtype, device=labels.device))
    groups = {"all": torch.ones_like(is_held)}
    if heldout:
        groups = {"seen": ~is_held, "heldout": is_held, **groups}
    return {g: retrieval_metrics(emb[m], labels[m], clustering) for g, m in groups.items() if m.any()}

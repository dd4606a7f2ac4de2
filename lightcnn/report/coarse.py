"""CIFAR-100 fine to coarse: how a fine-label model fares at the superclass level, next to a
model trained on the 20 superclasses (the lab's three bar charts).

For each fine class ``c`` with superclass ``s = fine_to_coarse[c]``:

- ``fine_precision``: of the images the fine model labels ``c``, the share that are ``c``;
- ``mapped_precision``: of the images the fine model labels ``c``, the share whose superclass is
  ``s`` (its prediction mapped to coarse is right), so it is never below ``fine_precision``;
- ``coarse_precision``: of the images the coarse-trained model labels ``s``, the share in ``s``
  (a superclass figure, shown at each of its five fine classes).

Recalls are given too (``fine_recall``; ``mapped_recall`` = share of the images of ``c`` whose mapped
prediction is ``s``; ``coarse_recall`` = the same share for the coarse model), since those are
per fine class for all three models.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.classification import multiclass_f1_score, multiclass_precision, multiclass_recall


def per_predicted_class_mean(pred: torch.Tensor, hit: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean of ``hit`` over the samples predicted as each class (0 for a class never predicted,
    as torchmetrics' ``zero_division=0``). torchmetrics has no precision where "correct" is judged
    at another label level, so this one is written out."""
    total = torch.bincount(pred, minlength=num_classes).float()
    hits = torch.bincount(pred, weights=hit.float(), minlength=num_classes)
    return torch.where(total > 0, hits / total.clamp_min(1), torch.zeros_like(total))


def per_true_class_mean(target: torch.Tensor, hit: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean of ``hit`` over the samples of each true class (0 for an absent class)."""
    return per_predicted_class_mean(target, hit, num_classes)


def fine_to_coarse_analysis(
    fine_true: torch.Tensor, fine_pred: torch.Tensor, fine_to_coarse: list[int], coarse_pred: torch.Tensor | None = None
) -> dict[str, torch.Tensor | float]:
    """All figures for one split from label tensors ``(N,)``; keys as in the module docstring,
    per fine class ``(num_fine,)``, plus per superclass ``mapped_precision_coarse`` and
    ``coarse_precision_coarse`` ``(num_coarse,)`` and the accuracies ``fine_acc``,
    ``mapped_acc``, ``coarse_acc``. The coarse-model entries are absent without ``coarse_pred``.

    Raises:
        ValueError: tensors of different lengths, or labels outside ``fine_to_coarse``.
    """
    if len(fine_true) != len(fine_pred) or (coarse_pred is not None and len(coarse_pred) != len(fine_true)):
        raise ValueError("fine_true, fine_pred and coarse_pred must have the same length")
    n_fine = len(fine_to_coarse)
    n_coarse = max(fine_to_coarse) + 1
    if int(fine_true.max()) >= n_fine or int(fine_pred.max()) >= n_fine:
        raise ValueError(f"fine labels must be below {n_fine}")
    mapping = torch.tensor(fine_to_coarse)
    coarse_true, mapped = mapping[fine_true], mapping[fine_pred]
    out: dict[str, torch.Tensor | float] = {
        "fine_precision": multiclass_precision(fine_pred, fine_true, n_fine, average="none"),
        "fine_recall": per_true_class_mean(fine_true, fine_pred == fine_true, n_fine),
        "mapped_precision": per_predicted_class_mean(fine_pred, mapped == coarse_true, n_fine),
        "mapped_recall": per_true_class_mean(fine_true, mapped == coarse_true, n_fine),
        "mapped_precision_coarse": multiclass_precision(mapped, coarse_true, n_coarse, average="none"),
        "fine_acc": float((fine_pred == fine_true).float().mean()),
        "mapped_acc": float((mapped == coarse_true).float().mean()),
    }
    if coarse_pred is not None:
        by_superclass = multiclass_precision(coarse_pred, coarse_true, n_coarse, average="none")
        out |= {
            "coarse_precision_coarse": by_superclass,
            "coarse_precision": by_superclass[mapping],
            "coarse_recall": per_true_class_mean(fine_true, coarse_pred == coarse_true, n_fine),
            "coarse_acc": float((coarse_pred == coarse_true).float().mean()),
        }
    return out


def superclass_report(true: torch.Tensor, pred: torch.Tensor, num_classes: int) -> dict[str, torch.Tensor]:
    """Per class ``precision``, ``recall``, ``f1`` and ``support`` (scikit-learn's
    ``classification_report``, as the notebook prints it per superclass), each ``(num_classes,)``."""
    return {
        "precision": multiclass_precision(pred, true, num_classes, average="none"),
        "recall": multiclass_recall(pred, true, num_classes, average="none"),
        "f1": multiclass_f1_score(pred, true, num_classes, average="none"),
        "support": torch.bincount(true, minlength=num_classes),
    }


def notebook_differences(r: dict[str, torch.Tensor | float], fine_to_coarse: list[int]) -> dict[str, torch.Tensor]:
    """Notebook 000's per-fine-class precision differences: ``F_CF`` = fine precision minus the
    superclass precision of the fine model's predictions mapped to superclasses; with a coarse
    model also ``F_C`` = fine minus the coarse model's superclass precision and ``CF_C`` = mapped
    minus coarse (superclass figures taken at each fine class's superclass)."""
    mapping = torch.tensor(fine_to_coarse)
    mapped = r["mapped_precision_coarse"][mapping]
    out = {"F_CF": r["fine_precision"] - mapped}
    if "coarse_precision_coarse" in r:
        coarse = r["coarse_precision_coarse"][mapping]
        out |= {"F_C": r["fine_precision"] - coarse, "CF_C": mapped - coarse}
    return out


def differences_png(diffs: dict[str, torch.Tensor], fine_names: list[str], fine_to_coarse: list[int], coarse_names: list[str]) -> bytes:
    """One horizontal bar panel per difference, fine classes grouped by superclass and sorted
    within it (the notebook's ``sort_values(['c_label', 'F_CF']).plot.barh``), bars coloured by
    superclass, each superclass named once."""
    from lightcnn.report.figures import pyplot, to_png

    plt = pyplot()
    n = len(fine_names)
    fig, axes = plt.subplots(1, len(diffs), figsize=(4.2 * len(diffs) + 2.5, 0.16 * n + 1.5), squeeze=False)
    cmap = plt.get_cmap("tab20")
    for ax, (name, values) in zip(axes[0], diffs.items()):
        order = sorted(range(n), key=lambda c: (coarse_names[fine_to_coarse[c]], float(values[c])))
        ax.barh(range(n), [float(values[c]) for c in order], color=[cmap(fine_to_coarse[c] % 20) for c in order])
        ax.set_yticks(range(n), [fine_names[c] for c in order], fontsize=5)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_title(name, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        if ax is axes[0][0]:
            seen: set[int] = set()
            for y, c in enumerate(order):
                s = fine_to_coarse[c]
                if s not in seen:
                    seen.add(s)
                    ax.annotate(coarse_names[s], (0, y), xycoords=("axes fraction", "data"), xytext=(-60, 0),
                                textcoords="offset points", fontsize=5, ha="right", va="center", color=cmap(s % 20))
    fig.suptitle("precision differences per fine class, grouped by superclass", fontsize=10)
    fig.tight_layout()
    return to_png(fig)

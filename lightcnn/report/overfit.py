"""The overfitting verdict: how far training and validation have drifted apart, and since when.

Two signs, judged separately:

- **divergence**: the validation criterion (loss, or a score such as MAP@R) reached its best at
  epoch ``b`` and, for at least ``patience`` epochs after it, stayed worse than that best while
  the training loss kept falling below its value at ``b``. Overfitting *began* at ``b + 1``.
- **gap**: training accuracy exceeds validation accuracy by more than ``gap_threshold`` at the
  last epoch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """The outcome; ``message`` is the sentence shown in reports."""

    overfitting: bool
    began_epoch: int | None  # first epoch after the validation optimum, when diverging
    best_epoch: int | None
    epochs_diverging: int
    gap: float | None  # train minus validation accuracy at the last epoch
    large_gap: bool
    message: str

    @property
    def flag(self) -> str:
        """A short label for tables: ``overfitting``, ``gap`` or ``ok``."""
        return "overfitting" if self.overfitting else "gap" if self.large_gap else "ok"


def overfitting_verdict(
    epochs: list[int],
    train_loss: list[float],
    val_criterion: list[float],
    mode: str = "min",
    train_acc: list[float] | None = None,
    val_acc: list[float] | None = None,
    patience: int = 3,
    gap_threshold: float = 0.05,
    min_delta: float = 0.0,
) -> Verdict:
    """Judge one run from aligned per-epoch series.

    Args:
        epochs: epoch numbers, ascending, one per value.
        train_loss: training loss per epoch.
        val_criterion: validation loss (``mode="min"``) or score (``mode="max"``) per epoch.
        train_acc, val_acc: accuracies per epoch for the gap (optional).
        patience: epochs of divergence needed to call it overfitting.
        gap_threshold: train minus validation accuracy above which the gap is "large".
        min_delta: how much worse than its best the criterion must end to count as worse.

    Raises:
        ValueError: series of different lengths, an unknown mode, or patience < 1.
    """
    if not len(epochs) == len(train_loss) == len(val_criterion):
        raise ValueError(f"series lengths differ: {len(epochs)} epochs, {len(train_loss)} train, {len(val_criterion)} val")
    if mode not in ("min", "max") or patience < 1:
        raise ValueError(f"need mode 'min' or 'max' and patience >= 1, got {mode!r}, {patience}")
    sign = 1.0 if mode == "min" else -1.0
    gap = None
    if train_acc and val_acc and len(train_acc) == len(val_acc) and train_acc:
        gap = train_acc[-1] - val_acc[-1]
    large_gap = gap is not None and gap > gap_threshold
    if not epochs:
        return Verdict(False, None, None, 0, gap, large_gap, "no epochs with both training and validation values")
    scores = [sign * v for v in val_criterion]
    b = min(range(len(scores)), key=lambda i: (scores[i], i))  # first best epoch
    after = range(b + 1, len(epochs))
    diverging = (
        len(after) >= patience
        and all(scores[i] > scores[b] + min_delta for i in after)
        and all(train_loss[i] < train_loss[b] for i in after)
    )
    word = "loss" if mode == "min" else "score"
    parts = []
    if diverging:
        parts.append(
            f"overfitting: validation {word} was best at epoch {epochs[b]} ({val_criterion[b]:.4g}) and has been worse for "
            f"the {len(after)} epochs since (now {val_criterion[-1]:.4g}) while training loss fell from "
            f"{train_loss[b]:.4g} to {train_loss[-1]:.4g}; it began at epoch {epochs[b + 1]}"
        )
    else:
        parts.append(f"no divergence: validation {word} best at epoch {epochs[b]} of {epochs[0]}-{epochs[-1]}")
    if gap is not None:
        parts.append(f"train-val accuracy gap {gap:+.2%}" + (f" (above {gap_threshold:.0%})" if large_gap else ""))
    return Verdict(
        diverging, epochs[b + 1] if diverging else None, epochs[b], len(after) if diverging else 0, gap, large_gap, "; ".join(parts)
    )

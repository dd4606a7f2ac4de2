"""What tasks produce for callbacks and reports, declared and typed.

After each validation or test epoch a task stores one of these in ``task.outputs[stage]``
(``stage`` is ``"val"`` or ``"test"``); callbacks take the kinds they understand
(``isinstance``) and ignore the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Misclassified:
    """One wrongly classified evaluation image: ``image`` ``(C, H, W)`` in [0, 1] (before
    normalisation), its ``target`` label and the predicted ``probs`` ``(num_classes,)``."""

    image: torch.Tensor
    target: int
    probs: torch.Tensor


@dataclass
class EvalOutputs:
    """Common to every evaluation: which stage and the class names of its labels."""

    stage: str
    class_names: list[str]


@dataclass
class ClassificationOutputs(EvalOutputs):
    """Computed metrics (``lightcnn.metrics.classification_metrics`` keys: ``acc``,
    ``precision``, ``*_per_class``, ``confusion`` ...) and some misclassified examples."""

    metrics: dict[str, torch.Tensor] = field(default_factory=dict)
    misclassified: list[Misclassified] = field(default_factory=list)


@dataclass
class EmbeddingOutputs(EvalOutputs):
    """All ranks' evaluation embeddings ``(N, D)`` with their labels ``(N,)``, the held-out
    labels, and the retrieval metrics per model (``""`` for the trained net, baselines by name)
    and group (``seen``/``heldout``/``all``)."""

    embeddings: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    labels: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))
    heldout_class_ids: list[int] = field(default_factory=list)
    retrieval: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

"""``lightcnn predict``: one CSV row per input with the predicted class, its probability and the top k."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


import torch.distributed as dist
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write
from lightcnn.registry import CALLBACKS
from lightcnn.run import run_dir


@CALLBACKS.register()
class PredictionCSV(BasePredictionWriter):
    """Lightning's prediction writer for ``predict_step``'s ``{"probs", "target", "index",
    "input"}``: when prediction ends, writes ``predictions.csv`` into the run folder (or ``path``)
    on rank 0, with every rank's rows.

    Columns: ``input`` (the image file, or the index in the predicted split), ``target`` (the true
    class when known), ``predicted``, ``probability``, then ``top{k}``/``top{k}_prob`` for each of
    the ``top_k`` most probable classes.

    Args:
        top_k: how many ranked classes to list (at least 1; capped at the number of classes).
        path: where to write (default: ``predictions.csv`` in the run folder).
    """

    def __init__(self, top_k: int = 3, path: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        if top_k < 1:
            raise LightCNNError(f"PredictionCSV.top_k must be >= 1, got {top_k}")
        self.top_k, self.path = top_k, path

    def write_on_epoch_end(self, trainer: Trainer, pl_module: LightningModule, predictions: Any, batch_indices: Any) -> None:
        batches = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        rows = [
            (i, t, n, p)
            for out in batches or [] if isinstance(out, dict) and "probs" in out
            for i, t, n, p in zip(out["index"].tolist(), out["target"].tolist(), out.get("input") or out["index"].tolist(),
                                  out["probs"].detach().float().cpu())
        ]
        if dist.is_available() and dist.is_initialized() and trainer.world_size > 1:
            parts: list[Any] = [None] * trainer.world_size
            dist.all_gather_object(parts, rows)
            rows = [r for part in parts for r in part]
        if not trainer.is_global_zero or not rows:
            return
        rows = sorted({r[0]: r for r in rows}.values(), key=lambda r: r[0])  # padded shards repeat indices
        names = list(pl_module.class_names)
        path = Path(self.path) if self.path else run_dir(trainer) / "predictions.csv"
        k = min(self.top_k, len(names))
        with atomic_write(path, newline="") as f:
            w = csv.writer(f)
            w.writerow(["input", "target", "predicted", "probability", *[c for i in range(1, k + 1) for c in (f"top{i}", f"top{i}_prob")]])
            for _, target, source, probs in rows:
                top = probs.topk(k)
                ranked = [c for p, i in zip(top.values.tolist(), top.indices.tolist()) for c in (names[i], f"{p:.4f}")]
                w.writerow([source, names[target] if target >= 0 else "", ranked[0], ranked[1], *ranked])
        print(f"predictions: {path} ({len(rows)} rows)")




"""Image classification: backbone + linear head, cross-entropy, per-class metrics."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torchmetrics.aggregation import MeanMetric

from lightcnn.callbacks.class_report import ClassReport
from lightcnn.callbacks.prediction_csv import PredictionCSV
from lightcnn.errors import LightCNNError
from lightcnn.lightning_overrides import trainer_of
from lightcnn.metrics import classification_metrics, split_results
from lightcnn.registry import TASKS
from lightcnn.report.sections import classification_sections
from lightcnn.report.spec import ReportSpec
from lightcnn.tasks.batch import task_batch
from lightcnn.tasks.base import BaseTask
from lightcnn.tasks.step_sums import StepSum
from lightcnn.outputs import ClassificationOutputs, Misclassified


@TASKS.register()
class ClassificationTask(BaseTask):
    """Classify images into the DataModule's classes.

    Args:
        label_smoothing: cross-entropy label smoothing in [0, 1).
        tta_flip: in validation, test and predict, average the logits of each image and its
            mirror image (test-time augmentation; for data where a flip keeps the class).
        tta_translate: in validation, test and predict, also classify each image shifted this many
            pixels up-left and down-right (reflect padding); weights 1/2, 1/4, 1/4 (airbench94's
            multi-crop; each view also mirrored with ``tta_flip``). 0 = off.
        micro: also log micro-averaged precision, recall and F1 (``{stage}/micro_*``: the
            notebooks' pooled counts).
        head_bias: give the linear head a bias (airbench's head has none).
        f_beta: also log the F-beta score with this beta (``{stage}/fbeta``, macro, and per
            class; ``micro_fbeta`` with ``micro``). ``null``: F1 only.
        **kwargs: see ``BaseTask`` (backbone, optimizer, schedule, linked data facts).

    Logs ``train/loss_step``, ``train/loss_epoch``, ``train/acc``;
    ``{val,test}/{loss,acc,precision,recall,f1}`` and per class ``{stage}/{metric}/{class_name}``.
    ``ClassReport`` writes the per-class table, confusion matrix and misclassified images into the
    run folder (the last validation epoch's when a fit ends, the test split's after ``test``);
    ``PredictionCSV`` writes ``predict``'s rows. The best checkpoint is the one with the highest
    ``val/acc``; ``last.ckpt`` is the latest epoch. ``outputs[stage]`` is a
    ``ClassificationOutputs`` after each validation and test epoch.
    """

    monitor, monitor_mode = "val/acc", "max"
    report_spec = ReportSpec(
        curves=(("loss", ("train/loss_epoch", "val/loss")), ("accuracy", ("train/acc", "val/acc")),
                ("macro precision / recall / F1", ("val/precision", "val/recall", "val/f1")),
                ("micro precision / recall / F1", ("val/micro_precision", "val/micro_recall", "val/micro_f1")),
                ("F-beta", ("val/fbeta", "val/micro_fbeta"))),
        overfit=("val/loss", "min"),
        gap=("train/acc", "val/acc"),
        epoch_table=("train/loss_epoch", "val/loss", "train/acc", "val/acc", "time/epoch_s"),
        scores=("train/acc", "val/acc", "test/acc", "test/loss", "test/f1"),
        sections=(classification_sections,),
        metrics=("val/precision", "val/recall", "val/f1", "test/precision", "test/recall"),
    )

    def __init__(
        self, label_smoothing: float = 0.0, tta_flip: bool = False, tta_translate: int = 0,
        micro: bool = False, f_beta: float | None = None, head_bias: bool = True, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if f_beta is not None and not f_beta > 0:
            raise LightCNNError(f"model.f_beta must be > 0 (2 weighs recall higher, 0.5 precision), or null; got {f_beta}")
        self.tta_flip, self.tta_translate = tta_flip, tta_translate
        if not 0.0 <= label_smoothing < 1.0:
            raise LightCNNError(f"model.label_smoothing must be in [0, 1), got {label_smoothing}")
        if not 0 <= tta_translate < self.image_size // 2:
            raise LightCNNError(f"model.tta_translate must be in 0..{self.image_size // 2 - 1} pixels for "
                                f"{self.image_size}-pixel images, got {tta_translate}")
        self.head = nn.Linear(self.backbone.num_features, self.num_classes, bias=head_bias)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        # Training accuracy (micro: correct / seen over the epoch): each step adds its count of
        # correct predictions to a StepSum; the epoch's accuracy goes to torchmetrics in one
        # weighted update, which reduces it across ranks (a per-step MulticlassAccuracy update
        # cost ~70 us of Python on a CPU)
        self.train_acc = MeanMetric(nan_strategy="disable")
        self.train_correct = StepSum()
        self.val_metrics = classification_metrics(self.num_classes, micro, f_beta)
        self.test_metrics = classification_metrics(self.num_classes, micro, f_beta)
        self._misclassified: dict[str, list[Misclassified]] = {}  # this epoch's, for outputs[stage]
        self.max_misclassified = 24

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` of images ``(B, C, H, W)`` in [0, 1]."""
        return self.head(self.features(x))

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for evaluation: ``forward``, averaged over the test-time views (``tta_flip``,
        ``tta_translate``)."""
        logits = self._mirrored(x)
        p = self.tta_translate
        if p:
            h, w = x.shape[-2:]
            padded = torch.nn.functional.pad(x, (p, p, p, p), mode="reflect")
            shifted = self._mirrored(padded[..., :h, :w]) + self._mirrored(padded[..., 2 * p:2 * p + h, 2 * p:2 * p + w])
            logits = 0.5 * logits + 0.25 * shifted
        return logits

    def _mirrored(self, x: torch.Tensor) -> torch.Tensor:
        return (self(x) + self(x.flip(3))) / 2 if self.tta_flip else self(x)

    deploy_output_name = "probabilities"

    def deploy_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, num_classes)`` (with test-time augmentation, of the averaged logits)."""
        return self.evaluate(x).softmax(dim=1)

    def _shared_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = task_batch(self, batch, stage)
        logits = self(x) if stage == "train" else self.evaluate(x)
        loss = self.loss_fn(logits, y)
        if stage == "train":
            self.train_correct.add((logits.detach().argmax(dim=1) == y).sum(), len(y))  # logged at the epoch end
            self.log_train_loss(loss)
        else:
            getattr(self, f"{stage}_metrics").update(logits, y)
            self._keep_misclassified(stage, x, y, logits)
            self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=len(y), sync_dist=True)
        return loss

    def _keep_misclassified(self, stage: str, x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> None:
        kept = self._misclassified.setdefault(stage, [])
        if len(kept) >= self.max_misclassified:
            return  # evaluation only, and only until the grid is full: no per-step sync in training
        wrong = (logits.argmax(dim=1) != y).nonzero().flatten()[: self.max_misclassified - len(kept)]
        if len(wrong):
            probs = logits[wrong].detach().float().softmax(dim=1).cpu()
            kept += [Misclassified(xi, int(yi), pi) for xi, yi, pi in zip(x[wrong].detach().cpu(), y[wrong].cpu(), probs)]

    def on_train_epoch_end(self) -> None:
        if self.train_correct.fold_into(self.train_acc):
            self.log("train/acc", self.train_acc.compute(), sync_dist=True)  # torchmetrics has reduced across ranks
            self.train_acc.reset()
        super().on_train_epoch_end()

    def on_validation_epoch_start(self) -> None:
        self._misclassified["val"] = []

    def on_test_epoch_start(self) -> None:
        self._misclassified["test"] = []

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def predict_step(self, batch: tuple, batch_idx: int) -> dict[str, Any]:
        """``probs`` ``(B, num_classes)``, ``target`` (-1 when unknown), the inputs' ``index``
        and ``input`` (file names, or positions in the split)."""
        x, y, index, inputs = self.unpack_predict_batch(batch)
        return {"probs": self.deploy_outputs(x), "target": y, "index": index, "input": inputs}

    def _epoch_end(self, stage: str) -> None:
        metrics = getattr(self, f"{stage}_metrics")
        results = {k: v.detach().cpu() for k, v in metrics.compute().items()}
        metrics.reset()
        self.outputs[stage] = ClassificationOutputs(stage, self.class_names, results, self._misclassified.get(stage, []))
        self.log_epoch_scalars(stage, "acc", split_results(results, stage, self.class_names))

    def report_callbacks(self) -> list[Callback]:
        callbacks: list[Callback] = [ClassReport()]
        trainer_callbacks = self.trainer.callbacks if trainer_of(self) is not None else []
        if not any(isinstance(c, PredictionCSV) for c in trainer_callbacks):
            callbacks.append(PredictionCSV())  # unless the config brings its own (say, with another top_k)
        return callbacks

"""What every task shares: the backbone, the data facts linked from the DataModule, the
optimizer and LR schedule, parameter count and wall time."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn

from lightcnn.callbacks.run_report import RunReport
from lightcnn.errors import LightCNNError
from lightcnn.models import build_backbone, check_backbone, count_parameters

Optimizer = Literal["sgd", "adam", "adamw"]
Scheduler = Literal["none", "onecycle", "cosine", "step"]


class BaseTask(LightningModule):
    """A backbone from the registry (or a module), trained with one optimizer and schedule.

    Args:
        backbone: a registered name (``mnist_cnn``, ``timm/resnet18``, a plugin's name) or an
            ``nn.Module`` given as ``{class_path: ..., init_args: ...}``.
        backbone_args: options for a named backbone (``{batchnorm: true, width: 2}``).
        num_classes, class_names, in_channels, image_size: linked from the DataModule by the CLI.
        optimizer: ``sgd`` (with ``momentum``), ``adam`` or ``adamw``.
        lr: learning rate (the peak rate for ``onecycle``).
        weight_decay: L2 penalty (decoupled for ``adamw``).
        momentum: SGD momentum.
        nesterov: Nesterov momentum for SGD.
        scheduler: ``none``; ``onecycle`` (per step, ``warmup_pct`` rising); ``cosine`` (per
            step, to zero at the last step); ``step`` (multiply by ``gamma`` every ``step_size`` epochs).
        channels_last: run the model in channels-last memory format (faster convs on CPU).

    Raises:
        LightCNNError: bad option values, or a backbone that breaks the backbone contract.
    """

    monitor, monitor_mode = "val/loss", "min"  # what the best checkpoint optimises; tasks override

    def __init__(
        self,
        backbone: str | nn.Module = "mnist_cnn",
        backbone_args: dict[str, Any] | None = None,
        num_classes: int = 10,
        class_names: list[str] | None = None,
        in_channels: int = 1,
        image_size: int = 28,
        optimizer: Optimizer = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        nesterov: bool = False,
        scheduler: Scheduler = "none",
        step_size: int = 10,
        gamma: float = 0.1,
        warmup_pct: float = 0.25,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        _check_positive(lr=lr, step_size=step_size, num_classes=num_classes, in_channels=in_channels, image_size=image_size)
        if not 0.0 < warmup_pct < 1.0 or weight_decay < 0 or not 0.0 <= momentum < 1.0:
            raise LightCNNError(
                f"model: need 0 < warmup_pct < 1, weight_decay >= 0, 0 <= momentum < 1; "
                f"got warmup_pct={warmup_pct}, weight_decay={weight_decay}, momentum={momentum}"
            )
        if class_names is not None and len(class_names) != num_classes:
            raise LightCNNError(f"model: {len(class_names)} class_names for num_classes={num_classes}")
        self.save_hyperparameters(ignore=["backbone"] if isinstance(backbone, nn.Module) else [])
        self.num_classes, self.in_channels, self.image_size = num_classes, in_channels, image_size
        self.class_names = list(class_names or [str(i) for i in range(num_classes)])
        if isinstance(backbone, str):
            self.backbone = build_backbone(backbone, in_channels, image_size, backbone_args)
        else:
            if backbone_args:
                raise LightCNNError(
                    f"model.backbone_args {backbone_args} only applies to a backbone given by name, but model.backbone "
                    f"is a {type(backbone).__name__} module; pass --model.backbone_args null (or remove it from the "
                    f"config) and put its options in the backbone's init_args"
                )
            self.backbone = check_backbone(backbone, in_channels, image_size)
        self._epoch_start: float | None = None
        self._fit_seconds = 0.0
        self._nonfinite: torch.Tensor | None = None  # any non-finite training loss since the last check
        self._loss_sum: torch.Tensor | None = None  # this epoch's training losses, summed on the device
        self._loss_steps = 0

    def setup(self, stage: str) -> None:
        # In setup, not on_fit_start: that runs after DDP has wrapped the model, whose gradient
        # buckets then no longer match the parameters' strides.
        if self.hparams.get("channels_last"):
            self.to(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features ``(B, num_features)`` of normalised images ``(B, C, H, W)``."""
        # Not in on_after_batch_transfer: the DataModule owns that hook, and Lightning runs only one.
        if self.hparams.get("channels_last"):
            x = x.contiguous(memory_format=torch.channels_last)
        return self.backbone(x)

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        if hp.optimizer == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay, nesterov=bool(hp.get("nesterov"))
            )
        elif hp.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.scheduler == "none":
            return opt
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        if hp.scheduler == "onecycle":
            # OneCycleLR divides by (phase length - 1): give very short runs (smoke tests, tiny
            # subsets) a schedule long enough for both phases; they stop before its end.
            steps = max(steps, math.floor(1 / hp.warmup_pct) + 1)  # warm-up must span > 1 step
            sched: Any = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hp.lr, total_steps=steps, pct_start=hp.warmup_pct)
        elif hp.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        else:
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=hp.step_size, gamma=hp.gamma)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_train_start(self) -> None:
        sched = self.lr_schedulers()
        planned = getattr(sched, "total_steps", None)
        if planned is not None and planned < self.trainer.estimated_stepping_batches:
            raise LightCNNError(
                f"the onecycle schedule in this checkpoint was planned for {planned} steps, but this run needs "
                f"{int(self.trainer.estimated_stepping_batches)}: resume with the original trainer.max_epochs, "
                f"or start a new run (or use scheduler: cosine/step/none) to train longer"
            )

    def log_train_loss(self, loss: torch.Tensor) -> None:
        """Log ``train/loss_step`` on the steps the logger writes (and the progress bar shows),
        and ``train/loss_epoch`` (the mean over the epoch, across ranks) at the epoch end.

        ``self.log(on_step=True, on_epoch=True)`` on every step costs about a millisecond of
        Python per call, 5-10 % of a small CNN's step on a CPU; summing on the device is free.
        """
        detached = loss.detach()
        self._loss_sum = detached.clone() if self._loss_sum is None else self._loss_sum.add_(detached)
        self._loss_steps += 1
        if self._trainer is None:
            return  # called outside a Trainer (a unit test): nothing to log to
        every = math.gcd(max(1, self.trainer.log_every_n_steps), 10)  # every 10th step, on the logger's steps
        if (self.global_step + 1) % every == 0:
            self.log("train/loss_step", detached, prog_bar=True, logger=True)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        bad = ~torch.isfinite(loss.detach())
        self._nonfinite = bad if self._nonfinite is None else self._nonfinite | bad
        # On CPU a check costs nothing; on an accelerator it waits for the device, so check every
        # 50 steps there (and always before a checkpoint is written, see on_save_checkpoint).
        if self.device.type == "cpu" or (batch_idx + 1) % 50 == 0:
            self._stop_if_nonfinite()

    def _stop_if_nonfinite(self, check_parameters: bool = False) -> None:
        """Raise if a training loss since the last check (or, when asked, a parameter) is NaN or infinite."""
        bad_loss = self._nonfinite is not None and bool(self._nonfinite)
        self._nonfinite = None
        bad_param = check_parameters and not bad_loss and not all(bool(torch.isfinite(p).all()) for p in self.parameters())
        if not (bad_loss or bad_param):
            return
        trainer = self.trainer
        saved = [c.best_model_path for c in trainer.checkpoint_callbacks if Path(c.best_model_path or "x").stem == "last"]
        kept = saved[0] if saved and saved[0] else "none yet: no epoch had finished"
        what = "the training loss became NaN or infinite" if bad_loss else "a model parameter became NaN or infinite"
        raise LightCNNError(
            f"{what} at epoch {trainer.current_epoch}, step {trainer.global_step}: training stopped. The last good "
            f"checkpoint is kept ({kept}). Lower model.lr, add warm-up (scheduler: onecycle) or gradient clipping "
            f"(trainer.gradient_clip_val), and check the data for extreme values."
        )

    def _epoch_end(self, stage: str) -> None:
        """Compute and log the metrics of a finished ``val``/``test`` epoch (tasks implement it)."""

    def on_validation_epoch_end(self) -> None:
        self._epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_end("test")

    def log_epoch_scalars(self, stage: str, main: str, scalars: dict[str, Any]) -> None:
        """Log ``{stage}/{main}`` on the progress bar and the other ``scalars`` beside it. The
        values are already equal on every rank (torchmetrics reduced them, or they came from
        gathered data); ``sync_dist`` keeps them so and tells Lightning."""
        self.log(f"{stage}/{main}", scalars.pop(f"{stage}/{main}"), prog_bar=True, sync_dist=True)
        self.log_dict(scalars, sync_dist=True)

    @staticmethod
    def unpack_predict_batch(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x, y, index)`` of a predict batch; ``index`` counts from 0 when the loader gave none."""
        x, y, *index = batch
        return x, y, index[0] if index else torch.arange(len(y), device=y.device)

    @property
    def num_parameters(self) -> int:
        return count_parameters(self)

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        if self._loss_steps:
            self.log("train/loss_epoch", self._loss_sum / self._loss_steps, sync_dist=True)
            self._loss_sum, self._loss_steps = None, 0
        if self._epoch_start is not None:
            seconds = time.perf_counter() - self._epoch_start
            self._fit_seconds += seconds
            self.log("time/epoch_s", seconds)
            self.log("time/fit_s", self._fit_seconds)
        self.log("model/params", float(self.num_parameters))

    def configure_callbacks(self) -> list[Callback]:
        """``best.ckpt`` (by ``self.monitor``) and ``last.ckpt`` (every epoch); the task's own
        reporting callbacks; and the run report, last so that it sees their files."""
        best = ModelCheckpoint(
            monitor=self.monitor, mode=self.monitor_mode, filename="best", auto_insert_metric_name=False,
            enable_version_counter=False,
        )
        # A second checkpoint callback for last.ckpt: Lightning 2.6's save_last=True only writes
        # last.ckpt when the top-k one was saved too, which would make "last" the best epoch.
        last = ModelCheckpoint(monitor=None, save_top_k=1, filename="last", enable_version_counter=False)
        return [best, last, *self.report_callbacks(), RunReport()]

    def report_callbacks(self) -> list[Callback]:
        """Callbacks writing task-specific files into the run folder (before the report is built)."""
        return []

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self._trainer is not None and self.trainer.state.fn == TrainerFn.FITTING:
            self._stop_if_nonfinite(check_parameters=True)  # never write a checkpoint of a diverged model over a good one
        checkpoint["lightcnn_fit_seconds"] = self._fit_seconds

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._fit_seconds = float(checkpoint.get("lightcnn_fit_seconds", 0.0))


def _check_positive(**values: float) -> None:
    bad = {k: v for k, v in values.items() if not v > 0}
    if bad:
        raise LightCNNError(f"model: these must be positive: {', '.join(f'{k}={v}' for k, v in bad.items())}")

"""What every task shares: the backbone, the data facts (``DataInfo``) and normalisation, the
optimizer and LR schedule, the training loss, parameter count and wall time, and the callbacks
that write a run folder."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_only
from torch import nn
from torchmetrics.aggregation import MeanMetric

from lightcnn.callbacks.run_checkpoint import RunCheckpoint, user_checkpoints
from lightcnn.callbacks.run_record import RunRecord
from lightcnn.callbacks.run_report import RunReport
from lightcnn.data.info import DataInfo
from lightcnn.errors import LightCNNError
from lightcnn.lightning_overrides import set_hparam, trainer_of
from lightcnn.models import build_backbone, count_parameters
from lightcnn.report.spec import GENERIC, ReportSpec
from lightcnn.run import run_dir
from lightcnn.tasks.compiling import Compile, compile_backbone, compile_mode
from lightcnn.tasks.data_init import adopt_datamodule, init_backbone_from_data
from lightcnn.tasks.nonfinite import NonFiniteCheck
from lightcnn.tasks.normalize import Normalize, size_problem, upgrade_normalization
from lightcnn.tasks.optim import Anneal, Optimizer, Scheduler, check_optimizer_options, optimizer_and_schedule
from lightcnn.tasks.step_costs import LeanHookAttributes, remove_per_step_costs
from lightcnn.tasks.step_sums import StepSum
from lightcnn.outputs import EvalOutputs
from lightcnn.preflight import check_something_trained, check_validation_reached

# What a config gives: a name or a class_path mapping. Python code may also pass an ``nn.Module``;
# it is left out of the annotation because jsonargparse's help would then list every torch.nn
# class as a "known subclass" (700 lines of ``--model.help``).
Backbone = str | dict[str, Any]


class BaseTask(LeanHookAttributes, NonFiniteCheck, LightningModule):
    """A backbone from the registry (or a module), trained with one optimizer and schedule.

    Args:
        backbone: a registered name (``mnist_cnn``, ``timm/resnet18``, a plugin's name), a
            ``{class_path: ..., init_args: ...}`` mapping (built by the task, which gives it the
            data's ``in_channels`` / ``image_size`` exactly as for a name); from Python also an ``nn.Module``.
        backbone_args: options for a named backbone (``{batchnorm: true, width: 2}``).
        data: the data facts (``lightcnn.data.DataInfo``, or its ``to_dict()`` form): classes,
            channels, image size, held-out classes, normalisation. The CLI links the
            DataModule's ``data_info`` here; in Python pass ``data=dm.data_info``.
        optimizer: ``sgd`` (with ``momentum``), ``adam``, ``adamw`` or ``rmsprop`` (Keras's:
            rho 0.9, epsilon 1e-7, no momentum; Keras's default optimizer, lr 0.001).
        lr: learning rate (the peak rate for ``onecycle``).
        weight_decay: L2 penalty (decoupled for ``adamw``).
        momentum: SGD momentum.
        nesterov: Nesterov momentum for SGD.
        fused: torch's fused optimizer step (``sgd``, ``adam``, ``adamw``).
        scheduler: ``none``; ``onecycle`` (per step, ``warmup_pct`` rising); ``cosine`` (per
            step, to zero at the last step); ``step`` (multiply by ``gamma`` every ``step_size`` epochs).
        anneal: ``onecycle``'s curve, ``cos`` or ``linear`` (airbench94's triangle).
        start_factor: ``onecycle``'s first lr as a fraction of ``lr`` (torch's 1/25).
        end_factor: ``onecycle``'s last lr as a fraction of ``lr``.
        channels_last: run the model in channels-last memory format (faster convs on CPU).
        betas: Adam/AdamW's ``(beta1, beta2)``.
        cycle_momentum: with ``onecycle``, also cycle the momentum (SGD) or ``beta1`` (Adam)
            between 0.85 and 0.95, as torch's ``OneCycleLR`` does by default; false keeps them.
        norm_bias_lr: learning-rate multiplier for the biases of normalisation layers
            (BatchNorm, GroupNorm, LayerNorm), whose weight decay is divided by it so that
            ``lr * weight_decay`` stays (airbench: 64).
        compile: ``torch.compile`` the backbone: ``true`` or a mode (``reduce-overhead``: CUDA graphs).

    Inputs are images in [0, 1]; the task normalises them with its own ``normalize`` module,
    whose statistics come from ``data`` or, when unknown there, from the DataModule after its
    ``setup``, and are saved in checkpoints.

    Declared for callbacks and reports: ``outputs[stage]`` (an ``EvalOutputs`` after each
    validation/test epoch), ``monitor``/``monitor_mode`` (what picks the best checkpoint) and
    ``report_spec`` (the task's report sections and compare scores).

    Raises:
        LightCNNError: no data facts, bad option values, or a backbone that breaks the contract.
    """

    monitor, monitor_mode = "val/loss", "min"  # what the best checkpoint optimises; tasks override
    fixed_classes = True  # outputs per class: the data must have the classes the task was built for
    report_spec: ReportSpec = GENERIC
    deploy_output_name = "outputs"  # the name of deploy_outputs in exported graphs

    def __init__(
        self,
        backbone: Backbone = "mnist_cnn",
        backbone_args: dict[str, Any] | None = None,
        data: DataInfo | dict[str, Any] | None = None,
        optimizer: Optimizer = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        nesterov: bool = False,
        fused: bool = False,
        scheduler: Scheduler = "none",
        step_size: int = 10,
        gamma: float = 0.1,
        warmup_pct: float = 0.25,
        anneal: Anneal = "cos",
        start_factor: float = 0.04,
        end_factor: float = 4e-6,
        channels_last: bool = False,
        betas: tuple[float, float] = (0.9, 0.999),
        cycle_momentum: bool = True,
        norm_bias_lr: float = 1.0,
        compile: Compile = False,
    ) -> None:
        super().__init__()
        if data is None:
            raise LightCNNError(
                f"{type(self).__name__} needs the data facts: pass data=<your DataModule>.data_info "
                f"(lightcnn.data.DataInfo: num_classes, in_channels, image_size, ...); the CLI links it from data"
            )
        info = DataInfo.coerce(data, f"{type(self).__name__}.data")
        check_optimizer_options(locals())
        compile_mode(compile)
        data = info.to_dict()  # plain lists and numbers in the hyperparameters: loadable with weights_only
        # A name or a class_path mapping is plain data, rebuilt on load; a module built in Python is not saved.
        self.save_hyperparameters(ignore=["backbone"] if isinstance(backbone, nn.Module) else [])
        set_hparam(self, "data", data)  # the CLI hands save_hyperparameters the DataInfo object itself
        self.data_info = info
        self.backbone = build_backbone(backbone, info.in_channels, info.image_size, backbone_args)
        self.normalize = Normalize(info.in_channels, info.mean, info.std)
        self.train_loss = MeanMetric(nan_strategy="disable")  # NaN is caught by the non-finite check
        self.train_loss_steps = StepSum()  # the steps' losses, folded into train_loss at the epoch end
        self.outputs: dict[str, EvalOutputs] = {}
        self._epoch_start: float | None = None
        self._fit_seconds = 0.0

    @property
    def num_classes(self) -> int:
        return self.data_info.num_classes

    @property
    def class_names(self) -> list[str]:
        return list(self.data_info.class_names)

    @property
    def in_channels(self) -> int:
        return self.data_info.in_channels

    @property
    def image_size(self) -> int:
        return self.data_info.image_size

    def setup(self, stage: str) -> None:
        adopt_datamodule(self, stage)
        # In setup, not on_fit_start: that runs after DDP has wrapped the model, whose gradient
        # buckets then no longer match the parameters' strides.
        self.apply_memory_format()
        compile_backbone(self)
        remove_per_step_costs()

    def apply_memory_format(self) -> None:
        """Weights in channels-last layout when ``channels_last`` is set, as ``features`` feeds the
        images: with the layouts mismatched, oneDNN reorders the weights on every batch (4x slower
        inference). Called by ``setup`` in a fit and by ``load_task`` outside the Trainer."""
        if self.hparams.get("channels_last"):
            self.to(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features ``(B, num_features)`` of images ``(B, C, H, W)`` in [0, 1]."""
        # In the model's own float type (uint8: 0-255 -> [0, 1]), normalised: under "bf16-true" the
        # weights are half-size and a float32 batch would not match them; under autocast it changes nothing.
        x = self.normalize(x)
        # Not in on_after_batch_transfer: the DataModule owns that hook, and Lightning runs only one.
        if self.hparams.get("channels_last"):
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.backbone(x)
        if self.normalize.check_inputs and (problem := size_problem(x, out, self.image_size, self.backbone.num_features)):
            raise LightCNNError(problem)  # a loaded model's caller, before the head fails on a shape
        return out

    def deploy_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """What an exported model answers for images ``(B, C, H, W)`` in [0, 1] (``deploy_output_name``)."""
        return self(x)

    def configure_optimizers(self) -> Any:
        return optimizer_and_schedule(self)

    def on_train_start(self) -> None:
        check_validation_reached(self.trainer)
        init_backbone_from_data(self)
        self.normalize.check_next_training_batch = True  # the DataModule's first batch, once
        sched = self.lr_schedulers()
        planned = getattr(sched, "total_steps", None)
        if planned is not None and planned < self.trainer.estimated_stepping_batches:
            raise LightCNNError(
                f"the onecycle schedule in this checkpoint was planned for {planned} steps, but this run needs "
                f"{int(self.trainer.estimated_stepping_batches)}: resume with the original trainer.max_epochs, "
                f"or start a new run (or use scheduler: cosine/step/none) to train longer"
            )

    def on_fit_end(self) -> None:
        check_something_trained(self.trainer)

    def log_train_loss(self, loss: torch.Tensor) -> None:
        """Log ``train/loss_step`` on the steps the logger writes (and the progress bar shows),
        and ``train/loss_epoch`` (torchmetrics' mean over the epoch, across ranks) at the epoch end.
        ``self.log(on_step=True, on_epoch=True)`` on every step costs about a millisecond of
        Python per call, 5-10 % of a small CNN's step on a CPU; a ``StepSum`` add costs ~1 us."""
        detached = loss.detach()
        self.train_loss_steps.add(detached)
        if trainer_of(self) is None:
            return  # called outside a Trainer (a unit test): nothing to log to
        every = max(1, self.trainer.log_every_n_steps)  # the logger's steps; a progress bar also every 10th
        if self.trainer.progress_bar_callback is not None:
            every = math.gcd(every, 10)
        if (self.global_step + 1) % every == 0:
            self.log("train/loss_step", detached, prog_bar=True, logger=True)

    def _epoch_end(self, stage: str) -> None:
        """Compute and log the metrics of a finished ``val``/``test`` epoch (tasks implement it)."""

    def on_validation_epoch_end(self) -> None:
        self._epoch_end("val")
        trainer = trainer_of(self)
        if trainer is not None and trainer.sanity_checking:  # the untrained weights on a few batches: not the run's validation
            self.outputs.pop("val", None)

    def on_test_epoch_end(self) -> None:
        self._epoch_end("test")

    def log_epoch_scalars(self, stage: str, main: str, scalars: dict[str, Any]) -> None:
        """Log ``{stage}/{main}`` on the progress bar and the other ``scalars`` beside it. The
        values are already equal on every rank (torchmetrics reduced them, or they came from
        gathered data); ``sync_dist`` keeps them so and tells Lightning."""
        self.log(f"{stage}/{main}", scalars.pop(f"{stage}/{main}"), prog_bar=True, sync_dist=True)
        self.log_dict(scalars, sync_dist=True)

    @staticmethod
    def unpack_predict_batch(batch: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
        """``(x, y, index, inputs)`` of a predict batch ``(x, y[, index[, inputs]])``: ``index``
        counts from 0 and ``inputs`` are the indices as text when the loader gave none."""
        x, y, *rest = batch
        index = rest[0] if rest else torch.arange(len(y), device=y.device)
        inputs = list(rest[1]) if len(rest) > 1 else [str(i) for i in index.tolist()]
        return x, y, index, inputs

    @property
    def num_parameters(self) -> int:
        return count_parameters(self)

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        if self.train_loss_steps.fold_into(self.train_loss):
            # Reduced across ranks by torchmetrics already; sync_dist (a mean of equal values) says so
            # to Lightning, which otherwise warns under DDP. The same for the scalars below.
            self.log("train/loss_epoch", self.train_loss.compute(), sync_dist=True)
            self.train_loss.reset()
        if self._epoch_start is not None:
            seconds = time.perf_counter() - self._epoch_start
            self._fit_seconds += seconds
            self.log("time/epoch_s", seconds, sync_dist=True)
            self.log("time/fit_s", self._fit_seconds, sync_dist=True)
        self.log("model/params", float(self.num_parameters), sync_dist=True)

    def configure_callbacks(self) -> list[Callback]:
        """``best.ckpt`` (by ``self.monitor``) and ``last.ckpt`` (every epoch) in the run folder's
        ``checkpoints/``; the run record; the task's own reporting callbacks; and the run report,
        last so that it sees their files. The run folder is ``trainer.default_root_dir`` (the
        CLI and ``lightcnn.Experiment`` point it at ``runs/<name>/version_N``), whatever the loggers."""
        folder = str(run_dir(self.trainer) / "checkpoints")
        best = RunCheckpoint(dirpath=folder, monitor=self.monitor, mode=self.monitor_mode, filename="best",
                             auto_insert_metric_name=False, enable_version_counter=False)
        # A second checkpoint callback for last.ckpt: Lightning 2.6's save_last=True only writes
        # last.ckpt when the top-k one was saved too, which would make "last" the best epoch.
        last = RunCheckpoint(dirpath=folder, monitor=None, save_top_k=1, filename="last", enable_version_counter=False)
        # Lightning drops the Trainer's callbacks of a type configure_callbacks returns: a user's
        # own ModelCheckpoint (best by val/f1, say) is handed back so that it stays.
        return [best, last, *user_checkpoints(self.trainer.callbacks), RunRecord(), *self.report_callbacks(), RunReport()]

    def report_callbacks(self) -> list[Callback]:
        """Callbacks writing task-specific files into the run folder (before the report is built)."""
        return []

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if trainer_of(self) is not None and self.trainer.state.fn == TrainerFn.FITTING:
            self._stop_if_nonfinite(check_parameters=True)  # never write a checkpoint of a diverged model over a good one
        checkpoint["lightcnn_fit_seconds"] = self._fit_seconds

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._fit_seconds = float(checkpoint.get("lightcnn_fit_seconds", 0.0))
        note = upgrade_normalization(checkpoint, self.normalize.values())
        if note and rank_zero_only.rank == 0:
            print(f"lightcnn: note: {note}", file=sys.stderr)

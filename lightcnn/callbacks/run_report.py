"""The run report: ``run_info.json`` when a run starts, ``report.md``/``report.html`` when a fit
or a test has finished (see ``lightcnn.report.run_report``), in the run folder, whatever the loggers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from lightcnn.data.info import DescribesSplits, DrawsSamples
from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write
from lightcnn.models import count_flops, count_parameters
from lightcnn.registry import CALLBACKS
from lightcnn.report.history import HISTORY
from lightcnn.run import run_dir


def run_info(trainer: Trainer, pl_module: Any) -> dict:
    """What the report needs to know about the model and data that the history does not say:
    the task (whose ``report_spec`` the report uses), backbone, parameters, FLOPs, the monitored
    metric and the data facts."""
    hp = pl_module.hparams
    dm = trainer.datamodule
    backbone = hp.get("backbone")
    info = pl_module.data_info
    sizes = dm.split_sizes() if isinstance(dm, DescribesSplits) else {}
    return {
        "task": type(pl_module).__name__,
        "backbone": backbone if isinstance(backbone, str) else type(pl_module.backbone).__name__,
        "backbone_args": dict(hp.get("backbone_args") or {}),
        "data": type(dm).__name__ if dm is not None else None,
        "params": count_parameters(pl_module),
        "flops": count_flops(pl_module, info.in_channels, info.image_size),
        "monitor": pl_module.monitor,
        "monitor_mode": pl_module.monitor_mode,
        "in_channels": info.in_channels,
        "image_size": info.image_size,
        "class_names": list(info.class_names),
        "split_sizes": sizes,
        "val_is_test": info.val_is_test,
    }


@CALLBACKS.register()
class RunReport(Callback):
    """Writes the run report into the run folder on rank 0 after every successful ``fit`` and
    ``test`` (nothing is written for a run that crashed or was interrupted).

    Args:
        augment_preview: also write ``augment_preview.png`` at the start of a fit that augments.
        samples: also write ``samples.png`` (25 training images with their class names) at the
            start of a fit.
    """

    def __init__(self, augment_preview: bool = True, samples: bool = True) -> None:
        self.augment_preview, self.samples = augment_preview, samples
        self._dir: Path | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._dir = run_dir(trainer)

    def _write_info(self, trainer: Trainer, pl_module: LightningModule) -> None:
        with atomic_write(self._dir / "run_info.json") as f:  # creates the folder if need be
            json.dump(run_info(trainer, pl_module), f, indent=2)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero or self._dir is None:
            return
        self._write_info(trainer, pl_module)
        dm = trainer.datamodule
        if self.samples and isinstance(dm, DrawsSamples):
            with atomic_write(self._dir / "samples.png", "wb") as f:
                f.write(dm.samples_png(25))
        png = dm.augment_preview_png(n=6, rows=min(6, pl_module.num_classes)) if self.augment_preview and isinstance(dm, DescribesSplits) else None
        if png is not None:
            with atomic_write(self._dir / "augment_preview.png", "wb") as f:
                f.write(png)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero and self._dir is not None and not (self._dir / "run_info.json").is_file():
            self._write_info(trainer, pl_module)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        # Stopped from outside (SIGTERM from a scheduler or `timeout`, Ctrl+C): Lightning skips
        # teardown, but the epochs that finished deserve their report.
        if isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            self.teardown(trainer, pl_module, "fit")

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # After the Trainer's own teardown: the logger has flushed metrics.csv by now.
        if stage not in ("fit", "test") or not trainer.is_global_zero or self._dir is None:
            return
        if not (self._dir / HISTORY).is_file():
            return  # stopped before its first epoch or test ended: nothing to report
        from lightcnn.report.run_report import build_report

        try:
            md, _ = build_report(self._dir)
        except (LightCNNError, OSError, ValueError, KeyError) as err:
            rank_zero_warn(f"could not write the run report in {self._dir}: {err}; rebuild it with `lightcnn report {self._dir}`")
            return
        rank_zero_info(f"report: {md} (and report.html)")

"""The run report: ``run_info.json`` when a run starts, ``report.md``/``report.html`` when a fit
or a test has finished (see ``lightcnn.report.run_report``)."""

from __future__ import annotations

import json
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write
from lightcnn.models import count_flops, count_parameters
from lightcnn.registry import CALLBACKS


def run_info(trainer: Trainer, pl_module: LightningModule) -> dict:
    """What the report needs to know about the model and data that ``metrics.csv`` does not say."""
    hp = pl_module.hparams
    dm = trainer.datamodule
    backbone = hp.get("backbone")
    return {
        "task": type(pl_module).__name__,
        "backbone": backbone if isinstance(backbone, str) else type(pl_module.backbone).__name__,
        "backbone_args": dict(hp.get("backbone_args") or {}),
        "data": type(dm).__name__ if dm is not None else None,
        "params": count_parameters(pl_module),
        "flops": count_flops(pl_module, pl_module.in_channels, pl_module.image_size),
        "monitor": getattr(pl_module, "monitor", None),
        "monitor_mode": getattr(pl_module, "monitor_mode", None),
        "in_channels": pl_module.in_channels,
        "image_size": pl_module.image_size,
        "class_names": list(getattr(pl_module, "class_names", [])),
        "split_sizes": {k: len(v[1]) for k, v in getattr(dm, "splits", {}).items()},
    }


@CALLBACKS.register()
class RunReport(Callback):
    """Writes the run report into the run folder on rank 0 after every successful ``fit`` and
    ``test`` (nothing is written for a run that crashed or was interrupted).

    Args:
        augment_preview: also write ``augment_preview.png`` at the start of a fit that augments.
    """

    def __init__(self, augment_preview: bool = True) -> None:
        self.augment_preview = augment_preview
        self._dir: Path | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        log_dir = trainer.log_dir  # a collective under DDP: every rank asks, here where all are alive
        self._dir = Path(log_dir) if log_dir else None

    def _write_info(self, trainer: Trainer, pl_module: LightningModule) -> None:
        with atomic_write(self._dir / "run_info.json") as f:  # creates the folder if need be
            json.dump(run_info(trainer, pl_module), f, indent=2)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero or self._dir is None:
            return
        self._write_info(trainer, pl_module)
        dm = trainer.datamodule
        if self.augment_preview and getattr(dm, "augment", None) is not None:
            from lightcnn.augment.preview import preview_png

            with atomic_write(self._dir / "augment_preview.png", "wb") as f:
                f.write(preview_png(dm, n=6, rows=min(6, dm.num_classes)))

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero and self._dir is not None and not (self._dir / "run_info.json").is_file():
            self._write_info(trainer, pl_module)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # After the Trainer's own teardown: the logger has flushed metrics.csv by now.
        if stage not in ("fit", "test") or not trainer.is_global_zero or self._dir is None:
            return
        if not (self._dir / "metrics.csv").is_file():
            return  # a run with logging off has nothing to report
        from lightcnn.report.run_report import build_report

        try:
            md, _ = build_report(self._dir)
        except (LightCNNError, OSError, ValueError, KeyError) as err:
            rank_zero_warn(f"could not write the run report in {self._dir}: {err}; rebuild it with `lightcnn report {self._dir}`")
            return
        rank_zero_info(f"report: {md} (and report.html)")

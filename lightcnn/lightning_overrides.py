"""Every place lightcnn overrides a private part of Lightning, in one module (but for the
training step's fixed costs, kept together in ``lightcnn/tasks/step_costs.py``).

Each override is small and says why. They were written against the Lightning version in
``WRITTEN_FOR``; ``tests/test_layout.py`` fails on another minor version, so an
upgrade is a deliberate step (re-read the overridden methods, then bump the pin).
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterator
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.callbacks import ModelSummary
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.model_summary.model_summary import _format_summary_table

from lightcnn.errors import LightCNNError

WRITTEN_FOR = "2.6"  # lightning major.minor


def trainer_of(module: Any) -> Any | None:
    """The Trainer a LightningModule is attached to, or None (its ``trainer`` property raises
    when there is none; ``_trainer`` is the attribute behind it)."""
    return module._trainer


def set_hparam(module: Any, key: str, value: Any) -> None:
    """Set a hyperparameter in ``hparams`` and in ``hparams_initial`` (what loggers record; kept in
    ``_hparams_initial``). Needed when the value given to ``__init__`` (through the CLI's
    instantiation, which overrides what ``save_hyperparameters`` collects) must be stored in
    another form, as a ``DataInfo`` is stored as a plain dict."""
    module.hparams[key] = value
    module._hparams_initial[key] = value


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing metrics.csv (``_check_log_dir_exists``); a
    resumed run or a later ``test`` in the same run folder must add to it instead."""

    def _check_log_dir_exists(self) -> None:
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as f:
                self.metrics_keys = list(csv.DictReader(f).fieldnames or [])


class RunLogger(CSVLogger):
    """The default logger: ``CSVLogger`` writing ``metrics.csv`` into the run folder, appending
    when the folder already has one (resume, or ``test`` of a trained run)."""

    @classmethod
    def into(cls, run: Any) -> RunLogger:
        """The logger of run folder ``run`` (``.../name/version_N``); an int version, so the
        progress bar shows ``v_num=N``."""
        version: Any = run.name
        if version.startswith("version_") and version[8:].isdigit():
            version = int(version[8:])
        return cls(save_dir=str(run.parent.parent), name=run.parent.name, version=version)

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            try:
                os.makedirs(self.root_dir, exist_ok=True)
            except OSError as err:
                raise LightCNNError(f"cannot create the run folder {self.root_dir}: {err}") from err
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


class FlopsModelSummary(ModelSummary):
    """Lightning's model summary, with the FLOPs of one image instead of "0 Total Flops".

    Lightning counts FLOPs only by running ``example_input_array`` through the DataModule's batch
    hooks, which take lightcnn's ``(images, labels)`` batches, not a bare tensor; so the count is
    made as the run report makes it (``count_flops``), and the line is left out when that fails.
    """

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        from lightcnn.models import count_flops

        info = getattr(pl_module, "data_info", None)
        self._flops = count_flops(pl_module, info.in_channels, info.image_size) if info is not None else None
        super().on_fit_start(trainer, pl_module)

    def summarize(self, summary_data: list, total_parameters: int, trainable_parameters: int, model_size: float,
                  total_training_modes: dict[str, int], total_flops: int, **summarize_kwargs: Any) -> None:
        columns = [c for c in summary_data if c[0] != "FLOPs"]  # per layer only with example_input_array: all 0 here
        table = _format_summary_table(total_parameters, trainable_parameters, model_size, total_training_modes,
                                      self._flops or 0, *columns)
        lines = table.splitlines()
        lines = [line.replace("Total Flops", "FLOPs per image (forward)") for line in lines if self._flops or "Total Flops" not in line]
        rank_zero_info("\n" + "\n".join(lines))


class CLIOverrides(LightningCLI):
    """The LightningCLI methods lightcnn replaces, and why:

    - ``_prepare_subcommand_parser``: no abbreviated options (a misspelt key is an error, not a
      guess); ``weights_only`` defaults to True (loading a checkpoint
      must not run code), and ``verbose`` to False (validate / test print a compact summary, not
      Lightning's row per value); there is no public hook for a subcommand's defaults.
    - ``_parse_ckpt_path``: Lightning replaces the whole model config with the checkpoint's
      hyperparameters, silently and over command-line overrides; lightcnn keeps the checkpoint's
      architecture, says in one line when it differs from the config, and re-applies the
      ``--model.*`` options given on the command line (``checkpoint_model_args``).
    - ``_run_subcommand``: a hook around the run, to clean up a fresh run folder a failure left
      empty (``after_failed_run``).
    """

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        kwargs.setdefault("allow_abbrev", False)  # --trainer.max_epoch must not quietly mean max_epochs
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if "weights_only" in self._subcommand_method_arguments[subcommand]:
            parser.set_defaults(weights_only=True)
        if "verbose" in self._subcommand_method_arguments[subcommand]:
            parser.set_defaults(verbose=False)
        return parser

    def _parse_ckpt_path(self) -> None:
        args = self.checkpoint_model_args()
        if args is not None:
            self.parse_arguments(self.parser, args)

    def checkpoint_model_args(self) -> list[str] | None:
        """The command line to parse again so the checkpoint's model comes first (None: keep)."""
        return None

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except BaseException:
            self.after_failed_run()
            raise

    def after_failed_run(self) -> None:
        """Called when a subcommand raised (also for KeyboardInterrupt / SystemExit)."""


@contextlib.contextmanager
def weights_as_saved(trainer: Any) -> Iterator[None]:
    """Test a checkpoint in the process that fitted it as a fresh process would (``fit --test
    true``, ``Experiment.test``). Lightning's ``WeightAveraging`` callbacks (EMA, SWA) are still
    attached after fit, and their ``on_load_checkpoint`` then puts the checkpoint's *current*
    weights into the model instead of its saved (averaged) ``state_dict``: the test would score
    other weights than validation picked and ``lightcnn test --ckpt_path`` scores (Lightning 2.6)."""
    from lightning.pytorch.callbacks import WeightAveraging

    attached = trainer.callbacks
    trainer.callbacks = [c for c in attached if not isinstance(c, WeightAveraging)]
    try:
        yield
    finally:
        trainer.callbacks = attached

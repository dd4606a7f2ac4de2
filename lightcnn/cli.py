"""The ``lightcnn`` command: LightningCLI's fit/validate/test/predict plus lightcnn's own subcommands.

    lightcnn fit --config configs/mnist_classify.yaml [--data.root .data] [--trainer.max_epochs 1]
    lightcnn test --ckpt_path runs/mnist_classify/version_0/checkpoints/best.ckpt   # the run's own config
    lightcnn list [backbones|datamodules|...] [PATTERN]; lightcnn report RUN_DIR; lightcnn compare RUN_DIR...

Plugins are imported before anything is parsed. Errors the user can fix (``LightCNNError`` and
configuration errors) print one message and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.plugins import CheckpointIO
from lightning.pytorch.utilities import rank_zero_only

from lightcnn.checkpoint_io import AtomicCheckpointIO, AtomicSaveConfigCallback
from lightcnn.checkpoint_args import checkpoint_model_args
from lightcnn.cli_args import TRAINER_SUBCOMMANDS, args_alias, backbone_overrides, batch_counts_before_fractions, describe_choice, into_run_folder, with_run_config
from lightcnn.commands import COMMANDS, run_command
from lightcnn.config_errors import check_config_files, config_files_in, explain
from lightcnn.data.info import data_info_of
from lightcnn.discarded_args import DiscardedArgs
from lightcnn.errors import LightCNNError
from lightcnn.lightning_overrides import CLIOverrides, RunLogger, weights_as_saved
from lightcnn.precision import note_for_precision
from lightcnn.precision_plugin import NativeBF16Precision  # noqa: F401  (named by class in configs' trainer.plugins)
from lightcnn.registered_names import resolve_registered_names
from lightcnn.preflight import check_monitors, check_precision_choice, check_resume, check_run_name, check_trainer_values
from lightcnn.run import RUN_DIR_ENV, check_checkpoint, next_version, remove_failed_run, remove_stale_temporaries, reserve_version, resolve_ckpt_path
from lightcnn.tasks.base import BaseTask
from lightcnn.terminal import print_summary, quiet_terminal
from lightcnn.trainer_defaults import default_callbacks


class LightCNNCLI(CLIOverrides):
    """LightningCLI with lightcnn's defaults.

    - ``model`` is any ``BaseTask`` subclass, ``data`` any ``LightningDataModule`` providing
      ``data_info`` (``lightcnn.data.DataInfo``), each by class name (= registry key) or
      ``class_path``; the CLI links ``data.data_info`` into ``model.init_args.data``.
    - Every run gets one folder, ``{trainer.default_root_dir}/{name}/version_N`` (default
      ``runs/<config stem>``), whatever the loggers: the Trainer's ``default_root_dir`` is set to
      it, CSV and TensorBoard loggers write into it, and ``logger: false`` only turns loggers off.
    - ``--ckpt_path last|best`` means the newest run's checkpoint; outputs of a command run from
      a checkpoint go back into that checkpoint's run folder. The checkpoint's task and backbone
      are used (with a one-line note when the config names others).
    """

    def __init__(self, args: list[str] | None = None, run: bool = True, notes: list[str] | tuple[str, ...] = ()) -> None:
        self._args = list(sys.argv[1:] if args is None else args)
        check_config_files(config_files_in(self._args))
        self._notes = list(notes)  # shown once the configuration has been built (not before an error about it)
        self._run_dir: Path | None = None  # the checkpoint's run folder when resuming / testing a run
        self._checkpoint: tuple[str, dict] | None = None  # (path, contents) of --ckpt_path, loaded once
        self.run_folder: Path | None = None
        self._discarded = DiscardedArgs()  # options a later class choice dropped: shown as notes
        super().__init__(
            BaseTask,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            trainer_defaults={"default_root_dir": "runs", "use_distributed_sampler": False},
            save_config_callback=AtomicSaveConfigCallback,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False, "allow_abbrev": False, "logger": self._discarded.logger()},
            auto_configure_optimizers=False,
            args=args,
            run=run,
        )

    @classmethod
    def from_config(cls, config: str | Path, overrides: list[str] | tuple[str, ...] = (), as_fit: bool = False) -> LightCNNCLI:
        """A run config plus command-line style overrides, parsed and instantiated exactly as
        ``fit`` would (no subcommand, nothing run): ``.model``, ``.datamodule``, ``.trainer``.
        ``as_fit``: a tool's command line, read as ``fit`` reads one (``--model.backbone`` naming
        another backbone drops the config's ``backbone_args``, with a note).

        Raises:
            LightCNNError: the config file does not exist.
        """
        if not Path(config).is_file():
            raise LightCNNError(f"--config {config}: no such file")
        args, notes = backbone_overrides(["fit", "--config", str(config), *overrides]) if as_fit else ([], [])
        overrides = args[3:] if as_fit else overrides
        try:
            return cls(args=["--config", str(config), *overrides], run=False, notes=notes)
        except argparse.ArgumentError as err:  # the one line the command would print, as an exception
            raise LightCNNError(explain(str(err), [str(config)])) from err

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument(
            "--name", type=str | None, default=None,
            help="Run name: runs go to {trainer.default_root_dir}/{name}/version_N (default: the config file's stem).",
        )
        parser.add_argument(
            "--threads", type=int | None, default=None,
            help="torch intra-op threads (default: one per core). Set it to the cores left free when "
            "something else keeps cores busy: threads waiting for a busy core slow every step.",
        )
        parser.add_argument(
            "--test", type=bool, default=False,
            help="fit only: when training ends, test the best checkpoint (the last when no best was kept), "
            "in the same process and run folder. Other commands ignore it, so a run's saved config.yaml works for them.",
        )
        parser.link_arguments("data", "model.init_args.data", compute_fn=data_info_of, apply_on="instantiate")
        batch_counts_before_fractions(parser)
        resolve_registered_names()  # `class_path: mydm` for a plugin's @DATAMODULES.register("mydm")

    def setup_parser(self, add_subcommands: bool, main_kwargs: dict[str, Any], subparser_kwargs: dict[str, Any]) -> None:
        super().setup_parser(add_subcommands, main_kwargs, subparser_kwargs)
        if not add_subcommands:
            # Without a subcommand (``from_config``: embed, knn, export, sweeps), a run folder's saved
            # config.yaml must still parse: accept the subcommands' own keys (ckpt_path, verbose, ...).
            added: set[str] = set()
            for sub, skip in self.subcommands().items():
                added |= set(self.parser.add_method_arguments(Trainer, sub, skip=skip | added) or ())

    def _section(self) -> Any:
        return self.config[self.subcommand] if self.subcommand else self.config

    def _experiment_dir(self) -> Path:
        cfg = self._section()
        name = cfg.get("name")
        check_run_name(name)
        files = cfg.get("config") or []
        cfg["name"] = name = name or (Path(str(files[0])).stem if files else "run")  # recorded: the saved config reruns here
        return Path(cfg["trainer"]["default_root_dir"] or "runs").expanduser() / name

    def parse_arguments(self, parser: Any, args: Any) -> None:
        super().parse_arguments(parser, args)
        self._run_dir = None
        if self.config.get("subcommand") in TRAINER_SUBCOMMANDS:
            sub = self.config["subcommand"]
            self.subcommand = sub
            experiment = self._experiment_dir()
            ckpt, self._run_dir = resolve_ckpt_path(self.config[sub].get("ckpt_path"), experiment, sub)
            self.config[sub]["ckpt_path"] = ckpt
            if ckpt is not None and (self._checkpoint is None or self._checkpoint[0] != ckpt):
                self._checkpoint = (ckpt, check_checkpoint(ckpt, self.config[sub].get("weights_only")))
                alias = args_alias(self._args)
                if alias is not None and rank_zero_only.rank == 0:
                    print(f"lightcnn: --ckpt_path {alias}: {describe_choice(alias, Path(ckpt), experiment, self._checkpoint[1])}")
            if ckpt is None and args_alias(self._args) == "last" and rank_zero_only.rank == 0:  # fit: nothing to resume
                print(f"lightcnn: --ckpt_path last: no run under {experiment} has a last.ckpt yet: training from the start")
            if self._run_dir is not None and self._run_dir.parent.resolve() != experiment.resolve():
                self._run_dir = None  # another experiment's checkpoint (transfer): a new run of this one
            if ckpt is not None and sub == "fit":
                check_resume(self._checkpoint[1], ckpt, self.config[sub]["trainer"])
            if self._run_dir is not None and sub == "fit":  # resuming: no other fit writes this folder
                remove_stale_temporaries(self._run_dir)

    def checkpoint_model_args(self) -> list[str] | None:
        """The checkpoint's task and architecture first, then the config's and command line's
        model options on top (so ``--model.tta_flip true`` still applies at test)."""
        sub = self.config.get("subcommand")
        ckpt = self.config[sub].get("ckpt_path") if sub else None
        if not ckpt or self._checkpoint is None:
            return None
        return checkpoint_model_args(self._args, sub, self.config[sub]["model"], ckpt, self._checkpoint[1])

    def before_instantiate_classes(self) -> None:
        cfg = self._section()
        threads = cfg.get("threads")
        if threads is not None:
            if threads < 1:
                raise LightCNNError(f"--threads must be >= 1, got {threads}")
            torch.set_num_threads(threads)
        check_trainer_values(cfg["trainer"], self.subcommand)
        check_precision_choice(cfg["trainer"])
        if self.subcommand in TRAINER_SUBCOMMANDS:
            note = note_for_precision(cfg["trainer"].get("precision"), cfg["trainer"].get("accelerator"))
            self._notes += [note] if note else []
        inherited = os.environ.get(RUN_DIR_ENV)
        if inherited or self._run_dir:
            self.run_folder = Path(inherited or self._run_dir)
        elif self.subcommand in TRAINER_SUBCOMMANDS:  # taken now, atomically: a run started beside this one gets the next
            self.run_folder = reserve_version(self._experiment_dir())
        else:  # parsed for a config only (from_config): nothing is written
            self.run_folder = next_version(self._experiment_dir())
        into_run_folder(cfg["trainer"].get("logger"), self.run_folder)

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
            if self.subcommand == "fit":
                check_monitors(self.trainer.callbacks, self.model)
        except BaseException:
            self.after_failed_run()
            raise
        if rank_zero_only.rank == 0:
            for note in [*self._discarded.notes, *self._notes]:
                print(f"lightcnn: note: {note}", file=sys.stderr)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        cfg = self._section()
        run = self.run_folder
        kwargs["default_root_dir"] = str(run)  # the run folder: lightcnn's callbacks write here
        if cfg["trainer"].get("logger") in (None, True):
            kwargs["logger"] = RunLogger.into(run)
        trainer_init = self._get(self.config_init, "trainer", default={})
        plugins = trainer_init.get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):  # a config's own CheckpointIO is kept
            kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        self.trainer_defaults.pop("callbacks", None)
        given = trainer_init.get("callbacks") or []
        given = given if isinstance(given, list) else [given]
        added = default_callbacks(given, cfg["trainer"].get("enable_progress_bar"), cfg["trainer"].get("enable_model_summary"))
        if added:
            self.trainer_defaults["callbacks"] = added
        self.save_config_kwargs["config_filename"] = "config.yaml" if self.subcommand in ("fit", None) else f"config_{self.subcommand}.yaml"
        return super().instantiate_trainer(**kwargs)

    def _run_subcommand(self, subcommand: str) -> None:
        # Processes the Trainer launches for DDP inherit the environment: they use this run folder.
        owner = RUN_DIR_ENV not in os.environ
        if owner:
            os.environ[RUN_DIR_ENV] = str(self.run_folder)
        try:
            super()._run_subcommand(subcommand)
            if subcommand == "fit" and self.config["fit"].get("test"):
                self._test_after_fit()
        finally:
            if owner:
                os.environ.pop(RUN_DIR_ENV, None)
        if subcommand in ("validate", "test") and not self.config[subcommand].get("verbose") and self.trainer.is_global_zero:
            stage = "val" if subcommand == "validate" else "test"
            print_summary(self.trainer.callback_metrics, stage, self.run_folder, self.config[subcommand].get("ckpt_path"),
                          self._summary_keys())

    def _summary_keys(self) -> tuple[str, ...]:
        spec = getattr(type(self.model), "report_spec", None)  # a BaseTask's; any LightningModule may come here
        return (*spec.scores, *spec.metrics) if spec is not None else ()

    def _test_after_fit(self) -> None:
        """``fit --test true``: test this run's best checkpoint (else its last) in this process."""
        trainer = self.trainer
        if trainer.interrupted:
            return  # a stopped fit is not tested (its exit status says it stopped)
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") or ""
        ckpt = best if best and Path(best).is_file() else str(self.run_folder / "checkpoints" / "last.ckpt")
        if not Path(ckpt).is_file():
            if not trainer.fast_dev_run and any(c.save_top_k != 0 or c.save_last for c in trainer.checkpoint_callbacks):
                raise LightCNNError(f"--test true: this fit saved no checkpoint in {self.run_folder}/checkpoints/ to test")
            why = "trainer.fast_dev_run" if trainer.fast_dev_run else "trainer.enable_checkpointing false"  # a smoke test
            print(f"lightcnn: note: --test true: {why} saves no checkpoints, so the weights as the fit left them are tested", file=sys.stderr)
            ckpt = None
        with weights_as_saved(trainer):
            trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt, weights_only=True, verbose=False)
        if trainer.is_global_zero:
            print_summary(trainer.callback_metrics, "test", self.run_folder, ckpt, self._summary_keys())

    def after_failed_run(self) -> None:
        """A fresh run that failed before it produced anything (a data error in setup, say) leaves
        no run folder behind, so the next attempt is not numbered version_1 beside an empty
        version_0. Folders of resumed runs and anything with results are never touched."""
        run = self.run_folder
        if self._run_dir is not None or run is None or not getattr(getattr(self, "trainer", None), "is_global_zero", True):
            return
        remove_failed_run(run)


def _import_builtins() -> None:
    from lightcnn.catalogue import import_builtins

    import_builtins()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lightcnn`` console script; returns the exit status."""
    from lightcnn.guard import guarded
    from lightcnn.plugins import load_all

    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_terminal()

    def body() -> int:
        if argv and argv[0] in COMMANDS:
            return run_command(argv[0], argv[1:])  # each loads the registries once its own arguments parsed
        load_all()
        argv[:] = with_run_config(argv)  # the run folder's config, for the error messages too
        args, notes = backbone_overrides(argv)
        LightCNNCLI(args=args, notes=notes)
        return 0

    return guarded(body, argv)


def run() -> None:
    """Console-script wrapper: exit with ``main()``'s status."""
    sys.exit(main())

"""The ``lightcnn`` command: LightningCLI's fit/validate/test/predict plus lightcnn's own subcommands.

    lightcnn fit --config configs/mnist_classify.yaml [--data.root .data] [--trainer.max_epochs 1]
    lightcnn test --config configs/mnist_classify.yaml --ckpt_path best
    lightcnn list [backbones|datamodules|tasks|augmentations|callbacks] [PATTERN]
    lightcnn report RUN_DIR; lightcnn compare RUN_DIR...; lightcnn visualize ...; lightcnn coarse ...

Plugins are imported before anything is parsed. Errors the user can fix (``LightCNNError`` and
configuration errors) print one message and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lightcnn.checkpoint_io import AtomicCheckpointIO, AtomicSaveConfigCallback
from lightcnn.commands import COMMANDS, run_command
from lightcnn.config_errors import config_files_in, explain
from lightcnn.errors import LightCNNError
from lightcnn.run import RunLogger, check_checkpoint, remove_stale_temporaries, resolve_ckpt_path
from lightcnn.tasks.base import BaseTask

LINKED = ("num_classes", "class_names", "in_channels", "image_size")
TRAINER_SUBCOMMANDS = ("fit", "validate", "test", "predict")


class LightCNNCLI(LightningCLI):
    """LightningCLI with lightcnn's defaults.

    - ``model`` is any ``BaseTask`` subclass, ``data`` any ``LightningDataModule``, each by class
      name (= registry key) or ``class_path``; the DataModule's ``num_classes``, ``class_names``,
      ``in_channels`` and ``image_size`` are linked into the task.
    - Runs go to ``{trainer.default_root_dir}/{name}/version_N`` (default ``runs/<config stem>``)
      with a ``RunLogger``, unless the config names another logger.
    - ``--ckpt_path last|best`` means the newest run's checkpoint; outputs of a command run from
      a checkpoint go back into that checkpoint's run folder.
    """

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        super().__init__(
            BaseTask,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            trainer_defaults={"default_root_dir": "runs", "use_distributed_sampler": False},
            save_config_callback=AtomicSaveConfigCallback,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False},
            auto_configure_optimizers=False,
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--name", type=str | None, default=None,
            help="Run name: runs go to {trainer.default_root_dir}/{name}/version_N (default: the config file's stem).",
        )
        parser.add_argument(
            "--threads", type=int | None, default=None,
            help="torch intra-op threads (default: one per core). Set it to the cores left free when "
            "something else keeps cores busy: threads waiting for a busy core slow every step.",
        )
        for key in LINKED:
            parser.link_arguments(f"data.{key}", f"model.init_args.{key}", apply_on="instantiate")

    def _section(self) -> Any:
        return self.config[self.subcommand] if self.subcommand else self.config

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if "weights_only" in self._subcommand_method_arguments[subcommand]:
            # A checkpoint is tensors and plain containers: loading one must not run code.
            parser.set_defaults(weights_only=True)
        return parser

    def _experiment_dir(self) -> Path:
        cfg = self._section()
        name = cfg.get("name")
        if not name:
            files = cfg.get("config") or []
            name = Path(str(files[0])).stem if files else "run"
        return Path(cfg["trainer"]["default_root_dir"] or "runs") / name

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        self._run_dir: Path | None = None
        if self.config.get("subcommand") in TRAINER_SUBCOMMANDS:
            sub = self.config["subcommand"]
            self.subcommand = sub
            experiment = self._experiment_dir()
            ckpt, self._run_dir = resolve_ckpt_path(self.config[sub].get("ckpt_path"), experiment, sub)
            self.config[sub]["ckpt_path"] = ckpt
            if ckpt is not None:
                check_checkpoint(ckpt, self.config[sub].get("weights_only"))
            if self._run_dir is not None and self._run_dir.parent.resolve() != experiment.resolve():
                self._run_dir = None  # another experiment's checkpoint (transfer): a new run of this one
            if self._run_dir is not None and sub == "fit":  # resuming: no other fit writes this folder
                remove_stale_temporaries(self._run_dir)

    def before_instantiate_classes(self) -> None:
        threads = self._section().get("threads")
        if threads is not None:
            if threads < 1:
                raise LightCNNError(f"--threads must be >= 1, got {threads}")
            torch.set_num_threads(threads)

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except BaseException:
            self._discard_empty_run()
            raise

    def _discard_empty_run(self) -> None:
        """A fresh run that failed before it produced anything (a data error in setup, say) leaves
        no run folder behind, so the next attempt is not numbered version_1 beside an empty
        version_0. Folders of resumed runs and anything with results are never touched."""
        logger = getattr(self.trainer, "logger", None)
        if self._run_dir is not None or not isinstance(logger, RunLogger) or not self.trainer.is_global_zero:
            return
        run = Path(logger.log_dir)
        if run.is_dir() and not _has_results(run):
            shutil.rmtree(run, ignore_errors=True)
            for parent in (run.parent, run.parent.parent):  # the experiment and root folders, if now empty
                if parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        cfg = self._section()
        if cfg["trainer"].get("logger") in (None, True):
            exp = self._experiment_dir()
            version = int(self._run_dir.name.split("_")[1]) if self._run_dir is not None else None
            kwargs["logger"] = RunLogger(save_dir=str(exp.parent), name=exp.name, version=version)
        if not cfg["trainer"].get("plugins"):  # a config naming its own plugins keeps them
            kwargs["plugins"] = [AtomicCheckpointIO()]
        self.save_config_kwargs["config_filename"] = "config.yaml" if self.subcommand == "fit" else f"config_{self.subcommand}.yaml"
        return super().instantiate_trainer(**kwargs)


def _has_results(run: Path) -> bool:
    """Whether a run folder holds anything a failed command must not take away."""
    return any(run.glob("checkpoints/*.ckpt")) or (run / "metrics.csv").is_file() or any(run.glob("*_per_class.json"))


def _quiet() -> None:
    # In-memory batches need no workers; the advice to add some is wrong here.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*litlogger.*")
    # The task's own ModelCheckpoint replacing the default one is intended, not news.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
        lambda record: "configure_callbacks" not in record.getMessage()
    )
    warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")  # Lightning's use of jsonargparse, not ours


def _import_builtins() -> None:
    import lightcnn.augment  # noqa: F401
    import lightcnn.callbacks  # noqa: F401
    import lightcnn.data  # noqa: F401
    import lightcnn.models  # noqa: F401
    import lightcnn.tasks  # noqa: F401




def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lightcnn`` console script; returns the exit status."""
    from lightcnn.plugins import discover

    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet()
    try:
        _import_builtins()
        discover()
        if argv and argv[0] in COMMANDS:
            return run_command(argv[0], argv[1:])
        LightCNNCLI(args=argv)
    except LightCNNError as err:
        print(f"lightcnn: error: {err}", file=sys.stderr)
        return 2
    except argparse.ArgumentError as err:
        print(f"lightcnn: error: {explain(str(err), config_files_in(argv))}", file=sys.stderr)
        return 2
    except Exception as err:
        # jsonargparse wraps errors raised while instantiating classes; show ours unwrapped.
        cause = _user_error_in(err)
        if cause is None:
            raise
        print(f"lightcnn: error: {cause}", file=sys.stderr)
        return 2
    return 0


def _user_error_in(err: BaseException) -> LightCNNError | None:
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, LightCNNError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def run() -> None:
    """Console-script wrapper: exit with ``main()``'s status."""
    sys.exit(main())

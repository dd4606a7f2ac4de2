"""Command-line plumbing of the ``lightcnn`` CLI: the run folder's config for a checkpoint given
alone, the checkpoint's model beneath command-line overrides, loggers pointed at the run folder."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.run import ALIASES, run_dir_of

TRAINER_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def backbone_name(backbone: Any) -> str:
    if isinstance(backbone, dict) or hasattr(backbone, "get"):
        return str(backbone.get("class_path"))
    return str(backbone)


def split_config_args(args: list[str]) -> tuple[list[str], list[str]]:
    """``(--config/-c arguments, the rest)``, order kept within each."""
    configs, rest, i = [], [], 0
    while i < len(args):
        a = args[i]
        if a in ("--config", "-c") and i + 1 < len(args):
            configs += args[i : i + 2]
            i += 2
            continue
        (configs if a.startswith("--config=") else rest).append(a)
        i += 1
    return configs, rest


def split_model_args(args: list[str]) -> tuple[list[str], list[str]]:
    """``(--model and --model.* options with their values, the rest)`` of a command line."""
    model, rest, i = [], [], 0
    while i < len(args):
        is_model = args[i] == "--model" or args[i].startswith("--model.")
        takes_value = "=" not in args[i] and i + 1 < len(args) and not args[i + 1].startswith("--")
        (model if is_model else rest).extend(args[i : i + 2] if is_model and takes_value else args[i : i + 1])
        i += 2 if is_model and takes_value else 1
    return model, rest


def into_run_folder(logger: Any, run: Path) -> None:
    """Point CSV and TensorBoard loggers of the trainer config at the run folder (other loggers,
    MLflow or W&B, keep their own stores)."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    for item in logger if isinstance(logger, list) else [logger]:
        path = getattr(item, "class_path", None)
        if not isinstance(path, str):
            continue
        module, _, name = path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            continue
        if isinstance(cls, type) and issubclass(cls, (CSVLogger, TensorBoardLogger)):
            item.init_args.save_dir = str(run.parent.parent)
            item.init_args.name = run.parent.name
            item.init_args.version = run.name


def with_run_config(argv: list[str]) -> list[str]:
    """``fit/validate/test/predict --ckpt_path RUN/checkpoints/x.ckpt`` without ``--config``:
    take the run folder's ``config.yaml`` (and its name and root), with the command line on top.

    Raises:
        LightCNNError: no ``--config`` and the checkpoint is not in a run folder with a config.yaml.
    """
    if not argv or argv[0] not in TRAINER_SUBCOMMANDS or any(a in ("--config", "-c") or a.startswith("--config=") for a in argv):
        return argv
    if any(a in ("-h", "--help", "--print_config") or a.startswith("--print_config=") for a in argv):
        return argv
    ckpt = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--ckpt_path"), None)
    ckpt = ckpt or next((a.split("=", 1)[1] for a in argv if a.startswith("--ckpt_path=")), None)
    if ckpt is None or ckpt in ALIASES or not Path(ckpt).is_file():
        return argv
    run = run_dir_of(ckpt)
    if run is None or not (run / "config.yaml").is_file():
        where = f"its run folder {run} has no config.yaml" if run is not None else "it is not inside a run folder (…/version_N/checkpoints/)"
        raise LightCNNError(f"--ckpt_path {ckpt}: no --config given and {where}; give the run's config with --config")
    extra = ["--config", str(run / "config.yaml")]
    if "--name" not in argv:
        extra += ["--name", run.parent.name]
    if not any(a.startswith("--trainer.default_root_dir") for a in argv):
        extra += ["--trainer.default_root_dir", str(run.parent.parent)]
    return [argv[0], *extra, *argv[1:]]

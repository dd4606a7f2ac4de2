"""Command-line plumbing of the ``lightcnn`` CLI: the run folder's config for a checkpoint given
alone, the checkpoint's model beneath command-line overrides, loggers pointed at the run folder."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightcnn.run import ALIASES, run_config_of

TRAINER_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def backbone_name(backbone: Any) -> str:
    if isinstance(backbone, dict) or hasattr(backbone, "get"):
        return str(backbone.get("class_path"))
    return str(backbone)


def partition_options(args: list[str], wanted: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """``(the options whose name passes wanted, with their values; the rest)`` of a command line,
    order kept within each. ``--key=value`` is one argument; ``--key value`` takes the next one
    unless it is another option."""
    chosen, rest, i = [], [], 0
    while i < len(args):
        name = args[i].split("=", 1)[0]
        takes_value = "=" not in args[i] and i + 1 < len(args) and not args[i + 1].startswith("--")
        width = 2 if wanted(name) and takes_value else 1
        (chosen if wanted(name) else rest).extend(args[i : i + width])
        i += width
    return chosen, rest


def is_config(name: str) -> bool:
    return name in ("--config", "-c")


def is_model(name: str) -> bool:
    return name == "--model" or name.startswith("--model.")


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
    if not argv or argv[0] not in TRAINER_SUBCOMMANDS or partition_options(argv, is_config)[0]:
        return argv
    if any(a in ("-h", "--help", "--print_config") or a.startswith("--print_config=") for a in argv):
        return argv
    ckpt = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--ckpt_path"), None)
    ckpt = ckpt or next((a.split("=", 1)[1] for a in argv if a.startswith("--ckpt_path=")), None)
    if ckpt is None or ckpt in ALIASES or not Path(ckpt).is_file():
        return argv
    config = run_config_of(ckpt, "--ckpt_path")
    run = config.parent
    extra = ["--config", str(config)]
    if "--name" not in argv:
        extra += ["--name", run.parent.name]
    if not any(a.startswith("--trainer.default_root_dir") for a in argv):
        extra += ["--trainer.default_root_dir", str(run.parent.parent)]
    return [argv[0], *extra, *argv[1:]]

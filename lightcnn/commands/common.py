"""What lightcnn's own subcommands share: the data section of a run config, a checkpoint with its data."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningArgumentParser


def datamodule_from_config(config: str, overrides: list[str]) -> LightningDataModule:
    """Instantiate only the ``data`` section of a run config (plus ``--data.*`` overrides)."""
    from jsonargparse import ActionConfigFile

    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_lightning_class_args(LightningDataModule, "data", subclass_mode=True)
    for other in ("trainer", "model", "seed_everything", "name", "ckpt_path", "threads"):
        parser.add_argument(f"--{other}", type=Any, default=None)  # parsed elsewhere; ignored here
    cfg = parser.parse_args(["--config", config, *overrides])
    return parser.instantiate_classes(cfg).data


def checkpoint_and_data(prog: str, description: str, argv: list[str], extra: Callable[[argparse.ArgumentParser], None]) -> tuple:
    from lightcnn.inference import check_compatible, load_task

    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--ckpt", required=True, help="a lightcnn checkpoint (e.g. runs/x/version_0/checkpoints/best.ckpt)")
    p.add_argument("--config", "-c", required=True, help="a config whose data section gives the images")
    extra(p)
    a, overrides = p.parse_known_args(argv)
    task = load_task(a.ckpt)
    dm = datamodule_from_config(a.config, overrides)
    check_compatible(task, dm, a.ckpt)
    return a, task, dm

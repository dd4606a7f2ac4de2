"""What lightcnn's own subcommands share: the data of a run config (built by the ``lightcnn``
CLI's own parser, so every key and override means what it means for ``fit``), a checkpoint with
its data, and the config of a checkpoint's run folder."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lightning.pytorch import LightningDataModule


def datamodule_from_config(config: str, overrides: list[str]) -> LightningDataModule:
    """The DataModule of a run config plus ``--data.*`` (or any other) overrides, parsed and
    instantiated by ``LightCNNCLI`` itself (no subcommand, nothing run)."""
    from lightcnn.cli import LightCNNCLI

    return LightCNNCLI.from_config(config, [*overrides, "--trainer.logger", "false"]).datamodule


def config_of(ckpt: str, config: str | None) -> str:
    """``config``, or the ``config.yaml`` of the run folder ``ckpt`` lives in (``run_config_of``)."""
    from lightcnn.run import run_config_of

    return config or str(run_config_of(ckpt, "--ckpt"))


def checkpoint_and_data(prog: str, description: str, argv: list[str], extra: Callable[[argparse.ArgumentParser], None]) -> tuple:
    p = argparse.ArgumentParser(allow_abbrev=False, prog=prog, description=description)
    p.add_argument("--ckpt", required=True, help="a lightcnn checkpoint (e.g. runs/x/version_0/checkpoints/best.ckpt)")
    p.add_argument("--config", "-c", help="a config whose data section gives the images (default: the checkpoint's run config)")
    extra(p)
    a, overrides = p.parse_known_args(argv)
    from lightcnn.inference import check_compatible, load_task
    from lightcnn.plugins import load_all

    load_all()
    task = load_task(a.ckpt)
    dm = datamodule_from_config(config_of(a.ckpt, a.config), overrides)
    check_compatible(task, dm, a.ckpt)
    return a, task, dm

"""What lightcnn's own subcommands share: the data of a run config (built by the ``lightcnn``
CLI's own parser, so every key and override means what it means for ``fit``), a checkpoint with
its data, and the config of a checkpoint's run folder."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING

from lightcnn.errors import LightCNNError

if TYPE_CHECKING:
    from lightning.pytorch import LightningDataModule


# The run-config parser's own top-level options (``lightcnn fit --help``), passed on with the dotted ones.
CONFIG_OPTIONS = ("--data", "--model", "--trainer", "--seed_everything", "--threads", "--name")


def parse_with_overrides(p: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The command's own options, and the rest as run-config overrides (``--data.root .data``).

    A leftover option that is neither dotted nor one of the run config's is a mistyped option of
    the command itself (``knn --kk 3``, ``lr-find --num-training 5``): it is named here with the
    command's closest options, instead of going to the run-config parser, whose message points at
    ``lightcnn fit --help``, or being dropped by a command that reads no data.

    Raises:
        LightCNNError: the unknown option, the command's close matches and all its options.
    """
    a, rest = p.parse_known_args(argv)
    own = [s for action in p._actions for s in action.option_strings if s.startswith("--")]
    for token in rest:
        name = token.split("=", 1)[0]
        if not name.startswith("--") or "." in name or name in CONFIG_OPTIONS:
            continue
        close = difflib.get_close_matches(name, own, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise LightCNNError(f"{p.prog}: unknown option {name}; {hint}its options: {', '.join(own)} "
                            f"(and run-config overrides, dotted: --data.root .data)")
    return a, rest


def datamodule_from_config(config: str, overrides: list[str]) -> LightningDataModule:
    """The DataModule of a run config plus ``--data.*`` (or any other) overrides, parsed and
    instantiated by ``LightCNNCLI`` itself (no subcommand, nothing run)."""
    from lightcnn.cli import LightCNNCLI

    return LightCNNCLI.from_config(config, [*overrides, "--trainer.logger", "false"]).datamodule


def config_of(ckpt: str, config: str | None) -> str:
    """``config``, or the ``config.yaml`` of the run folder ``ckpt`` lives in (``run_config_of``)."""
    from lightcnn.run import run_config_of

    return config or str(run_config_of(ckpt, "--ckpt"))


def checkpoint_and_data(prog: str, description: str, argv: list[str], extra: Callable[[argparse.ArgumentParser], None],
                        check: Callable[[argparse.Namespace], None] | None = None) -> tuple:
    """``(args, task, datamodule)`` of a tool that reads a checkpoint and a dataset; ``check``
    validates the tool's own options before either is loaded."""
    p = argparse.ArgumentParser(allow_abbrev=False, prog=prog, description=description)
    p.add_argument("--ckpt", required=True, help="a lightcnn checkpoint (e.g. runs/x/version_0/checkpoints/best.ckpt)")
    p.add_argument("--config", "-c", help="a config whose data section gives the images (default: the checkpoint's run config)")
    extra(p)
    a, overrides = parse_with_overrides(p, argv)
    if check is not None:
        check(a)
    from lightcnn.inference import check_compatible, load_task
    from lightcnn.plugins import load_all

    load_all()
    task = load_task(a.ckpt)
    dm = datamodule_from_config(config_of(a.ckpt, a.config), overrides)
    check_compatible(task, dm, a.ckpt)
    return a, task, dm

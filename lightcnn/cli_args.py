"""Command-line plumbing of the ``lightcnn`` CLI: the run folder's config for a checkpoint given
alone, the checkpoint's model beneath command-line overrides, loggers pointed at the run folder."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError
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


# Lightning types limit_*_batches as Union[float, int, None], and jsonargparse tries a union's
# types in order, so `limit_val_batches: 1` became 1.0, which Lightning takes as a fraction (every
# batch): a config or command line could not ask for one batch, as Trainer(limit_val_batches=1)
# does in Python. lightcnn's parsers try int first: 1 and 3 are counts, 1.0 and 0.5 fractions.
# (An X | Y union: typing caches Union[int, float] as the equal Union[float, int], order and all.)
BATCH_LIMITS = tuple(f"trainer.limit_{stage}_batches" for stage in ("train", "val", "test", "predict"))


def batch_counts_before_fractions(parser: Any) -> None:
    for action in parser._actions:  # argparse's list of the parser's arguments
        if action.dest in BATCH_LIMITS and hasattr(action, "_typehint"):  # jsonargparse's ActionTypeHint
            action._typehint = int | float | None


def is_config(name: str) -> bool:
    return name in ("--config", "-c")


def is_model(name: str) -> bool:
    return name == "--model" or name.startswith("--model.")


def into_run_folder(logger: Any, run: Path) -> None:
    """Point CSV and TensorBoard loggers of the trainer config at the run folder. An MLflow logger
    keeps its store, but one given no ``tracking_uri`` (and no ``MLFLOW_TRACKING_URI``) gets a
    local SQLite store beside the runs, ``{root}/mlflow.db``; unless given, its experiment is the
    run's name and its run name ``version_N``:
    Lightning's default there, a ``./mlruns`` file store, is refused by MLflow 3. Other loggers
    (W&B, ...) are left as they are."""
    import os

    from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger

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
        elif isinstance(cls, type) and issubclass(cls, MLFlowLogger):
            if not getattr(item.init_args, "tracking_uri", None) and not os.environ.get("MLFLOW_TRACKING_URI"):
                item.init_args.tracking_uri = f"sqlite:///{(run.parent.parent / 'mlflow.db').absolute()}"
            if getattr(item.init_args, "experiment_name", None) in (None, "lightning_logs"):  # Lightning's default
                item.init_args.experiment_name = run.parent.name
            if not getattr(item.init_args, "run_name", None):
                item.init_args.run_name = run.name


def with_run_config(argv: list[str]) -> list[str]:
    """``fit/validate/test/predict --ckpt_path RUN/checkpoints/x.ckpt`` without ``--config``:
    take the run folder's ``config.yaml`` (and its name and root), with the command line on top.

    Raises:
        LightCNNError: no ``--config`` and the checkpoint is not in a run folder with a config.yaml.
    """
    if not argv or argv[0] not in TRAINER_SUBCOMMANDS:
        return argv
    if any(a in ("-h", "--help", "--print_config") or a.startswith("--print_config=") for a in argv):
        return argv
    ckpt = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--ckpt_path"), None)
    ckpt = ckpt or next((a.split("=", 1)[1] for a in argv if a.startswith("--ckpt_path=")), None)
    if ckpt is None or ckpt in ALIASES or ckpt == "hpc" or ckpt.startswith("registry") or "://" in ckpt:
        return argv  # Lightning's own aliases and remote (fsspec) paths are Lightning's to check
    ckpt = os.path.expanduser(ckpt)
    if not Path(ckpt).is_file():
        what = "a folder, not a checkpoint file (e.g. its checkpoints/best.ckpt)" if Path(ckpt).is_dir() else "no such checkpoint file"
        raise LightCNNError(f"--ckpt_path {ckpt}: {what}; give a .ckpt file, or one of: {', '.join(sorted(ALIASES))}")
    if partition_options(argv, is_config)[0]:
        return argv
    config = run_config_of(ckpt, "--ckpt_path")
    run = config.parent
    extra = ["--config", str(config)]
    if "--name" not in argv:
        extra += ["--name", run.parent.name]
    if not any(a.startswith("--trainer.default_root_dir") for a in argv):
        extra += ["--trainer.default_root_dir", str(run.parent.parent)]
    return [argv[0], *extra, *argv[1:]]


BACKBONE_KEYS = ("--model.backbone", "--model.init_args.backbone")
BACKBONE_ARGS_KEYS = ("--model.backbone_args", "--model.init_args.backbone_args")


def option_values(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """Values of ``--name value`` / ``--name=value`` options, in order."""
    values = []
    for i, a in enumerate(argv):
        name, eq, value = a.partition("=")
        if name in names:
            if eq:
                values.append(value)
            elif i + 1 < len(argv):
                values.append(argv[i + 1])
    return values


def _config_model(argv: list[str]) -> tuple[str | None, Any, Any]:
    """``(config file, backbone, backbone_args)`` as the last ``--config`` file naming them sets
    them (None where no config sets them or a file cannot be read: the parser reports that)."""
    import yaml

    files = option_values(argv, ("--config", "-c"))
    found: tuple[str | None, Any, Any] = (None, None, None)
    for file in files:
        try:
            data = yaml.safe_load(Path(file).read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        model = data.get("model") if isinstance(data, dict) else None
        if not isinstance(model, dict):
            continue
        section = model.get("init_args", model) if isinstance(model.get("init_args"), dict) else model
        if "backbone" in section or "backbone_args" in section:
            found = (file, section.get("backbone", found[1]), section.get("backbone_args", found[2]))
    return found


def _flow(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()


def backbone_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    """The command line with a switched backbone's stale options dropped, and the notes to show.

    - ``--model.backbone B`` naming another backbone than the config's, without
      ``--model.backbone_args``: the config's ``backbone_args`` were written for its backbone, so
      they are dropped (``--model.backbone_args null`` is added), with a note naming them.
    - ``--model.backbone_args '{...}'`` replaces the config's whole dict (``--model.backbone_args.KEY
      value`` changes one key): a note names the keys the replacement drops.
    """
    if not argv or argv[0] not in TRAINER_SUBCOMMANDS:
        return argv, []
    import yaml

    notes: list[str] = []
    config, backbone, backbone_args = _config_model(argv)
    given_backbone = option_values(argv, BACKBONE_KEYS)
    given_args = option_values(argv, BACKBONE_ARGS_KEYS)
    # positions of --model.backbone_args.KEY options (they change one key on top of the dict)
    key_options = [i for i, a in enumerate(argv) if a.split("=", 1)[0].startswith(tuple(f"{k}." for k in BACKBONE_ARGS_KEYS))]
    if not (isinstance(backbone_args, dict) and backbone_args):
        return argv, notes
    try:
        new = yaml.safe_load(given_backbone[-1]) if given_backbone else backbone
    except yaml.YAMLError:
        return argv, notes  # the parser reports it
    switched = backbone_name(new) != backbone_name(backbone)
    if switched and not given_args:
        kept = " (the keys set with --model.backbone_args.KEY still apply)" if key_options else ""
        notes.append(
            f"--model.backbone {backbone_name(new)} replaces {config}'s {backbone_name(backbone)}, so its "
            f"backbone_args {_flow(backbone_args)} (written for {backbone_name(backbone)}) are dropped{kept}; "
            f"give --model.backbone_args '{{...}}' for {backbone_name(new)}'s options"
        )
        at = max(i for i, a in enumerate(argv) if a.split("=", 1)[0] in BACKBONE_KEYS)
        at += 1 if "=" in argv[at] else 2
        at = min([at, *key_options])  # before any --model.backbone_args.KEY, which must still apply on top
        argv = [*argv[:at], "--model.backbone_args", "null", *argv[at:]]
    elif given_args and not switched:  # a new backbone's own options replace the old ones' wholesale, rightly
        try:
            new_args = yaml.safe_load(given_args[-1])
        except yaml.YAMLError:
            return argv, notes
        lost = sorted(set(backbone_args) - set(new_args)) if isinstance(new_args, dict) else []
        if lost:
            notes.append(
                f"--model.backbone_args {_flow(new_args)} replaces {config}'s whole {_flow(backbone_args)}: "
                f"{', '.join(lost)} {'is' if len(lost) == 1 else 'are'} no longer set; to change one key and keep "
                f"the others, use --model.backbone_args.KEY VALUE"
            )
    return argv, notes


def args_alias(args: list[str]) -> str | None:
    """``last`` / ``best`` when the command line's ``--ckpt_path`` is one of them."""
    return next((value for value in option_values(args, ("--ckpt_path",)) if value in ALIASES), None)


def describe_choice(alias: str, ckpt: Path, experiment: Path, contents: dict) -> str:
    """Which checkpoint ``--ckpt_path last|best`` took, and why, in one line."""
    from lightcnn.run import versions

    run = ckpt.parent.parent
    newer = [v.name for v in versions(experiment) if int(v.name.split("_")[1]) > int(run.name.split("_")[1])]
    hparams = contents.get("hyper_parameters") or {}
    backbone = backbone_name(hparams.get("backbone")) if hparams.get("backbone") is not None else "?"
    epoch = contents.get("epoch")
    why = f"the newest run of {experiment} with a {alias}.ckpt"
    if newer:
        why += f" ({', '.join(newer)} {'has' if len(newer) == 1 else 'have'} none)"
    what = f"{str(hparams.get('_class_path', '?')).rpartition('.')[2]}, backbone {backbone}" + (f", epoch {epoch + 1}" if isinstance(epoch, int) else "")
    return f"{ckpt} ({what}): {why}; give a checkpoint file to choose another"

"""How a checkpoint and a config meet on the command line: the checkpoint's task and
architecture come first, the config's and the command line's model options go on top."""

from __future__ import annotations

import json
import sys
from typing import Any

from lightcnn.cli_args import backbone_name, is_config, is_model, option_values, partition_options
from lightcnn.data.info import LEGACY_DATA_KEYS
from lightcnn.errors import LightCNNError

# Model options that change the architecture, so a checkpoint's weights would not load.
ARCHITECTURE = {f"--model{p}.{k}" for p in ("", ".init_args") for k in ("backbone", "backbone_args", "embedding_dim")}


def checkpoint_model_args(args: list[str], sub: str, given: dict[str, Any], ckpt: str, state: dict) -> list[str] | None:
    """The command line to parse again with the checkpoint's model first (None: keep the config's).

    ``given`` is the config's ``model`` section, ``state`` the checkpoint (already vetted by
    ``run.check_checkpoint``). A backbone that differs from the config's is taken from the
    checkpoint (its weights need it) with a one-line note.

    Raises:
        LightCNNError: the config names another task than the checkpoint holds.
    """
    hparams = dict(state.get("hyper_parameters") or {})
    class_path = hparams.pop("_class_path", None)
    if not class_path:
        return None
    for key in ("_instantiator", "data", *LEGACY_DATA_KEYS):
        hparams.pop(key, None)
    given = given or {}
    mine = (str(given.get("class_path", "")).rpartition(".")[2], backbone_name((given.get("init_args") or {}).get("backbone")))
    theirs = (class_path.rpartition(".")[2], backbone_name(hparams.get("backbone", mine[1])))
    if mine[0] and mine[0] != theirs[0]:
        raise LightCNNError(
            f"{ckpt} holds a {theirs[0]} (backbone {theirs[1]}), but the config names a {mine[0]}: give a config for a "
            f"{theirs[0]}, or leave out --config (a checkpoint in a run folder brings its own config.yaml)"
        )
    first = args[: args.index(sub) + 1] if sub in args else [sub]
    configs, others = partition_options(args[len(first):], is_config)
    model_args, other_args = partition_options(others, is_model)
    architecture = _changed_architecture(model_args, hparams)
    if architecture:  # asked for explicitly: the weights cannot follow, so say so instead of failing to load them
        raise LightCNNError(
            f"{' '.join(architecture[:2])}: {ckpt} holds a {theirs[0]} with backbone {theirs[1]} and its options, and its weights "
            f"fit only that; leave {', '.join(sorted(set(architecture[::2])))} out "
            f"when loading a checkpoint"
        )
    if mine != theirs:
        print(f"lightcnn: note: {ckpt} holds a {theirs[0]} with backbone {theirs[1]}, the config names a {mine[0]} "
              f"with backbone {mine[1]}: using the checkpoint's", file=sys.stderr)
    checkpoint_model = json.dumps({"class_path": class_path, "init_args": hparams}, default=str)
    return [*first, *configs, "--model", checkpoint_model, *model_args, *other_args]


def _changed_architecture(model_args: list[str], hparams: dict[str, Any]) -> list[str]:
    """The architecture options of the command line whose value differs from the checkpoint's
    (the same command line with ``--ckpt_path last`` resumes a run: equal values are fine)."""
    import yaml

    changed = []
    for name in sorted(ARCHITECTURE):
        for value in option_values(model_args, (name,)):
            key = name.rpartition(".")[2]
            try:
                given = yaml.safe_load(value)
            except yaml.YAMLError:
                given = value
            saved = hparams.get(key)
            same = backbone_name(given) == backbone_name(saved) if key == "backbone" else given == saved or (not given and not saved)
            if not same:
                changed += [name, value]
    return changed

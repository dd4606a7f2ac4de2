"""How a checkpoint and a config meet on the command line: the checkpoint's task and
architecture come first, the config's and the command line's model options go on top."""

from __future__ import annotations

import json
import sys
from typing import Any

from lightcnn.cli_args import backbone_name, is_config, is_model, partition_options
from lightcnn.data.info import LEGACY_DATA_KEYS
from lightcnn.errors import LightCNNError


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
    if mine != theirs:
        print(f"lightcnn: note: {ckpt} holds a {theirs[0]} with backbone {theirs[1]}, the config names a {mine[0]} "
              f"with backbone {mine[1]}: using the checkpoint's", file=sys.stderr)
    first = args[: args.index(sub) + 1] if sub in args else [sub]
    configs, others = partition_options(args[len(first):], is_config)
    model_args, other_args = partition_options(others, is_model)
    checkpoint_model = json.dumps({"class_path": class_path, "init_args": hparams}, default=str)
    return [*first, *configs, "--model", checkpoint_model, *model_args, *other_args]

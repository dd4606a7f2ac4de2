"""The ``lightcnn`` command: LightningCLI's fit/validate/test/predict plus lightcnn's own subcommands.

    lightcnn fit --config configs/mnist_classify.yaml [--data.root .data] [--trainer.max_epochs 1]
    lightcnn test --config configs/mnist_classify.yaml --ckpt_path best
    lightcnn list [backbones|datamodules|tasks|augmentations|callbacks] [PATTERN]

Plugins are imported before anything is parsed. Errors the user can fix (``LightCNNError`` and
configuration errors) print one message and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from lightcnn.config_errors import config_files_in, explain
from lightcnn.errors import LightCNNError
from lightcnn.run import RunLogger, resolve_ckpt_path
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
            save_config_callback=SaveConfigCallback,
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
        for key in LINKED:
            parser.link_arguments(f"data.{key}", f"model.init_args.{key}", apply_on="instantiate")

    def _section(self) -> Any:
        return self.config[self.subcommand] if self.subcommand else self.config

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
            if self._run_dir is not None and self._run_dir.parent.resolve() != experiment.resolve():
                self._run_dir = None  # another experiment's checkpoint (transfer): a new run of this one

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        cfg = self._section()
        if cfg["trainer"].get("logger") in (None, True):
            exp = self._experiment_dir()
            version = int(self._run_dir.name.split("_")[1]) if self._run_dir is not None else None
            kwargs["logger"] = RunLogger(save_dir=str(exp.parent), name=exp.name, version=version)
        self.save_config_kwargs["config_filename"] = "config.yaml" if self.subcommand == "fit" else f"config_{self.subcommand}.yaml"
        return super().instantiate_trainer(**kwargs)


def _list(argv: list[str]) -> int:
    from lightcnn.registry import REGISTRIES

    p = argparse.ArgumentParser(prog="lightcnn list", description="List registered names.")
    p.add_argument("kind", nargs="?", choices=sorted(REGISTRIES), help="what to list (default: all)")
    p.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'cifar*' or 'timm/resnet*'")
    a = p.parse_args(argv)
    for kind in [a.kind] if a.kind else sorted(REGISTRIES):
        names = REGISTRIES[kind].names(a.pattern)
        if kind == "backbones" and a.pattern == "*":
            import timm

            names.append(f"timm/*  ({len(timm.list_models())} timm models: `lightcnn list backbones 'timm/*'`)")
        print(f"{kind}:")
        print("\n".join(f"  {n}" for n in names) if names else "  (none match)")
    return 0


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


def datamodule_from_config(config: str, overrides: list[str]) -> LightningDataModule:
    """Instantiate only the ``data`` section of a run config (plus ``--data.*`` overrides)."""
    from jsonargparse import ActionConfigFile

    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_lightning_class_args(LightningDataModule, "data", subclass_mode=True)
    for other in ("trainer", "model", "seed_everything", "name", "ckpt_path"):
        parser.add_argument(f"--{other}", type=Any, default=None)  # parsed elsewhere; ignored here
    cfg = parser.parse_args(["--config", config, *overrides])
    return parser.instantiate_classes(cfg).data


def _preview_augment(argv: list[str]) -> int:
    from lightcnn.augment.preview import preview_png
    from lightcnn.io import atomic_write

    p = argparse.ArgumentParser(prog="lightcnn preview-augment", description="Grid of augmented training images.")
    p.add_argument("--config", "-c", required=True, help="a run config with data.init_args.augment")
    p.add_argument("--n", type=int, default=8, help="augmented versions per image (default 8)")
    p.add_argument("--rows", type=int, default=6, help="images, one class after another (default 6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="aug.png", help="PNG to write (default aug.png)")
    a, overrides = p.parse_known_args(argv)
    if a.n < 1 or a.rows < 1:
        raise LightCNNError(f"--n and --rows must be >= 1, got {a.n} and {a.rows}")
    dm = datamodule_from_config(a.config, overrides)
    with atomic_write(a.out, "wb") as f:
        f.write(preview_png(dm, n=a.n, rows=a.rows, seed=a.seed))
    print(f"wrote {a.out}")
    return 0


def _checkpoint_and_data(prog: str, description: str, argv: list[str], extra) -> tuple:  # noqa: ANN001
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


def _embed(argv: list[str]) -> int:
    from lightcnn.inference import embed_split, save_npz

    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--split", default="test", choices=["train", "val", "test"])
        p.add_argument("--out", default="embeddings.npz", help="npz with embeddings, labels, class_names")

    a, task, dm = _checkpoint_and_data("lightcnn embed", "Write a split's embeddings and labels.", argv, extra)
    emb, y = embed_split(task, dm, a.split)
    save_npz(a.out, embeddings=emb.numpy(), labels=y.numpy(), class_names=np.array(dm.class_names),
             heldout=np.array(getattr(dm, "heldout_class_ids", []), dtype=np.int64))
    print(f"wrote {a.out}: {tuple(emb.shape)} embeddings of the {a.split} split")
    return 0


def _knn(argv: list[str]) -> int:
    from lightcnn.inference import embed_split, knn_classify

    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--k", type=int, default=5)
        p.add_argument("--reference", default="train", choices=["train", "val", "test"])
        p.add_argument("--query", default="test", choices=["train", "val", "test"])

    a, task, dm = _checkpoint_and_data("lightcnn knn", "k-NN classification of one split against another.", argv, extra)
    ref, ref_y = embed_split(task, dm, a.reference)
    query, query_y = embed_split(task, dm, a.query)
    pred = knn_classify(ref, ref_y, query, a.k, dm.num_classes)
    print(f"{a.k}-NN accuracy of {a.query} against {a.reference}: {(pred == query_y).float().mean():.4f} ({len(query_y)} images)")
    for c, name in enumerate(dm.class_names):
        m = query_y == c
        if m.any():
            print(f"  {name:>20}: {(pred[m] == c).float().mean():.4f} ({int(m.sum())})")
    return 0


EXTRA_COMMANDS = {"list": _list, "preview-augment": _preview_augment, "embed": _embed, "knn": _knn}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lightcnn`` console script; returns the exit status."""
    from lightcnn.plugins import discover

    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet()
    try:
        _import_builtins()
        discover()
        if argv and argv[0] in EXTRA_COMMANDS:
            return EXTRA_COMMANDS[argv[0]](argv[1:])
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

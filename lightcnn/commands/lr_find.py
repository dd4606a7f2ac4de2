"""``lightcnn lr-find``: Lightning's learning-rate finder on a config; writes the config with the
suggested rate, the loss-against-rate curve and its numbers into a folder of their own."""

from __future__ import annotations

import argparse
from pathlib import Path

from lightcnn.commands.common import parse_with_overrides


SKIP_BEGIN, SKIP_END = 10, 1  # Lightning's defaults: the first points are barely smoothed, the last may diverge


def suggest_lr(lrs: list[float], losses: list[float], mode: str = "exponential") -> float | None:
    """The rate where the recorded (smoothed) loss falls fastest: the most negative derivative of
    the loss with respect to log10(lr) when the rates rise exponentially (to lr when linearly),
    skipping the first ``SKIP_BEGIN`` and last ``SKIP_END`` points; None when too few finite
    points are left or the loss never falls.

    Written here rather than taken from ``_LRFinder.suggestion``: Lightning 2.6 differentiates with
    respect to lr itself even for exponentially spaced rates (Lightning issue #21141), which puts
    the suggestion at the smallest rates whenever the loss wobbles there.
    """
    import numpy as np

    lr = np.asarray(lrs[SKIP_BEGIN : len(lrs) - SKIP_END], dtype=float)
    loss = np.asarray(losses[SKIP_BEGIN : len(losses) - SKIP_END], dtype=float)
    keep = np.isfinite(loss) & np.isfinite(lr) & (lr > 0)
    lr, loss = lr[keep], loss[keep]
    if len(loss) < 3:
        return None
    x = np.log10(lr) if mode == "exponential" else lr
    slope = np.gradient(loss, x)
    best = int(np.argmin(slope))
    falls = slope[best] < -1e-9 * max(1.0, float(np.abs(loss).max()))  # not rounding noise of a flat curve
    return float(lr[best]) if falls else None


def main(argv: list[str]) -> int:
    from lightcnn.errors import LightCNNError

    p = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="lightcnn lr-find",
        description="Train briefly with an exponentially rising learning rate (Lightning's Tuner.lr_find) and suggest "
        "the rate where the loss falls fastest. Writes {root}/{name}/lr_find/version_N/: config.yaml (the run config "
        "with model.init_args.lr set to the suggestion), lr_find.png and lr_find.csv.",
        epilog="Other options (--data.root .data, --model.*, --trainer.*) apply as they do for fit.",
    )
    p.add_argument("--config", "-c", required=True, help="a run config (configs/mnist_fast.yaml)")
    p.add_argument("--min_lr", type=float, default=1e-6, help="first rate tried (default 1e-6)")
    p.add_argument("--max_lr", type=float, default=1.0, help="last rate tried (default 1)")
    p.add_argument("--num_training", type=int, default=100, help="training steps, one rate each (default 100)")
    p.add_argument("--mode", choices=["exponential", "linear"], default="exponential", help="how the rate rises")
    a, overrides = parse_with_overrides(p, argv)
    if not 0 < a.min_lr < a.max_lr or a.num_training < 2:
        raise LightCNNError(f"need 0 < --min_lr < --max_lr and --num_training >= 2; got {a.min_lr}, {a.max_lr}, {a.num_training}")
    from lightcnn.plugins import load_all

    load_all()

    from lightcnn.cli import LightCNNCLI
    from lightcnn.run import next_version, scratch_run_dir

    # The finder's short training must leave no run behind: its Trainer writes into a scratch folder.
    with scratch_run_dir("lightcnn-lr-find-"):
        cli = LightCNNCLI.from_config(a.config, overrides, as_fit=True)
        experiment = cli._experiment_dir()
        folder = next_version(experiment / "lr_find")
        return _find(cli, a, folder, experiment.name)


def _find(cli, a: argparse.Namespace, folder: Path, name: str) -> int:
    import csv

    from lightning.pytorch.tuner import Tuner

    from lightcnn.errors import LightCNNError
    from lightcnn.io import atomic_write

    model, dm, trainer = cli.model, cli.datamodule, cli.trainer
    model.configure_callbacks = lambda: []  # no checkpoints, history or report: this is not a run
    before = model.hparams.get("lr")
    finder = Tuner(trainer).lr_find(model, datamodule=dm, min_lr=a.min_lr, max_lr=a.max_lr, num_training=a.num_training,
                                    mode=a.mode, update_attr=False)
    if finder is None:
        raise LightCNNError("the learning-rate finder did not run (trainer.fast_dev_run is set)")
    lrs, losses = finder.results.get("lr", []), finder.results.get("loss", [])
    suggestion = suggest_lr(lrs, losses, a.mode)
    if suggestion is None:
        raise LightCNNError(f"the learning-rate finder could not suggest a rate from {len(lrs)} steps (too few finite "
                            f"losses, or the loss never fell); widen --min_lr/--max_lr or raise --num_training")
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(folder / "lr_find.csv", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["lr", "loss"])
        writer.writerows(zip(lrs, losses))
    import matplotlib

    matplotlib.use("Agg")
    figure = finder.plot(suggest=False, show=False)
    axes = figure.axes[0]
    axes.axvline(suggestion, color="red", linestyle="--", label=f"suggested {suggestion:.3g}")
    axes.legend()
    axes.set_title(f"{name}: loss against learning rate")
    figure.savefig(folder / "lr_find.png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)

    config = cli.config.clone()
    config["model"]["init_args"]["lr"] = float(f"{suggestion:.3g}")
    config["name"] = name
    for key in ("ckpt_path", "weights_only", "verbose", "return_predictions"):
        config.pop(key, None)
    with atomic_write(folder / "config.yaml") as f:
        f.write(f"# lightcnn lr-find --config {a.config}: suggested lr {suggestion:.3g} (the config had {before})\n")
        f.write(cli.parser.dump(config, skip_none=False, skip_check=True))
    print(f"suggested lr {suggestion:.3g} (where the smoothed loss falls fastest against log(lr), over {len(lrs)} steps; "
          f"the config had {before})")
    if len(lrs) < a.num_training:
        print(f"lightcnn: note: the finder ran {len(lrs)} of --num_training {a.num_training} steps (the loss diverged, or "
              f"trainer.max_epochs {trainer.max_epochs} ended it first)")
    print(f"wrote {folder}/: config.yaml (model.init_args.lr: {suggestion:.3g}), lr_find.png, lr_find.csv")
    print(f"train with it: lightcnn fit --config {folder}/config.yaml")
    return 0

"""``lightcnn summary``: a config's model, layer by layer, as Keras's ``model.summary()`` shows it."""

from __future__ import annotations

import argparse

from lightcnn.commands.common import parse_with_overrides


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="lightcnn summary",
        description="Print the model a config builds, Keras-style: each layer's output shape and parameters, and the "
        "total, trainable and non-trainable counts (BatchNorm's running statistics count as non-trainable, as in Keras). "
        "Nothing is trained or written; the data files are not read.",
        epilog="Other options (--model.backbone_args.batchnorm true, --data.image_size 96) apply as they do for fit.",
    )
    p.add_argument("--config", "-c", required=True, help="a run config (configs/cifar10_base.yaml)")
    a, overrides = parse_with_overrides(p, argv)
    from lightcnn.plugins import load_all

    load_all()
    from lightcnn.cli import LightCNNCLI
    from lightcnn.models.summary import summary_text
    from lightcnn.run import scratch_run_dir

    with scratch_run_dir("lightcnn-summary-"):  # building the Trainer must leave no run behind
        cli = LightCNNCLI.from_config(a.config, overrides, as_fit=True)
    model = cli.model
    info = model.data_info
    if model.normalize.values() is None:  # statistics come from the data at fit; shapes do not depend on them
        model.normalize.set([0.0] * info.in_channels, [1.0] * info.in_channels)
    backbone = model.hparams.get("backbone")
    title = f"{type(model).__name__}({backbone if isinstance(backbone, str) else type(model.backbone).__name__})"
    print(summary_text(model, (info.in_channels, info.image_size, info.image_size), title))
    return 0

"""``lightcnn preview-augment``: a grid of augmented training images."""

from __future__ import annotations

import argparse

from lightcnn.commands.common import datamodule_from_config, parse_with_overrides
from lightcnn.errors import LightCNNError


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="lightcnn preview-augment", description="Grid of augmented training images.")
    p.add_argument("--config", "-c", required=True, help="a run config with data.init_args.augment")
    p.add_argument("--n", type=int, default=8, help="augmented versions per image (default 8)")
    p.add_argument("--rows", type=int, default=6, help="images, one class after another (default 6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="aug.png", help="PNG to write (default aug.png)")
    a, overrides = parse_with_overrides(p, argv)
    from lightcnn.data.info import DescribesSplits
    from lightcnn.io import atomic_write
    from lightcnn.plugins import load_all

    load_all()
    if a.n < 1 or a.rows < 1:
        raise LightCNNError(f"--n and --rows must be >= 1, got {a.n} and {a.rows}")
    dm = datamodule_from_config(a.config, overrides)
    png = dm.augment_preview_png(n=a.n, rows=a.rows, seed=a.seed) if isinstance(dm, DescribesSplits) else None
    if png is None:
        raise LightCNNError(f"{a.config}: {type(dm).__name__} has no augmentation to preview: set data.init_args.augment in the config")
    with atomic_write(a.out, "wb") as f:
        f.write(png)
    print(f"wrote {a.out}")
    return 0

"""``lightcnn export``: a checkpoint to ONNX and TorchScript, normalisation inside the graph."""

from __future__ import annotations

import argparse
from pathlib import Path

from lightcnn.commands.common import parse_with_overrides


def main(argv: list[str]) -> int:
    from lightcnn.errors import LightCNNError
    from lightcnn.export import DEFAULT_OPSET, MIN_OPSET, FORMATS, export_task, verify

    p = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="lightcnn export", description="Export a checkpoint to ONNX and TorchScript: images in [0, 1] in, class probabilities (or the embedding) out, normalisation inside, any batch size.",
        epilog="Data options (--data.root .data, ...) after the others apply to the --check images.",
    )
    p.add_argument("--ckpt", required=True, help="a lightcnn checkpoint")
    p.add_argument("--out", help="output folder (default: export/ in the checkpoint's run folder, else beside it)")
    p.add_argument("--format", default=",".join(FORMATS), help=f"comma-separated, of: {', '.join(FORMATS)} (default: both)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--check", type=int, default=0, metavar="N",
                   help="also compare the files with PyTorch on the first N test images of the checkpoint's data "
                        "(its run config, or --config); random images are always compared")
    p.add_argument("--split", default="test", choices=["val", "test"], help="the split --check takes images from")
    p.add_argument("--config", "-c", help="a config whose data gives the --check images (default: the run's config.yaml)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest |difference| from PyTorch accepted (default 1e-4)")
    a, overrides = parse_with_overrides(p, argv)
    if overrides and not a.check:
        raise LightCNNError(f"unrecognized arguments: {' '.join(overrides)} (data options need --check N)")
    if a.check < 0 or a.tolerance <= 0:
        raise LightCNNError("--check must be >= 0 and --tolerance > 0")
    if a.opset < MIN_OPSET:
        raise LightCNNError(f"--opset {a.opset}: the torch.export-based ONNX exporter writes opset {MIN_OPSET} or higher")
    from lightcnn.inference import load_task
    from lightcnn.plugins import load_all
    from lightcnn.run import run_dir_of

    load_all()
    ckpt = Path(a.ckpt)
    task = load_task(ckpt)
    run = run_dir_of(ckpt)
    out = Path(a.out) if a.out else (run / "export" if run else ckpt.parent)
    formats = tuple(f.strip() for f in a.format.split(",") if f.strip())
    exported = export_task(task, out, stem=ckpt.stem, formats=formats, opset=a.opset, source=str(ckpt))
    spec = exported.spec
    inp, outp = spec["input"], spec["output"]
    names = ", ".join(str(f) for f in [*exported.files.values(), exported.manifest])
    print(f"wrote {names}" + (f" (ONNX opset {a.opset})" if "onnx" in exported.files else ""))
    print(f"input '{inp['name']}': float32 {inp['shape']} {inp['layout']} {inp['channels']} in [0, 1] (normalisation inside); "
          f"output '{outp['name']}': {outp['shape']}")

    import torch

    checks = [("random images", torch.rand(64, *inp["shape"][1:], generator=torch.Generator().manual_seed(0)))]
    if a.check:
        from lightcnn.commands.common import config_of, datamodule_from_config
        from lightcnn.inference import check_compatible, split_images

        dm = datamodule_from_config(config_of(str(ckpt), a.config), overrides)
        check_compatible(task, dm, ckpt)
        checks.append((f"{a.split} images", split_images(dm, a.split, a.check)))
    failed = []
    for label, images in checks:
        for fmt, r in verify(exported, images).items():
            ok = r["max_abs_diff"] <= a.tolerance and r["top1_agree"] == 1.0
            print(f"  {fmt:>11} on {r['n']} {label}: max |difference| from PyTorch {r['max_abs_diff']:.2e}, "
                  f"top-1 agreement {100 * r['top1_agree']:.2f} %" + ("" if ok else "  <- over tolerance"))
            failed += [] if ok else [f"{fmt} on {label}"]
    if failed:
        raise LightCNNError(f"the exported model disagrees with PyTorch beyond --tolerance {a.tolerance}: {', '.join(failed)}")
    return 0

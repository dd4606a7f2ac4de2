"""``lightcnn visualize``: first-layer filters, feature maps of every conv layer for one image,
and the predicted class probabilities, as PNGs."""

from __future__ import annotations

import argparse
from pathlib import Path


from lightcnn.commands.common import parse_with_overrides
from lightcnn.errors import LightCNNError


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="lightcnn visualize", description="Filters, feature maps and class probabilities of a trained CNN.")
    p.add_argument("--ckpt", required=True, help="a lightcnn checkpoint")
    p.add_argument("--config", "-c", help="a config whose data section gives the images for --index (default: the checkpoint's run config)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--image", help="an image file, converted to the model's channels and size")
    which.add_argument("--index", type=int, help="an image of the dataset split, by position")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", help="output folder (default: visualize/ in the checkpoint's run folder, else ./visualize)")
    p.add_argument("--max-channels", type=int, default=32, help="feature-map channels shown per layer (default 32)")
    p.add_argument("--layer", help="the conv layer whose filters to draw: its name (backbone.layers.4) or its position among "
                   "the conv layers (0 = the first, the default); an error lists them")
    p.add_argument("--signed", action="store_true", help="draw the filters in a signed colour map (red +, blue -, one scale "
                   "for the layer), as the notebooks' plot_conv_weights does, instead of each filter scaled to its own range")
    p.add_argument("--input-channel", type=int, help="with --signed: only this input channel of each filter")
    a, overrides = parse_with_overrides(p, argv)
    if a.image is not None and overrides:  # nothing would read them: say so rather than drop them
        raise LightCNNError(f"lightcnn visualize --image reads no dataset, so {' '.join(overrides)} would be ignored; "
                            f"run-config options choose the images of --index")
    from lightcnn.commands.common import config_of, datamodule_from_config
    from lightcnn.data.images import load_files
    from lightcnn.inference import check_compatible, load_task
    from lightcnn.io import atomic_write
    from lightcnn.report.visualize import (
        conv_layers, feature_map_png, feature_maps, filters_png, pick_conv, probabilities_png, signed_filters_png,
    )
    from lightcnn.run import run_dir_of
    from lightcnn.plugins import load_all

    load_all()
    task = load_task(a.ckpt)
    convs = conv_layers(task.backbone)  # fail before reading any data
    layer_name, layer = pick_conv(convs, a.layer)
    if a.input_channel is not None and not a.signed:
        raise LightCNNError("--input-channel selects what --signed draws; add --signed")
    filters = signed_filters_png(layer, layer_name, a.input_channel) if a.signed else filters_png(layer, layer_name)
    label = None
    if a.index is not None:
        dm = datamodule_from_config(config_of(a.ckpt, a.config), overrides)
        check_compatible(task, dm, a.ckpt)
        dm.setup("test" if a.split == "test" else "fit")
        x_all, y_all = dm.splits[a.split]
        if not 0 <= a.index < len(y_all):
            raise LightCNNError(f"--index {a.index} is outside the {a.split} split (0..{len(y_all) - 1})")
        image, label, source = x_all[a.index : a.index + 1], task.class_names[int(y_all[a.index])], f"{a.split}[{a.index}]"
    else:
        path = Path(a.image)
        if not path.is_file():
            what = "a folder: give one image file in it" if path.is_dir() else "no such file"
            raise LightCNNError(f"--image {a.image}: {what}")
        image, source = load_files([path], task.in_channels, task.image_size), path.name
    shown = image.float() / 255
    maps, out = feature_maps(task.backbone, task, shown)  # the task normalises as in its training
    run = run_dir_of(a.ckpt)
    out_dir = Path(a.out) if a.out else (run / "visualize" if run else Path("visualize"))
    (out_dir / "feature_maps").mkdir(parents=True, exist_ok=True)
    written = [out_dir / ("filters.png" if a.layer is None else f"filters_{layer_name.replace('.', '_')}.png")]
    with atomic_write(written[0], "wb") as f:
        f.write(filters)
    for i, (name, fmap) in enumerate(maps.items()):
        written.append(out_dir / "feature_maps" / f"{i:02d}_{name.replace('.', '_')}.png")
        with atomic_write(written[-1], "wb") as f:
            f.write(feature_map_png(fmap, name, a.max_channels))
    if hasattr(task, "head") and out.shape[-1] == len(task.class_names):  # a classifier: logits
        probs = out[0].float().softmax(dim=0)
        title = f"{source}" + (f" (true: {label})" if label else "") + f"\npredicted: {task.class_names[int(probs.argmax())]} {float(probs.max()):.3f}"
        written.append(out_dir / "probabilities.png")
        with atomic_write(written[-1], "wb") as f:
            f.write(probabilities_png(shown[0], probs, task.class_names, title))
        print(title.replace("\n", "; "))
    else:
        print("an embedding model has no class probabilities: filters and feature maps only")
    print(f"wrote {len(written)} PNGs to {out_dir}: {written[0].name}, feature_maps/ ({len(maps)} conv layers)"
          + (", probabilities.png" if written[-1].name == "probabilities.png" else ""))
    return 0

"""Decoding an image folder once: lightcnn's ``decode_many`` against the straightforward way (each
file fully decoded by Pillow, resized, one after another), on the same files in one run.

    python benchmarks/decode.py                  # -> a table + benchmarks/results/decode.json
    python benchmarks/decode.py --root photos/   # your own folder of images instead

Without ``--root`` it writes ``--count`` synthetic 4000x3000 JPEGs (a 12-megapixel phone photo:
smooth gradients plus noise, quality 90, ~5.8 MB each) to a temporary folder. Each side decodes
every file at ``--size`` px (shorter side resized, centre crop), alternating, ``--repeats`` rounds;
the table gives the median ms per image and the mean absolute pixel difference between the two.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from lightcnn.data.images import IMAGE_SUFFIXES, decode_many


def plain(paths: list[Path], size: int) -> np.ndarray:
    """Each file fully decoded, resized (shorter side) and centre-cropped, in turn."""
    out = []
    for path in paths:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = size / min(w, h)
            nw, nh = max(size, round(w * s)), max(size, round(h * s))
            im = im.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
            left, top = (nw - size) // 2, (nh - size) // 2
            out.append(np.asarray(im.crop((left, top, left + size, top + size))).transpose(2, 0, 1))
    return np.stack(out)


def photos(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    h, w = 3000, 4000
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 255 / (w + h)], -1)
    paths = []
    for i in range(count):
        img = np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        paths.append(folder / f"photo_{i}.jpg")
        Image.fromarray(img).save(paths[-1], quality=90)
    return paths


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", type=Path, default=None, help="a folder of images (default: synthetic 12-megapixel JPEGs)")
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "decode.json")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if a.root is None:
            paths = photos(Path(tmp), a.count)
        else:
            paths = sorted(q for q in a.root.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
        times: dict[str, list[float]] = {"plain": [], "lightcnn": []}
        for r in range(a.repeats):
            for side in (["plain", "lightcnn"] if r % 2 == 0 else ["lightcnn", "plain"]):
                t = time.perf_counter()
                x = plain(paths, a.size) if side == "plain" else decode_many(paths, a.size)
                times[side].append((time.perf_counter() - t) / len(paths) * 1e3)
                if side == "plain":
                    ref = x
                else:
                    got = x
        diff = float(np.abs(ref.astype(int) - got.astype(int)).mean())
    ms = {k: statistics.median(v) for k, v in times.items()}
    print(f"{len(paths)} images at {a.size} px, {a.repeats} rounds, medians")
    print("| decoding | ms per image | the rounds | vs plain |")
    print("|---|---|---|---|")
    for k, label in (("plain", "Pillow, full decode, one file after another"), ("lightcnn", "`decode_many` (reduced JPEG scale, a thread per torch thread)")):
        print(f"| {label} | {ms[k]:.1f} | {', '.join(f'{v:.1f}' for v in times[k])} | {ms['plain'] / ms[k]:.2f}x |")
    print(f"mean absolute difference between the two: {diff:.2f} (of 255)")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"images": len(paths), "size": a.size, "ms_per_image": times, "mean_abs_diff": diff}, indent=1))


if __name__ == "__main__":
    main()

"""``lightcnn coarse``: CIFAR-100 fine-label predictions mapped to the 20 superclasses, compared
with a coarse-trained model (CSV per fine class and per superclass, bar charts, a summary)."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch

from lightcnn.commands.common import parse_with_overrides
from lightcnn.errors import LightCNNError


def _predictions(ckpt: str, dm, split: str, want_classes: int) -> torch.Tensor:  # noqa: ANN001
    from lightcnn.inference import embed_split, load_task

    task = load_task(ckpt)
    if task.num_classes != want_classes or not hasattr(task, "head"):
        raise LightCNNError(f"{ckpt} is a {task.num_classes}-class {type(task).__name__}; expected a {want_classes}-class classifier")
    # each model normalises the images as in its own training, and sees them as its test did (TTA)
    logits, _ = embed_split(task, dm, split, forward=task.evaluate)
    return logits.argmax(dim=1)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="lightcnn coarse", description="CIFAR-100: fine model mapped to superclasses vs a coarse model.")
    p.add_argument("--fine-ckpt", required=True, help="a checkpoint trained on the 100 fine labels")
    p.add_argument("--coarse-ckpt", help="a checkpoint trained on the 20 coarse labels (optional)")
    p.add_argument("--config", "-c", required=True, help="a CIFAR-100 config with label_level: fine (gives the images)")
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.add_argument("--out", default="coarse", help="output folder (default ./coarse)")
    a, overrides = parse_with_overrides(p, argv)
    from lightcnn.commands.common import datamodule_from_config
    from lightcnn.data.cifar100 import COARSE, FINE, FINE_TO_COARSE
    from lightcnn.io import atomic_write
    from lightcnn.plugins import load_all
    from lightcnn.report.coarse import differences_png, fine_to_coarse_analysis, notebook_differences, superclass_report
    from lightcnn.report.figures import bars_png

    load_all()
    dm = datamodule_from_config(a.config, overrides)
    if getattr(dm, "label_level", None) != "fine" or list(dm.class_names) != FINE:
        raise LightCNNError(f"{a.config}: needs CIFAR100DataModule with label_level: fine and all 100 classes (got {type(dm).__name__})")
    fine_pred = _predictions(a.fine_ckpt, dm, a.split, 100)
    coarse_pred = _predictions(a.coarse_ckpt, dm, a.split, 20) if a.coarse_ckpt else None
    fine_true = dm.splits[a.split][1]
    r = fine_to_coarse_analysis(fine_true, fine_pred, FINE_TO_COARSE, coarse_pred)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    order = sorted(range(100), key=lambda c: (FINE_TO_COARSE[c], c))  # grouped by superclass
    fine_cols = [k for k in ("fine_precision", "mapped_precision", "coarse_precision", "fine_recall", "mapped_recall", "coarse_recall") if k in r]
    with atomic_write(out / "coarse_per_fine_class.csv", newline="") as f:
        w = csv.writer(f)
        w.writerow(["fine_class", "superclass", *fine_cols])
        w.writerows([FINE[c], COARSE[FINE_TO_COARSE[c]], *[f"{float(r[k][c]):.4f}" for k in fine_cols]] for c in order)
    mapping = torch.tensor(FINE_TO_COARSE)
    reports = {"mapped": superclass_report(mapping[fine_true], mapping[fine_pred], 20)}
    if coarse_pred is not None:
        reports["coarse"] = superclass_report(mapping[fine_true], coarse_pred, 20)
    cols = [(who, k) for who in reports for k in ("precision", "recall", "f1")]
    with atomic_write(out / "coarse_per_superclass.csv", newline="") as f:
        w = csv.writer(f)
        w.writerow(["superclass", *[f"{who}_{k}" for who, k in cols], "support"])
        w.writerows([COARSE[s], *[f"{float(reports[who][k][s]):.4f}" for who, k in cols],
                     int(reports["mapped"]["support"][s])] for s in range(20))
    diffs = notebook_differences(r, FINE_TO_COARSE)
    with atomic_write(out / "coarse_differences.png", "wb") as f:
        f.write(differences_png(diffs, FINE, FINE_TO_COARSE, COARSE))
    series = {"fine model, fine precision": [float(r["fine_precision"][c]) for c in order],
              "fine model mapped to superclasses": [float(r["mapped_precision"][c]) for c in order]}
    if coarse_pred is not None:
        series["coarse-trained model (its superclass precision)"] = [float(r["coarse_precision"][c]) for c in order]
    with atomic_write(out / "coarse_precision.png", "wb") as f:
        f.write(bars_png([FINE[c] for c in order], series, f"CIFAR-100 {a.split}: precision per fine class (colour = superclass)",
                         "precision", [FINE_TO_COARSE[c] for c in order]))
    summary = {k: r[k] for k in ("fine_acc", "mapped_acc", "coarse_acc") if k in r} | {"split": a.split, "images": len(fine_true)}
    with atomic_write(out / "coarse_summary.json") as f:
        json.dump(summary, f, indent=2)
    print(f"{a.split} ({len(fine_true)} images): fine accuracy {r['fine_acc']:.4f}; fine mapped to superclasses {r['mapped_acc']:.4f}"
          + (f"; coarse-trained model {r['coarse_acc']:.4f}" if coarse_pred is not None else ""))
    print(f"wrote {out}/coarse_per_fine_class.csv, coarse_per_superclass.csv (precision, recall, F1, support), "
          f"coarse_precision.png, coarse_differences.png (the notebook's F_CF{', F_C, CF_C' if coarse_pred is not None else ''}), "
          f"coarse_summary.json")
    return 0

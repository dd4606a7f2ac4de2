"""Report sections the tasks contribute (named in their ``ReportSpec``), built from the run
folder's files and history alone."""

from __future__ import annotations

import json
from pathlib import Path

from lightcnn.metrics import RETRIEVAL
from lightcnn.report.document import Document
from lightcnn.report.history import History

RETRIEVAL_COLUMNS = tuple(RETRIEVAL.values())  # p_at_1, r_precision, map_at_r, nmi, ami


def classification_sections(doc: Document, run: Path, history: History) -> None:
    """Per-class precision/recall/F1, most-confused pairs, confusion matrix and misclassified
    images, for the last validation epoch and for the test split (whichever were written)."""
    for stage in ("val", "test"):
        _classification_section(doc, run, stage)


def _classification_section(doc: Document, run: Path, stage: str) -> None:
    path = run / f"{stage}_per_class.json"
    if not path.is_file():
        return
    summary = json.loads(path.read_text())
    name = {"val": "Validation (last epoch)", "test": "Test"}[stage]
    doc.heading(f"{name}: per-class precision, recall, F1")
    doc.para(f"accuracy {summary['accuracy']:.4f}; macro precision {summary['macro']['precision']:.4f}, "
             f"recall {summary['macro']['recall']:.4f}, F1 {summary['macro']['f1']:.4f}")
    doc.table(["class", "precision", "recall", "f1", "support"],
              [[r["class"], r["precision"], r["recall"], r["f1"], r["support"]] for r in summary["classes"]])
    names = [r["class"] for r in summary["classes"]]
    pairs = most_confused(summary["confusion"], names)
    if pairs:
        doc.heading(f"{name}: most confused pairs", 3)
        doc.table(["true", "predicted as", "count", "share of true class"], pairs)
    for suffix, alt in (("confusion", "confusion matrix"), ("misclassified", "misclassified images")):
        if (run / f"{stage}_{suffix}.png").is_file():
            doc.heading(f"{name}: {alt}", 3)
            doc.image(run / f"{stage}_{suffix}.png", f"{stage} {alt}")


def most_confused(confusion: list[list[int]], names: list[str], k: int = 5) -> list[list[object]]:
    """The ``k`` largest off-diagonal cells: ``[true, predicted, count, share of true class]``."""
    cells = [(confusion[i][j], i, j) for i in range(len(names)) for j in range(len(names)) if i != j and confusion[i][j] > 0]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [[names[i], names[j], n, f"{n / max(1, sum(confusion[i])):.1%}"] for n, i, j in cells[:k]]


def embedding_sections(doc: Document, run: Path, history: History) -> None:
    """The retrieval table (seen / held-out / all, with the baselines) and the UMAP images."""
    sources = {"val (last epoch)": {k: history.last(k) for k in history.series if k.startswith("val/")}, "test": history.test}
    rows = []
    for stage, values in sources.items():
        prefix = "val" if stage.startswith("val") else "test"
        for model in ("", "baseline_untrained/", "baseline_pixels/"):
            for group in ("seen", "heldout", "all"):
                got = [values.get(f"{prefix}/{model}{group}/{m}") for m in RETRIEVAL_COLUMNS]
                if any(v is not None for v in got):
                    rows.append([stage, model.rstrip("/").replace("baseline_", "baseline: ") or "model", group, *got])
    umaps = sorted((run / "umap").glob("*.png")) if (run / "umap").is_dir() else []
    if not rows and not umaps:
        return
    doc.heading("Retrieval (leave-one-out within each group)")
    if rows:
        doc.table(["split", "embedding", "classes", *RETRIEVAL_COLUMNS], rows)
    for png in umaps:
        doc.heading(f"UMAP: {png.stem}", 3)
        doc.image(png, f"UMAP {png.stem}")

"""The sweep report: ``sweep.md``, one self-contained ``sweep.html`` and ``sweep.csv`` in the
sweep folder, rebuilt from the study and the trials' run folders after every trial.

One row per trial (variant, seed, state, overrides, parameters, FLOPs, training time, the main
metric on train/val/test, overfitting verdict); the metric per variant as bars (mean ± std over
seeds); curves overlaid; the metric against parameters and time; per-class F1 across variants;
for searches Optuna's optimisation history and parameter importances.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write
from lightcnn.report.compare import curve_panels, score
from lightcnn.report.document import Document
from lightcnn.report.figures import overlay_png
from lightcnn.report.history import History
from lightcnn.report.run_report import load_run, verdict_of
from lightcnn.sweep.engine import ERROR, IGNORED, INTERRUPTED
from lightcnn.sweep.spec import SweepSpec

COLUMNS = ["variant", "seed", "state", "overrides", "params", "FLOPs", "fit s"]


@dataclass
class Row:
    key: str
    label: str
    seed: int | None
    state: str
    overrides: dict[str, Any]
    run: Path
    history: History | None
    info: dict[str, Any]
    value: float | None


def latest_trials(study: Any) -> list[Any]:
    """Per trial key, the trial that speaks for it: a finished one, else the newest attempt;
    duplicates and over-budget claims left out. In plan (key first seen) order."""
    chosen: dict[str, Any] = {}
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        key = t.user_attrs.get("key")
        if key is None or IGNORED in t.system_attrs:
            continue
        old = chosen.get(key)
        if old is None or not (old.state.name in ("COMPLETE", "PRUNED") and t.state.name not in ("COMPLETE", "PRUNED")):
            chosen[key] = t
    return list(chosen.values())


def _state(t: Any) -> str:
    if t.state.name == "FAIL":
        reason = t.system_attrs.get(ERROR) or t.system_attrs.get(INTERRUPTED) or "failed"
        return f"{'interrupted' if INTERRUPTED in t.system_attrs else 'failed'}: {reason}"
    if t.state.name == "PRUNED":
        steps = sorted(t.intermediate_values)
        return f"pruned after epoch {steps[-1]}" if steps else "pruned"
    return {"COMPLETE": "done", "RUNNING": "running", "WAITING": "waiting"}.get(t.state.name, t.state.name.lower())


def rows_of(spec: SweepSpec, study: Any) -> list[Row]:
    rows = []
    for t in latest_trials(study):
        run = spec.folder / t.user_attrs.get("dir", t.user_attrs["key"])
        history, info = None, {}
        if (run / "history.json").is_file() or (run / "metrics.csv").is_file():
            try:
                _, history, info = load_run(run)
            except LightCNNError:
                pass
        rows.append(Row(t.user_attrs["key"], t.user_attrs.get("label", t.user_attrs["key"]), t.user_attrs.get("seed"), _state(t),
                        json.loads(t.user_attrs.get("overrides", "{}")), run, history, info,
                        t.value if t.state.name == "COMPLETE" else None))
    return rows


def _seconds(value: float | None) -> str | None:
    """Training seconds to a tenth (a metric's four decimals would claim microseconds)."""
    return None if value is None else f"{value:.1f}"


def _stage_values(row: Row, metric: str) -> list[float | None]:
    """The main metric's name at train, val and test."""
    name = metric.split("/", 1)[1]
    h = row.history
    if h is None:
        return [None, None, None]
    train = h.last(f"train/{name}") if f"train/{name}" in h.series else h.last(f"train/{name}_epoch")
    return [train, score(h, row.info, f"val/{name}"), h.test.get(f"test/{name}")]


def write_sweep_report(spec: SweepSpec, study: Any, rows: list[Row] | None = None) -> tuple[Path, Path]:
    """Write the report files into the sweep folder (``rows``: ``rows_of(spec, study)`` when the
    caller has them already); return ``(sweep.md, sweep.html)``."""
    metric = study.user_attrs.get("lightcnn:metric", "val/loss")
    name = metric.split("/", 1)[1]
    rows = rows_of(spec, study) if rows is None else rows
    folder = spec.folder
    doc = Document(f"Sweep {spec.name}: {len(rows)} trials, {metric}")
    done = [r for r in rows if r.value is not None]
    doc.para(f"Base config: {spec.base}. Mode: {spec.mode}. Ranked by {metric} "
             f"({study.direction.name.lower()}); {len(done)} of {len(rows)} trials finished.")
    header = [*COLUMNS, f"train/{name}", f"val/{name}", f"test/{name}", "overfitting"]
    table = []
    for r in rows:
        verdict = verdict_of(r.history, r.info) if r.history is not None else None
        table.append([
            r.label, r.seed, r.state, " ".join(f"{k}={_shown(v)}" for k, v in r.overrides.items()) or "(base)",
            r.info.get("params"), r.info.get("flops"), _seconds(r.history.last("time/fit_s") if r.history else None),
            *_stage_values(r, metric), verdict.flag if verdict else "-",
        ])
    doc.heading("Trials")
    doc.table(header, table)
    _write_csv(folder / "sweep.csv", header, table)
    maximize = study.direction.name == "MAXIMIZE"
    if done:
        best = (max if maximize else min)(done, key=lambda r: r.value)
        doc.para(f"best: {best.key} ({metric} {best.value:.4f}).")
    if spec.reference is not None:
        _reference_section(doc, spec, rows)
    _figures(doc, spec, study, rows, done, metric)
    return doc.write(folder, "sweep")


def _metric_of(row: Row, metric: str) -> float | None:
    h = row.history
    if h is None:
        return None
    if metric.startswith("test/"):
        return h.test.get(metric)
    return score(h, row.info, metric) if metric.startswith("val/") else h.last(metric)


def reference_rows(spec: SweepSpec, rows: list[Row]) -> list[list[Any]]:
    """``[variant, source's figure or None, lightcnn's (mean over seeds) or None, difference or None]``
    for every variant the reference names, in the sweep's order."""
    ref = spec.reference
    assert ref is not None
    ours: dict[str, list[float]] = {}
    for r in rows:
        value = _metric_of(r, ref.metric)
        if value is not None:
            ours.setdefault(r.label, []).append(value)
    out = []
    for label in dict.fromkeys(p.label for p in spec.plans):
        if label not in ref.values:
            continue
        theirs, mine = ref.values[label], statistics.fmean(ours[label]) if label in ours else None
        out.append([label, theirs, mine, None if theirs is None or mine is None else mine - theirs])
    return out


def _reference_section(doc: Document, spec: SweepSpec, rows: list[Row]) -> None:
    ref = spec.reference
    doc.heading(f"Beside {ref.source}")
    doc.para(f"{ref.metric}: the source's figure and this sweep's (mean over seeds); "
             f"'not printed' where the source shows none.{' ' + ref.note if ref.note else ''}")
    table = [[label, "not printed" if theirs is None else theirs, "-" if mine is None else mine, "-" if diff is None else f"{diff:+.4f}"]
             for label, theirs, mine, diff in reference_rows(spec, rows)]
    doc.table(["variant", f"source {ref.metric}", f"lightcnn {ref.metric}", "difference"], table)


def _shown(value: Any) -> str:
    """An override as the table shows it: text as is, floats to 4 significant digits (a search's
    0.00044303752452182633 reads 0.000443), the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value, default=str)


def _write_csv(path: Path, header: list[str], table: list[list[Any]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in table)
    with atomic_write(path, newline="") as f:
        f.write(buf.getvalue())


def _figures(doc: Document, spec: SweepSpec, study: Any, rows: list[Row], done: list[Row], metric: str) -> None:
    from lightcnn.sweep.figures import bars_png, heatmap_png, scatter_png

    folder = spec.folder
    groups: dict[str, list[float]] = {}
    for r in done:
        groups.setdefault(r.label, []).append(r.value)
    if groups and spec.search is None:
        doc.heading(f"{metric} per variant")
        summary = [[k, len(v), statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else None, min(v), max(v)] for k, v in groups.items()]
        doc.table(["variant", "seeds", "mean", "std", "min", "max"], summary)
        _png(doc, folder / "sweep_bars.png", bars_png(groups, metric), f"{metric} per variant")
    with_history = {r.key: r for r in rows if r.history is not None and r.history.epochs}
    panels = curve_panels([r.history for r in with_history.values()], [r.info for r in with_history.values()])
    if panels:
        doc.heading("Curves (solid: validation, dashed: training)")
        _png(doc, folder / "sweep_curves.png", overlay_png({k: r.history for k, r in with_history.items()}, panels), "overlaid curves")
    points = [(r.key, r.info.get("params"), r.history.last("time/fit_s") if r.history else None, r.value) for r in done]
    if points:
        doc.heading(f"{metric} against parameters and training time")
        _png(doc, folder / "sweep_tradeoffs.png", scatter_png(points, metric), "metric against parameters and time")
    f1 = _per_class_f1(done)
    if f1 is not None:
        (stage, classes), table = f1
        doc.heading(f"Per-class F1 across variants ({stage})")
        _png(doc, folder / "sweep_f1.png", heatmap_png(table, classes, f"per-class F1 ({stage})"), "per-class F1 heatmap")
    if spec.search is not None:
        _search_figures(doc, folder, study)


def _per_class_f1(rows: list[Row]) -> tuple[tuple[str, list[str]], dict[str, list[float]]] | None:
    """Per-class F1 of each finished trial (test split when tested, else the last validation)."""
    for stage in ("test", "val"):
        found = {r.key: r.run / f"{stage}_per_class.json" for r in rows if (r.run / f"{stage}_per_class.json").is_file()}
        if found:
            table, classes = {}, None
            for key, path in found.items():
                items = json.loads(path.read_text())["classes"]
                classes = classes or [str(c["class"]) for c in items]
                if [str(c["class"]) for c in items] == classes:
                    table[key] = [float(c["f1"]) for c in items]
            return (stage, classes or []), table
    return None


def _search_figures(doc: Document, folder: Path, study: Any) -> None:
    from optuna.visualization import matplotlib as plots

    from lightcnn.sweep.figures import optuna_png

    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not finished:
        return
    doc.heading("Optimisation history")
    _png(doc, folder / "sweep_history.png", optuna_png(plots.plot_optimization_history, study), "optimisation history")
    if len(finished) < 2 or not finished[0].params:
        doc.para("Parameter importances need at least two finished trials.")
        return
    try:
        png = optuna_png(plots.plot_param_importances, study)
    except (RuntimeError, ValueError) as err:  # e.g. every trial had the same parameters
        doc.para(f"Parameter importances not computed: {err}")
        return
    doc.heading("Parameter importances (fANOVA)")
    _png(doc, folder / "sweep_importances.png", png, "parameter importances")


def _png(doc: Document, path: Path, data: bytes, alt: str) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)
    doc.image(path, alt)

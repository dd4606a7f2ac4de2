"""``lightcnn compare``: several runs side by side — one table, overlaid curves, a config diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write
from lightcnn.report.document import Document
from lightcnn.report.figures import overlay_png
from lightcnn.report.history import History
from lightcnn.report.run_report import best_epoch, load_run, spec_of, verdict_of


def compare_scores(infos: list[dict[str, Any]]) -> list[str]:
    """The scores the runs' tasks declare (``ReportSpec.scores``), in order, without repeats;
    compared where every run has them, listed as "not common" otherwise."""
    return list(dict.fromkeys(k for info in infos for k in spec_of(info).scores))


def run_name(run: Path, taken: set[str]) -> str:
    """``experiment/version_N``, made unique if two runs share it."""
    name, i = f"{run.parent.name}/{run.name}", 2
    base = name
    while name in taken:
        name, i = f"{base} ({i})", i + 1
    taken.add(name)
    return name


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys: ``{"model": {"lr": 1}} -> {"model.lr": 1}``; lists stay values."""
    if not isinstance(config, dict):
        return {prefix: config}
    out: dict[str, Any] = {}
    for key, value in config.items():
        out |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def config_diff(configs: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Rows ``[key, value in run 1, value in run 2, ...]`` for keys whose values differ (a key
    missing from a run shows as ``(absent)``)."""
    flat = {name: flatten(cfg) for name, cfg in configs.items()}
    keys = sorted(set().union(*flat.values())) if flat else []
    missing = object()
    rows = []
    for key in keys:
        values = [f.get(key, missing) for f in flat.values()]
        if any(v != values[0] for v in values[1:]):
            rows.append([key, *["(absent)" if v is missing else _short(v) for v in values]])
    return rows


def _short(value: Any, limit: int = 70) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def score(history: History, info: dict[str, Any], key: str) -> float | None:
    """A run's value of ``key``: test values as tested, the monitored ``val/*`` metric at the best
    checkpoint's epoch, anything else at the last epoch."""
    if key.startswith("test/"):
        return history.test.get(key)
    if key.startswith("val/") and key == info.get("monitor"):
        return best_epoch(history, info)[1]  # the checkpointed epoch's value
    return history.last(key)


def compare_runs(run_dirs: list[str | Path], out_dir: str | Path, metric: str = "test/acc", metric_given: bool = False) -> tuple[Path, Path]:
    """Write ``compare.md``, ``compare.html`` and ``compare_curves.png`` into ``out_dir``.

    Raises:
        LightCNNError: fewer than two runs, a folder that is not a run (named), or a
            ``metric_given`` that no run has (with the names they have).
    """
    if len(run_dirs) < 2:
        raise LightCNNError(f"compare needs at least two run folders, got {len(run_dirs)}")
    taken: set[str] = set()
    runs: dict[str, tuple[Path, History, dict[str, Any]]] = {}
    seen: dict[Path, str | Path] = {}
    for d in run_dirs:
        run, history, info = load_run(d)
        if (first := seen.setdefault(run.resolve(), d)) is not d:
            raise LightCNNError(f"{d}: the same run folder as {first}, given twice; compare needs different runs")
        runs[run_name(run, taken)] = (run, history, info)
    scores = compare_scores([i for _, _, i in runs.values()])
    has = {k: [n for n, (_, h, i) in runs.items() if score(h, i, k) is not None] for k in (*scores, metric)}
    if metric_given and not has[metric]:
        known = sorted({k for _, h, _ in runs.values() for k in (*h.series, *h.test)})
        raise LightCNNError(f"--metric {metric}: none of these runs has it; they have: {', '.join(k for k in known if k.count('/') == 1)}")
    common = [k for k in scores if len(has[k]) == len(runs)]
    partial = {k: v for k, v in has.items() if 0 < len(v) < len(runs)}
    doc = Document(f"Comparison of {len(runs)} runs")
    header = ["run", "task", "params", "epochs", "fit s", *common]
    if metric not in common:
        header.append(metric)
    header.append("overfitting")
    rows = []
    for name, (_, history, info) in runs.items():
        verdict = verdict_of(history, info)
        params = info.get("params") or history.last("model/params")
        rows.append([
            name, info.get("task"), None if params is None else int(params), len(history.epochs), history.last("time/fit_s"),
            *[score(history, info, k) for k in header[5:-1]], verdict.flag if verdict else "-",
        ])
    doc.heading("Summary")
    doc.table(header, rows)
    ranked = [(v, n) for n, (_, h, i) in runs.items() if (v := score(h, i, metric)) is not None]
    if ranked:
        best_value, best_name = (min if metric.endswith("loss") else max)(ranked)
        doc.para(f"best by {metric}: {best_name} ({best_value:.4f}). val/* scores are the best checkpoint's; train/* the last epoch's.")
    notes = [f"{k} only in {', '.join(v)}" for k, v in partial.items()]
    notes += [f"{metric} in no run" for _ in [0] if not has[metric]]
    tasks = {i.get("task") for _, _, i in runs.values()}
    if len(tasks) > 1:
        notes.insert(0, f"the runs are of different tasks ({', '.join(sorted(map(str, tasks)))}): only what they share is compared")
    if notes:
        doc.para("Not common to all runs: " + "; ".join(notes) + ".")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    panels = curve_panels([h for _, h, _ in runs.values()], [i for _, _, i in runs.values()])
    if panels:
        with atomic_write(out / "compare_curves.png", "wb") as f:
            f.write(overlay_png({n: h for n, (_, h, _) in runs.items()}, panels))
        doc.heading("Curves (solid: validation, dashed: training)")
        doc.image(out / "compare_curves.png", "overlaid curves")
    configs = {n: _config(r) for n, (r, _, _) in runs.items()}
    diff = config_diff(configs)
    doc.heading("Config differences")
    if diff:
        doc.table(["key", *runs], diff)
    else:
        doc.para("the configs are identical")
    return doc.write(out, "compare")


def curve_panels(histories: list[History], infos: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """``(title, validation key, training key or None)`` for the curve panels of the runs' task
    specs whose validation key every run has."""
    def everywhere(key: str | None) -> bool:
        return key is not None and all(key in h.series for h in histories)

    panels: list[tuple[str, str, str | None]] = []
    for info in infos:
        for title, keys in spec_of(info).curves:
            vals = [k for k in keys if k.startswith("val/")]
            train = next((k for k in keys if k.startswith("train/")), None)
            for val in vals:  # one panel per validation key: the runs overlaid, one colour each
                if everywhere(val) and all(p[1] != val for p in panels):
                    panels.append((title if len(vals) == 1 else val.split("/", 1)[1], val, train if everywhere(train) else None))
    return panels


def _config(run: Path) -> dict[str, Any]:
    path = run / "config.yaml"
    if not path.is_file():
        return {}
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise LightCNNError(f"{path} is not valid YAML: {err}") from err

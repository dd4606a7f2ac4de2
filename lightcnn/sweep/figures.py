"""The sweep report's own figures (matplotlib, off-screen); curves reuse ``compare``'s overlay."""

from __future__ import annotations

import statistics
from typing import Any

from lightcnn.report.figures import pyplot, to_png


def bars_png(groups: dict[str, list[float]], metric: str) -> bytes:
    """The metric per variant: mean as a bar, ± one standard deviation over seeds, each seed a dot."""
    plt = pyplot()
    names = list(groups)
    fig, ax = plt.subplots(figsize=(max(4.5, 0.8 * len(names) + 2), 3.8))
    means = [statistics.fmean(v) for v in groups.values()]
    stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in groups.values()]
    ax.bar(range(len(names)), means, yerr=stds, capsize=4, color="tab:blue", alpha=0.6)
    for i, values in enumerate(groups.values()):
        ax.plot([i] * len(values), values, "o", color="black", markersize=3)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    low = min(min(v) for v in groups.values())
    high = max(max(v) for v in groups.values())
    pad = max((high - low) * 0.5, 1e-3)
    ax.set_ylim(low - pad, high + pad)  # the differences, not the distance from zero
    ax.set_title(f"{metric} per variant (mean ± std over seeds)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return to_png(fig)


def scatter_png(points: list[tuple[str, float | None, float | None, float]], metric: str) -> bytes:
    """Two panels: the metric against parameters and against training time, one labelled dot per
    trial. ``points`` are ``(label, params, fit seconds, value)``."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.0))
    for ax, index, xlabel in ((axes[0], 1, "parameters"), (axes[1], 2, "training time (s)")):
        shown = [(p[0], p[index], p[3]) for p in points if p[index] is not None]
        ax.scatter([x for _, x, _ in shown], [y for _, _, y in shown], color="tab:blue")
        for label, x, y in shown:
            ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        if index == 1 and shown and max(x for _, x, _ in shown) > 20 * max(min(x for _, x, _ in shown), 1):
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{metric} against model size and training time")
    fig.tight_layout()
    return to_png(fig)


def heatmap_png(rows: dict[str, list[float]], classes: list[str], title: str) -> bytes:
    """Variants (rows) by classes (columns), each cell the class's F1, annotated when it fits."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(classes) + 3), max(2.5, 0.4 * len(rows) + 1.5)))
    data = list(rows.values())
    image = ax.imshow(data, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(classes)), [c[:12] for c in classes], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), list(rows), fontsize=8)
    if len(classes) <= 20:
        for i, values in enumerate(data):
            for j, v in enumerate(values):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v < 0.6 else "black")
    fig.colorbar(image, ax=ax, fraction=0.03)
    ax.set_title(title)
    fig.tight_layout()
    return to_png(fig)


def optuna_png(plot: Any, study: Any) -> bytes:
    """One of ``optuna.visualization.matplotlib``'s plots of the study, as PNG."""
    import warnings

    pyplot()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        ax = plot(study)
    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    fig.set_size_inches(7.5, 4.2)
    fig.tight_layout()
    return to_png(fig)

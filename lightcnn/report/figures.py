"""Matplotlib figures for reports, rendered off-screen to PNG bytes."""

from __future__ import annotations

import io
import math
from typing import Any

import torch

from lightcnn.report.history import History
from lightcnn.report.overfit import Verdict


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_png(fig: Any, dpi: int = 100) -> bytes:
    """Render and close ``fig``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
    return buf.getvalue()


def _epoch_axes(ax: Any, title: str, legend_size: int) -> None:
    """Title, an integer epoch axis, a light grid and the legend."""
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)


def curves_png(history: History, panels: list[tuple[str, list[str]]], best_epoch: int | None, verdict: Verdict | None) -> bytes:
    """One panel per ``(title, keys)``: each key's per-epoch curve (``train/*`` dashed), the best
    epoch as a vertical line and the diverging epochs shaded."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels):
        for key in keys:
            epochs, values = history.get(key)
            if epochs:
                ax.plot(epochs, values, "--" if key.startswith("train/") else "-", marker="o", markersize=3, label=key)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="tab:green", linestyle=":", label=f"best epoch {best_epoch}")
        if verdict is not None and verdict.overfitting and verdict.began_epoch is not None:
            ax.axvspan(verdict.began_epoch - 0.5, max(history.epochs) + 0.5, color="tab:red", alpha=0.08, label="diverging")
        _epoch_axes(ax, title, legend_size=8)
    fig.tight_layout()
    return to_png(fig)


def overlay_png(runs: dict[str, History], panels: list[tuple[str, str, str | None]]) -> bytes:
    """Several runs on shared axes: per panel ``(title, val_key, train_key)``; training dashed."""
    plt = pyplot()
    cols = min(4, len(panels))  # wrapped: a sweep of a classifier with micro metrics has 8 panels
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols, 4.0 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (title, val_key, train_key) in zip(axes.flat, panels):
        for i, (name, history) in enumerate(runs.items()):
            color = colors[i % len(colors)]
            for key, style in ((val_key, "-"), (train_key, "--")):
                epochs, values = history.get(key) if key else ([], [])
                if epochs:
                    ax.plot(epochs, values, style, color=color, label=f"{name} {key.split('/')[0]}")
        _epoch_axes(ax, title, legend_size=7)
    fig.tight_layout()
    return to_png(fig)


def image_grid_png(
    images: torch.Tensor, titles: list[str], cols: int = 6, suptitle: str = "", cell: float = 1.9, cmap: str | None = None
) -> bytes:
    """Images ``(N, C, H, W)`` in [0, 1] (C = 1 or 3) with a small title each.

    Drawn as one mosaic in one axes with the titles as text: a grid of matplotlib axes (one per
    image) cost about 1 s for 24 images, most of a run report's figure time."""
    import numpy as np

    plt = pyplot()
    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, math.ceil(n / cols))
    x = images.detach().cpu().float().clamp(0, 1).permute(0, 2, 3, 1).numpy()  # a GPU's tensors too
    h, w, c = x.shape[1:]
    lines = max((t.count("\n") + 1 for t in titles), default=0)
    band = math.ceil(h * 0.17 * lines / cell) if lines else 0  # pixels of title band above each image
    gap = max(1, w // 14)
    cell_h, cell_w = band + h + gap, w + gap
    gray = c == 1
    mosaic = np.full((rows * cell_h, cols * cell_w, c), np.nan if gray else 1.0, dtype=np.float32)  # white around
    fig = plt.figure(figsize=(cell * cols, cell * rows * cell_h / cell_w))
    ax = fig.add_axes((0, 0, 1, 0.94 if suptitle else 1))
    for i in range(n):
        r, col = divmod(i, cols)
        top, left = r * cell_h + band, col * cell_w
        mosaic[top : top + h, left : left + w] = x[i]
        if i < len(titles):
            ax.text(left + w / 2, r * cell_h + band / 2, titles[i], ha="center", va="center", fontsize=7)
    colours = None
    if gray:
        colours = plt.get_cmap(cmap or "gray").with_extremes(bad="white")  # the NaN background
    ax.imshow(np.ma.masked_invalid(mosaic[..., 0]) if gray else mosaic, cmap=colours, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    return to_png(fig, dpi=90)


def bars_png(labels: list[str], series: dict[str, list[float]], title: str, ylabel: str, groups: list[int] | None = None) -> bytes:
    """One bar chart panel per series (sharing the x labels), stacked vertically; bars coloured
    by ``groups`` when given (e.g. the superclass of each fine class)."""
    plt = pyplot()
    n = len(labels)
    fig, axes = plt.subplots(len(series), 1, figsize=(max(8, 0.16 * n + 2), 2.6 * len(series) + 0.8), squeeze=False, sharex=True)
    cmap = plt.get_cmap("tab20")
    colors = [cmap(g % 20) for g in groups] if groups is not None else None
    for ax, (name, values) in zip(axes[:, 0], series.items()):
        ax.bar(range(n), values, color=colors)
        mean = sum(values) / max(1, len(values))
        ax.axhline(mean, color="black", linewidth=0.8, linestyle="--")
        ax.set_title(f"{name} (mean {mean:.3f})", fontsize=9)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1)
        ax.set_xlim(-0.6, n - 0.4)
    axes[-1, 0].set_xticks(range(n), labels, rotation=90, fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return to_png(fig)

"""UMAP projection of evaluation embeddings, held-out classes marked: PNG, CSV and the logger."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from lightcnn.io import atomic_write
from lightcnn.outputs import EmbeddingOutputs
from lightcnn.registry import CALLBACKS
from lightcnn.run import run_dir
from lightcnn.umap_fit import MIN_POINTS, umap_2d


def subsample(labels: torch.Tensor, max_per_class: int, seed: int) -> torch.Tensor:
    """Indices of at most ``max_per_class`` images of each class, seeded, sorted."""
    g = torch.Generator().manual_seed(seed)
    keep = []
    for c in torch.unique(labels):
        idx = (labels == c).nonzero().flatten()
        keep.append(idx[torch.randperm(len(idx), generator=g)[:max_per_class]])
    return torch.cat(keep).sort().values


def scatter_png(xy: np.ndarray, labels: np.ndarray, names: list[str], heldout: set[int], title: str) -> bytes:
    """Scatter coloured by class; held-out classes drawn as crosses and marked in the legend."""
    from lightcnn.report.figures import pyplot, to_png

    plt = pyplot()

    classes = sorted(set(labels.tolist()))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    for i, c in enumerate(classes):
        m = labels == c
        held = c in heldout
        ax.scatter(
            xy[m, 0], xy[m, 1], s=6 if not held else 10, marker="x" if held else "o", linewidths=0.6,
            color=cmap(i % cmap.N), alpha=0.7, label=f"{names[c]} (held out)" if held else names[c],
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    ax.legend(markerscale=2.5, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return to_png(fig)


@CALLBACKS.register()
class UMAPCallback(Callback):
    """Project the task's validation/test embeddings with umap-learn, on rank 0, between epochs.

    Writes ``umap/{tag}.png`` (coloured by class, held-out classes as crosses) and
    ``umap/{tag}.csv`` (x, y, label, class, heldout) into the run folder, and logs the figure to
    loggers that take images (TensorBoard, W&B). ``tag`` is ``val_epoch{N}``, ``fit_end`` or ``test``.

    Args:
        every_n_epochs: also project after every N-th validation (0: only at the end of fit and test).
        max_per_class: images per class to project, seeded subsample.
        n_neighbors, min_dist: UMAP parameters.
        seed: for the subsample and UMAP (a fixed ``random_state`` makes UMAP single-threaded,
            so it never competes with training for the cores).

    Projects the task's ``EmbeddingOutputs`` for the stage (``EmbeddingTask`` produces them; other
    tasks are skipped).
    The neighbours are exact (torch) and umap-learn's numba kernels are cached on disk
    (``lightcnn.umap_fit``), so only the first projection on a machine compiles them. Without
    umap-learn it says so once and does nothing.
    """

    def __init__(self, every_n_epochs: int = 0, max_per_class: int = 300, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0) -> None:
        from lightcnn.errors import LightCNNError

        if every_n_epochs < 0 or max_per_class < 1 or n_neighbors < 2 or not 0 <= min_dist <= 1:
            raise LightCNNError(
                f"UMAPCallback: need every_n_epochs >= 0, max_per_class >= 1, n_neighbors >= 2, 0 <= min_dist <= 1; "
                f"got {every_n_epochs}, {max_per_class}, {n_neighbors}, {min_dist}"
            )
        self.every_n_epochs, self.max_per_class = every_n_epochs, max_per_class
        self.n_neighbors, self.min_dist, self.seed = n_neighbors, min_dist, seed
        self._missing_reported = False
        self.seconds: list[float] = []  # wall time of each projection, for benchmarks

    def _umap_installed(self) -> bool:
        try:
            import umap  # noqa: F401
        except ImportError:
            if not self._missing_reported:
                rank_zero_warn("UMAPCallback: umap-learn is not installed, skipping projections (pip install umap-learn)")
                self._missing_reported = True
            return False
        return True

    def project(self, trainer: Trainer, pl_module: LightningModule, stage: str, tag: str) -> Path | None:
        """Fit UMAP on the stage's embeddings and write ``umap/{tag}.png`` and ``.csv``."""
        found = getattr(pl_module, "outputs", {}).get(stage)  # declared by BaseTask; other modules have none
        if not trainer.is_global_zero or not isinstance(found, EmbeddingOutputs):
            return None
        if not self._umap_installed():
            return None
        emb, labels = found.embeddings, found.labels
        keep = subsample(labels, self.max_per_class, self.seed)
        emb, labels = emb[keep].float().numpy(), labels[keep].numpy()
        if len(labels) < MIN_POINTS:  # a run's other outputs are kept: a tiny split is not a failed fit
            rank_zero_warn(f"UMAPCallback: {stage} has {len(labels)} images, and UMAP needs at least {MIN_POINTS}: "
                           f"no {tag} projection")
            return None
        t = time.perf_counter()
        xy = umap_2d(emb, self.n_neighbors, self.min_dist, self.seed)
        self.seconds.append(time.perf_counter() - t)
        heldout = set(found.heldout_class_ids)
        names = list(found.class_names)
        out = run_dir(trainer) / "umap"
        with atomic_write(out / f"{tag}.csv", newline="") as f:
            w = csv.writer(f)
            w.writerow(["x", "y", "label", "class", "heldout"])
            for (a, b), c in zip(xy.tolist(), labels.tolist()):
                w.writerow([f"{a:.5f}", f"{b:.5f}", c, names[c], int(c in heldout)])
        title = f"UMAP of {stage} embeddings ({tag}, {len(labels)} images" + (", x = held-out classes)" if heldout else ")")
        png = scatter_png(xy, labels, names, heldout, title)
        with atomic_write(out / f"{tag}.png", "wb") as f:
            f.write(png)
        self._log_image(trainer, tag, png)
        rank_zero_info(f"UMAP: wrote {out / tag}.png ({self.seconds[-1]:.1f} s)")
        return out / f"{tag}.png"

    @staticmethod
    def _log_image(trainer: Trainer, tag: str, png: bytes) -> None:
        from PIL import Image

        for logger in trainer.loggers:
            image = Image.open(io.BytesIO(png)).convert("RGB")
            if hasattr(logger, "log_image"):  # W&B, Neptune, ...
                logger.log_image(key=f"umap/{tag}", images=[image], step=trainer.global_step)
            elif hasattr(getattr(logger, "experiment", None), "add_image"):  # TensorBoard
                logger.experiment.add_image(f"umap/{tag}", np.asarray(image), trainer.global_step, dataformats="HWC")

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # on_validation_end, not ..._epoch_end: callbacks' epoch-end hooks run before the task's,
        # which is where this epoch's embeddings are gathered.
        n = self.every_n_epochs
        if n and not trainer.sanity_checking and (trainer.current_epoch + 1) % n == 0:
            self.project(trainer, pl_module, "val", f"val_epoch{trainer.current_epoch}")

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.project(trainer, pl_module, "val", "fit_end")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.project(trainer, pl_module, "test", "test")

"""A 2-D UMAP projection that pays little for being the first in a process.

Measured on 3,000 x 64 embeddings (the main job's projection, BENCHMARKS.md): umap-learn spends
its cold fit (1) on exact neighbours for data under 4,096 points, through scikit-learn's
``pairwise_distances`` with umap's numba metric as a Python callable (one Python call per pair:
9 million), and (2) compiling its numba kernels, which umap-learn does not cache on disk
(pynndescent does). So:

- the exact k nearest neighbours are computed here with torch (``cdist`` + ``topk``, the same
  neighbours, milliseconds) and handed to UMAP as its documented ``precomputed_knn``;
- umap-learn's uncached kernels get numba's on-disk cache (``Dispatcher.enable_caching``, what
  ``cache=True`` does): the first process compiles and stores them, later ones load them.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from lightcnn.errors import LightCNNError

UMAP_MODULES = ("umap.umap_", "umap.layouts", "umap.utils")  # where a 2-D euclidean fit's kernels live
# umap-learn's spectral initialisation fails (a scipy TypeError) on 3 points or fewer
MIN_POINTS = 4
EXACT_KNN_MAX = 20_000  # above this, umap-learn's own approximate search (NN-descent, cached by pynndescent)


def exact_knn(x: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(n, k)`` int64 and euclidean distances ``(n, k)`` float32 of each row's ``k``
    nearest rows, itself first (as umap-learn's own neighbour search returns them); rows in
    chunks, so memory stays ``chunk x n``."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    k = min(k, len(t))
    idx = torch.empty(len(t), k, dtype=torch.int64)
    dist = torch.empty(len(t), k)
    for start in range(0, len(t), chunk):
        d = torch.cdist(t[start:start + chunk], t)
        rows = torch.arange(len(d))
        d[rows, rows + start] = -1.0  # itself first, whatever ties
        dist[start:start + chunk], idx[start:start + chunk] = d.topk(k, largest=False)
    dist[:, 0] = 0.0
    return idx.numpy(), dist.clamp_min_(0).numpy()


def enable_umap_cache() -> list[str]:
    """Turn on numba's on-disk cache for umap-learn's kernels that have none; return their names.
    (Kernels numba cannot cache still compile, with numba's own warning.)"""
    import importlib

    enabled = []
    for module_name in UMAP_MODULES:
        for name, kernel in vars(importlib.import_module(module_name)).items():
            if type(getattr(kernel, "_cache", None)).__name__ == "NullCache" and hasattr(kernel, "enable_caching"):
                kernel.enable_caching()
                enabled.append(f"{module_name}.{name}")
    return enabled


def umap_2d(x: np.ndarray, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0) -> np.ndarray:
    """``(n, 2)`` UMAP of ``x`` ``(n, d)``: euclidean, seeded (single-threaded), exact neighbours
    up to ``EXACT_KNN_MAX`` points."""
    import umap

    if len(x) < MIN_POINTS:
        raise LightCNNError(f"UMAP needs at least {MIN_POINTS} points to lay out, got {len(x)}")
    enable_umap_cache()
    k = min(n_neighbors, len(x) - 1)  # what umap-learn truncates a larger value to, with a warning
    knn = exact_knn(x, k) + (None,) if len(x) <= EXACT_KNN_MAX else (None, None, None)
    reducer = umap.UMAP(n_neighbors=k, min_dist=min_dist, random_state=seed, n_jobs=1, precomputed_knn=knn)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")  # no search index: we never call transform
        return reducer.fit_transform(x)

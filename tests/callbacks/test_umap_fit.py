"""``lightcnn.umap_fit``: exact neighbours by torch give umap-learn's own small-data projection."""

from __future__ import annotations

import numpy as np
import pytest

from lightcnn.umap_fit import enable_umap_cache, exact_knn, umap_2d


def test_exact_knn_on_points_of_a_line() -> None:
    x = np.array([[0.0], [1.0], [3.0], [7.0]], dtype=np.float32)
    idx, dist = exact_knn(x, 3, chunk=3)  # two chunks
    assert idx.tolist() == [[0, 1, 2], [1, 0, 2], [2, 1, 0], [3, 2, 1]]
    assert dist.tolist() == [[0, 1, 3], [0, 1, 2], [0, 2, 3], [0, 4, 6]]


def test_duplicates_still_list_the_point_itself_first() -> None:
    x = np.zeros((3, 2), dtype=np.float32)
    idx, dist = exact_knn(x, 2)
    assert idx[:, 0].tolist() == [0, 1, 2] and dist.max() == 0


@pytest.mark.slow
def test_the_neighbour_graph_is_umap_learns_own_and_the_projection_separates_clusters() -> None:
    umap = pytest.importorskip("umap")
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    x = (rng.normal(size=(200, 8)) + rng.normal(size=(4, 8))[labels] * 4).astype(np.float32)
    theirs = umap.UMAP(n_neighbors=10, random_state=0, n_jobs=1).fit(x)  # its exact small-data path (pairwise)
    ours = umap.UMAP(n_neighbors=10, random_state=0, n_jobs=1, precomputed_knn=(*exact_knn(x, 10), None)).fit(x)
    assert (ours.graph_ != 0).toarray().tolist() == (theirs.graph_ != 0).toarray().tolist()  # the same edges
    np.testing.assert_allclose(ours.graph_.toarray(), theirs.graph_.toarray(), atol=1e-4)  # float32 distances
    xy = umap_2d(x, n_neighbors=10, min_dist=0.1, seed=0)
    assert xy.shape == (200, 2) and np.isfinite(xy).all()
    nearest = np.argsort(((xy[:, None] - xy[None]) ** 2).sum(-1), axis=1)[:, 1]
    assert (labels[nearest] == labels).mean() == 1.0  # each point's nearest neighbour in 2-D is of its cluster
    assert enable_umap_cache() == []  # enabled once per process

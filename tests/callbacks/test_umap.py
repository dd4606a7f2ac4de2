import csv
from types import SimpleNamespace

import pytest
import torch

from lightcnn.outputs import EmbeddingOutputs
from lightcnn.callbacks.umap import UMAPCallback, subsample
from lightcnn.errors import LightCNNError


def test_subsample_caps_each_class():
    labels = torch.tensor([0] * 10 + [1] * 3)
    idx = subsample(labels, 4, seed=0)
    assert torch.bincount(labels[idx]).tolist() == [4, 3]
    assert torch.equal(idx, subsample(labels, 4, seed=0))


@pytest.mark.slow
def test_umap_callback_on_40_points_writes_png_csv(tmp_path):
    torch.manual_seed(0)
    centres = torch.randn(4, 16) * 5
    labels = torch.arange(4).repeat_interleave(10)
    emb = centres[labels] + torch.randn(40, 16)
    trainer = SimpleNamespace(is_global_zero=True, default_root_dir=str(tmp_path), loggers=[], global_step=7)
    task = SimpleNamespace(outputs={"test": EmbeddingOutputs("test", ["a", "b", "c", "d"], emb, labels, [2, 3])})
    cb = UMAPCallback(max_per_class=8, n_neighbors=5)
    png = cb.project(trainer, task, "test", "test")
    assert png.read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader(open(tmp_path / "umap" / "test.csv")))
    assert len(rows) == 32 and {r["class"] for r in rows} == {"a", "b", "c", "d"}
    assert {r["class"] for r in rows if r["heldout"] == "1"} == {"c", "d"}
    assert all(abs(float(r["x"])) < 1e4 for r in rows)
    trainer.is_global_zero = False  # other ranks write nothing
    assert cb.project(trainer, task, "test", "other") is None


def test_tiny_splits_are_projected_or_skipped_with_a_warning_never_a_traceback(tmp_path):
    # umap-learn's spectral initialisation raised a scipy TypeError on 3 points, at the end of a fit,
    # and warned "n_neighbors is larger than the dataset size" below n_neighbors + 1 points
    import warnings

    trainer = SimpleNamespace(is_global_zero=True, default_root_dir=str(tmp_path), loggers=[], global_step=1)
    cb = UMAPCallback(n_neighbors=15)
    for n, written in ((3, False), (4, True), (10, True)):
        emb, labels = torch.randn(n, 8, generator=torch.Generator().manual_seed(n)), torch.arange(n) % 2
        task = SimpleNamespace(outputs={"val": EmbeddingOutputs("val", ["a", "b"], emb, labels, [])})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            png = cb.project(trainer, task, "val", f"n{n}")
        messages = [str(w.message) for w in caught]
        assert (png is not None) == written, n
        assert not any("n_neighbors is larger" in m for m in messages), messages
        if not written:
            assert any(f"val has {n} images, and UMAP needs at least 4" in m for m in messages), messages
        else:
            assert len(list(csv.DictReader(open(tmp_path / "umap" / f"n{n}.csv")))) == n


def test_umap_callback_bad_arguments():
    with pytest.raises(LightCNNError, match="n_neighbors >= 2"):
        UMAPCallback(n_neighbors=1)


def test_missing_umap_is_skipped_with_a_message(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_umap(name, *a, **k):
        if name == "umap":
            raise ImportError("no umap")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.warns(UserWarning, match="umap-learn is not installed"):
        assert UMAPCallback()._umap_installed() is False

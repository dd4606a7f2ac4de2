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

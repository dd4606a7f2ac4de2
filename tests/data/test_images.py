"""Loose image files for predict and visualize."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lightcnn.data.images import expand, load_files
from lightcnn.errors import LightCNNError


def test_grayscale_matches_pil_and_size_is_the_model_s(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    x = load_files([tmp_path / "a.png"], channels=1, size=16)
    assert x.shape == (1, 1, 16, 16) and x.dtype.is_floating_point is False
    assert (x[0, 0].numpy() == np.asarray(Image.fromarray(rgb).convert("L"))).all()
    assert load_files([tmp_path / "a.png"], channels=3, size=8).shape == (1, 3, 8, 8)


def test_expand_folders_globs_and_misses(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in expand([str(tmp_path)])] == ["a.jpg", "b.png"]
    assert [p.name for p in expand(str(tmp_path / "*.png"))] == ["b.png"]
    assert len(expand([str(tmp_path / "b.png"), str(tmp_path / "*.png")])) == 1  # no duplicates
    with pytest.raises(LightCNNError, match="'nope/\\*.png' matches no image file"):
        expand(["nope/*.png"])

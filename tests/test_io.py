import numpy as np
import pytest

from lightcnn.errors import LightCNNError
from lightcnn.data.idx import read_idx
from lightcnn.io import atomic_write
from tests.conftest import write_idx


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_roundtrip(tmp_path, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "x-idx3-ubyte", images, gz=gz)
    out = read_idx(path)
    assert out.shape == (2, 3, 4) and out.dtype == np.uint8
    assert np.array_equal(out, images)


def test_read_idx_bad_magic_names_the_file(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(LightCNNError, match=rf"{path.name} is not an IDX file: bad magic number 1f8b0800"):
        read_idx(path)


def test_read_idx_truncated_names_the_file_and_sizes(tmp_path):
    path = write_idx(tmp_path / "t", np.zeros((10, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(LightCNNError, match=r"t has 7,756 bytes but its header \(shape \(10, 28, 28\)\) needs 7,856"):
        read_idx(path)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write("half")
            raise RuntimeError("crash mid-write")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind
    with atomic_write(path) as f:
        f.write("new")
    assert path.read_text() == "new"


def test_atomic_write_uses_normal_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "r.txt") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert (tmp_path / "r.txt").stat().st_mode & 0o777 == 0o644

import pytest

from lightcnn.data import memory
from lightcnn.errors import LightCNNError


def test_images_that_would_not_fit_in_memory_are_refused_before_they_are_built(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 100_000)
    memory.check_fits(10, 1, 70, "X")  # 2 x 10 x 4,900 = 98,000 bytes: fits
    with pytest.raises(LightCNNError) as err:
        memory.check_fits(10, 1, 100, "MNISTDataModule")  # 2 x 10 x 10,000 = 200,000 bytes
    assert str(err.value) == ("MNISTDataModule: data.image_size=100 would hold 10 images of 1x100x100 pixels in memory, "
                              "200.0 KB while they are built, and 100.0 KB is available: give a smaller data.image_size "
                              "(null for the images' own size)")
    monkeypatch.setattr(memory, "available_bytes", lambda: None)  # not Linux: nothing to compare with
    memory.check_fits(10**6, 3, 10**4, "X")


def test_datamodules_check_before_resizing_or_decoding(tmp_path, monkeypatch):
    from lightcnn.data import ImageFolderDataModule, MNISTDataModule
    from tests.conftest import write_image_folder, write_mnist_layout

    monkeypatch.setattr(memory, "available_bytes", lambda: 1_000_000)
    mnist = MNISTDataModule(root=str(write_mnist_layout(tmp_path / "data")), download=False, image_size=32)
    mnist.setup("fit")  # 2 x 300 x 32 x 32 = 614,400 bytes: fits
    mnist = MNISTDataModule(root=str(tmp_path / "data"), download=False, image_size=48)
    with pytest.raises(LightCNNError, match=r"^MNISTDataModule: data.image_size=48 would hold 300 images of 1x48x48 pixels in memory, 1.4 MB"):
        mnist.setup("fit")
    folder = ImageFolderDataModule(root=str(write_image_folder(tmp_path / "pets", {"cat": 10, "dog": 10})), image_size=160)
    with pytest.raises(LightCNNError, match=r"^ImageFolderDataModule \(.*pets\): data.image_size=160 would hold 20 images of 3x160x160"):
        folder.setup("fit")

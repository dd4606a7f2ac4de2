import pickle

import numpy as np
import pytest
import torch

from lightcnn.data.cifar10 import CIFAR10DataModule
from lightcnn.data.cifar100 import COARSE, FINE_TO_COARSE, CIFAR100DataModule
from lightcnn.errors import LightCNNError
from tests.conftest import write_cifar_layout


@pytest.mark.parametrize("bytes_keys", [True, False])
def test_cifar10_pickles(tmp_path, bytes_keys):
    write_cifar_layout(tmp_path, bytes_keys=bytes_keys)
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, val_size=0.25)
    dm.setup()
    x, y = dm.splits["test"]
    assert x.shape == (40, 3, 32, 32) and x.dtype == torch.uint8
    assert torch.equal(x[:, 0, 0, 0].long(), y * 20)  # red channel, first pixel, encodes the label
    assert int(x[0, 1, 0, 0]) == 5  # test_batch is file 5 (0-based), channel-first reshape
    assert len(dm.splits["train"][1]) + len(dm.splits["val"][1]) == 200
    assert dm.class_names[0] == "airplane" and (dm.in_channels, dm.image_size) == (3, 32)


def test_cifar10_grayscale_resized_for_an_mnist_net(tmp_path):
    write_cifar_layout(tmp_path)
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, grayscale=True, image_size=28)
    assert (dm.in_channels, dm.image_size) == (1, 28)
    dm.setup()
    x, y = dm.splits["test"]
    assert x.shape == (40, 1, 28, 28)
    # label 3 -> R=60, G=B=5 -> luma 0.299*60 + 0.587*5 + 0.114*5 = 21.45
    assert int(x[(y == 3).nonzero()[0, 0], 0, 0, 0]) == 21


def test_cifar100_fine_and_coarse(tmp_path):
    write_cifar_layout(tmp_path, hundred=True)
    fine = CIFAR100DataModule(root=str(tmp_path), download=False, val_size=0.25)
    coarse = CIFAR100DataModule(root=str(tmp_path), download=False, label_level="coarse", val_size=0.25)
    assert (fine.num_classes, coarse.num_classes) == (100, 20)
    assert coarse.class_names == COARSE and fine.class_names[1] == "aquarium_fish"
    fine.setup()
    coarse.setup()
    assert torch.equal(torch.tensor(FINE_TO_COARSE)[fine.splits["test"][1]], coarse.splits["test"][1])
    assert coarse.splits["test"][1].bincount().tolist() == [5] * 20


def test_class_subset_of_cifar100(tmp_path):
    write_cifar_layout(tmp_path, hundred=True)
    dm = CIFAR100DataModule(root=str(tmp_path), download=False, classes=["bee", "apple"])
    dm.setup()
    assert dm.class_names == ["bee", "apple"] and dm.splits["test"][1].tolist() == [1, 0]
    with pytest.raises(LightCNNError, match=r"unknown class \['bees'\]"):
        CIFAR100DataModule(root=str(tmp_path), classes=["bees"])


def test_missing_files_listed_with_where_and_how(tmp_path):
    with pytest.raises(LightCNNError) as err:
        CIFAR10DataModule(root=str(tmp_path), download=False).setup("fit")
    msg = str(err.value)
    assert "data_batch_1" in msg and "test_batch" in msg and str(tmp_path / "cifar-10-batches-py") in msg
    assert "cifar-10-python.tar.gz" in msg


def test_download_is_tried_then_explained(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("lightcnn.data.cifar10.fetch_archive", lambda url, root, md5: calls.append((url, md5)) or "URLError: offline")
    with pytest.raises(LightCNNError, match=r"the download failed \(URLError: offline\)"):
        CIFAR10DataModule(root=str(tmp_path)).setup("fit")
    assert calls == [(CIFAR10DataModule.url, "c58f30108f718f92721af3b95e74349a")]


def test_truncated_and_malicious_pickles_are_named(tmp_path):
    write_cifar_layout(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:1000])
    with pytest.raises(LightCNNError, match="data_batch_3 is corrupt or truncated"):
        CIFAR10DataModule(root=str(tmp_path), download=False).setup("fit")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    batch.write_bytes(pickle.dumps({"data": Evil()}))
    with pytest.raises(LightCNNError, match="refusing to load builtins.print"):
        CIFAR10DataModule(root=str(tmp_path), download=False).setup("fit")


def test_wrong_array_shape_is_named(tmp_path):
    write_cifar_layout(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]}, f, protocol=2)
    with pytest.raises(LightCNNError, match=r"test_batch: 'data' has shape \(4, 100\)"):
        CIFAR10DataModule(root=str(tmp_path), download=False).setup()


@pytest.mark.slow
@pytest.mark.real_data
def test_real_cifar10_and_cifar100(real_data):
    c10 = CIFAR10DataModule(root=str(real_data), download=False, val_size=5000)
    c10.setup()
    assert torch.cat([c10.splits["train"][1], c10.splits["val"][1]]).bincount().tolist() == [5000] * 10
    assert c10.splits["test"][1].bincount().tolist() == [1000] * 10
    assert [round(255 * m, 2) for m in c10.mean] == pytest.approx([125.31, 122.95, 113.87], abs=0.3)
    c100 = CIFAR100DataModule(root=str(real_data), download=False, label_level="coarse")
    c100.setup()
    assert torch.cat([c100.splits["train"][1], c100.splits["val"][1]]).bincount().tolist() == [900] * 20
    assert c100.splits["test"][1].bincount().tolist() == [500] * 20

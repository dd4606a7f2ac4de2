import pytest
import torch

from lightcnn.data.cifar10 import CIFAR10DataModule
from lightcnn.errors import LightCNNError
from lightcnn.inference import check_compatible, knn_classify, load_task
from lightcnn.data import DataInfo
from lightcnn.tasks import EmbeddingTask
from tests.conftest import write_cifar_layout


def test_knn_vote_hand_worked():
    ref = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]), dim=1)
    ref_y = torch.tensor([0, 0, 1, 1])
    query = torch.nn.functional.normalize(torch.tensor([[1.0, 0.05], [0.05, 1.0], [0.6, 0.8]]), dim=1)
    assert knn_classify(ref, ref_y, query, k=1, num_classes=2).tolist() == [0, 1, 1]
    assert knn_classify(ref, ref_y, query, k=3, num_classes=2).tolist() == [0, 1, 1]
    with pytest.raises(LightCNNError, match="--k must be between 1 and the number of references"):
        knn_classify(ref, ref_y, query, k=5, num_classes=2)


def test_checkpoint_shape_must_match_the_data(tmp_path):
    write_cifar_layout(tmp_path)
    task = EmbeddingTask(backbone="embed_cnn", data=DataInfo(num_classes=10, in_channels=1, image_size=28))
    with pytest.raises(LightCNNError, match=r"trained on 1-channel 28x28 images but the data gives 3-channel 32x32"):
        check_compatible(task, CIFAR10DataModule(root=str(tmp_path), download=False), "x.ckpt")
    check_compatible(task, CIFAR10DataModule(root=str(tmp_path), download=False, grayscale=True, image_size=28), "x.ckpt")


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(LightCNNError, match="no such checkpoint file"):
        load_task(tmp_path / "missing.ckpt")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(LightCNNError, match="is not a readable checkpoint"):
        load_task(bad)
    foreign = {"hyper_parameters": {"_class_path": "os.system"}, "state_dict": {}, "pytorch-lightning_version": "2.6.6"}
    torch.save(foreign, tmp_path / "foreign.ckpt")
    with pytest.raises(LightCNNError, match="names model class_path 'os.system', which is not a lightcnn class"):
        load_task(tmp_path / "foreign.ckpt")

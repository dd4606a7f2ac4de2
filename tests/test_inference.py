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


@pytest.mark.slow
def test_a_loaded_model_names_0_255_floats_and_still_traces(mnist_root, tmp_path, monkeypatch):
    """load_task's model is called by users: float images outside [0, 1] (np.array(img) as
    float) are refused with the range and the fix; [0, 1] floats and uint8 give the same logits;
    a trace or a model in train mode carries no check."""
    from lightcnn.cli import main
    from tests.conftest import tiny_fit_args

    monkeypatch.chdir(tmp_path)
    assert main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs", epochs=1), "--trainer.limit_train_batches", "2"]) == 0
    task = load_task(next((tmp_path / "runs").rglob("last.ckpt")))
    pixels = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    pixels[0, 0, 0, 0] = 255
    with pytest.raises(LightCNNError, match=r"the model was given images in \[0, 255\], .*\(x / 255 for 0-255 values; it normalises"):
        task(pixels.float())
    assert torch.allclose(task(pixels.float() / 255), task(pixels), atol=1e-6)
    from lightcnn.export import export_task

    exported = export_task(task, tmp_path / "export", formats=("torchscript",))  # a trace: no check recorded in it
    traced = torch.jit.load(exported.files["torchscript"])
    assert torch.allclose(traced(pixels.float() / 255), exported.model(pixels.float() / 255), atol=1e-5)
    traced(pixels.float())  # the deployed graph takes what it is given, as its manifest's range says
    assert task.normalize.train()(pixels.float()).shape == (2, 1, 28, 28)  # a fit's batches are checked once, by the fit

"""``lightcnn export``: ONNX and TorchScript files that answer what PyTorch answers, on any batch
size, with the normalisation inside the graph."""

from __future__ import annotations

import json

import pytest
import torch

from lightcnn.cli import main
from lightcnn.data import DataInfo
from lightcnn.errors import LightCNNError
from lightcnn.export import export_task, verify
from lightcnn.tasks import ClassificationTask, EmbeddingTask
from tests.conftest import tiny_fit_args

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

# Statistics far from (0, 1): a graph that left normalisation out would be far off.
INFO = DataInfo(num_classes=3, in_channels=3, image_size=16, class_names=["a", "b", "c"], mean=[0.2, 0.5, 0.7], std=[0.1, 0.3, 0.2])


def _task(kind: type) -> torch.nn.Module:
    torch.manual_seed(0)
    args = {"embedding_dim": 8} if kind is EmbeddingTask else {}
    return kind(backbone="mnist_cnn", backbone_args={"width": 0.25, "batchnorm": True}, data=INFO, **args).eval()


@pytest.mark.slow
@pytest.mark.parametrize("kind", [ClassificationTask, EmbeddingTask])
def test_exported_files_answer_what_pytorch_answers(kind, tmp_path):
    import onnxruntime as ort

    task = _task(kind)
    exported = export_task(task, tmp_path / "out", stem="m")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m.json", "m.onnx", "m.torchscript.pt"]

    images = torch.rand(37, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    checks = verify(exported, images, batch_size=16)  # batches of 16, 16 and 5: dynamic batch size
    for fmt in ("onnx", "torchscript"):
        assert checks[fmt]["n"] == 37
        assert checks[fmt]["max_abs_diff"] <= 1e-5
        assert checks[fmt]["top1_agree"] == 1.0

    # What the graph computes, from the task itself: normalisation, backbone, head, then the output.
    with torch.no_grad():
        want = task(images)
        want = want.softmax(1) if kind is ClassificationTask else want
    session = ort.InferenceSession(str(exported.files["onnx"]), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": images[:1].numpy()})  # batch of one
    assert torch.allclose(torch.from_numpy(got), want[:1], atol=1e-5)
    (got,) = session.run(None, {"image": images.numpy()})
    assert torch.allclose(torch.from_numpy(got), want, atol=1e-5)
    if kind is ClassificationTask:
        assert torch.allclose(torch.from_numpy(got).sum(1), torch.ones(37), atol=1e-5)
    else:
        assert torch.allclose(torch.from_numpy(got).norm(dim=1), torch.ones(37), atol=1e-5)

    spec = json.loads(exported.manifest.read_text())
    assert spec["input"] == {"name": "image", "shape": ["batch", 3, 16, 16], "dtype": "float32", "range": [0.0, 1.0],
                             "layout": "NCHW", "channels": "RGB"}
    assert spec["output"]["name"] == ("probabilities" if kind is ClassificationTask else "embedding")
    assert spec["output"]["shape"] == ["batch", 3 if kind is ClassificationTask else 8]
    assert spec["class_names"] == ["a", "b", "c"]
    assert spec["normalization"]["mean"] == pytest.approx([0.2, 0.5, 0.7])
    assert spec["formats"]["onnx"]["opset"] == 18
    import onnx

    model = onnx.load(str(exported.files["onnx"]))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [18]
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["lightcnn"])["class_names"] == ["a", "b", "c"]


def test_bad_requests_write_nothing(tmp_path):
    task = _task(ClassificationTask)
    with pytest.raises(LightCNNError, match="valid formats are onnx, torchscript"):
        export_task(task, tmp_path / "out", formats=("pdf",))
    (tmp_path / "file").write_text("x")
    with pytest.raises(LightCNNError, match="is a file, not a folder"):
        export_task(task, tmp_path / "file", formats=("torchscript",))
    # a file name given as --out made a folder called model.onnx holding best.onnx
    with pytest.raises(LightCNNError, match=r"--out .*model.onnx: names a file, but --out is the folder the export writes "
                                            r"into \(best.onnx and best.json, named after the checkpoint\): give a folder, e.g. --out .*model$"):
        export_task(task, tmp_path / "model.onnx", stem="best", formats=("onnx",))
    assert not (tmp_path / "out").exists() and not (tmp_path / "model.onnx").exists()


@pytest.mark.slow
def test_export_command_on_a_trained_checkpoint(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1)]) == 0
    ckpt = runs / "mnist_classify" / "version_0" / "checkpoints" / "best.ckpt"
    capsys.readouterr()
    assert main(["export", "--ckpt", str(ckpt), "--check", "50", "--data.root", str(mnist_root)]) == 0
    out = capsys.readouterr().out
    export = runs / "mnist_classify" / "version_0" / "export"
    assert sorted(p.name for p in export.iterdir()) == ["best.json", "best.onnx", "best.torchscript.pt"]
    assert "onnx on 50 test images" in out and "torchscript on 50 test images" in out
    assert out.count("top-1 agreement 100.00 %") == 4  # random and test images, both formats
    assert "(ONNX opset 18)" in out

    assert main(["export", "--ckpt", str(ckpt), "--format", "torchscript", "--out", "ts", "--data.root", "x"]) == 2
    assert "data options need --check N" in capsys.readouterr().err
    assert not (tmp_path / "ts").exists()
    assert main(["export", "--ckpt", str(ckpt), "--format", "torchscript", "--out", "ts"]) == 0
    assert sorted(p.name for p in (tmp_path / "ts").iterdir()) == ["best.json", "best.torchscript.pt"]

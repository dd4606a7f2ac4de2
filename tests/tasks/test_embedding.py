import csv

import pytest
import torch
from pytorch_metric_learning import losses, miners

from lightcnn.cli import main
from lightcnn.data import DataInfo, MNISTDataModule
from lightcnn.errors import LightCNNError
from lightcnn.tasks import EmbeddingTask
from tests.conftest import REPO, write_mnist_layout

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def test_forward_is_unit_length_and_loss_is_pml_multisimilarity():
    torch.manual_seed(0)
    task = EmbeddingTask(backbone="mnist_cnn", embedding_dim=16, data=DataInfo(num_classes=4, in_channels=1, image_size=28, mean=(0.0,), std=(1.0,)))
    x, y = torch.randn(8, 1, 28, 28), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    emb = task(x)
    assert emb.shape == (8, 16) and torch.allclose(emb.norm(dim=1), torch.ones(8), atol=1e-5)
    task.log = lambda *a, **k: None
    loss = task.training_step((x, y), 0)
    ref_emb = task(x)
    pairs = miners.MultiSimilarityMiner(epsilon=0.1)(ref_emb, y)
    expected = losses.MultiSimilarityLoss(alpha=2.0, beta=40.0, base=0.5)(ref_emb, y, pairs)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert task.head.weight.grad is not None and task.head.weight.grad.abs().sum() > 0


def test_a_nan_map_at_r_is_explained_by_the_classes_with_one_image():
    # held-out classes 2 and 3 have one validation image each: MAP@R has nothing to find for them
    torch.manual_seed(0)
    info = DataInfo(num_classes=4, in_channels=1, image_size=28, mean=(0.0,), std=(1.0,), heldout_class_ids=(2, 3))
    task = EmbeddingTask(backbone="mnist_cnn", embedding_dim=8, data=info, baselines=False)
    logged = {}
    task.log_epoch_scalars = lambda stage, main, scalars: logged.update(scalars)
    task.eval()
    with torch.no_grad():
        task.validation_step((torch.rand(6, 1, 28, 28), torch.tensor([0, 0, 1, 1, 2, 3])), 0)
    with pytest.warns(UserWarning, match=r"val/map_at_r is NaN: retrieval needs at least 2 val images of a class .*: 2 \(1\), 3 \(1\);"):
        task.on_validation_epoch_end()
    assert torch.isnan(torch.tensor(logged["val/map_at_r"])) and logged["val/seen/map_at_r"] >= 0


def test_heldout_classes_leave_training_and_stay_in_evaluation(mnist_root):
    dm = MNISTDataModule(root=str(mnist_root), download=False, train_classes=["0", "1", "2"], classes_per_batch=3, m_per_class=4)
    assert dm.heldout_class_names == [str(i) for i in range(3, 10)] and dm.batch_size == 12
    assert dm.data_info.heldout_class_ids == tuple(range(3, 10))
    dm.setup()
    assert set(dm.splits["train"][1].tolist()) == {0, 1, 2}
    assert set(dm.splits["val"][1].tolist()) == set(range(10)) and set(dm.splits["test"][1].tolist()) == set(range(10))
    for xb, yb in dm.train_dataloader():
        assert sorted(torch.bincount(yb, minlength=3).tolist()) == [4, 4, 4]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"classes_per_batch": 4, "m_per_class": 8, "batch_size": 30}, r"batch_size=30 is not classes_per_batch x m_per_class = 4 x 8 = 32"),
        ({"classes_per_batch": 4}, "go together"),
        ({"heldout_classes": ["11"]}, r"unknown class \['11'\]"),
        ({"heldout_classes": [str(i) for i in range(10)]}, "holds out every class"),
        ({"train_classes": ["1"], "heldout_classes": ["2"]}, "not both"),
    ],
)
def test_bad_embedding_data_settings(mnist_root, kwargs, match):
    with pytest.raises(LightCNNError, match=match):
        MNISTDataModule(root=str(mnist_root), download=False, **kwargs)


def test_too_many_classes_per_batch_and_small_classes(tmp_path):
    root = write_mnist_layout(tmp_path, n_train=3)
    dm = MNISTDataModule(root=str(root), download=False, train_classes=["0", "1"], classes_per_batch=3, m_per_class=2)
    with pytest.raises(LightCNNError, match="classes_per_batch=3 but the training split has only 2 classes"):
        dm.train_dataloader()
    dm = MNISTDataModule(root=str(root), download=False, classes_per_batch=2, m_per_class=5, val_size=0)
    with pytest.warns(UserWarning, match="fewer than m_per_class=5 training images are sampled with replacement"):
        dm.train_dataloader()


@pytest.mark.slow
def test_embedding_fit_and_test_end_to_end(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = [
        "--config", str(REPO / "configs" / "mnist_embed.yaml"), "--data.root", str(mnist_root), "--data.download", "false",
        "--data.val_size", "0.2", "--trainer.max_epochs", "2", "--trainer.callbacks", "[]", *QUIET,
    ]
    assert main(["fit", *args]) == 0
    run = tmp_path / "runs" / "mnist_embed" / "version_0"
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    losses_ = [float(r["train/loss_epoch"]) for r in rows if r.get("train/loss_epoch")]
    assert len(losses_) == 2 and losses_[1] < losses_[0]
    keys = set(rows[0])
    for group in ("seen", "heldout", "all"):
        assert {f"val/{group}/{m}" for m in ("p_at_1", "r_precision", "map_at_r", "nmi", "ami")} <= keys
    assert main(["test", *args, "--ckpt_path", "best"]) == 0
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    test = next(r for r in rows if r.get("test/heldout/map_at_r"))
    for source in ("", "baseline_pixels/", "baseline_untrained/"):
        assert 0 <= float(test[f"test/{source}heldout/map_at_r"]) <= 1
    assert float(test["test/seen/map_at_r"]) >= 0.9  # the synthetic classes are easy once trained
    report = (run / "report.md").read_text()
    assert "## Retrieval (leave-one-out within each group)" in report and "## Overfitting" in report
    assert f"| test | model | heldout | {float(test['test/heldout/map_at_r']):.4f} |" in report
    assert "| test | baseline: pixels | heldout |" in report and "## Per epoch" in report
    (run / "umap").mkdir()  # as the UMAP callback (left out here for speed) would write it
    (run / "umap" / "test.png").write_bytes((run / "curves.png").read_bytes())
    assert main(["report", str(run)]) == 0
    assert "### UMAP: test" in (run / "report.md").read_text()

    ckpt = run / "checkpoints" / "best.ckpt"
    out = tmp_path / "emb.npz"
    assert main(["embed", "--ckpt", str(ckpt), "--config", str(REPO / "configs" / "mnist_embed.yaml"),
                 "--data.root", str(mnist_root), "--out", str(out)]) == 0
    import numpy as np

    saved = np.load(out)
    assert saved["embeddings"].shape == (100, 64) and saved["labels"].shape == (100,)
    assert list(saved["heldout"]) == [5, 6, 7, 8, 9]
    capsys.readouterr()
    assert main(["knn", "--ckpt", str(ckpt), "--config", str(REPO / "configs" / "mnist_embed.yaml"),
                 "--data.root", str(mnist_root), "--k", "3"]) == 0
    err = capsys.readouterr().err  # a line per embedded split (a bar too, on a terminal)
    assert "embedded train: 270 images in" in err and "embedded test: 100 images in" in err  # 300 less the config's 10 % validation

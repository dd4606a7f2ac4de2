"""ClassificationTask details: flip test-time augmentation, Nesterov SGD, cheap loss logging."""

from __future__ import annotations

import csv

import pytest
import torch
from lightning.pytorch import Callback

from lightcnn.cli import main
from tests.conftest import tiny_fit_args
from lightcnn.data import DataInfo
from lightcnn.tasks import ClassificationTask


MNIST_INFO = DataInfo(num_classes=10, in_channels=1, image_size=28, mean=(0.0,), std=(1.0,))


def test_tta_flip_averages_the_image_and_its_mirror():
    torch.manual_seed(0)
    task = ClassificationTask(backbone="mnist_cnn", tta_flip=True, data=MNIST_INFO).eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        expected = (task(x) + task(x.flip(3))) / 2
        assert torch.allclose(task.evaluate(x), expected)
        assert not torch.allclose(task.evaluate(x), task(x))
        symmetric = x + x.flip(3)  # a mirror-symmetric image: TTA changes nothing
        assert torch.allclose(task.evaluate(symmetric), task(symmetric), atol=1e-5)
    task.tta_flip = False
    with torch.no_grad():
        assert torch.equal(task.evaluate(x), task(x))


def test_sgd_nesterov_reaches_the_optimizer():
    task = ClassificationTask(backbone="mnist_cnn", optimizer="sgd", nesterov=True, momentum=0.8, lr=0.05, data=MNIST_INFO)
    opt = task.configure_optimizers()
    assert isinstance(opt, torch.optim.SGD)
    assert opt.defaults["nesterov"] is True and opt.defaults["momentum"] == 0.8 and opt.defaults["lr"] == 0.05


_LOSSES: list[float] = []


class CollectLosses(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        _LOSSES.append(float(outputs["loss"]))


@pytest.mark.slow
def test_epoch_loss_is_the_mean_of_step_losses_and_steps_are_logged_on_logger_steps(mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _LOSSES.clear()
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=2), "--trainer.log_every_n_steps", "5",
            "--trainer.callbacks+=tests.tasks.test_classification.CollectLosses"]
    assert main(["fit", *args]) == 0
    rows = list(csv.DictReader(open(tmp_path / "runs" / "mnist_classify" / "version_0" / "metrics.csv")))
    steps = [int(r["step"]) for r in rows if r.get("train/loss_step")]
    assert steps == [4, 9, 14]  # 8 steps per epoch, logged every 5th (global step numbering)
    epoch_losses = [float(r["train/loss_epoch"]) for r in rows if r.get("train/loss_epoch")]
    assert epoch_losses == pytest.approx([sum(_LOSSES[:8]) / 8, sum(_LOSSES[8:]) / 8], rel=1e-5)
    step_losses = {int(r["step"]): float(r["train/loss_step"]) for r in rows if r.get("train/loss_step")}
    assert step_losses[9] == pytest.approx(_LOSSES[9], rel=1e-6)


@pytest.mark.parametrize("every, progress_bar, logged", [
    (50, False, [49, 99]),                    # only the logger's steps (a self.log call is ~1 ms on a CPU)
    (50, True, [9, 19, 29, 39, 49, 59, 69, 79, 89, 99]),  # and every 10th for the progress bar
    (4, True, [1, 3, 5, 7, 9, 11]),           # gcd(4, 10): the logger's steps are among them
    (0, False, list(range(12))),               # a nonsense log_every_n_steps: every step, not a division by zero
])
def test_the_step_loss_is_logged_on_the_logger_steps_and_the_progress_bar_steps(monkeypatch, every, progress_bar, logged):
    from types import SimpleNamespace

    task = ClassificationTask(backbone="mnist_cnn", data=MNIST_INFO)
    trainer = SimpleNamespace(log_every_n_steps=every, progress_bar_callback=object() if progress_bar else None, global_step=0)
    task._trainer = trainer
    calls: list[int] = []
    monkeypatch.setattr(task, "log", lambda name, value, **kw: calls.append(trainer.global_step))
    for step in range(max(logged) + 1):
        trainer.global_step = step
        task.log_train_loss(torch.tensor(float(step)))
    assert calls == logged
    assert task.train_loss_steps.count == max(logged) + 1  # the epoch mean still sees every step


@pytest.mark.slow
def test_threads_option_sets_torch_threads(mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = torch.get_num_threads()
    try:
        assert main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs", epochs=1), "--threads", "1",
                     "--trainer.limit_train_batches", "1"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_data_on_device_moves_the_splits_once(mnist_root):
    from types import SimpleNamespace

    from lightcnn.data.mnist import MNISTDataModule

    dm = MNISTDataModule(root=str(mnist_root), download=False, data_on_device=True, batch_size=16)
    dm.setup("fit")
    dm.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("meta")), training=False)
    loader = dm.val_dataloader()
    assert dm.splits["val"][0].device.type == "meta" and dm.splits["train"][0].device.type == "cpu"
    x, y = next(iter(loader))
    assert x.device.type == "meta" and x.dtype == torch.uint8 and x.shape == (len(y), 1, 28, 28) and len(y) > 0


def test_training_accuracy_is_the_micro_accuracy_of_all_the_steps():
    # Two steps of 4 and 2 images: 3 of 4 and 1 of 2 right, so 4 / 6 for the epoch (not the mean
    # of the steps' 0.75 and 0.5), as torchmetrics' micro MulticlassAccuracy gives over both.
    from torchmetrics.classification import MulticlassAccuracy

    task = ClassificationTask(backbone="mnist_cnn", data=MNIST_INFO)
    steps = [(torch.tensor([[2.0, 1, 0], [0, 3, 1], [0, 1, 5], [4, 0, 0]]), torch.tensor([0, 1, 2, 2])),
             (torch.tensor([[0.0, 0, 1], [1, 0, 0]]), torch.tensor([2, 1]))]
    for logits, y in steps:
        task.forward = lambda x, logits=logits: logits
        task._shared_step((torch.zeros(len(y), 1, 28, 28), y), "train")
    assert task.train_correct.count == 6 and float(task.train_correct.total) == 4.0
    assert task.train_correct.fold_into(task.train_acc)
    reference = MulticlassAccuracy(3, average="micro")
    for logits, y in steps:
        reference.update(logits, y)
    assert float(task.train_acc.compute()) == pytest.approx(4 / 6) == pytest.approx(float(reference.compute()))
    assert task.train_correct.count == 0 and not task.train_correct.fold_into(task.train_acc)  # started afresh

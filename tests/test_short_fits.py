"""Short and debugging fits: Lightning's ``max_steps``, ``overfit_batches`` and ``fast_dev_run``.

A fit that ``max_steps`` ends before its first validation (Lightning does not validate when
``max_steps`` stops an epoch) has no validation values: an ``EarlyStopping`` on a ``val/`` metric
is refused before training, otherwise a warning says so, and the sanity check's results on the
untrained weights never stand in for the run's validation. The same for epochs that
``check_val_every_n_epoch`` leaves unvalidated at the end of a fit: named before training, and
their weights kept in ``last.ckpt``."""

from __future__ import annotations

import json

import pytest

from lightcnn.cli import main
from tests.conftest import tiny_fit_args

# 5 training batches an epoch: the first validation ends batch 5 (step 5); every second epoch and
# 2 batches per step: ceil(5/2) = 3 steps an epoch, so epoch 2 ends at step 3 + 3 = 6.
FIVE = ["--trainer.limit_train_batches", "5", "--trainer.limit_val_batches", "2", "--trainer.max_epochs", "-1"]
EARLY = ["--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor", "val/acc", "--trainer.callbacks.mode", "max"]


def _fit(mnist_root, tmp_path, *extra):
    return main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs"), *FIVE, *extra])


@pytest.mark.parametrize(("extra", "first"), [
    ((), 5),
    (("--trainer.check_val_every_n_epoch", "2", "--trainer.accumulate_grad_batches", "2"), 6),
    (("--trainer.val_check_interval", "2"), 2),
], ids=["each epoch", "every second epoch, two batches a step", "every 2 batches"])
@pytest.mark.slow
def test_early_stopping_that_would_never_see_its_metric_is_refused_before_training(mnist_root, tmp_path, capsys, extra, first):
    assert _fit(mnist_root, tmp_path, "--trainer.max_steps", str(first - 1), *extra, *EARLY) == 2
    err = capsys.readouterr().err
    assert (f"trainer.max_steps={first - 1} ends the fit before its first validation (after {first} training steps" in err
            and "EarlyStopping(monitor='val/acc') would have nothing to check" in err
            and f"raise trainer.max_steps to {first} or more" in err), err
    assert not (tmp_path / "runs" / "mnist_classify").exists()  # nothing trained, nothing left behind
    assert _fit(mnist_root, tmp_path, "--trainer.max_steps", str(first), *extra, *EARLY) == 0  # the boundary validates


@pytest.mark.slow
def test_a_fit_without_validation_warns_and_writes_no_validation_report(mnist_root, tmp_path):
    with pytest.warns(UserWarning, match=r"max_steps=4 ends the fit before its first validation \(after 5 training steps"):
        assert _fit(mnist_root, tmp_path, "--trainer.max_steps", "4") == 0
    run = tmp_path / "runs" / "mnist_classify" / "version_0"
    # the sanity check evaluated the untrained weights on 2 batches: that is not the run's validation
    assert not (run / "val_per_class.json").exists()
    assert "Validation (last epoch)" not in (run / "report.md").read_text()
    assert json.loads((run / "history.json").read_text())["epochs"]["0"].get("val/acc") is None


@pytest.mark.slow
def test_the_validation_report_is_the_last_epochs_not_the_sanity_checks(mnist_root, tmp_path):
    assert _fit(mnist_root, tmp_path, "--trainer.max_steps", "5") == 0
    run = tmp_path / "runs" / "mnist_classify" / "version_0"
    history = json.loads((run / "history.json").read_text())["epochs"]
    report = json.loads((run / "val_per_class.json").read_text())
    assert report["accuracy"] == pytest.approx(history["0"]["val/acc"])


@pytest.mark.slow
def test_a_fit_with_overfit_batches_trains_down_on_its_batches(mnist_root, tmp_path):
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=4), "--trainer.overfit_batches", "2", "--model.label_smoothing", "0"]
    assert main(["fit", *args]) == 0
    epochs = json.loads((tmp_path / "runs" / "mnist_classify" / "version_0" / "history.json").read_text())["epochs"]
    losses = [epochs[str(e)]["train/loss_epoch"] for e in range(4)]
    assert losses[3] < 0.5 * losses[0], losses


@pytest.mark.slow
def test_fast_dev_run_with_test_tests_the_weights_it_trained(mnist_root, tmp_path, capsys):
    assert main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs"), "--trainer.fast_dev_run", "2", "--test", "true"]) == 0
    err = capsys.readouterr().err
    assert "--test true: trainer.fast_dev_run saves no checkpoints, so the weights as the fit left them are tested" in err
    run = tmp_path / "runs" / "mnist_classify" / "version_0"
    assert 0.0 <= json.loads((run / "history.json").read_text())["test"]["test/acc"] <= 1.0
    assert not (run / "checkpoints").exists()


def _last_ckpt_step(run) -> int:
    import torch

    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["global_step"]


@pytest.mark.slow
def test_epochs_after_the_last_validation_are_named_and_their_weights_saved(mnist_root, tmp_path):
    # validation after epochs 2 and 4 only: epoch 5 is trained, never validated, and was never saved
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=5), "--trainer.limit_train_batches", "3",
            "--trainer.limit_val_batches", "2", "--trainer.check_val_every_n_epoch", "2"]
    with pytest.warns(UserWarning, match=r"check_val_every_n_epoch=2 with trainer.max_epochs=5: epoch 5 is never validated, "
                                         r"so best.ckpt \(and fit --test true\) can only be from epoch 4 or before"):
        assert main(["fit", *args]) == 0
    run = tmp_path / "runs" / "mnist_classify" / "version_0"
    assert _last_ckpt_step(run) == 15  # the final weights (5 epochs x 3 steps), not epoch 4's (step 12)
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert [e for e in sorted(history, key=int) if history[e].get("val/acc") is not None] == ["1", "3"]


@pytest.mark.slow
def test_a_fit_that_never_validates_keeps_its_weights_and_tests_them(mnist_root, tmp_path, capsys):
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=2), "--trainer.limit_train_batches", "3",
            "--trainer.limit_val_batches", "2", "--trainer.limit_test_batches", "2", "--trainer.check_val_every_n_epoch", "3"]
    with pytest.warns(UserWarning, match=r"check_val_every_n_epoch=3 with trainer.max_epochs=2: the fit never validates"):
        assert main(["fit", *args, "--test", "true"]) == 0  # before: "saved no checkpoint", after the whole fit
    run = tmp_path / "runs" / "mnist_classify" / "version_0"
    assert _last_ckpt_step(run) == 6 and not (run / "checkpoints" / "best.ckpt").exists()
    out = capsys.readouterr()
    assert f"test results of {run / 'checkpoints' / 'last.ckpt'}" in out.out + out.err  # the final weights, tested
    assert 0.0 <= json.loads((run / "history.json").read_text())["test"]["test/acc"] <= 1.0
    # EarlyStopping on a val/ metric that would never be logged: refused before training
    assert main(["fit", *args, *EARLY]) == 2
    assert "EarlyStopping(monitor='val/acc') would have nothing to check" in capsys.readouterr().err


@pytest.mark.parametrize("every", [1, 2])
@pytest.mark.slow
def test_last_is_saved_once_at_the_end_of_every_epoch(mnist_root, tmp_path, monkeypatch, every):
    from lightcnn.callbacks.run_checkpoint import RunCheckpoint

    saved: list[tuple[str, int]] = []
    original = RunCheckpoint._save_checkpoint
    monkeypatch.setattr(RunCheckpoint, "_save_checkpoint",
                        lambda self, trainer, path: (saved.append((path.rsplit("/", 1)[-1], trainer.global_step)), original(self, trainer, path)))
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=4), "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2",
            "--trainer.check_val_every_n_epoch", str(every)]
    assert main(["fit", *args]) == 0
    # every epoch's end, validated or not (a crash resumes from the epoch before), and no second save at the fit's end
    assert [step for name, step in saved if name == "last.ckpt"] == [3, 6, 9, 12]


@pytest.mark.slow
def test_a_fit_resumed_from_an_unvalidated_epochs_last_continues_there(mnist_root, tmp_path):
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=3), "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2",
            "--trainer.check_val_every_n_epoch", "2", "--model.scheduler", "none"]
    with pytest.warns(UserWarning, match="epoch 3 is never validated"):
        assert main(["fit", *args]) == 0
    run = tmp_path / "runs" / "mnist_classify" / "version_0"
    assert _last_ckpt_step(run) == 9  # epoch 3's end, not epoch 2's validation (step 6)
    assert main(["fit", *args, "--trainer.max_epochs", "4", "--ckpt_path", "last"]) == 0
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert sorted(history, key=int) == ["0", "1", "2", "3"] and history["3"].get("val/acc") is not None
    assert _last_ckpt_step(run) == 12  # one more epoch of 3 steps, from step 9

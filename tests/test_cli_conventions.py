"""The conventions Lightning and timm users expect: fit then test in one command, a learning-rate
finder, ``--ckpt_path best`` saying what it took, a switched backbone not inheriting stale options."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from lightcnn.cli import main
from lightcnn.cli_args import backbone_overrides
from lightcnn.commands.lr_find import suggest_lr
from tests.conftest import QUIET, REPO, tiny_fit_args

FAST = str(REPO / "configs" / "mnist_fast.yaml")  # backbone mnist_cnn, backbone_args {batchnorm: true}


def test_switching_backbone_drops_the_configs_backbone_args_with_a_note():
    argv, notes = backbone_overrides(["fit", "--config", FAST, "--model.backbone", "timm/resnet18", "--trainer.max_epochs", "1"])
    assert argv == ["fit", "--config", FAST, "--model.backbone", "timm/resnet18", "--model.backbone_args", "null",
                    "--trainer.max_epochs", "1"]
    assert len(notes) == 1 and "backbone_args {batchnorm: true} (written for mnist_cnn) are dropped" in notes[0]

    same = ["fit", "--config", FAST, "--model.backbone=mnist_cnn"]  # the config's own backbone: nothing to drop
    assert backbone_overrides(same) == (same, [])
    both = ["fit", "--config", FAST, "--model.backbone", "tinynet", "--model.backbone_args", "{width: 8}"]
    assert backbone_overrides(both) == (both, [])  # the user gave the new backbone's options


def test_replacing_backbone_args_names_the_keys_it_drops():
    argv = ["fit", "--config", FAST, "--model.backbone_args", "{depth: 4}"]
    out, notes = backbone_overrides(argv)
    assert out == argv
    assert notes == [f"--model.backbone_args {{depth: 4}} replaces {FAST}'s whole {{batchnorm: true}}: batchnorm is no longer "
                     "set; to change one key and keep the others, use --model.backbone_args.KEY VALUE"]
    merge = ["fit", "--config", FAST, "--model.backbone_args.depth", "4"]
    assert backbone_overrides(merge) == (merge, [])
    keeps = ["fit", "--config", FAST, "--model.backbone_args", "{batchnorm: false, depth: 4}"]
    assert backbone_overrides(keeps) == (keeps, [])


def test_suggested_rate_is_the_steepest_fall_against_log_lr():
    lrs = list(np.logspace(-6, 0, 61))  # 10 points per decade
    # Flat, then a fall whose steepest part (in log10 lr) is at index 40 (lr 1e-2), then divergence.
    losses = [2.3 - 1.0 / (1 + math.exp(-(i - 40) / 2.0)) + (0.5 if i > 55 else 0.0) for i in range(61)]
    assert suggest_lr(lrs, losses) == pytest.approx(1e-2)
    assert suggest_lr(lrs, [1.0] * 61) is None  # never falls
    assert suggest_lr(lrs[:12], losses[:12]) is None  # too few points after the skipped start
    # Lightning 2.6 differentiates against lr itself: a wobble at the smallest rates wins there.
    wobble = list(losses)
    wobble[12] -= 0.01
    assert suggest_lr(lrs, wobble) == pytest.approx(1e-2)


@pytest.mark.slow
def test_fit_with_test_then_best_names_its_choice_then_lr_find(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1), "--test", "true"]) == 0
    out = capsys.readouterr().out
    run = runs / "mnist_classify" / "version_0"
    assert f"test results of {run / 'checkpoints' / 'best.ckpt'}:" in out
    history = json.loads((run / "history.json").read_text())
    assert 0.0 <= history["test"]["test/acc"] <= 1.0  # tested in the same run folder
    assert yaml.safe_load((run / "config.yaml").read_text())["test"] is True

    # A run's saved config (test: true) still works for test; --ckpt_path best says what it took.
    assert main(["test", *tiny_fit_args(mnist_root, runs), "--ckpt_path", "best"]) == 0
    out = capsys.readouterr().out
    assert (f"lightcnn: --ckpt_path best: {run / 'checkpoints' / 'best.ckpt'} (ClassificationTask, backbone mnist_cnn, "
            f"epoch 1): the newest run of {runs / 'mnist_classify'} with a best.ckpt") in out
    assert not (runs / "mnist_classify" / "version_1").exists()

    assert main(["lr-find", *tiny_fit_args(mnist_root, runs), "--num_training", "30", "--min_lr", "1e-5",
                 "--trainer.max_epochs", "10"]) == 0
    out = capsys.readouterr().out
    found = runs / "mnist_classify" / "lr_find" / "version_0"
    assert sorted(p.name for p in found.iterdir()) == ["config.yaml", "lr_find.csv", "lr_find.png"]
    rows = (found / "lr_find.csv").read_text().splitlines()
    assert rows[0] == "lr,loss" and len(rows) == 31
    lrs, losses = zip(*[map(float, r.split(",")) for r in rows[1:]])
    want = suggest_lr(list(lrs), list(losses))
    config = yaml.safe_load((found / "config.yaml").read_text())
    assert config["model"]["init_args"]["lr"] == float(f"{want:.3g}")
    assert config["name"] == "mnist_classify"
    assert f"train with it: lightcnn fit --config {found}/config.yaml" in out
    assert sorted(p.name for p in (runs / "mnist_classify").iterdir()) == ["lr_find", "version_0"]  # no run folder


@pytest.mark.slow
def test_a_run_keeps_exactly_its_best_and_last_checkpoints(mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1), "--trainer.limit_train_batches", "2"]) == 0
    # not also Lightning's default ModelCheckpoint's epoch=0-step=2.ckpt
    assert sorted(p.name for p in (runs / "mnist_classify" / "version_0" / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]


@pytest.mark.slow
def test_shipped_callbacks_stop_early_and_keep_a_users_checkpoint(mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    args = [*tiny_fit_args(mnist_root, runs, epochs=40), "--config", str(REPO / "configs" / "callbacks" / "early_stopping.yaml"),
            "--trainer.limit_train_batches", "2"]
    assert main(["fit", *args]) == 0
    run = runs / "mnist_classify" / "version_0"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best-f1.ckpt", "best.ckpt", "last.ckpt"]
    history = json.loads((run / "history.json").read_text())
    assert 4 <= len(history["epochs"]) < 40  # stopped by EarlyStopping (patience 3), not by max_epochs
    import torch

    kept = torch.load(run / "checkpoints" / "best-f1.ckpt", weights_only=True)
    state = next(v for k, v in kept["callbacks"].items() if "val/f1" in k)
    assert state["monitor"] == "val/f1"


@pytest.mark.slow
def test_fit_then_test_scores_the_ema_weights_the_checkpoint_holds(mnist_root, tmp_path, monkeypatch, capsys):
    # With an EMA of the weights, best.ckpt's state_dict holds the averaged weights; testing it in
    # the fitting process must score those, exactly as `lightcnn test --ckpt_path` in a new one.
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    ema = ["--trainer.callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging", "--trainer.callbacks.decay", "0.5"]
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=2), *ema, "--test", "true"]) == 0
    run = runs / "mnist_classify" / "version_0"
    in_process = json.loads((run / "history.json").read_text())["test"]["test/loss"]
    assert main(["test", "--ckpt_path", str(run / "checkpoints" / "best.ckpt"), *QUIET]) == 0
    fresh = json.loads((run / "history.json").read_text())["test"]["test/loss"]
    assert in_process == pytest.approx(fresh, abs=1e-6)

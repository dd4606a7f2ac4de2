"""The lightcnn command end to end, in process (fast) and once as a real subprocess."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import Callback

from lightcnn.cli import main
from tests.conftest import QUIET, REPO, tiny_fit_args, write_plugin

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def metrics_rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def column(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key)]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_config_parses(config, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(config), "--print_config"])
    assert exit_.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["class_path"] and printed["data"]["class_path"]


@pytest.mark.slow
def test_fit_then_test_best_writes_everything_into_one_run_folder(mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs)]) == 0
    run = runs / "mnist_classify" / "version_0"
    assert (run / "config.yaml").is_file()
    assert (run / "checkpoints" / "best.ckpt").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    rows = metrics_rows(run)
    losses = column(rows, "train/loss_epoch")
    assert len(losses) == 2 and losses[1] < losses[0]  # training lowers the loss
    assert column(rows, "val/acc")[-1] > 0.5  # 10 classes: chance is 0.1
    assert column(rows, "model/params")[0] > 0 and column(rows, "time/epoch_s")[0] > 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert "data" not in saved["model"]["init_args"]  # a link target: re-derived from the data
    assert yaml.safe_load((run / "hparams.yaml").read_text())["data"]["num_classes"] == 10

    assert main(["test", *tiny_fit_args(mnist_root, runs), "--ckpt_path", "best"]) == 0
    assert not (runs / "mnist_classify" / "version_1").exists()  # outputs went back to the run
    table = list(csv.DictReader(open(run / "test_per_class.csv")))
    assert [r["class"] for r in table] == [str(i) for i in range(10)] + ["macro avg"]
    assert sum(int(r["support"]) for r in table[:-1]) == 100
    report = json.loads((run / "test_per_class.json").read_text())
    test_acc = column(metrics_rows(run), "test/acc")[-1]
    assert report["accuracy"] == pytest.approx(test_acc)
    assert (run / "test_confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert losses and column(metrics_rows(run), "train/loss_epoch") == losses  # history kept


class CrashAtEpoch(Callback):
    """Simulates a crash at the start of an epoch (after the previous epoch's checkpoint)."""

    def __init__(self, epoch: int = 1) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


@pytest.mark.slow
def test_resume_from_last_continues_the_same_run(mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    crash = ["--trainer.callbacks+", "tests.test_cli.CrashAtEpoch"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(["fit", *tiny_fit_args(mnist_root, runs, epochs=3), *crash])
    run = runs / "mnist_classify" / "version_0"
    first = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=3), "--ckpt_path", "last"]) == 0
    assert not (runs / "mnist_classify" / "version_1").exists()
    second = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert first["epoch"] == 0
    assert second["global_step"] == 3 * first["global_step"]
    assert sorted({int(r["epoch"]) for r in metrics_rows(run) if r.get("train/loss_epoch")}) == [0, 1, 2]


@pytest.mark.slow
def test_fit_from_last_with_nothing_to_resume_says_it_starts_afresh(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1), "--ckpt_path", "last"]) == 0
    out = capsys.readouterr().out
    assert f"--ckpt_path last: no run under {runs / 'mnist_classify'} has a last.ckpt yet: training from the start" in out
    assert (runs / "mnist_classify" / "version_0" / "checkpoints" / "last.ckpt").is_file()
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=2), "--ckpt_path", "last"]) == 2  # onecycle planned for 1 epoch
    assert "training from the start" not in capsys.readouterr().out


@pytest.mark.slow
def test_resume_cannot_stretch_a_onecycle_schedule(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1)]) == 0
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=2), "--ckpt_path", "last"]) == 2
    assert "onecycle schedule in this checkpoint was planned for 8 steps" in capsys.readouterr().err


@pytest.mark.slow
def test_plugin_backbone_by_name_from_yaml_and_command_line(mnist_root, tmp_path, monkeypatch):
    write_plugin(tmp_path / "plugins", "toynet", "toynet", cls="ToyNet")
    monkeypatch.chdir(tmp_path)
    cfg = yaml.safe_load((REPO / "configs" / "mnist_classify.yaml").read_text())
    cfg["model"]["init_args"].update(backbone="toynet", backbone_args={"width": 6})
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(cfg))
    args = ["--data.root", str(mnist_root), "--data.download", "false", "--trainer.fast_dev_run", "1", *QUIET]
    assert main(["fit", "--config", "toy.yaml", *args]) == 0
    assert main(["fit", "--config", str(REPO / "configs" / "mnist_classify.yaml"), *args,
                 "--model.backbone", "toynet", "--model.backbone_args", "{width: 3}"]) == 0
    by_path = "{class_path: plugins.toynet.ToyNet, init_args: {width: 5}}"
    assert main(["fit", "--config", str(REPO / "configs" / "mnist_classify.yaml"), *args,
                 "--model.backbone", by_path, "--model.backbone_args", "null"]) == 0


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--model.lrr", "0.1"], "unknown key 'model.lrr'"),
        (["--model.optimizer", "sgdx"], "bad value for 'model.optimizer': got 'sgdx'"),
        (["--data.batch_size", "abc"], "bad value for 'data.batch_size': got 'abc', expected int or null"),
        (["--model", "Nope"], "unknown task 'Nope'"),
        (["--data", "MNISTDataModul"], "did you mean MNISTDataModule"),
        (["--model.backbone", "resnet18"], "did you mean: timm/resnet18"),
        (["--trainer.max_epochz", "3"], "unknown option --trainer.max_epochz"),
    ],
)
def test_config_mistakes_get_one_clear_message(extra, expected, capsys):
    code = main(["fit", "--config", str(REPO / "configs" / "mnist_classify.yaml"), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err.replace(" (config: " + str(REPO / "configs" / "mnist_classify.yaml") + ")", "")
    assert "Traceback" not in err and len(err.splitlines()) <= 4


def test_missing_config_file_and_broken_plugin(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", "nope.yaml"]) == 2
    assert "config file not found" in capsys.readouterr().err
    write_plugin(tmp_path / "plugins", "bad", "", body="import not_a_module\n")
    assert main(["list"]) == 2
    assert "bad.py:1 failed to import: ModuleNotFoundError" in capsys.readouterr().err


@pytest.mark.slow
def test_list_and_python_dash_m_entry_point(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "lightcnn", "list", "backbones", "cifar*"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout
    assert out.split() == ["backbones:", "cifar100_cnn", "cifar10_base"]
    bad = subprocess.run([sys.executable, "-m", "lightcnn", "fit", "--model", "Nope"], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "unknown task 'Nope'" in bad.stderr


def test_options_dropped_by_a_class_change_are_named(mnist_root, tmp_path, monkeypatch, capsys):
    # --model EmbeddingTask on a classifier config keeps the options both tasks take; the
    # classifier-only label_smoothing (0.05 in mnist_classify.yaml) cannot apply and is named
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs", epochs=1), "--model", "EmbeddingTask",
                 "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]) == 0
    err = capsys.readouterr().err
    assert ("lightcnn: note: EmbeddingTask replaces ClassificationTask, and these options of ClassificationTask do not "
            "apply to EmbeddingTask, so they are dropped: label_smoothing=0.05\n") in err
    assert "\n  label_smoothing: 0.05" not in (next((tmp_path / "runs").rglob("config.yaml"))).read_text()
    assert main(["validate", *tiny_fit_args(mnist_root, tmp_path / "runs", epochs=1), "--trainer.limit_val_batches", "1"]) == 0
    assert "dropped" not in capsys.readouterr().err  # the config as written: nothing dropped, no note


@pytest.mark.slow
def test_a_batch_limit_of_1_is_one_batch_and_1_0_every_batch(mnist_root, tmp_path, monkeypatch):
    """Lightning types limit_*_batches float first, and `1` from a config or the command line was
    read as 1.0, which Lightning takes as every batch: 1 could not ask for one batch."""
    monkeypatch.chdir(tmp_path)
    Path("one.yaml").write_text("trainer:\n  limit_train_batches: 1\n")
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=1), "--trainer.limit_val_batches", "1"]
    assert main(["fit", *args, "--config", "one.yaml", "--name", "one"]) == 0
    assert main(["fit", *args, "--trainer.limit_train_batches", "1.0", "--name", "every"]) == 0
    state = {name: torch.load(next((tmp_path / "runs" / name).rglob("last.ckpt")), weights_only=False) for name in ("one", "every")}
    assert state["one"]["global_step"] == 1
    assert state["every"]["global_step"] == (300 - 30) // 32  # 270 train images after a val split of 30, full batches of 32
    saved = yaml.safe_load(next((tmp_path / "runs" / "one").rglob("config.yaml")).read_text())["trainer"]
    assert (saved["limit_train_batches"], saved["limit_val_batches"]) == (1, 1)
    assert isinstance(saved["limit_train_batches"], int)


@pytest.mark.slow
def test_a_run_folder_under_the_home_folder_is_made_there(mnist_root, tmp_path, monkeypatch):
    """default_root_dir: ~/runs in YAML (no shell expands it): lightcnn took a version folder
    under a literal './~' while Lightning wrote the run under the home folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    Path("home.yaml").write_text("trainer:\n  default_root_dir: ~/runs\n")
    args = tiny_fit_args(mnist_root, tmp_path / "unused", epochs=1)
    assert main(["fit", *args, "--config", "home.yaml", "--trainer.limit_train_batches", "2", "--name", "h"]) == 0
    run = tmp_path / "home" / "runs" / "h" / "version_0"
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "config.yaml").is_file()
    assert list(work.iterdir()) == [work / "home.yaml"]
    # a quoted `~/...` checkpoint (no shell expands it) is the home folder's too, with its run's own config
    assert main(["test", "--ckpt_path", "~/runs/h/version_0/checkpoints/last.ckpt", "--trainer.limit_test_batches", "1"]) == 0


def test_a_runs_saved_config_run_again_adds_a_version_to_the_same_experiment(mnist_root, tmp_path, monkeypatch):
    """The saved config.yaml recorded name: null, so running it again named the experiment after
    the file: runs/config/version_0 instead of the next version of the run it came from."""
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1), "--trainer.limit_train_batches", "2"]) == 0
    saved = runs / "mnist_classify" / "version_0" / "config.yaml"
    assert yaml.safe_load(saved.read_text())["name"] == "mnist_classify"
    assert main(["fit", "--config", str(saved), *QUIET]) == 0
    assert (runs / "mnist_classify" / "version_1" / "checkpoints" / "last.ckpt").is_file()
    assert sorted(p.name for p in runs.iterdir()) == ["mnist_classify"]
    # a nested --name is recorded whole
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1), "--trainer.limit_train_batches", "2", "--name", "study/a"]) == 0
    assert main(["fit", "--config", str(runs / "study" / "a" / "version_0" / "config.yaml"), *QUIET]) == 0
    assert sorted(p.name for p in (runs / "study" / "a").iterdir()) == ["version_0", "version_1"]

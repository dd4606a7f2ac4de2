"""Crash safety, resume after kill -9, determinism, and stopping on a NaN loss."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback

from lightcnn.checkpoint_io import AtomicCheckpointIO
from lightcnn.cli import main
from tests.conftest import REPO
from tests.conftest import tiny_fit_args

AUGMENT = ["--data.init_args.augment", "[{name: rotation, degrees: 10}, {name: translate, fraction: 0.1}]"]


class PauseAt(Callback):
    """Writes ``marker`` and sleeps in the middle of ``epoch``, so a test can kill the process there."""

    def __init__(self, marker: str, epoch: int = 2, batch: int = 3) -> None:
        self.marker, self.epoch, self.batch = marker, epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            Path(self.marker).write_text(str(os.getpid()))
            time.sleep(120)


class PoisonAt(Callback):
    """Sets a weight to NaN at one step, as a diverging run would."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 1 and batch_idx == 2:
            with torch.no_grad():
                next(pl_module.parameters()).fill_(float("nan"))


class PoisonFirst(Callback):
    """NaN weights before the run's first step, as a broken plugin's initialisation would give."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 0 and batch_idx == 0:
            with torch.no_grad():
                next(pl_module.parameters()).fill_(float("nan"))


def epoch_values(run: Path, key: str) -> dict[int, float]:
    """The last value of ``key`` logged for each epoch."""
    out: dict[int, float] = {}
    for row in csv.DictReader(open(run / "metrics.csv", newline="")):
        if row.get(key):
            out[int(row["epoch"])] = float(row[key])
    return out


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_finishes_as_an_uninterrupted_run(mnist_root, tmp_path):
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=4), *AUGMENT, "--name", "crashy"]
    marker = tmp_path / "paused"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lightcnn", "fit", *args, "--trainer.callbacks+=tests.test_reliability.PauseAt",
         f"--trainer.callbacks.marker={marker}"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 240
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.time() < deadline, "the run never reached epoch 2"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # in the middle of epoch 2 (epochs 0 and 1 are done)
    proc.wait()
    run = tmp_path / "runs" / "crashy" / "version_0"
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["epoch"] == 1  # lost: only the unfinished epoch
    assert not list(run.rglob("*.tmp"))
    stale = run / "checkpoints" / ".last.ckpt.x1y2z3.tmp"  # as a kill during a checkpoint write leaves
    stale.write_bytes(b"PK\x03\x04 part of a checkpoint")

    assert main(["fit", *args, "--ckpt_path", "last"]) == 0
    assert not stale.exists()
    assert not (tmp_path / "runs" / "crashy" / "version_1").exists()  # the same run continued
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 3
    resumed = epoch_values(run, "val/loss")
    assert sorted(resumed) == [0, 1, 2, 3]

    assert main(["fit", *args, "--name", "straight"]) == 0  # the same run without the crash
    straight = epoch_values(tmp_path / "runs" / "straight" / "version_0", "val/loss")
    assert resumed == pytest.approx(straight, rel=1e-6)  # same data order, augmentation draws, schedule


@pytest.mark.slow
def test_same_config_and_seed_give_identical_metrics(mnist_root, tmp_path):
    for name in ("a", "b"):
        assert main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs", epochs=2), *AUGMENT, "--name", name]) == 0
    rows = {name: list(csv.DictReader(open(tmp_path / "runs" / name / "version_0" / "metrics.csv"))) for name in ("a", "b")}
    strip = [[{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows[n]] for n in ("a", "b")]
    assert len(strip[0]) >= 4 and strip[0] == strip[1]  # every logged value, to the last digit


@pytest.mark.slow
def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=3), "--trainer.callbacks+=tests.test_reliability.PoisonAt"]
    assert main(["fit", *args]) == 2
    err = capsys.readouterr().err
    assert "the training loss became NaN or infinite at epoch 1, step 11: training stopped" in err
    run = tmp_path / "runs" / "mnist_classify" / "version_0"
    assert f"The last good checkpoint is kept ({run / 'checkpoints' / 'last.ckpt'})" in err
    for name in ("last.ckpt", "best.ckpt"):
        state = torch.load(run / "checkpoints" / name, weights_only=True)
        assert state["epoch"] == 0 and all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point())


def test_a_nan_loss_on_the_first_batch_is_not_blamed_on_the_learning_rate(mnist_root, tmp_path, monkeypatch, capsys):
    """A loss that is NaN before any update comes from the model or the data, not the optimizer:
    the message says so (it advised lowering the learning rate), and no run folder is left."""
    monkeypatch.chdir(tmp_path)
    args = [*tiny_fit_args(mnist_root, tmp_path / "runs", epochs=1), "--trainer.callbacks+=tests.test_reliability.PoisonFirst"]
    assert main(["fit", *args]) == 2
    err = capsys.readouterr().err
    assert ("the training loss is NaN or infinite on the run's first batch, before any weight update: the learning rate "
            "and schedule cannot have caused it") in err
    assert "Lower model.lr" not in err
    assert not list((tmp_path / "runs").rglob("*.ckpt"))


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"epoch": 1}, path)

    def dies_half_way(obj, f, *a, **k):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # as a kill during the write, from the file's point of view

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_the_run_folder_of_a_checkpoint(tmp_path) -> None:
    from lightcnn.run import run_dir_of

    version = tmp_path / "runs" / "x" / "version_3" / "checkpoints" / "best.ckpt"
    trial = tmp_path / "runs" / "sweep" / "wider-seed_1" / "checkpoints" / "last.ckpt"
    loose = tmp_path / "elsewhere" / "checkpoints" / "last.ckpt"
    for ckpt in (version, trial, loose):
        ckpt.parent.mkdir(parents=True)
    (trial.parent.parent / "run_info.json").write_text("{}")  # what every run folder, a sweep trial's too, holds
    assert run_dir_of(version) == version.parent.parent
    assert run_dir_of(trial) == trial.parent.parent
    assert run_dir_of(loose) is None and run_dir_of(tmp_path / "best.ckpt") is None


def test_a_checkpoint_path_under_the_home_folder(tmp_path, monkeypatch) -> None:
    """``--ckpt_path '~/...'`` (quoted, or in YAML: no shell expands it) is the home folder's file;
    before, it was looked up under a literal ``./~`` and refused as missing."""
    from lightcnn.errors import LightCNNError
    from lightcnn.run import resolve_ckpt_path

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ckpt = tmp_path / "home" / "runs" / "x" / "version_0" / "checkpoints" / "best.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"")
    (ckpt.parent.parent / "run_info.json").write_text("{}")
    assert resolve_ckpt_path("~/runs/x/version_0/checkpoints/best.ckpt", tmp_path, "test") == (str(ckpt), ckpt.parent.parent)
    with pytest.raises(LightCNNError, match=r"--ckpt_path .*home/runs/x/version_0/checkpoints/nope.ckpt: no such checkpoint file"):
        resolve_ckpt_path("~/runs/x/version_0/checkpoints/nope.ckpt", tmp_path, "test")

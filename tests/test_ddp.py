"""Two-process DDP on CPU (gloo), through the real command: both tasks fit, test writes once."""

import csv
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

DDP = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu",
       "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def lightcnn(args, cwd):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "lightcnn", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_ddp_two_cpu_processes_both_tasks(mnist_root, tmp_path):
    data = ["--data.root", str(mnist_root), "--data.download", "false"]
    embed = lightcnn(["fit", "--config", str(REPO / "configs" / "mnist_embed.yaml"), *data, "--data.val_size", "0.2",
                      "--trainer.max_epochs", "1", *DDP], tmp_path)
    assert embed.returncode == 0, embed.stderr[-2000:]
    run = tmp_path / "runs" / "mnist_embed" / "version_0"
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert any(r.get("val/heldout/map_at_r") for r in rows)  # gathered over both ranks
    assert (run / "umap" / "fit_end.png").is_file()  # written by rank 0

    cls = ["--config", str(REPO / "configs" / "mnist_classify.yaml"), *data, "--data.batch_size", "32", *DDP]
    assert lightcnn(["fit", *cls, "--trainer.max_epochs", "1"], tmp_path).returncode == 0
    test = lightcnn(["test", *cls, "--ckpt_path", "best"], tmp_path)
    assert test.returncode == 0, test.stderr[-2000:]
    report = tmp_path / "runs" / "mnist_classify" / "version_0" / "test_per_class.csv"
    rows = list(csv.DictReader(open(report)))
    assert sum(int(r["support"]) for r in rows[:-1]) == 100  # every test image counted once

"""Two-process DDP on CPU (gloo) through the real command, against one process on the same data.

Classification: with no BatchNorm, augmentation or dropout (whose per-rank statistics or random
draws legitimately differ), 2 ranks x batch 16 see exactly the batches of 1 process x batch 32
(``IndexBatchSampler`` gives rank r the positions r, r+2, ... of the same permutation) and DDP
averages the gradients, so training is the same computation up to float32 summation order.
Tolerance: test loss within 1e-5 relative (the observed difference is ~1e-7; a wrong shard, a
double-counted batch or an unsynced metric moves it by orders of magnitude more), and the
confusion matrix, hence accuracy and per-class figures, identical.

Embedding: 2 ranks draw different per-class batches than 1 process, so training is not compared;
evaluating one checkpoint with 1 and with 2 processes must give the same retrieval metrics
(embeddings gathered from both ranks), within 1e-6.
"""

import csv
import json
import os
import subprocess
import sys

import pytest

from lightcnn.cli import main
from tests.conftest import REPO, free_port

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--trainer.accelerator", "cpu"]
DDP = ["--trainer.strategy", "ddp", "--trainer.devices", "2"]


def lightcnn(args, cwd, warnings=False):
    env = {**os.environ} if warnings else {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "lightcnn", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def last_row_with(run, key):
    return next(r for r in reversed(list(csv.DictReader(open(run / "metrics.csv")))) if r.get(key))


@pytest.mark.slow
def test_ddp_classification_matches_one_process(mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["--config", str(REPO / "configs" / "mnist_classify.yaml"), "--data.root", str(mnist_root), "--data.download", "false",
              "--model.init_args.backbone_args.batchnorm", "false", "--trainer.max_epochs", "2", *QUIET]
    one = [*common, "--data.batch_size", "32", "--name", "one"]
    two = [*common, "--data.batch_size", "16", "--name", "two", *DDP]
    assert main(["fit", *one]) == 0 and main(["test", *one, "--ckpt_path", "best"]) == 0
    for command in ("fit", "test"):
        done = lightcnn([command, *two, *(["--ckpt_path", "best"] if command == "test" else [])], tmp_path, warnings=True)
        assert done.returncode == 0, done.stderr[-3000:]
        # the epoch scalars are reduced already (torchmetrics) and logged with sync_dist: no Lightning advice about it
        assert "sync_dist=True" not in done.stderr, done.stderr[-3000:]
    runs = {n: tmp_path / "runs" / n / "version_0" for n in ("one", "two")}
    rows = {n: last_row_with(r, "test/loss") for n, r in runs.items()}
    assert float(rows["two"]["test/loss"]) == pytest.approx(float(rows["one"]["test/loss"]), rel=1e-5)
    val = {n: last_row_with(r, "val/loss") for n, r in runs.items()}
    assert float(val["two"]["val/loss"]) == pytest.approx(float(val["one"]["val/loss"]), rel=1e-5)
    confusion = {n: json.loads((r / "test_per_class.json").read_text())["confusion"] for n, r in runs.items()}
    assert confusion["two"] == confusion["one"] and sum(map(sum, confusion["two"])) == 100  # each image once
    assert (runs["two"] / "report.html").is_file()  # written once, by rank 0


@pytest.mark.slow
@pytest.mark.cluster
def test_ddp_embedding_fit_and_evaluation_match_one_process(mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--config", str(REPO / "configs" / "mnist_embed.yaml"), "--data.root", str(mnist_root), "--data.download", "false",
            "--data.val_size", "0.2", "--trainer.max_epochs", "1", *QUIET]
    fit = lightcnn(["fit", *args, *DDP], tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs" / "mnist_embed" / "version_0"
    assert (run / "umap" / "fit_end.png").is_file()  # written by rank 0, from both ranks' embeddings
    test = lightcnn(["test", *args, *DDP, "--ckpt_path", "best", "--trainer.callbacks", "[]"], tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    two = last_row_with(run, "test/heldout/map_at_r")
    assert main(["test", *args, "--ckpt_path", "best", "--trainer.callbacks", "[]"]) == 0
    one = last_row_with(run, "test/heldout/map_at_r")
    assert sum(1 for r in csv.DictReader(open(run / "metrics.csv")) if r.get("test/heldout/map_at_r")) == 2  # both tests logged
    keys = [k for k in one if k.startswith("test/") and one[k]]
    assert len(keys) >= 45  # model and both baselines, three groups, five metrics
    for k in keys:
        assert float(two[k]) == pytest.approx(float(one[k]), abs=1e-6), k


@pytest.mark.slow
@pytest.mark.cluster
def test_two_nodes_by_torchrun_match_one_process(mnist_root, tmp_path, monkeypatch):
    """Multi-node as a cluster runs it: ``torchrun --nnodes 2`` started once per node (here both
    on localhost, one process each), Lightning reading the ranks from the environment."""
    monkeypatch.chdir(tmp_path)
    common = ["--config", str(REPO / "configs" / "mnist_classify.yaml"), "--data.root", str(mnist_root), "--data.download", "false",
              "--model.init_args.backbone_args.batchnorm", "false", "--trainer.max_epochs", "2", *QUIET]
    one = [*common, "--data.batch_size", "32", "--name", "one"]
    two = [*common, "--data.batch_size", "16", "--name", "two", "--trainer.strategy", "ddp", "--trainer.devices", "1",
           "--trainer.num_nodes", "2"]
    assert main(["fit", *one]) == 0
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    logs = [tmp_path / f"node{rank}.log" for rank in (0, 1)]  # files, not pipes: a full pipe would stall a rank
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                               "--node_rank", str(rank), "--master_addr", "127.0.0.1", "--master_port", str(port),
                               "-m", "lightcnn", "fit", *two], cwd=tmp_path, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
             for rank, log in zip((0, 1), logs)]
    try:
        for node, log in zip(nodes, logs):
            assert node.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
        for node in nodes:
            node.kill()
    assert [p.name for p in (tmp_path / "runs" / "two").iterdir()] == ["version_0"]  # one run folder for both nodes
    runs = {n: tmp_path / "runs" / n / "version_0" for n in ("one", "two")}
    for epoch_key in ("val/loss", "train/loss_epoch"):
        values = {n: json.loads((r / "history.json").read_text())["epochs"] for n, r in runs.items()}
        for epoch in ("0", "1"):
            assert values["two"][epoch][epoch_key] == pytest.approx(values["one"][epoch][epoch_key], rel=1e-5), (epoch_key, epoch)
    for n, run in runs.items():  # the two best checkpoints give the same test results, in one process
        single = ["--trainer.strategy", "auto", "--trainer.num_nodes", "1", "--trainer.devices", "1"]
        assert main(["test", "--ckpt_path", str(run / "checkpoints" / "best.ckpt"), *QUIET, *single]) == 0
    confusion = {n: json.loads((r / "test_per_class.json").read_text())["confusion"] for n, r in runs.items()}
    assert confusion["two"] == confusion["one"]
    tested = {n: json.loads((r / "history.json").read_text())["test"]["test/loss"] for n, r in runs.items()}
    assert tested["two"] == pytest.approx(tested["one"], rel=1e-5)

"""What a user sees in the terminal: no advertisements, no source-echoing warnings, one line per
epoch in logs, a correct FLOPs line, a compact test summary, every command in ``--help``."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
import torch

from lightcnn.commands import COMMANDS, TRAINER_COMMANDS
from lightcnn.entry import help_text, main as entry_main
from lightcnn.terminal import _keep, _show_warning, print_summary
from tests.conftest import REPO, write_mnist_layout

SOURCE_LOCATION = re.compile(r"\.py:\d+")  # "fit_loop.py:321:" as Python and Lightning format warnings


def test_help_lists_every_command_and_version_needs_no_torch():
    text = help_text()
    for name in [*TRAINER_COMMANDS, *COMMANDS]:
        assert re.search(rf"^  {re.escape(name)}\s+\S", text, re.M), name
    out = subprocess.run([sys.executable, "-c", "import sys; from lightcnn.entry import main; main(['--help']); main(['--version']);"
                          "print('torch' in sys.modules, 'lightning' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert "export" in out and "lr-find" in out and "sweep" in out
    assert re.search(r"^lightcnn \d+\.\d+\.\d+ \(torch \S+, lightning \S+", out, re.M)
    assert out.rstrip().endswith("False False")  # neither imported for --help / --version


def test_no_command_is_a_usage_error(capsys):
    assert entry_main([]) == 2
    assert "usage: lightcnn COMMAND" in capsys.readouterr().out


def test_a_warning_is_one_line_naming_its_package():
    out = io.StringIO()
    _show_warning(UserWarning("first part\n  second part"), UserWarning,
                  "/x/lib/python3.11/site-packages/lightning/pytorch/loops/fit_loop.py", 321, out, "warnings.warn(...)")
    assert out.getvalue() == "lightning: warning: first part second part\n"


def test_only_advertisements_and_intended_notices_are_dropped_never_a_report():
    import logging

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("lightning.pytorch", logging.INFO, "x.py", 1, message, None, None)

    assert not _keep(record("💡 Tip: For seamless cloud logging, try installing [litlogger]"))
    assert not _keep(record("The following callbacks returned in `LightningModule.configure_callbacks` will override "
                            "existing callbacks passed to Trainer: ModelCheckpoint"))
    # --trainer.profiler simple: its report names every hook, configure_callbacks included
    assert _keep(record("FIT Profiler Report\n|  [LightningModule]ClassificationTask.configure_callbacks  |  0.001  |"))
    assert _keep(record("GPU available: False, used: False"))


def test_compact_summary(tmp_path, capsys):
    (tmp_path / "test_per_class.csv").write_text("x")
    metrics = {"test/acc": 0.5, "test/loss": 1.25, **{f"test/f1/c{i}": 0.1 for i in range(100)}, "val/acc": 0.9}
    print_summary(metrics, "test", tmp_path, "best.ckpt")
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["test results of best.ckpt:", "  test/acc   0.5000", "  test/loss  1.2500"]
    assert lines[3].startswith(f"  (+100 per-class and other values in {tmp_path}/: test_per_class.csv, history.json")
    assert len(lines) == 4


@pytest.mark.slow
def test_fit_and_test_print_no_advertisement_and_no_source_lines(tmp_path):
    root = write_mnist_layout(tmp_path / "data")
    common = ["--config", str(REPO / "configs" / "mnist_classify.yaml"), "--data.root", str(root), "--data.download", "false",
              "--trainer.default_root_dir", str(tmp_path / "runs"), "--trainer.limit_val_batches", "2"]
    script = (
        "import sys; from lightcnn.entry import main; "
        f"c = main(['fit', *{common!r}, '--trainer.max_epochs', '2']); "
        f"sys.exit(c or main(['test', *{common!r}, '--ckpt_path', 'best']))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, err[-3000:]
    both = out + err
    for unwanted in ("Tip:", "litlogger", "litmodels", "Traceback", "Total Flops", "warnings.warn", "\r"):
        assert unwanted not in both, unwanted
    assert not SOURCE_LOCATION.search(both), SOURCE_LOCATION.search(both)
    assert re.search(r"^\s*3\.9 M\s+FLOPs per image \(forward\)$", out, re.M)  # the MNIST net: 3,901,184
    epochs = re.findall(r"^epoch (\d)/2  train/loss [\d.]+  val/acc [\d.]+  \(\d+\.\d s\)$", out, re.M)
    assert epochs == ["1", "2"]
    summary = out[out.index("test results of"):].splitlines()
    assert [line.split()[0] for line in summary[1:6]] == ["test/acc", "test/f1", "test/loss", "test/precision", "test/recall"]
    assert summary[6].startswith("  (+30 per-class and other values in ")
    assert "test/acc/" not in out  # no row per class
    assert err.strip() == "", err  # stderr holds warnings and errors only: none here


def test_model_help_is_concise(capsys):
    from lightcnn.cli import main as cli_main

    with pytest.raises(SystemExit) as done:
        cli_main(["fit", "--model.help", "ClassificationTask"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--model.label_smoothing" in out and "--model.backbone_args" in out and "--model.lr" in out
    assert "torch.nn" not in out  # no list of every nn.Module subclass
    assert len(out.splitlines()) < 140  # ~30 options of 2-6 lines each (the nn.Module list was 700 lines)


@pytest.mark.slow
def test_sigterm_during_fit_exits_non_zero_and_says_how_to_resume(tmp_path):
    import signal
    import time

    root = write_mnist_layout(tmp_path / "data", n_train=200)
    args = ["fit", "--config", str(REPO / "configs" / "mnist_classify.yaml"), "--data.root", str(root),
            "--data.download", "false", "--trainer.max_epochs", "500", "--trainer.default_root_dir", str(tmp_path / "runs")]
    proc = subprocess.Popen([sys.executable, "-m", "lightcnn", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    last = tmp_path / "runs" / "mnist_classify" / "version_0" / "checkpoints" / "last.ckpt"
    for _ in range(1200):  # until the first epoch has been saved (a 500-epoch run is far from done then)
        if last.is_file() or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "lightcnn: stopped by SIGTERM" in err and "--ckpt_path last" in err and "Traceback" not in err
    assert last.is_file()
    torch.load(last, weights_only=True)  # a whole checkpoint, not part of one
    run = last.parents[1]
    assert (run / "report.md").is_file() and (run / "history.json").is_file()  # the finished epochs are reported

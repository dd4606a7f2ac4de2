"""``Experiment`` trains and prints as ``lightcnn fit`` does: the same default callbacks (a
progress display refreshed every 10th step or one line per epoch, the FLOPs summary) and none
of Lightning's advertisements, with the user's process left as it was afterwards."""

from __future__ import annotations

import io
import logging
import sys
import warnings

import pytest
from lightning.pytorch.callbacks import ModelSummary, ProgressBar, TQDMProgressBar

from lightcnn import Experiment
from lightcnn.callbacks import EpochLines
from lightcnn.data import MNISTDataModule
from lightcnn.lightning_overrides import FlopsModelSummary
from lightcnn.tasks import ClassificationTask
from lightcnn.terminal import _keep, lightning_notices_dropped
from lightcnn.trainer_defaults import PROGRESS_EVERY

RANK_ZERO = "lightning.pytorch.utilities.rank_zero"


def _experiment(root, tmp_path, **trainer_kwargs):
    dm = MNISTDataModule(root=str(root), batch_size=32, download=False)
    task = ClassificationTask(backbone="mnist_cnn", data=dm.data_info)
    return Experiment(task, dm, root=tmp_path / "runs", **trainer_kwargs)


def _kinds(exp):
    return [type(c) for c in exp.trainer.callbacks if isinstance(c, (ProgressBar, ModelSummary))]


def test_an_experiment_gets_the_commands_default_callbacks(mnist_root, tmp_path):
    # pytest's stdout is no terminal: one line per epoch, as the command prints into a log file
    assert _kinds(_experiment(mnist_root, tmp_path)) == [EpochLines, FlopsModelSummary]
    assert _kinds(_experiment(mnist_root, tmp_path, enable_progress_bar=False, enable_model_summary=False)) == []


def test_a_terminal_gets_a_bar_refreshed_every_tenth_step(mnist_root, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    bars = [c for c in _experiment(mnist_root, tmp_path).trainer.callbacks if isinstance(c, ProgressBar)]
    assert [type(b) for b in bars] == [TQDMProgressBar]
    assert bars[0].refresh_rate == PROGRESS_EVERY == 10


def test_the_users_own_bar_and_summary_are_kept_alone(mnist_root, tmp_path):
    mine = TQDMProgressBar(refresh_rate=1)
    exp = _experiment(mnist_root, tmp_path, callbacks=mine, enable_model_summary=True)
    bars = [c for c in exp.trainer.callbacks if isinstance(c, ProgressBar)]
    assert bars == [mine]
    summary = ModelSummary(max_depth=2)
    exp = _experiment(mnist_root, tmp_path, callbacks=[summary], enable_progress_bar=False)
    assert [c for c in exp.trainer.callbacks if isinstance(c, ModelSummary)] == [summary]


def test_notices_are_dropped_only_while_inside(monkeypatch):
    logger = logging.getLogger(RANK_ZERO)
    # a process where the command has not run (it keeps the filter for good: quiet_terminal)
    monkeypatch.setattr(logger, "filters", [f for f in logger.filters if f is not _keep])
    seen: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    filters_before = list(warnings.filters)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with lightning_notices_dropped():
                logger.info("💡 Tip: For seamless cloud logging, try installing litlogger")
                logger.info("GPU available: False, used: False")
                warnings.warn("The number of training batches (5) is smaller than the logging interval")
            assert _keep not in logger.filters
            logger.info("💡 Tip: outside")
            warnings.warn("is smaller than the logging interval, outside")
    finally:
        logger.removeHandler(handler)
    assert seen == ["GPU available: False, used: False", "💡 Tip: outside"]
    assert [str(w.message) for w in caught] == ["is smaller than the logging interval, outside"]
    assert warnings.filters == filters_before


@pytest.mark.slow
def test_a_fit_prints_the_flops_summary_and_no_advertisement(mnist_root, tmp_path):
    logger = logging.getLogger(RANK_ZERO)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        exp = _experiment(mnist_root, tmp_path, max_epochs=1, limit_train_batches=3, limit_val_batches=2)
        exp.fit()
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "FLOPs per image (forward)" in text and "Total Flops" not in text
    assert "💡" not in text and "configure_callbacks" not in text and "Skipping setting a default" not in text

"""One ``Experiment`` used the way a notebook uses it: a fit stopped with the stop button (Ctrl+C)
and run again, a finished fit run again, a test after a fit.

Lightning answers Ctrl+C with ``sys.exit(1)`` and leaves SIGINT ignored (a notebook then shows a
``SystemExit`` and can no longer be interrupted); a second ``fit`` of the same Trainer trained
nothing and returned the first fit's values; the test after it fell back to the current weights.
"""

from __future__ import annotations

import json
import signal
import warnings

import pytest
from lightning.pytorch.callbacks import Callback

from lightcnn import Experiment
from lightcnn.data import MNISTDataModule
from lightcnn.errors import LightCNNError
from lightcnn.tasks import ClassificationTask

BATCHES = 4  # 300 training images in batches of 32, limited to 4 a epoch


class StopAt(Callback):
    """Raises KeyboardInterrupt (what Ctrl+C raises) once, after training step ``step``."""

    def __init__(self, step: int) -> None:
        self.step, self.fired = step, False

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step and not self.fired:
            self.fired = True
            raise KeyboardInterrupt


def _experiment(root, tmp_path, **trainer_kwargs):
    dm = MNISTDataModule(root=str(root), batch_size=32, download=False)
    task = ClassificationTask(backbone="mnist_cnn", data=dm.data_info, scheduler="cosine")
    return Experiment(task, dm, root=tmp_path / "runs", limit_train_batches=BATCHES, limit_val_batches=2,
                      enable_progress_bar=False, enable_model_summary=False, **trainer_kwargs)


def test_an_interrupted_fit_raises_keyboard_interrupt_and_the_next_fit_resumes(mnist_root, tmp_path, capsys):
    before = signal.getsignal(signal.SIGINT)
    exp = _experiment(mnist_root, tmp_path, max_epochs=3, callbacks=[StopAt(BATCHES + 2)])  # in the 2nd epoch
    with pytest.raises(KeyboardInterrupt, match="keeps what was saved"):
        exp.fit()
    assert signal.getsignal(signal.SIGINT) is before  # Lightning had set it to SIG_IGN: Ctrl+C would do nothing
    assert exp.history.epochs == [0]  # the first epoch was saved, the second one was cut

    exp.fit()  # again: goes on from the run's last.ckpt, the end of the first epoch
    assert "resuming" in capsys.readouterr().err
    assert exp.history.epochs == [0, 1, 2]
    assert exp.trainer.global_step == 3 * BATCHES  # the cut epoch was trained once, from its start
    assert signal.getsignal(signal.SIGINT) is before


def test_a_finished_fit_run_again_is_refused_and_nothing_changes(mnist_root, tmp_path):
    exp = _experiment(mnist_root, tmp_path, max_epochs=1)
    first = exp.fit()
    history = (exp.run_dir / "history.json").read_text()
    with pytest.raises(LightCNNError, match=r"last.ckpt has finished 1 epoch of max_epochs=1: resuming would train "
                                            r"nothing. To train on, make an Experiment with a higher max_epochs"):
        exp.fit()
    assert (exp.run_dir / "history.json").read_text() == history
    assert json.loads(history)["epochs"]["0"]["val/acc"] == pytest.approx(first["val/acc"])


def test_a_fit_run_again_with_no_checkpoint_to_go_on_from_is_refused(mnist_root, tmp_path):
    exp = _experiment(mnist_root, tmp_path, max_epochs=2, callbacks=[StopAt(1)])  # in the first epoch
    with pytest.raises(KeyboardInterrupt):
        exp.fit()
    with pytest.raises(LightCNNError, match="earlier fit saved no .*last.ckpt to resume from .* make a new Experiment"):
        exp.fit()


def test_a_checkpoint_given_to_fit_is_checked_first(mnist_root, tmp_path, monkeypatch):
    exp = _experiment(mnist_root, tmp_path, max_epochs=1)
    with pytest.raises(LightCNNError, match="nowhere.ckpt: no such checkpoint file"):
        exp.fit(ckpt_path=tmp_path / "nowhere.ckpt")
    exp.fit()
    longer = _experiment(mnist_root, tmp_path, max_epochs=2)
    monkeypatch.setenv("HOME", str(tmp_path))  # "~/..." is the home folder's, as on the command line
    last = (exp.run_dir / "checkpoints" / "last.ckpt").resolve().relative_to(tmp_path.resolve())
    longer.fit(ckpt_path=f"~/{last}")  # a higher limit trains on, in its own run
    assert longer.history.epochs == [0, 1] and longer.trainer.global_step == 2 * BATCHES


def test_test_after_fit_takes_the_runs_best_checkpoint_without_lightnings_warning(mnist_root, tmp_path, capsys):
    exp = _experiment(mnist_root, tmp_path, max_epochs=2)
    exp.fit()
    asked, test = {}, exp.trainer.test
    exp.trainer.test = lambda *args, **kwargs: asked.update(kwargs) or test(*args, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp.test(verbose=False)
    assert not [w for w in caught if "ModelCheckpoint" in str(w.message)]  # "multiple ModelCheckpoint callbacks"
    assert asked["ckpt_path"] == str(exp.run_dir / "checkpoints" / "best.ckpt")
    assert "no best checkpoint" not in capsys.readouterr().err

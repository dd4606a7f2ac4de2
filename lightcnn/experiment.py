"""``Experiment``: lightcnn from Python (a notebook, a script), with the same run folders, records
and reports as the ``lightcnn`` command.

    dm = MNISTDataModule(root="data")
    task = ClassificationTask(backbone="mnist_cnn", data=dm.data_info)
    exp = Experiment(task, dm, name="notebook", max_epochs=2)
    exp.fit(); exp.test()          # metrics as dicts; files in exp.run_dir
    exp.report()                   # shown inline in Jupyter

    exp = Experiment.from_config("configs/mnist_classify.yaml", "--data.root", ".data")
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningDataModule, Trainer

from lightcnn.callbacks.run_checkpoint import RunCheckpoint
from lightcnn.report.history import History, read_run_history
from lightcnn.errors import LightCNNError
from lightcnn.preflight import check_run_name, check_trainer_values
from lightcnn.run import remove_failed_run, reserve_version
from lightcnn.terminal import lightning_notices_dropped


def check_parts(task: Any, data: Any) -> None:
    """``Experiment(task, data)`` takes a built task and DataModule, in that order.

    Raises:
        LightCNNError: a class where an instance belongs, the two swapped, or something else.
    """
    from lightning.pytorch import LightningModule

    for value, base, what, example in ((task, LightningModule, "task", "ClassificationTask(backbone=..., data=dm.data_info)"),
                                       (data, LightningDataModule, "data", "MNISTDataModule(root=...)")):
        if isinstance(value, base):
            continue
        if isinstance(value, type):
            got = f"the class {value.__name__}, not an instance of it"
        elif isinstance(value, (LightningModule, LightningDataModule)):
            got = f"a {type(value).__name__}: task and data are swapped (Experiment(task, data))"
        else:
            got = f"a {type(value).__name__}"
        raise LightCNNError(f"Experiment's {what} must be a built {base.__name__}, e.g. {example}; got {got}")


def check_trainer_kwargs(kwargs: dict[str, Any]) -> None:
    """The Trainer options an ``Experiment`` was given: names the Trainer takes, and the epoch
    and step limits ``lightcnn fit`` accepts (``max_epochs=0`` trains nothing).

    Raises:
        LightCNNError: the option, and the closest Trainer option or what is valid.
    """
    import difflib
    import inspect

    known = [n for n in inspect.signature(Trainer.__init__).parameters if n != "self"]
    for key in kwargs:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; it takes: {', '.join(known)}"
            raise LightCNNError(f"Experiment({key}=...): Trainer has no option {key!r}{hint}")
    check_trainer_values(kwargs, "fit")


_RAISE_LIMIT = ("To train on, make an Experiment with a higher max_epochs / max_steps and pass this checkpoint to "
                "its fit(ckpt_path=...); exp.test() evaluates the best one")


@contextmanager
def interrupt_as_keyboard_interrupt(trainer: Trainer) -> Iterator[None]:
    """Lightning answers Ctrl+C (a notebook's stop button) by shutting the run down, setting
    SIGINT to be ignored and calling ``sys.exit(1)``: in a notebook that is a ``SystemExit``
    shown as an error, and the kernel can no longer be interrupted. Here the shutdown still runs
    (checkpoints, the report), then SIGINT's handler is put back and ``KeyboardInterrupt`` is
    raised, as for any interrupted Python call."""
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    try:
        yield
    except SystemExit as exit_:
        if getattr(trainer, "interrupted", False) and exit_.code == 1:
            raise KeyboardInterrupt(f"interrupted; the run folder {trainer.default_root_dir} keeps what was saved") from None
        raise
    finally:
        if handler is not None and signal.getsignal(signal.SIGINT) is not handler:
            signal.signal(signal.SIGINT, handler)


class Report:
    """A run's ``report.html``; Jupyter shows it inline (``_repr_html_``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _repr_html_(self) -> str:
        return self.path.read_text()

    def __repr__(self) -> str:
        return f"Report({self.path})"


class Experiment:
    """A task, a DataModule and a Trainer writing one run folder ``{root}/{name}/version_N``.

    Args:
        task: a lightcnn task (``ClassificationTask``, ``EmbeddingTask``, a plugin's).
        data: a LightningDataModule providing ``data_info``.
        name, root: the run folder is the next ``{root}/{name}/version_N``.
        trainer: a Trainer you built yourself (its ``default_root_dir`` is the run folder); else
            one is made from ``trainer_kwargs`` (``max_epochs=2``, ``accelerator="gpu"``, ...).
    """

    def __init__(self, task: Any, data: LightningDataModule, name: str = "run", root: str | Path = "runs",
                 trainer: Trainer | None = None, **trainer_kwargs: Any) -> None:
        check_parts(task, data)
        self.task, self.data = task, data
        if trainer is None:
            from lightcnn.checkpoint_io import AtomicCheckpointIO
            from lightcnn.lightning_overrides import RunLogger
            from lightcnn.trainer_defaults import default_callbacks

            check_run_name(name)
            check_trainer_kwargs(trainer_kwargs)  # before a version folder is taken
            run = reserve_version(Path(root).expanduser() / name)
            trainer_kwargs.setdefault("logger", RunLogger.into(run))
            trainer_kwargs.setdefault("plugins", [AtomicCheckpointIO()])
            trainer_kwargs.setdefault("use_distributed_sampler", False)  # lightcnn's samplers shard by rank
            given = trainer_kwargs.get("callbacks") or []
            given = list(given) if isinstance(given, (list, tuple)) else [given]
            trainer_kwargs["callbacks"] = [*given, *default_callbacks(given, trainer_kwargs.get("enable_progress_bar"),
                                                                     trainer_kwargs.get("enable_model_summary"))]
            try:
                with lightning_notices_dropped():
                    trainer = Trainer(default_root_dir=str(run), **trainer_kwargs)
            except BaseException:
                remove_failed_run(run)  # no empty version folder for the next Experiment to skip
                raise
        self.trainer = trainer
        self._fitted = False

    @classmethod
    def from_config(cls, config: str | Path, *overrides: str) -> Experiment:
        """Build the task, DataModule and Trainer of a lightcnn YAML config, with command-line
        style overrides (``"--data.root", ".data"``), exactly as ``lightcnn fit`` would."""
        from lightcnn.cli import LightCNNCLI, _import_builtins
        from lightcnn.plugins import discover

        _import_builtins()
        discover()
        with lightning_notices_dropped():
            cli = LightCNNCLI.from_config(config, overrides)
        return cls(cli.model, cli.datamodule, trainer=cli.trainer)

    @property
    def run_dir(self) -> Path:
        """The run folder: config, checkpoints, history, reports."""
        return Path(self.trainer.default_root_dir)

    def fit(self, ckpt_path: str | Path | None = None) -> dict[str, float]:
        """Train (``ckpt_path``: resume from that checkpoint file); return the last epoch's values
        (``val/acc``, ...). Called again on the same Experiment (after an interruption, say), it
        resumes this run from its ``last.ckpt``; a fit that has reached its ``max_epochs`` /
        ``max_steps`` is not trained further (make an Experiment with a higher limit and pass the
        checkpoint). An interruption (Ctrl+C, a notebook's stop button) raises ``KeyboardInterrupt``
        once Lightning has shut the fit down, and leaves Ctrl+C working."""
        from lightcnn.preflight import check_resume
        from lightcnn.run import check_checkpoint

        again = ckpt_path is None and self._fitted
        if again:
            ckpt_path = self._resume_point()
        if ckpt_path is not None:
            ckpt_path = os.path.expanduser(str(ckpt_path))
            state = check_checkpoint(ckpt_path, weights_only=True, way_out=None)
            check_resume(state, ckpt_path, {"max_epochs": self.trainer.max_epochs, "max_steps": self.trainer.max_steps},
                         way_out=_RAISE_LIMIT)
            del state
        if again:
            print(f"lightcnn: note: this Experiment has fitted before: resuming {self.run_dir} from {ckpt_path}",
                  file=sys.stderr)
        self._fitted = True
        with interrupt_as_keyboard_interrupt(self.trainer), lightning_notices_dropped():
            self.trainer.fit(self.task, datamodule=self.data, ckpt_path=ckpt_path, weights_only=True)
        history = self.history
        if not history.epochs:
            return {}
        last = history.epochs[-1]
        return {k: v[last] for k, v in history.series.items() if last in v}

    def _resume_point(self) -> str:
        """This run's ``last.ckpt``, for a second ``fit`` of the same Experiment.

        Raises:
            LightCNNError: the earlier fit saved no ``last.ckpt`` (it stopped in its first epoch,
                or checkpointing is off), so there is no state to go on from.
        """
        last = self.run_dir / "checkpoints" / "last.ckpt"
        if not last.is_file():
            raise LightCNNError(
                f"Experiment.fit: this Experiment's earlier fit saved no {last} to resume from (it stopped before "
                f"its first epoch ended, or checkpointing is off); make a new Experiment to train from the start"
            )
        return str(last)

    def test(self, ckpt_path: str | None = "best", verbose: bool = True) -> dict[str, float]:
        """Test the best checkpoint of this run (``None``: the task as it is now); return the
        test values (``test/acc``, ...). ``verbose=False``: no table of results printed."""
        if ckpt_path == "best":
            # the run's own best.ckpt, named here: Lightning's "best" takes the first checkpoint
            # callback (a user's own could come first) and warns that there are several
            ckpt_path = next((c.best_model_path for c in self.trainer.checkpoint_callbacks
                              if isinstance(c, RunCheckpoint) and c.monitor and c.best_model_path), None)
            if ckpt_path is None:
                why = ("its fit saved none (checkpointing off, or no validation ran)" if self._fitted
                       else "no fit in this session yet")
                print(f"lightcnn: note: no best checkpoint in {self.run_dir}: {why}; testing the task's current "
                      f"weights (test(ckpt_path=None) does so without this note)", file=sys.stderr)
        from lightcnn.lightning_overrides import weights_as_saved

        with weights_as_saved(self.trainer), interrupt_as_keyboard_interrupt(self.trainer), lightning_notices_dropped():
            self.trainer.test(self.task, datamodule=self.data, ckpt_path=ckpt_path, weights_only=True, verbose=verbose)
        return dict(self.history.test)

    @property
    def history(self) -> History:
        """Per-epoch series and test values, from the run folder's ``history.json``."""
        return read_run_history(self.run_dir)

    def report(self) -> Report:
        """The run report (rebuilt from the run folder)."""
        from lightcnn.report.run_report import build_report

        _, page = build_report(self.run_dir)
        return Report(page)

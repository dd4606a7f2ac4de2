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

import sys
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningDataModule, Trainer

from lightcnn.report.history import History, read_run_history
from lightcnn.errors import LightCNNError
from lightcnn.preflight import check_run_name, check_trainer_values
from lightcnn.run import remove_failed_run, reserve_version
from lightcnn.terminal import lightning_notices_dropped


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
        self.task, self.data = task, data
        if trainer is None:
            from lightcnn.checkpoint_io import AtomicCheckpointIO
            from lightcnn.lightning_overrides import RunLogger
            from lightcnn.trainer_defaults import default_callbacks

            check_run_name(name)
            check_trainer_kwargs(trainer_kwargs)  # before a version folder is taken
            run = reserve_version(Path(root) / name)
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

    def fit(self, ckpt_path: str | None = None) -> dict[str, float]:
        """Train (``ckpt_path`` resumes); return the last epoch's values (``val/acc``, ...)."""
        with lightning_notices_dropped():
            self.trainer.fit(self.task, datamodule=self.data, ckpt_path=ckpt_path)
        history = self.history
        if not history.epochs:
            return {}
        last = history.epochs[-1]
        return {k: v[last] for k, v in history.series.items() if last in v}

    def test(self, ckpt_path: str | None = "best", verbose: bool = True) -> dict[str, float]:
        """Test the best checkpoint of this run (``None``: the task as it is now); return the
        test values (``test/acc``, ...). ``verbose=False``: no table of results printed."""
        if ckpt_path == "best" and not getattr(self.trainer.checkpoint_callback, "best_model_path", None):
            ckpt_path = None  # nothing saved yet (no fit in this session)
            print(f"lightcnn: note: no best checkpoint in {self.run_dir} yet (no fit in this session): testing the "
                  f"task's current weights (test(ckpt_path=None) says so and prints nothing)", file=sys.stderr)
        from lightcnn.lightning_overrides import weights_as_saved

        with weights_as_saved(self.trainer), lightning_notices_dropped():
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

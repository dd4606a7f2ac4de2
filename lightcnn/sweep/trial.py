"""One trial of a sweep, in the worker's own process: ``fit`` then ``test`` of the best
checkpoint, exactly as ``lightcnn fit`` / ``lightcnn test`` would run them, into the trial's folder.

In-process, a trial costs no start-up (imports take seconds here); the Trainer's own launchers
still work: a DDP trial's other ranks re-run the sweep command and find their trial in the
environment (``TRIAL_ENV``), so they run that same trial and nothing else.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.run import RUN_DIR_ENV

TRIAL_ENV = "LIGHTCNN_SWEEP_TRIAL"  # the trial a DDP rank launched by a sweep worker runs
ERROR_FILE = "error.txt"  # a failed trial's traceback, in its folder


@dataclass(frozen=True)
class TrialJob:
    """What to run: the base config and overrides (CLI style), the folder, whether to test."""

    base: str
    args: list[str]
    run_dir: str
    test: bool
    metric: str
    prune_on: str | None = None  # the validation key a search prunes on

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> TrialJob | None:
        raw = os.environ.get(TRIAL_ENV)
        return cls(**json.loads(raw)) if raw else None


@dataclass
class Outcome:
    value: float | None = None
    pruned_at: int | None = None
    error: str | None = None
    seconds: float = 0.0
    logged: list[str] = field(default_factory=list)


def run_trial(job: TrialJob, trial: Any = None) -> Outcome:
    """Fit (pruned by ``trial`` when the job prunes), test the best checkpoint, read the metric.

    Any failure is caught and returned as ``Outcome.error`` (one line; the traceback is written
    to ``error.txt`` in the trial folder), so the sweep goes on.
    """
    from lightcnn.experiment import Experiment
    from lightcnn.sweep.pruning import OptunaPruning

    started = time.perf_counter()
    out = Outcome()
    saved = dict(os.environ)  # the Trainer's launchers add MASTER_PORT, ranks, ...: each trial starts clean
    os.environ[RUN_DIR_ENV], os.environ[TRIAL_ENV] = job.run_dir, job.to_env()
    try:
        exp = Experiment.from_config(job.base, *job.args)
        pruning = OptunaPruning(trial, job.prune_on) if job.prune_on else None
        if pruning is not None:
            exp.trainer.callbacks.append(pruning)
        exp.fit()
        out.pruned_at = pruning.pruned_at if pruning is not None else None
        if job.test and out.pruned_at is None:
            best = Path(job.run_dir) / "checkpoints" / "best.ckpt"
            exp.test(str(best) if best.is_file() else "best", verbose=False)  # the sweep prints one line per trial
        out.value, out.logged = metric_value(Path(job.run_dir), job.metric)
        if out.value is None and out.pruned_at is None:
            out.error = f"the metric {job.metric} was not logged; this trial logged {', '.join(out.logged) or 'nothing'}"
    except Exception as err:  # noqa: BLE001 - a failing trial is recorded and the sweep goes on
        out.error = _one_line(err)
        Path(job.run_dir).mkdir(parents=True, exist_ok=True)
        (Path(job.run_dir) / ERROR_FILE).write_text(traceback.format_exc())
    finally:
        _end_distributed()
        _forget_compiled()
        os.environ.clear()
        os.environ.update(saved)
    out.seconds = time.perf_counter() - started
    return out


def _forget_compiled() -> None:
    """Drop what ``model.compile`` left in this process (torch.compile's code caches and the CUDA
    graphs of ``reduce-overhead``, with their memory pools), as a fresh process would start:
    otherwise every trial's graphs stay on the GPU, and trials of different nets count towards
    torch.compile's recompile limit (8 per function), past which it runs them eagerly."""
    import sys

    if "torch._dynamo" in sys.modules:
        sys.modules["torch._dynamo"].reset()


def _end_distributed() -> None:
    """Close a DDP trial's process group: Lightning leaves it open after a fit, and the next
    trial would reuse it, with the previous trial's (finished) processes as its peers."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def metric_value(run: Path, metric: str) -> tuple[float | None, list[str]]:
    """The trial's value of ``metric`` (a monitored ``val/*`` metric: the best checkpoint's) and
    the keys it logged."""
    import math

    from lightcnn.report.compare import score
    from lightcnn.report.run_report import load_run

    try:
        _, history, info = load_run(run)
    except LightCNNError:
        return None, []
    value = score(history, info, metric)
    logged = sorted({*history.series, *history.test})
    return (value if value is not None and math.isfinite(value) else None), logged


def _one_line(err: BaseException) -> str:
    from lightcnn.errors import user_error_in

    cause = user_error_in(err)
    text = str(cause) if cause is not None else f"{type(err).__name__}: {err}"
    return " ".join(text.split())[:500]

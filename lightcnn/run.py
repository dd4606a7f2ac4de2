"""Run folders: ``{root}/{name}/version_N/`` holding the config, ``checkpoints/``, metrics and reports.

``--ckpt_path last`` / ``best`` name the newest run's checkpoint, and a checkpoint inside a run
folder sends the outputs of ``test``/``validate``/``predict`` (and a resumed ``fit``) back into that
folder, so one folder tells the whole story of a run.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.trust import vet_classes

ALIASES = ("last", "best")
RUN_DIR_ENV = "LIGHTCNN_RUN_DIR"  # the run folder rank 0 chose, inherited by the processes it launches


def run_dir(trainer: Any) -> Path:
    """The run folder of a Trainer: its ``default_root_dir``. The CLI and ``Experiment`` set that
    to ``runs/<name>/version_N``; every file lightcnn writes for a run goes there, whichever
    loggers (or none) the Trainer has."""
    return Path(trainer.default_root_dir)


@contextmanager
def scratch_run_dir(prefix: str) -> Iterator[Path]:
    """Point ``RUN_DIR_ENV`` at a temporary folder for the block, then delete it and restore the
    variable: for tools that build a Trainer but must leave no run behind (``lr-find``, ``summary``)."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    saved = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(scratch)
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if saved is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = saved


def next_version(experiment: Path) -> Path:
    """``experiment/version_N`` with N one past the highest existing version (0 for none)."""
    found = versions(experiment)
    n = int(found[-1].name.split("_")[1]) + 1 if found else 0
    return experiment / f"version_{n}"


def reserve_version(experiment: Path) -> Path:
    """Create and return the next free ``experiment/version_N``. ``mkdir`` is atomic, so runs
    started at the same instant never share a folder: the one that loses a number takes the next.

    Raises:
        LightCNNError: the folder cannot be created (named, with the reason).
    """
    run = next_version(experiment)
    try:
        experiment.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                run.mkdir()
                return run
            except FileExistsError:
                run = next_version(experiment)
    except OSError as err:
        raise LightCNNError(f"cannot create the run folder {run}: {err.strerror or err}") from err


def versions(experiment: Path) -> list[Path]:
    """``version_N`` folders of an experiment, oldest first."""
    found = [(int(m.group(1)), p) for p in experiment.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name))]
    return [p for _, p in sorted(found)]


def find_checkpoint(alias: str, experiment: Path) -> Path | None:
    """The newest run's ``{alias}.ckpt`` under ``experiment``, or None."""
    for run in reversed(versions(experiment)):
        ckpt = run / "checkpoints" / f"{alias}.ckpt"
        if ckpt.is_file():
            return ckpt
    return None


def run_dir_of(ckpt: str | Path) -> Path | None:
    """The run folder a checkpoint lives in (``.../version_N/checkpoints/x.ckpt``, or a sweep
    trial's ``.../<trial>/checkpoints/x.ckpt`` beside its ``run_info.json``), else None."""
    ckpt = Path(ckpt)
    folder = ckpt.parent.parent
    if ckpt.parent.name == "checkpoints" and (re.fullmatch(r"version_\d+", folder.name) or (folder / "run_info.json").is_file()):
        return folder
    return None


def resolve_ckpt_path(ckpt_path: str | None, experiment: Path, subcommand: str) -> tuple[str | None, Path | None]:
    """Turn ``last``/``best`` into a file of the newest run; return ``(ckpt_path, run_dir)``.

    ``fit --ckpt_path last`` with no checkpoint yet starts afresh (Lightning's own behaviour).

    Raises:
        LightCNNError: a checkpoint file that does not exist, or ``best``/``last`` with no run to
            take it from outside ``fit``.
    """
    if ckpt_path is None:
        return None, None
    if ckpt_path in ALIASES:
        found = find_checkpoint(ckpt_path, experiment)
        if found is None:
            if subcommand == "fit" and ckpt_path == "last":
                return None, None
            raise LightCNNError(
                f"--ckpt_path {ckpt_path}: no {ckpt_path}.ckpt in any run under {experiment}/version_*/checkpoints/; "
                f"train first, or give the checkpoint file's path"
            )
        return str(found), run_dir_of(found)
    ckpt_path = os.path.expanduser(ckpt_path)  # `~/...` quoted on the command line or in YAML: no shell expanded it
    if not Path(ckpt_path).is_file():
        raise LightCNNError(f"--ckpt_path {ckpt_path}: no such checkpoint file (or use 'last' / 'best')")
    return ckpt_path, run_dir_of(ckpt_path)


def remove_stale_temporaries(run: Path) -> list[Path]:
    """Delete the hidden ``.<name>.<random>.tmp`` files an atomic write leaves when its process is
    killed mid-write; return them. Called when a fit resumes its run folder, when no other fit can
    be writing there (a ``test`` running beside a fit must not take the fit's files away)."""
    stale = [p for p in run.rglob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def check_checkpoint(path: str | Path, weights_only: bool | None, way_out: str | None = "pass --weights_only false") -> dict:
    """Open ``path`` the way the Trainer will (memory-mapped, so it is cheap) and turn the
    failures people meet into one sentence.

    Returns the loaded checkpoint (memory-mapped where possible).

    Raises:
        LightCNNError: a truncated or corrupt file, or one holding objects that ``weights_only``
            loading refuses (with the way out, for a file you trust).
    """
    import pickle

    import torch

    safe = weights_only is not False
    path = str(path)
    if not os.path.isfile(path):
        raise LightCNNError(f"{path}: no such checkpoint file")
    if os.path.getsize(path) == 0:
        raise LightCNNError(f"{path} is not a readable checkpoint: the file is empty (0 bytes)")
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=safe, mmap=True)
        except (RuntimeError, OSError):
            # the legacy (non-zip) format cannot be memory-mapped, and a truncated file fails to map
            # with an unhelpful errno: read it plainly, for the real reason
            state = torch.load(path, map_location="cpu", weights_only=safe)
    except pickle.UnpicklingError as err:
        text = str(err)
        culprit = next((line.strip() for line in text.splitlines() if "Unsupported global" in line), None)
        if culprit is None:
            raise LightCNNError(f"{path} is not a readable checkpoint (truncated or corrupt?): it does not unpickle") from err
        culprit = culprit.split(" was not an allowed global")[0].removeprefix("WeightsUnpickler error: ")
        raise LightCNNError(
            f"{path} holds objects that safe loading (weights_only) refuses: {culprit}. A checkpoint from an unknown "
            f"source can run code when loaded without it" + (f"; if you made this file yourself, {way_out}" if way_out else "")
        ) from err
    except MemoryError as err:
        raise LightCNNError(f"{path} is not a readable checkpoint (truncated or corrupt?): its sizes ask for more memory than there is") from err
    except Exception as err:  # noqa: BLE001 - whatever random bytes make torch.load raise, it is this file's fault
        reason = (str(err).splitlines() or [type(err).__name__])[0].split(". This is an internal")[0]
        raise LightCNNError(f"{path} is not a readable checkpoint (truncated or corrupt?): {reason}") from err
    if not isinstance(state, dict) or "state_dict" not in state or "pytorch-lightning_version" not in state:
        raise LightCNNError(f"{path} is not a Lightning checkpoint (no state_dict / pytorch-lightning_version in it)")
    if safe:
        vet_classes(state.get("hyper_parameters"), path, way_out)
    return state


def run_config_of(ckpt: str | Path, option: str) -> Path:
    """The ``config.yaml`` of the run folder ``ckpt`` lives in, for a command given a checkpoint
    (by ``option``) and no ``--config``.

    Raises:
        LightCNNError: the checkpoint is not in a run folder, or the folder has no config.yaml.
    """
    run = run_dir_of(ckpt)
    if run is None or not (run / "config.yaml").is_file():
        where = f"its run folder {run} has no config.yaml" if run is not None else "it is not inside a run folder (…/version_N/checkpoints/ or a sweep trial's …/checkpoints/)"
        raise LightCNNError(f"{option} {ckpt}: no --config given and {where}; give a config with --config")
    return run / "config.yaml"


def remove_failed_run(run: Path) -> None:
    """Remove a fresh run folder a failed command left without results (and the experiment and
    root folders, if that leaves them empty); a folder with anything worth keeping stays."""
    if run.is_dir() and not _has_results(run):
        shutil.rmtree(run, ignore_errors=True)
        for parent in (run.parent, run.parent.parent):
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()


def _has_results(run: Path) -> bool:
    """Whether a run folder holds anything a failed command must not take away."""
    from lightcnn.report.history import HISTORY

    return (any(run.glob("checkpoints/*.ckpt")) or (run / HISTORY).is_file() or (run / "metrics.csv").is_file()
            or any(run.glob("*_per_class.json")))

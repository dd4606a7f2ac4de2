"""The README's commands, walked in order as a user types them, in a fresh folder holding the
repository's configs and plugins and the real data (``../shared/data`` materialised as ``.data``).

Each command runs in its own shell exactly as written, with only tiny trainer limits appended
(one epoch of three batches, ...) so that the walk takes minutes. Commands that cannot run here
are listed in ``NOT_RUN`` with the reason; a README command that is neither run nor listed
fails the test. ``$ lightcnn ...`` lines followed by ``lightcnn: error: ...`` must fail with that
line. The walk is its own tier (``python -m pytest -q -m readme``, about 20 minutes on 2 cores),
run by ``.ci/run`` after the default suite.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.readme, pytest.mark.real_data]

# Commands the walk does not run, by their first words, and why.
NOT_RUN = {
    "pip install": "installs: the environment running the tests has them",
    "python -m pytest": "the test suite itself",
    "python ../shared/data/materialize.py": "done by the real_data fixture (the same script)",
    "python benchmarks/": "benchmarks take 10+ minutes each; BENCHMARKS.md holds their figures",
    "tensorboard": "starts a server",
    "mlflow ui": "starts a server",
    "torchrun": "needs several machines (tests/test_ddp.py runs two torchrun nodes on localhost)",
    "srun": "needs SLURM",
}
# Commands needing a server that is not here (matched by a fragment).
NEEDS_SERVER = ("postgresql://user:password@dbhost",)

LIMITS = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2",
          "--trainer.limit_test_batches", "2", "--trainer.limit_predict_batches", "2"]
TRAINER_COMMANDS = ("fit", "validate", "test", "predict", "sweep")


@dataclass
class Command:
    line: int
    text: str
    expected_error: str | None = None  # for "$ lightcnn ..." examples: the README's error line


def readme_commands(path: Path = REPO / "README.md") -> list[Command]:
    """Shell commands of the README's ``bash`` and plain fenced blocks, continuation lines joined,
    comments and blank lines dropped."""
    commands: list[Command] = []
    fence: str | None = None
    pending, start = "", 0
    lines = path.read_text().split("\n")
    for n, raw in enumerate(lines, 1):
        marker = re.match(r"^\s*```(\w*)\s*$", raw)
        if marker:
            fence = marker.group(1) if fence is None else None
            continue
        if fence not in ("bash", "sh", ""):
            continue
        text = raw.strip()
        if pending:
            text, n = f"{pending} {text}", start
        if text.endswith("\\"):
            pending, start = text[:-1].rstrip(), n
            continue
        pending = ""
        if not text or text.startswith("#"):
            continue
        if text.startswith("$ "):
            commands.append(Command(n, text[2:]))
        elif text.startswith("lightcnn: error:") and commands and commands[-1].text.startswith("lightcnn"):
            commands[-1].expected_error = text
        else:
            commands.append(Command(n, text))
    return commands


def _strip_comment(text: str) -> str:
    """The command without its trailing ``# comment`` (README commands have no ``#`` in quotes)."""
    match = re.search(r"\s+#(\s|$)", text)
    return text[: match.start()] if match else text


def _plan(command: Command) -> tuple[list[str], str | None]:
    """The shell commands to run for one README command (with limits appended), or the reason
    it is not run."""
    text = _strip_comment(command.text)
    if any(fragment in text for fragment in NEEDS_SERVER):
        return [], "needs a PostgreSQL server on another host (tests/sweep/test_workers.py starts a real one)"
    runs: list[str] = []
    for part in (p.strip() for p in text.split("&&")):
        part = part.removesuffix("&").strip()  # "worker &" lines: run one after the other here
        reason = next((why for prefix, why in NOT_RUN.items() if part.startswith(prefix)), None)
        if reason:
            continue
        runs.append(part)
    if not runs:
        return [], next(why for prefix, why in NOT_RUN.items() if text.startswith(prefix))
    return runs, None


# "Killed in epoch N" and the resume after it: the first run stops after its first epoch of two
# (EarlyStopping with a threshold any loss meets), as a killed run has only some epochs; the
# resume then finishes the same two epochs (a finished run would be refused, and a one-cycle
# schedule cannot be stretched).
INTERRUPTED = ["--trainer.max_epochs", "2", "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor", "val/loss",
               "--trainer.callbacks.stopping_threshold", "1e9", "--trainer.callbacks.check_on_train_epoch_end", "false"]


def _with_limits(part: str, text: str = "") -> str:
    words = shlex.split(part)
    if words[:2] == ["lightcnn", "fit"] and ("# killed" in text or "--ckpt_path last" in part):
        interrupted = INTERRUPTED if "# killed" in text else INTERRUPTED[:2]
        return f"{part} {shlex.join(LIMITS[2:])} {shlex.join(interrupted)}"
    if words[:1] != ["lightcnn"] or len(words) < 2 or any(w in ("--help", "-h", "--version") for w in words):
        return part
    sub = words[1]
    if sub == "lr-find":  # its 100 steps, over epochs of three batches
        extra = ["--trainer.max_epochs", "40", "--trainer.limit_train_batches", "3"]
    elif sub in TRAINER_COMMANDS and "--model.help" not in words:
        extra = LIMITS
    else:
        return part
    return f"{part} {shlex.join(extra)}"


def test_every_readme_command_is_run_or_explained():
    commands = readme_commands()
    assert len(commands) > 40
    for command in commands:
        runs, reason = _plan(command)
        assert runs or reason, f"README line {command.line}: {command.text}"
        for part in runs:
            assert part.startswith(("lightcnn ", "CKPT=")), f"README line {command.line}: neither run nor explained: {part}"
    errors = [c for c in commands if c.expected_error]
    assert len(errors) == 8  # "When something is wrong" (7), and the labs section's BatchNorm placement


def _user_inputs(work: Path) -> None:
    """What the README asks the user to bring: a photo, a folder of photos."""
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 120, 40)).save(work / "my_photo.jpg")
    (work / "photos").mkdir()
    for i in range(3):
        Image.new("RGB", (32, 32), (i * 80, 100, 200 - i * 60)).save(work / "photos" / f"p{i}.png")


@pytest.mark.slow
def test_readme_commands_run_as_written(real_data, tmp_path):
    work = tmp_path / "clone"
    work.mkdir()
    for folder in ("configs", "plugins"):
        shutil.copytree(REPO / folder, work / folder)
    (work / ".data").symlink_to(Path(real_data).resolve())
    _user_inputs(work)
    env = {k: v for k, v in os.environ.items() if k not in ("LIGHTCNN_PLUGIN_PATH", "MLFLOW_TRACKING_URI", "LIGHTCNN_RUN_DIR")}
    failures: list[str] = []
    log = open(tmp_path / "walk.log", "w", buffering=1)  # progress, for a walk that is watched or killed
    for command in readme_commands():
        runs, reason = _plan(command)
        for part in runs:
            if part.startswith("CKPT="):
                env["CKPT"] = part.split("=", 1)[1]
                continue
            shell = part if command.expected_error else _with_limits(part, command.text)  # an error example runs as written
            start = time.perf_counter()
            done = subprocess.run(["bash", "-c", shell], cwd=work, env=env, capture_output=True, text=True, timeout=900)
            log.write(f"{time.perf_counter() - start:6.1f} s  exit {done.returncode}  line {command.line}: {shell}\n")
            if done.returncode and not command.expected_error:
                log.write(done.stderr[-2000:] + "\n")
            if command.expected_error:
                first = done.stderr.strip().splitlines()[0] if done.stderr.strip() else ""
                want = command.expected_error.split("...")[0].rstrip(", ")
                if done.returncode != 2 or not first.startswith(want):
                    failures.append(f"line {command.line}: {part}\n  want exit 2 and {want!r}\n  got {done.returncode}: {first!r}")
            elif done.returncode != 0 or "Traceback" in done.stderr:
                tail = "\n    ".join((done.stdout[-800:] + done.stderr[-1500:]).splitlines()[-12:])
                failures.append(f"line {command.line}: {shell}\n  exit {done.returncode}:\n    {tail}")
    assert not failures, "\n\n".join(failures)

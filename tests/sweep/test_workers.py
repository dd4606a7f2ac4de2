"""Several ``lightcnn sweep`` workers on one study: each trial runs exactly once, a worker killed
with ``kill -9`` loses only its own trial, and the command run again redoes just that one. The
same over a real PostgreSQL server (started here from Debian's binaries as an unprivileged user)."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.sweep.helpers import study_of, trials_by_key, write_sweep

pytestmark = pytest.mark.slow


def worker(path: Path, cwd: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lightcnn", "sweep", "--config", str(path), "--threads", "1", *extra], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_workers_share_a_grid_and_run_each_trial_once(tmp_path):
    path = write_sweep(tmp_path, "grid:\n  model.backbone_args.width: [2, 4, 6]\n  model.label_smoothing: [0.0, 0.1]\n")
    workers = [worker(path, tmp_path) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    by_key = trials_by_key(study_of(tmp_path, "tiny"))
    assert sorted(by_key) == sorted(f"{w}-{s}" for w in (2, 4, 6) for s in ("0.0", "0.1"))
    assert all([t.state.name for t in trials] == ["COMPLETE"] for trials in by_key.values()), by_key
    started = [line for _, err in outputs for line in err.splitlines() if line.startswith("lightcnn sweep tiny: trial ")
               and line.endswith(tuple(f"--model.label_smoothing {s}" for s in ("0.0", "0.1")))]
    assert len(started) == 6  # six fits in all: none ran twice
    assert all(any(": trial " in line for line in err.splitlines()) for _, err in outputs)  # both took trials


def test_a_killed_worker_loses_only_its_trial_and_the_rerun_redoes_it(tmp_path):
    path = write_sweep(tmp_path, "variants:\n  first: {}\n  second: {model.label_smoothing: 0.1}\n")
    folder = tmp_path / "runs" / "tiny"
    w = worker(path, tmp_path)
    while True:  # wait until the first trial is done and the second one is training
        line = w.stderr.readline()
        assert line, "the worker ended early"
        if line.startswith("lightcnn sweep tiny: trial 1 second"):
            break
    deadline = time.time() + 120
    while not (folder / "second" / "config.yaml").is_file() and time.time() < deadline:
        time.sleep(0.2)
    w.send_signal(signal.SIGKILL)
    w.wait()
    stamp = (folder / "first" / "history.json").stat().st_mtime_ns
    report = worker(path, tmp_path, "--report")  # the dead worker's trial is reported interrupted, not running
    out, err = report.communicate(timeout=300)
    assert "1 of 2 trials finished, 1 failed (second)" in out, out + err[-2000:]
    again = worker(path, tmp_path)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    by_key = trials_by_key(study_of(tmp_path, "tiny"))
    assert [t.state.name for t in by_key["first"]] == ["COMPLETE"]
    assert [t.state.name for t in by_key["second"]] == ["FAIL", "COMPLETE"]  # interrupted, then redone
    assert "lightcnn:interrupted" in by_key["second"][0].system_attrs
    assert (folder / "first" / "history.json").stat().st_mtime_ns == stamp  # the finished trial did not rerun
    assert "trial 0 first" not in err and [p.name.split(".")[0] for p in (tmp_path / "runs" / "tiny" / ".attempts").iterdir()] == ["second"]


def test_a_worker_stopped_by_sigterm_records_its_trial_as_interrupted(tmp_path):
    """SIGTERM (timeout, a scheduler) mid-trial: exit 143 and the study says 'interrupted' at
    once, and the report too, not 'running' for a trial nobody runs."""
    path = write_sweep(tmp_path, "variants:\n  only: {trainer.max_epochs: 50}\n")
    w = worker(path, tmp_path)
    folder = tmp_path / "runs" / "tiny"
    deadline = time.time() + 180
    while not list(folder.glob("only/checkpoints/*.ckpt")) and time.time() < deadline:  # training, one epoch done
        time.sleep(0.2)
    w.send_signal(signal.SIGTERM)
    _, err = w.communicate(timeout=120)
    assert w.returncode == 143, err[-3000:]
    (trial,) = trials_by_key(study_of(tmp_path, "tiny"))["only"]
    assert trial.state.name == "FAIL" and "lightcnn:interrupted" in trial.system_attrs
    report = worker(path, tmp_path, "--report")
    out, err = report.communicate(timeout=300)
    assert "0 of 1 trials finished, 1 failed (only)" in out, out + err[-2000:]
    assert "interrupted" in (folder / "sweep.csv").read_text()


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL server on a free local port (PostgreSQL refuses to run as root:
    as root, the server runs as the ``postgres`` user)."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed (pip install -e '.[sweep]')")
    home = Path(tempfile.mkdtemp(prefix="lightcnn-pg-", dir="/tmp"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        os.chown(home, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = home / "data"
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"], check=True, capture_output=True)
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def test_two_workers_on_postgresql_complete_a_search(tmp_path, postgres_url):
    path = write_sweep(tmp_path, "search:\n  trials: 3\n  sampler: {name: random, seed: 0}\n  pruner: none\n  space:\n"
                                 "    model.lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n")
    workers = [worker(path, tmp_path, "--storage", postgres_url) for _ in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=600)
        assert w.returncode == 0, err[-3000:]
    import optuna

    study = optuna.load_study(study_name="tiny", storage=postgres_url)
    counted = [t for t in study.get_trials() if "lightcnn:ignored" not in t.system_attrs]
    assert sorted(t.state.name for t in counted) == ["COMPLETE"] * 3
    seen = [(t.number, t.state.name, t.params, dict(t.system_attrs)) for t in study.get_trials()]
    assert len({t.params["model.lr"] for t in counted}) == 3, seen
    assert all((tmp_path / "runs" / "tiny" / t.user_attrs["key"] / "history.json").is_file() for t in counted)
    assert not (tmp_path / "runs" / "tiny" / "study.journal").exists()  # the study lives in the server


@pytest.mark.cluster
def test_a_ddp_trial_runs_on_two_processes_and_matches_one_process(tmp_path, monkeypatch):
    """Trainer options pass through: a trial with strategy ddp on 2 CPU processes (its second rank
    re-runs the sweep command and runs that same trial); 2 x batch 16 trains exactly as
    1 x batch 32 (no BatchNorm: see tests/test_ddp.py). That the next trial starts with a clean
    process group is tested in test_trial.py."""
    from lightcnn.cli import main
    from tests.sweep.helpers import BASE

    path = write_sweep(tmp_path, "variants:\n  a: {}\n")
    text = path.read_text().replace("batchnorm: true", "batchnorm: false").replace("data.batch_size: 32", "data.batch_size: 16")
    path.write_text(text)
    w = worker(path, tmp_path, "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu")
    _, err = w.communicate(timeout=600)
    assert w.returncode == 0, err[-3000:]
    by_key = trials_by_key(study_of(tmp_path, "tiny"))
    assert {k: [t.state.name for t in v] for k, v in by_key.items()} == {"a": ["COMPLETE"]}
    monkeypatch.chdir(tmp_path)
    one = ["--config", str(BASE), "--data.root", str(tmp_path / "data"), "--data.download", "false", "--data.batch_size", "32",
           "--data.val_size", "0.2", "--trainer.max_epochs", "1", "--model.backbone_args", "{width: 4, batchnorm: false}",
           "--trainer.enable_progress_bar", "false", "--name", "one"]
    assert main(["fit", *one]) == 0
    import json

    two = json.loads((tmp_path / "runs" / "tiny" / "a" / "history.json").read_text())["epochs"]["0"]
    single = json.loads((tmp_path / "runs" / "one" / "version_0" / "history.json").read_text())["epochs"]["0"]
    assert two["val/loss"] == pytest.approx(single["val/loss"], rel=1e-5)

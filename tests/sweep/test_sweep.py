"""``lightcnn sweep`` in one process: a grid end to end, its report against the trials' own
records, reruns that skip what is done and redo what failed, and bad input refused before
anything is written."""

import csv
import json

import pytest

from lightcnn.cli import main
from tests.conftest import REPO, write_plugin
from tests.sweep.helpers import history, study_of, trials_by_key, write_sweep

GRID = "grid:\n  model.backbone_args.width: [4, 8]\n  model.label_smoothing: {plain: 0.0, smooth: 0.1}\n"


@pytest.mark.slow
def test_grid_runs_each_trial_and_reports_their_own_metrics(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, GRID)
    assert main(["sweep", "--config", str(path)]) == 0
    folder = tmp_path / "runs" / "tiny"
    labels = ["4-plain", "4-smooth", "8-plain", "8-smooth"]
    rows = list(csv.DictReader(open(folder / "sweep.csv")))
    assert [r["variant"] for r in rows] == labels and all(r["state"] == "done" for r in rows)
    study = study_of(tmp_path, "tiny")
    by_key = trials_by_key(study)
    for row in rows:
        run = folder / row["variant"]
        record = history(run)
        info = json.loads((run / "run_info.json").read_text())
        assert float(row["test/acc"]) == pytest.approx(record["test"]["test/acc"], abs=1e-12)
        assert float(row["val/acc"]) == pytest.approx(max(e["val/acc"] for e in record["epochs"].values()), abs=1e-12)
        assert int(row["params"]) == info["params"] and int(row["FLOPs"]) == info["flops"]
        (trial,) = by_key[row["variant"]]
        assert trial.state.name == "COMPLETE" and trial.value == pytest.approx(float(row["test/acc"]), abs=1e-12)
        assert (run / "report.md").is_file() and (run / "checkpoints" / "best.ckpt").is_file()
    width8 = json.loads((folder / "8-plain" / "run_info.json").read_text())
    assert width8["params"] > json.loads((folder / "4-plain" / "run_info.json").read_text())["params"]  # the override applied
    md = (folder / "sweep.md").read_text()
    for figure in ("sweep_bars.png", "sweep_curves.png", "sweep_tradeoffs.png", "sweep_f1.png"):
        assert (folder / figure).is_file() and figure in md
    assert "data:image/png;base64" in (folder / "sweep.html").read_text()  # self-contained
    assert "4 of 4 trials finished, 0 failed" in capsys.readouterr().out
    # the same command again: nothing reruns
    stamps = {label: (folder / label / "history.json").stat().st_mtime_ns for label in labels}
    assert main(["sweep", "--config", str(path)]) == 0
    assert {label: (folder / label / "history.json").stat().st_mtime_ns for label in labels} == stamps
    assert len(study_of(tmp_path, "tiny").get_trials()) == 4
    (folder / "sweep.md").unlink()
    assert main(["sweep", "--config", str(path), "--report"]) == 0  # rebuilt from the study, nothing trained
    assert [r["variant"] for r in csv.DictReader(open(folder / "sweep.csv"))] == labels and (folder / "sweep.md").is_file()
    # a trial's checkpoint is a run's: test takes its config.yaml from the trial folder
    assert main(["test", "--ckpt_path", str(folder / "4-plain" / "checkpoints" / "best.ckpt"), "--trainer.enable_progress_bar", "false"]) == 0
    assert "return_predictions" not in (folder / "4-plain" / "config.yaml").read_text()


BOOM = """
import torch
from torch import nn
from lightcnn.registry import BACKBONES

@BACKBONES.register("boom")
class Boom(nn.Module):
    '''Passes the dummy-batch check (eval mode) and fails in training.'''
    def __init__(self, in_channels: int = 1, image_size: int = 28):
        super().__init__()
        self.num_features = 4
        self.fc = nn.Linear(in_channels * image_size * image_size, 4)
    def forward(self, x):
        if self.training:
            raise RuntimeError("boom in training")
        return self.fc(x.flatten(1))
"""


@pytest.mark.slow
def test_a_failing_trial_is_recorded_the_sweep_goes_on_and_a_rerun_retries_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_plugin(tmp_path / "plugins", "boom", "boom", body=BOOM)
    path = write_sweep(tmp_path, "variants:\n  broken: {model.backbone: boom, model.backbone_args: null}\n  fine: {}\n")
    assert main(["sweep", "--config", str(path)]) == 1
    folder = tmp_path / "runs" / "tiny"
    rows = {r["variant"]: r for r in csv.DictReader(open(folder / "sweep.csv"))}
    assert rows["broken"]["state"] == "failed: RuntimeError: boom in training"
    assert rows["fine"]["state"] == "done" and float(rows["fine"]["test/acc"]) > 0
    assert "boom in training" in (folder / "broken" / "error.txt").read_text()  # the traceback, kept
    assert "1 of 2 trials finished, 1 failed (broken)" in capsys.readouterr().out
    stamp = (folder / "fine" / "history.json").stat().st_mtime_ns
    assert main(["sweep", "--config", str(path)]) == 1  # the failed one is tried again, the finished one is not
    by_key = trials_by_key(study_of(tmp_path, "tiny"))
    assert [t.state.name for t in by_key["broken"]] == ["FAIL", "FAIL"]
    assert [t.state.name for t in by_key["fine"]] == ["COMPLETE"]
    assert (folder / "fine" / "history.json").stat().st_mtime_ns == stamp
    (attempt,) = (folder / ".attempts").iterdir()  # the first attempt's folder, kept aside
    assert attempt.name.startswith("broken.") and "boom in training" in (attempt / "error.txt").read_text()
    # --only: the summary line and the exit status are about the trials asked for; the report keeps them all
    capsys.readouterr()
    assert main(["sweep", "--config", str(path), "--only", "fine"]) == 0
    assert "1 of 1 trials finished, 0 failed;" in capsys.readouterr().out
    assert [r["variant"] for r in csv.DictReader(open(folder / "sweep.csv"))] == ["broken", "fine"]


@pytest.mark.parametrize("body, storage, message", [
    ("variants:\n  a: {}\n", "--storag", "lightcnn sweep (command line): unknown option --storag"),
    ("variants:\n  a: {}\n", "--data.rot", "lightcnn sweep (command line): unknown key 'data.rot': MNISTDataModule has no option 'rot'"),
    ("variants:\n  deeper: {model.backbone_args.dpth: 4}\n", None,
     "variant 'deeper': backbone 'mnist_cnn' has no option 'dpth'"),
    ("variants:\n  big: {data.batch_sizes: 4}\n", None, "variant 'big': "),
    ("variants:\n  base: {}\n  lr: {model.lr: fast}\n", None, "variant 'lr': "),
    ("metric: val/accuracy\nvariants:\n  base: {}\n", None,
     "metric val/accuracy is not logged by ClassificationTask; it logs test/acc, test/f1"),
    ("variants:\n  a: {trainer.default_root_dir: elsewhere}\n", None, "trainer.default_root_dir cannot be set in a sweep"),
    ("repeats: 2\nvariants:\n  a: {seed_everything: 3}\n", None, "seed_everything is set by repeats"),
    ("search:\n  trials: 2\n  space: {model.backbone_args.depth: {type: float, low: 0.5, high: 2.5}}\n", None,
     "search.space.model.backbone_args.depth"),
    ("variants:\n  a: {}\n", "postgresql://me:secret@127.0.0.1:9/nowhere", "--storage postgresql://me:***@127.0.0.1:9/nowhere"),
    ("variants:\n  a: {}\n", "sqlite:////no/such/folder/x.db", "--storage sqlite:////no/such/folder/x.db: cannot open"),
    ("variants:\n  a: {}\n", "study.db", "--storage study.db: give a database URL"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch, capsys, body, storage, message):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, body)
    extra = [storage, "x"] if storage and storage.startswith("--") else ["--storage", storage] if storage else []
    assert main(["sweep", "--config", str(path), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lightcnn: error: ") and message in err[0], err
    assert "secret" not in err[0]
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist_grid", "mnist_variants", "mnist_search"])
def test_shipped_sweeps_pass_their_checks(name):
    from lightcnn.cli import _import_builtins
    from lightcnn.sweep.check import check_sweep
    from lightcnn.sweep.spec import read_sweep

    _import_builtins()
    spec = read_sweep(REPO / "configs" / "sweeps" / f"{name}.yaml")
    checked = check_sweep(spec, [])
    expected = {"mnist_grid": ("test/acc", 6), "mnist_variants": ("test/acc", 18), "mnist_search": ("val/acc", 0)}[name]
    assert (checked.metric, len(spec.plans)) == expected and checked.direction == "maximize"


def test_without_optuna_the_sweep_names_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(__import__("sys").modules, "optuna", None)  # import optuna -> ImportError
    path = write_sweep(tmp_path, "variants:\n  a: {}\n")
    assert main(["sweep", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "lightcnn: error: lightcnn sweep needs Optuna, which is not installed: pip install -e '.[sweep]'"
    assert not (tmp_path / "runs").exists()


def test_a_bad_common_override_is_blamed_on_the_overrides(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, "variants:\n  a: {}\n")
    path.write_text(path.read_text().replace("data.val_size: 0.2", "data.val_sizes: 0.2"))
    assert main(["sweep", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lightcnn: error: {path}: overrides: unknown key 'data.val_sizes'") and "\n" not in err
    assert not (tmp_path / "runs").exists()


def test_overrides_are_shown_readably_in_the_table():
    from lightcnn.sweep.report import _shown

    assert [_shown(v) for v in (0.00044303752452182633, 0.1, 4, None, True, "convnet", [{"name": "hflip"}])] == [
        "0.000443", "0.1", "4", "null", "true", "convnet", '[{"name": "hflip"}]']


def test_report_of_a_sweep_never_run_says_so_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, "variants:\n  a: {}\n")
    assert main(["sweep", "--config", str(path), "--report"]) == 2
    assert "--report: runs/tiny holds no sweep yet (no study.journal)" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    journal = tmp_path / "other.journal"
    assert main(["sweep", "--config", str(path), "--report", "--storage", str(journal)]) == 2
    assert f"--report: no study named 'tiny' in --storage {journal}" in capsys.readouterr().err


def test_workers_racing_to_create_the_database_tables_retry(monkeypatch, tmp_path):
    """Two workers on a fresh PostgreSQL database race to create Optuna's tables; the loser's
    error ("duplicate key value violates unique constraint") is retried, other errors are not."""
    import optuna

    from lightcnn.errors import LightCNNError
    from lightcnn.sweep.storage import open_storage

    calls = []

    def flaky(url, engine_kwargs=None):
        calls.append(url)
        if len(calls) == 1:
            raise RuntimeError('duplicate key value violates unique constraint "pg_type_typname_nsp_index"')
        return "storage"

    monkeypatch.setattr(optuna.storages, "RDBStorage", flaky)
    assert open_storage("postgresql://u@h/db", tmp_path) == "storage" and len(calls) == 2
    monkeypatch.setattr(optuna.storages, "RDBStorage", lambda url, engine_kwargs=None: (_ for _ in ()).throw(RuntimeError("password authentication failed")))
    with pytest.raises(LightCNNError, match="cannot open the study storage: password authentication failed"):
        open_storage("postgresql://u:pw@h/db", tmp_path)

"""Loggers users bring: MLflow offline into a local store, TensorBoard into the run folder, and a
missing logger package named with its install command."""

from __future__ import annotations

import pytest

from lightcnn.cli import main
from tests.conftest import tiny_fit_args


@pytest.mark.slow
def test_mlflow_logger_works_offline_in_a_local_store(mnist_root, tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs), "--trainer.logger", "MLFlowLogger", "--name", "mlf"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    run = runs / "mlf" / "version_0"
    assert (run / "history.json").is_file() and (run / "report.md").is_file()  # the run folder as with any logger
    assert (runs / "mlflow.db").is_file() and not (tmp_path / "mlruns").exists()

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{runs / 'mlflow.db'}")
    found = mlflow.search_runs(experiment_names=["mlf"])
    assert list(found["tags.mlflow.runName"]) == ["version_0"]
    assert 0.0 <= float(found["metrics.val/acc"].iloc[0]) <= 1.0
    history = mlflow.MlflowClient().get_metric_history(found["run_id"].iloc[0], "train/loss_epoch")
    assert len(history) == 2  # both epochs


def test_a_missing_logger_package_is_one_line_with_the_install_command(mnist_root, tmp_path, monkeypatch, capsys):
    import lightning.pytorch.loggers.mlflow as lightning_mlflow

    class Missing:  # what Lightning's RequirementCache is when mlflow is not installed
        def __bool__(self) -> bool:
            return False

        def __str__(self) -> str:
            return "Requirement 'mlflow>=1.0.0' not met. HINT: Try running `pip install -U 'mlflow>=1.0.0'`"

    monkeypatch.setattr(lightning_mlflow, "_MLFLOW_AVAILABLE", Missing())
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs"), "--trainer.logger", "MLFlowLogger"]) == 2
    err = capsys.readouterr().err
    assert err == ("lightcnn: error: lightning.pytorch.loggers.MLFlowLogger needs a package that is not installed "
                   "(Requirement 'mlflow>=1.0.0' not met.): pip install -e '.[mlflow]'\n")
    assert not (tmp_path / "runs").exists()  # nothing left behind


def test_mlflow_refusing_a_file_store_is_one_line_naming_the_logger_and_uri(mnist_root, tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    logger = "{class_path: MLFlowLogger, init_args: {tracking_uri: file:./mlruns}}"
    code = main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs"), "--trainer.logger", logger])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 0:  # an MLflow that still takes file stores (MLflow 3 refuses them unless MLFLOW_ALLOW_FILE_STORE=true)
        return
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "MLFlowLogger(" in err and "tracking_uri='file:./mlruns'" in err and "refused its settings" in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("version_*"))  # no empty run folder

"""compare over run folders written by hand: values, notes on what is not common, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightcnn.errors import LightCNNError
from lightcnn.report.compare import compare_runs, config_diff


def fake_run(root: Path, name: str, rows: str, config: dict) -> Path:
    run = root / name / "version_0"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text(rows)
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return run


CLASSIFY = """epoch,step,train/loss_epoch,train/acc,val/loss,val/acc,test/acc,time/fit_s,model/params
0,9,1.0,0.6,0.9,0.65,,1.5,1000
1,19,0.5,0.78,0.7,0.75,,3.0,1000
1,19,,,,,0.73,,
"""
EMBED = """epoch,step,train/loss_epoch,val/map_at_r,test/map_at_r,time/fit_s
0,9,0.8,0.4,,2.0
1,19,0.6,0.5,,4.0
1,19,,,0.52,
"""


def test_config_diff_lists_only_what_differs():
    rows = config_diff({"a": {"model": {"lr": 1, "w": [1, 2]}, "x": 1}, "b": {"model": {"lr": 2, "w": [1, 2]}}})
    assert rows == [["model.lr", "1", "2"], ["x", "1", "(absent)"]]


def test_runs_of_different_tasks_compare_what_they_share(tmp_path):
    a = fake_run(tmp_path, "cls", CLASSIFY, {"model": {"class_path": "ClassificationTask"}})
    b = fake_run(tmp_path, "emb", EMBED, {"model": {"class_path": "EmbeddingTask"}})
    md, _ = compare_runs([a, b], tmp_path / "out", metric="test/acc")
    text = md.read_text()
    assert "| run | task | params | epochs | fit s | test/acc | overfitting |" in text
    assert "| cls/version_0 | ClassificationTask | 1,000 | 2 | 3.0000 | 0.7300 | ok |" in text
    assert "| emb/version_0 | EmbeddingTask | - | 2 | 4.0000 | - | ok |" in text
    assert "the runs are of different tasks (ClassificationTask, EmbeddingTask)" in text
    assert "val/acc only in cls/version_0" in text and "test/map_at_r only in emb/version_0" in text
    assert "| model.class_path | ClassificationTask | EmbeddingTask |" in text
    assert not (tmp_path / "out" / "compare_curves.png").exists()  # no validation curve in common


def test_compare_needs_two_run_folders(tmp_path):
    with pytest.raises(LightCNNError, match="at least two"):
        compare_runs([tmp_path], tmp_path / "out")
    with pytest.raises(LightCNNError, match="is not a run folder"):
        compare_runs([tmp_path / "x", tmp_path / "y"], tmp_path / "out")
    a = fake_run(tmp_path, "cls", CLASSIFY, {"model": {"class_path": "ClassificationTask"}})
    with pytest.raises(LightCNNError, match=r"cls/\.\./cls/version_0: the same run folder as .*cls/version_0, given twice"):
        compare_runs([a, tmp_path / "cls" / ".." / "cls" / "version_0"], tmp_path / "out")  # a run with itself: a mistake
    assert not (tmp_path / "out").exists()

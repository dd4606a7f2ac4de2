"""Reading Lightning's metrics.csv: values spread over rows, resumed epochs, test values."""

from __future__ import annotations

import pytest

from lightcnn.errors import LightCNNError
from lightcnn.report.history import read_history

CSV = """epoch,step,train/loss_step,train/loss_epoch,val/loss,val/acc,test/acc
0,49,2.3,,,,
0,99,,2.0,,,
0,99,,,1.5,0.6,
1,199,,1.0,,,
1,199,,,1.2,0.7,
1,199,,0.9,,,
1,199,,,1.1,0.75,
1,199,,,,,0.74
"""


def test_values_per_epoch_keep_the_last_written_and_test_is_separate(tmp_path):
    (tmp_path / "metrics.csv").write_text(CSV)
    h = read_history(tmp_path / "metrics.csv")
    assert h.epochs == [0, 1]
    assert h.get("train/loss_epoch") == ([0, 1], [2.0, 0.9])  # epoch 1 repeated by a resume: last wins
    assert h.get("val/acc") == ([0, 1], [0.6, 0.75])
    assert h.test == {"test/acc": 0.74}
    assert h.aligned("train/loss_epoch", "val/loss") == ([0, 1], [[2.0, 0.9], [1.5, 1.1]])
    assert h.last("nope") is None and h.get("nope") == ([], [])


def test_missing_or_foreign_files_are_named(tmp_path):
    with pytest.raises(LightCNNError, match="metrics.csv does not exist.*no metrics"):
        read_history(tmp_path / "metrics.csv")
    (tmp_path / "metrics.csv").write_text("a,b\n1,2\n")
    with pytest.raises(LightCNNError, match="no 'epoch' column"):
        read_history(tmp_path / "metrics.csv")

"""Fine-to-coarse figures on a hand-worked example (4 fine classes in 2 superclasses)."""

from __future__ import annotations

import pytest
import torch

from lightcnn.report.coarse import fine_to_coarse_analysis

MAP = [0, 0, 1, 1]  # fine 0, 1 -> superclass 0; fine 2, 3 -> superclass 1


def test_hand_worked_example():
    true = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    fine = torch.tensor([0, 1, 1, 1, 3, 2, 0, 3])
    coarse = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1])
    r = fine_to_coarse_analysis(true, fine, MAP, coarse)
    # fine precision: pred 0 -> {true 0, true 3}: 1/2; pred 1 -> {0, 1, 1}: 2/3; pred 2 -> {2}: 1; pred 3 -> {2, 3}: 1/2
    assert r["fine_precision"].tolist() == pytest.approx([0.5, 2 / 3, 1.0, 0.5])
    # mapped: pred 0 -> superclasses {0, 1}: 1/2; pred 1 -> {0, 0, 0}: 1; pred 2 -> 1; pred 3 -> {1, 1}: 1
    assert r["mapped_precision"].tolist() == pytest.approx([0.5, 1.0, 1.0, 1.0])
    assert r["fine_recall"].tolist() == pytest.approx([0.5, 1.0, 0.5, 0.5])
    assert r["mapped_recall"].tolist() == pytest.approx([1.0, 1.0, 1.0, 0.5])
    # per superclass, mapped predictions [0, 0, 0, 0, 1, 1, 0, 1]: predicted 0 = images 0-3 and 6,
    # true superclasses {0, 0, 0, 0, 1} -> 4/5; predicted 1 = images 4, 5, 7, all superclass 1 -> 1
    assert r["mapped_precision_coarse"].tolist() == pytest.approx([0.8, 1.0])
    # coarse model: predicted 0 = {0, 0, 0} -> 1; predicted 1 = {0, 1, 1, 1, 1} -> 4/5
    assert r["coarse_precision_coarse"].tolist() == pytest.approx([1.0, 0.8])
    assert r["coarse_precision"].tolist() == pytest.approx([1.0, 1.0, 0.8, 0.8])
    assert r["coarse_recall"].tolist() == pytest.approx([1.0, 0.5, 1.0, 1.0])
    assert (r["fine_acc"], r["mapped_acc"], r["coarse_acc"]) == pytest.approx((5 / 8, 7 / 8, 7 / 8))
    assert (r["mapped_precision"] >= r["fine_precision"]).all()


def test_without_a_coarse_model_and_bad_input():
    r = fine_to_coarse_analysis(torch.tensor([0, 2]), torch.tensor([1, 2]), MAP)
    assert "coarse_acc" not in r and r["mapped_acc"] == 1.0
    assert r["fine_precision"][3] == 0  # never predicted: 0, as torchmetrics' zero_division
    with pytest.raises(ValueError, match="same length"):
        fine_to_coarse_analysis(torch.tensor([0]), torch.tensor([0, 1]), MAP)
    with pytest.raises(ValueError, match="below 4"):
        fine_to_coarse_analysis(torch.tensor([0]), torch.tensor([7]), MAP)


@pytest.mark.slow
def test_coarse_command_on_tiny_cifar100(tmp_path, capsys):
    import csv
    import json

    from lightcnn.cli import main
    from tests.conftest import REPO, write_cifar_layout

    root = write_cifar_layout(tmp_path / "data", hundred=True, n_per_class=4)
    ckpts = {}
    for level in ("fine", "coarse"):
        args = ["fit", "--config", str(REPO / "configs" / f"cifar100_{level}.yaml"), "--data.root", str(root),
                "--data.download", "false", "--data.batch_size", "64", "--trainer.max_epochs", "1",
                "--trainer.limit_train_batches", "2", "--trainer.default_root_dir", str(tmp_path / "runs"),
                "--trainer.enable_progress_bar", "false"]
        assert main(args) == 0
        ckpts[level] = tmp_path / "runs" / f"cifar100_{level}" / "version_0" / "checkpoints" / "last.ckpt"
    out = tmp_path / "coarse"
    common = ["--config", str(REPO / "configs" / "cifar100_fine.yaml"), "--data.root", str(root), "--data.download", "false", "--out", str(out)]
    assert main(["coarse", "--fine-ckpt", str(ckpts["fine"]), "--coarse-ckpt", str(ckpts["coarse"]), *common]) == 0
    rows = list(csv.DictReader(open(out / "coarse_per_fine_class.csv")))
    assert len(rows) == 100 and set(rows[0]) == {"fine_class", "superclass", "fine_precision", "mapped_precision",
                                                 "coarse_precision", "fine_recall", "mapped_recall", "coarse_recall"}
    assert all(float(r["mapped_precision"]) >= float(r["fine_precision"]) for r in rows)
    superclasses = list(csv.DictReader(open(out / "coarse_per_superclass.csv")))
    assert len(superclasses) == 20 and set(superclasses[0]) == {
        "superclass", "mapped_precision", "mapped_recall", "mapped_f1", "coarse_precision", "coarse_recall", "coarse_f1", "support"}
    assert sum(int(r["support"]) for r in superclasses) == 100
    assert (out / "coarse_differences.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "coarse_summary.json").read_text())
    assert summary["images"] == 100 and summary["mapped_acc"] >= summary["fine_acc"] and "coarse_acc" in summary
    assert (out / "coarse_precision.png").read_bytes()[:4] == b"\x89PNG"
    # A coarse checkpoint given as the fine one is refused, naming it.
    assert main(["coarse", "--fine-ckpt", str(ckpts["coarse"]), *common]) == 2
    assert f"{ckpts['coarse']} is a 20-class ClassificationTask; expected a 100-class classifier" in capsys.readouterr().err


def test_superclass_report_and_the_notebook_differences_by_hand():
    from lightcnn.report.coarse import notebook_differences, superclass_report

    # 4 fine classes in 2 superclasses (MAP = [0, 0, 1, 1]).
    true = torch.tensor([0, 0, 1, 1])
    pred = torch.tensor([0, 1, 1, 0])
    rep = superclass_report(true, pred, 2)
    assert rep["precision"].tolist() == [0.5, 0.5] and rep["recall"].tolist() == [0.5, 0.5]
    assert rep["f1"].tolist() == [0.5, 0.5] and rep["support"].tolist() == [2, 2]
    fine_true, fine_pred = torch.tensor([0, 1, 2, 3]), torch.tensor([1, 1, 2, 0])  # mapped: 0 0 1 0
    coarse_pred = torch.tensor([0, 1, 0, 1])
    r = fine_to_coarse_analysis(fine_true, fine_pred, MAP, coarse_pred)
    d = notebook_differences(r, MAP)
    # fine precision: class 0 predicted once (wrong) 0, class 1 twice (one right) 0.5, class 2 once right 1, class 3 never 0.
    # mapped superclass precision: superclass 0 predicted 3 times (2 right) 2/3, superclass 1 once (right) 1.
    # coarse model: superclass 0 predicted for images 0 and 2 (one right) 0.5, superclass 1 for 1 and 3 (one right) 0.5.
    assert torch.allclose(d["F_CF"], torch.tensor([0 - 2 / 3, 0.5 - 2 / 3, 1 - 1.0, 0 - 1.0]))
    assert torch.allclose(d["F_C"], torch.tensor([-0.5, 0.0, 0.5, -0.5]))
    assert torch.allclose(d["CF_C"], torch.tensor([2 / 3 - 0.5, 2 / 3 - 0.5, 0.5, 0.5]))

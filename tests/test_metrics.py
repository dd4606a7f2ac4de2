import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from lightcnn.metrics import classification_metrics, split_results

# Hand-worked: 4 classes, class 3 never appears (in targets or predictions).
TARGET = torch.tensor([0, 0, 0, 1, 1, 2])
PRED = torch.tensor([0, 0, 1, 1, 2, 2])


def compute(batches=1):
    m = classification_metrics(4)
    for t, p in zip(TARGET.chunk(batches), PRED.chunk(batches)):
        m.update(torch.nn.functional.one_hot(p, 4).float(), t)
    return m.compute()


def test_hand_worked_values():
    r = compute()
    # class 0: TP 2, FP 0, FN 1; class 1: TP 1, FP 1, FN 1; class 2: TP 1, FP 1, FN 0
    assert r["acc"].item() == pytest.approx(4 / 6)
    assert r["precision_per_class"][:3].tolist() == pytest.approx([1.0, 0.5, 0.5])
    assert r["recall_per_class"][:3].tolist() == pytest.approx([2 / 3, 0.5, 1.0])
    assert r["f1_per_class"][:3].tolist() == pytest.approx([0.8, 0.5, 2 / 3])
    assert r["precision"].item() == pytest.approx((1.0 + 0.5 + 0.5) / 3)  # class 3 left out
    assert r["confusion"].tolist() == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize("batches", [1, 3])
def test_against_scikit_learn(batches):
    r = compute(batches)
    p, rec, f1, _ = precision_recall_fscore_support(TARGET, PRED, average=None, labels=[0, 1, 2], zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(TARGET, PRED, average="macro", zero_division=0)
    assert r["precision_per_class"][:3].tolist() == pytest.approx(p.tolist())
    assert r["recall_per_class"][:3].tolist() == pytest.approx(rec.tolist())
    assert r["f1_per_class"][:3].tolist() == pytest.approx(f1.tolist())
    assert [r["precision"].item(), r["recall"].item(), r["f1"].item()] == pytest.approx([mp, mr, mf])
    assert r["acc"].item() == pytest.approx(accuracy_score(TARGET, PRED))
    assert r["confusion"].tolist() == confusion_matrix(TARGET, PRED, labels=[0, 1, 2, 3]).tolist()


def test_split_results_keys():
    flat = split_results(compute(), "test", ["a", "b", "c", "d"])
    assert {"test/acc", "test/f1", "test/precision/a", "test/recall/d", "test/f1/c"} <= set(flat)
    assert not any("confusion" in k for k in flat)

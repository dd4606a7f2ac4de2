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


from lightcnn.metrics import retrieval_by_group, retrieval_metrics  # noqa: E402


def test_retrieval_metrics_hand_worked():
    # Class 0: a, b; class 1: c, d. Cosine neighbours: a->c (wrong), b->a (right), c->a (wrong), d->c (right).
    emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.8, -0.6], [0.95, 0.31], [0.6, 0.8]]), dim=1)
    r = retrieval_metrics(emb, torch.tensor([0, 0, 1, 1]), clustering=False)
    assert r["p_at_1"] == pytest.approx(0.5)
    # R = 1 for every query, so R-precision = MAP@R = precision@1.
    assert r["r_precision"] == pytest.approx(0.5) and r["map_at_r"] == pytest.approx(0.5)


def map_at_r_reference(emb: torch.Tensor, labels: torch.Tensor) -> float:
    """MAP@R from its definition (Musgrave et al. 2020), leave-one-out: for each query, rank the
    others by cosine similarity, R = number of same-class others, AP@R = mean over i <= R of
    precision@i counted only where rank i is a hit."""
    sims = emb @ emb.T
    aps = []
    for q in range(len(labels)):
        others = [i for i in range(len(labels)) if i != q]
        order = sorted(others, key=lambda i: -float(sims[q, i]))
        r = sum(int(labels[i] == labels[q]) for i in others)
        hits, total = 0, 0.0
        for rank, i in enumerate(order[:r], start=1):
            if labels[i] == labels[q]:
                hits += 1
                total += hits / rank
        aps.append(total / r)
    return sum(aps) / len(aps)


def test_map_at_r_against_its_definition():
    g = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(30, 3, generator=g), dim=1)
    labels = torch.arange(3).repeat(10)
    ours = retrieval_metrics(emb, labels, clustering=False)["map_at_r"]
    assert ours == pytest.approx(map_at_r_reference(emb, labels), abs=1e-6)


def test_retrieval_groups_and_perfect_clusters():
    emb = torch.nn.functional.normalize(torch.eye(4).repeat_interleave(5, dim=0) + 0.01 * torch.rand(20, 4), dim=1)
    labels = torch.arange(4).repeat_interleave(5)
    groups = retrieval_by_group(emb, labels, heldout=[3])
    assert set(groups) == {"seen", "heldout", "all"}
    assert groups["all"]["map_at_r"] == pytest.approx(1.0) and groups["all"]["nmi"] == pytest.approx(1.0)
    assert groups["heldout"]["p_at_1"] == pytest.approx(1.0)
    assert set(retrieval_by_group(emb, labels, heldout=[])) == {"all"}


def test_micro_and_f_beta_options_by_hand():
    from lightcnn.metrics import classification_metrics

    # 3 classes; predictions: class 0 right twice, class 1 predicted for a class-2 image, class 2 right once.
    target = torch.tensor([0, 0, 2, 2])
    pred = torch.tensor([0, 0, 1, 2])
    m = classification_metrics(3, micro=True, f_beta=2.0)
    m.update(torch.nn.functional.one_hot(pred, 3).float(), target)
    r = m.compute()
    for k in ("micro_precision", "micro_recall", "micro_f1", "micro_fbeta"):
        assert r[k] == pytest.approx(0.75)  # pooled counts: 3 TP, 1 FP, 1 FN -> accuracy
    # per class F2 = 5PR / (4P + R): class 0 P=R=1 -> 1; class 1 P=0 -> 0; class 2 P=1, R=0.5 -> 2.5/4.5
    assert r["fbeta_per_class"].tolist() == pytest.approx([1.0, 0.0, 2.5 / 4.5])
    assert r["fbeta"] == pytest.approx((1.0 + 0.0 + 2.5 / 4.5) / 3)
    plain = classification_metrics(3)
    assert "micro_f1" not in plain and "fbeta" not in plain

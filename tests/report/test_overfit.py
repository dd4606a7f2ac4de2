"""The overfitting verdict on synthetic histories whose answers are known."""

from __future__ import annotations

import pytest

from lightcnn.report.overfit import overfitting_verdict

EPOCHS = list(range(8))
FALLING = [2.0, 1.5, 1.2, 1.0, 0.8, 0.6, 0.5, 0.4]


def test_healthy_run_is_not_overfitting():
    v = overfitting_verdict(EPOCHS, FALLING, [2.1, 1.6, 1.3, 1.1, 0.9, 0.8, 0.75, 0.7])
    assert not v.overfitting and v.began_epoch is None and v.best_epoch == 7 and v.flag == "ok"


def test_val_loss_rising_while_train_falls_marks_the_first_worse_epoch():
    val = [2.1, 1.6, 1.3, 1.0, 1.05, 1.1, 1.2, 1.3]  # best at epoch 3
    v = overfitting_verdict(EPOCHS, FALLING, val, patience=3)
    assert v.overfitting and v.best_epoch == 3 and v.began_epoch == 4 and v.epochs_diverging == 4
    assert "began at epoch 4" in v.message and v.flag == "overfitting"


def test_too_few_epochs_after_the_optimum_is_not_yet_overfitting():
    val = [2.1, 1.6, 1.3, 1.1, 0.9, 0.8, 0.85, 0.9]  # best at 5, two epochs worse
    assert not overfitting_verdict(EPOCHS, FALLING, val, patience=3).overfitting
    assert overfitting_verdict(EPOCHS, FALLING, val, patience=2).began_epoch == 6


def test_both_losses_rising_is_divergence_of_training_not_overfitting():
    train = [2.0, 1.5, 1.2, 1.0, 1.1, 1.2, 1.3, 1.4]
    val = [2.1, 1.6, 1.3, 1.0, 1.1, 1.2, 1.3, 1.4]
    assert not overfitting_verdict(EPOCHS, train, val).overfitting


def test_a_score_to_maximise_and_uneven_epoch_numbers():
    epochs = [0, 2, 4, 6, 8]
    score = [0.3, 0.6, 0.5, 0.45, 0.4]  # MAP@R best at epoch 2
    v = overfitting_verdict(epochs, [1.0, 0.8, 0.6, 0.5, 0.4], score, mode="max", patience=3)
    assert v.overfitting and v.best_epoch == 2 and v.began_epoch == 4


def test_min_delta_ignores_a_tiny_rise():
    val = [2.1, 1.6, 1.3, 1.0, 1.001, 1.002, 1.001, 1.003]
    assert overfitting_verdict(EPOCHS, FALLING, val).overfitting
    assert not overfitting_verdict(EPOCHS, FALLING, val, min_delta=0.01).overfitting


def test_accuracy_gap_is_reported_against_its_threshold():
    val = [2.1, 1.6, 1.3, 1.1, 0.9, 0.8, 0.75, 0.7]
    v = overfitting_verdict(EPOCHS, FALLING, val, train_acc=[0.5, 0.99], val_acc=[0.5, 0.90], gap_threshold=0.05)
    assert v.gap == pytest.approx(0.09) and v.large_gap and v.flag == "gap" and "+9.00%" in v.message
    assert not overfitting_verdict(EPOCHS, FALLING, val, train_acc=[0.93], val_acc=[0.90]).large_gap


def test_bad_series_are_rejected():
    with pytest.raises(ValueError, match="lengths differ"):
        overfitting_verdict([0, 1], [1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="mode"):
        overfitting_verdict([0], [1.0], [1.0], mode="up")

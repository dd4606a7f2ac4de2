"""The pruning callback: reports each validation epoch's value to the trial, stops the fit the
normal way when the pruner says so, and ignores the sanity check."""

from types import SimpleNamespace

import torch

from lightcnn.sweep.pruning import OptunaPruning


class FakeTrial:
    def __init__(self, prune_at):
        self.reported, self.prune_at = [], prune_at

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return self.reported[-1][0] >= self.prune_at


def trainer(epoch, value, sanity=False):
    return SimpleNamespace(sanity_checking=sanity, current_epoch=epoch, callback_metrics={"val/acc": torch.tensor(value)},
                           world_size=1, should_stop=False)


def test_reports_each_epoch_and_stops_when_told():
    trial = FakeTrial(prune_at=2)
    cb = OptunaPruning(trial, "val/acc")
    cb.on_validation_end(trainer(0, 0.5, sanity=True), None)  # the sanity check is not an epoch
    assert trial.reported == []
    runs = [trainer(e, v) for e, v in enumerate([0.25, 0.5, 0.75])]
    for t in runs:
        cb.on_validation_end(t, None)
    assert trial.reported == [(0, 0.25), (1, 0.5), (2, 0.75)]
    assert [t.should_stop for t in runs] == [False, False, True] and cb.pruned_at == 2


def test_a_missing_or_nan_value_is_not_reported():
    trial = FakeTrial(prune_at=0)
    cb = OptunaPruning(trial, "val/loss")  # not logged
    t = trainer(0, 0.5)
    cb.on_validation_end(t, None)
    t2 = trainer(1, float("nan"))
    OptunaPruning(trial, "val/acc").on_validation_end(t2, None)
    assert trial.reported == [] and not t.should_stop and not t2.should_stop

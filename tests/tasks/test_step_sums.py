"""StepSum: per-step sums folded into torchmetrics once per epoch (lightcnn/tasks/step_sums.py)."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.aggregation import MeanMetric

from lightcnn.tasks.step_sums import StepSum


def test_a_fold_gives_the_mean_of_everything_added_and_starts_afresh():
    sums, metric = StepSum(), MeanMetric()
    assert not sums.fold_into(metric)  # nothing added: nothing folded
    first = torch.tensor(1.0)
    for v in (first, torch.tensor(2.0), torch.tensor(6.0)):
        sums.add(v)
    assert float(first) == 1.0  # the caller's tensor is never added into
    assert sums.fold_into(metric) and float(metric.compute()) == 3.0
    assert sums.total is None and sums.count == 0
    sums.add(torch.tensor(5, dtype=torch.long), count=10)  # counts of items: 5 of 10
    sums.fold_into(metric)
    assert float(metric.compute()) == pytest.approx((1 + 2 + 6 + 5) / 13)  # weighted by what each fold stands for


def test_ranks_reduce_to_the_mean_over_all_their_values():
    # What torchmetrics' cross-rank sync does with two ranks' states: rank 0 saw 1 and 2, rank 1
    # saw 6; the epoch's mean is 9 / 3, not the mean of the ranks' means (1.5 and 6).
    ranks = []
    for values in ([1.0, 2.0], [6.0]):
        sums, metric = StepSum(), MeanMetric()
        for v in values:
            sums.add(torch.tensor(v))
        sums.fold_into(metric)
        ranks.append(metric)
    ranks[0].merge_state(ranks[1])
    assert float(ranks[0].compute()) == 3.0


def test_bfloat16_values_are_summed_in_float32():
    sums = StepSum()
    for _ in range(300):
        sums.add(torch.tensor(1.0, dtype=torch.bfloat16))
    assert sums.total.dtype == torch.float32 and float(sums.total) == 300.0  # bf16 stops counting at 256

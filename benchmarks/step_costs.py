"""The per-step costs lightcnn's tasks take out, each timed on its own (end to end they are below
this machine's run-to-run noise; see BENCHMARKS.md): two that come with Lightning
(lightcnn/tasks/step_costs.py) and torchmetrics' per-step updates (lightcnn/tasks/step_sums.py).

    python benchmarks/step_costs.py          # -> benchmarks/results/step_costs.json + three lines

- setting ``_current_fx_name`` on a ``ClassificationTask`` (Lightning does it ~44 times per
  training step) through ``nn.Module.__setattr__`` against lightcnn's direct set;
- an AdamW step on the MNIST net's parameters with ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` (as
  importing Lightning leaves it) against without (as lightcnn's tasks leave it where no NVIDIA
  driver is), alternated ``--rounds`` times; medians and the median paired difference;
- the training metrics' per-step work on a batch of 128 MNIST logits: a ``MulticlassAccuracy``
  and a ``MeanMetric`` update (as before) against two ``StepSum`` adds (as now).
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit
from pathlib import Path

import lightning  # noqa: F401  (sets PYTORCH_NVML_BASED_CUDA_CHECK, as in every lightcnn run)
import torch
from torch import nn

from lightcnn.cli import _import_builtins
from lightcnn.data import DataInfo
from lightcnn.tasks import ClassificationTask
from lightcnn.tasks.step_sums import StepSum
from overhead import environment  # each side's environment: with Lightning's NVML variable, or as a plain script

REPO = Path(__file__).resolve().parents[1]
HOOK_SETS_PER_STEP = 44  # counted on a lightcnn fit of configs/mnist_classify.yaml (Lightning 2.6)


def main() -> None:
    _import_builtins()
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "step_costs.json")
    a = p.parse_args()
    info = DataInfo(num_classes=10, in_channels=1, image_size=28, mean=(0.13,), std=(0.31,))
    task = ClassificationTask(backbone="mnist_cnn", backbone_args={"batchnorm": True}, data=info)

    def lean() -> None:
        task._current_fx_name = "training_step"

    def module() -> None:
        nn.Module.__setattr__(task, "_current_fx_name", "training_step")

    n = 100_000
    set_us = {f.__name__: min(timeit.repeat(f, number=n, repeat=5)) / n * 1e6 for f in (module, lean)}

    opt = torch.optim.AdamW(task.parameters(), lr=1e-3, weight_decay=1e-4)
    for q in task.parameters():
        q.grad = torch.zeros_like(q)
    step_us: dict[str, list[float]] = {"probe": [], "no probe": []}
    for r in range(a.rounds):
        for side in ("probe", "no probe") if r % 2 == 0 else ("no probe", "probe"):
            environment("lightning" if side == "probe" else "plain")
            step_us[side].append(min(timeit.repeat(opt.step, number=200, repeat=3)) / 200 * 1e6)
    from torchmetrics.aggregation import MeanMetric
    from torchmetrics.classification import MulticlassAccuracy

    logits, y, loss = torch.randn(128, 10), torch.randint(0, 10, (128,)), torch.tensor(2.3)
    acc, mean = MulticlassAccuracy(10, average="micro", validate_args=False), MeanMetric(nan_strategy="disable")
    correct, losses = StepSum(), StepSum()

    def torchmetrics_updates() -> None:
        acc.update(logits, y)
        mean.update(loss)

    def step_sums() -> None:
        correct.add((logits.argmax(dim=1) == y).sum(), len(y))
        losses.add(loss)

    n = 5_000
    metric_us = {f.__name__: min(timeit.repeat(f, number=n, repeat=5)) / n * 1e6 for f in (torchmetrics_updates, step_sums)}
    saved_setattr = HOOK_SETS_PER_STEP * (set_us["module"] - set_us["lean"])
    saved_probe = statistics.median(x - y for x, y in zip(step_us["probe"], step_us["no probe"]))
    result = {"torch": torch.__version__, "set_us": set_us, "hook_sets_per_step": HOOK_SETS_PER_STEP,
              "adamw_step_us": step_us, "training_metrics_us": metric_us,
              "saved_us_per_step": {"hook attributes": saved_setattr, "nvml probe": saved_probe,
                                    "training metrics": metric_us["torchmetrics_updates"] - metric_us["step_sums"]}}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2))
    print(f"hook attribute: {set_us['module']:.2f} us through nn.Module, {set_us['lean']:.2f} us direct; "
          f"x{HOOK_SETS_PER_STEP} per step = {saved_setattr:.0f} us saved")
    print(f"AdamW step on the MNIST net: {statistics.median(step_us['probe']):.0f} us with the NVML probe, "
          f"{statistics.median(step_us['no probe']):.0f} us without; {saved_probe:.0f} us saved per step (median paired)")
    print(f"training metrics per step: {metric_us['torchmetrics_updates']:.0f} us as torchmetrics updates, "
          f"{metric_us['step_sums']:.0f} us as StepSum adds")


if __name__ == "__main__":
    main()

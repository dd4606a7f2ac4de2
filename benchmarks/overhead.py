"""lightcnn fit against a plain PyTorch loop: steady-state training images/s, same run.

    python ../shared/data/materialize.py .data
    python benchmarks/overhead.py --root .data          # -> benchmarks/results/overhead.json + a table

For each case (the labs' CIFAR-10 net on CIFAR-10, the MNIST net on MNIST) both sides train the
same module (a ``ClassificationTask``'s backbone + head, channels_last), from the same in-memory
uint8 tensors, with the same batch size, optimizer (Adam, one-cycle), label smoothing and torch
threads. The plain loop indexes the tensors, normalises, and steps; ``lightcnn fit`` runs the
case's config as a user would (progress bar, logging, metrics, checkpoints at the epoch end are
outside the timed steps). A callback timestamps every training batch; the first ``--warmup``
steps are dropped.

This machine's speed drifts by tens of percent from minute to minute (a shared host), so the
two sides alternate ``--repeats`` times in ABBA order and the figure reported is the median of
the paired ratios (each lightcnn run over the plain run beside it), beside the median rates.
The last column gives the same from each run's median step time (plain over lightcnn), which a
stall of the host inside one run does not move.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from lightning.pytorch import Callback
from torch.nn import functional as F

from lightcnn.cli import _import_builtins
from lightcnn.cli import main as lightcnn_main
from lightcnn.tasks.step_costs import NVML_CHECK

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "cifar10_base (labs' CIFAR-10 net)": (REPO / "configs" / "cifar10_base.yaml", 128),
    "mnist_cnn + BatchNorm (MNIST net)": (REPO / "configs" / "mnist_classify.yaml", 128),
}
_STAMPS: list[float] = []


def environment(side: str) -> None:
    """The process environment each side would have on its own: ``import lightning`` sets
    ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` (which lightcnn's tasks drop again where no NVIDIA driver
    is, see lightcnn/tasks/step_costs.py), a plain PyTorch script never has it. Without this the
    plain loop, run in this process after Lightning's import, would pay the NVML probe that only
    Lightning brings (~0.17 ms per Adam step on a machine without the driver)."""
    if side == "plain":
        os.environ.pop(NVML_CHECK, None)
    else:
        os.environ[NVML_CHECK] = "1"


class StepStamps(Callback):
    """Appends ``time.perf_counter()`` at the start of every training batch, and at the end of the last."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        _STAMPS.append(time.perf_counter())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.last_end = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # the end of the last step: the other callbacks' epoch-end hooks (which run before this
        # one) are not steps, and validation/checkpoints come later
        _STAMPS.append(self.last_end)


def rate(stamps: list[float], warmup: int, batch: int) -> float:
    steps = len(stamps) - 1 - warmup
    return steps * batch / (stamps[-1] - stamps[warmup])


def median_step_ms(stamps: list[float], warmup: int) -> float:
    """The median step time: the typical step, where the rate also counts the host's stalls."""
    return 1000 * statistics.median(b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:]))


def lightcnn_rate(config: Path, root: str, steps: int, warmup: int, batch: int, out: Path,
                  medians: list[float] | None = None) -> float:
    _STAMPS.clear()
    environment("lightning")
    code = lightcnn_main([
        "fit", "--config", str(config), "--data.root", root, "--data.batch_size", str(batch),
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", str(steps), "--trainer.limit_val_batches", "0",
        "--trainer.default_root_dir", str(out), "--trainer.callbacks+=__main__.StepStamps",
    ])
    assert code == 0
    if medians is not None:
        medians.append(median_step_ms(_STAMPS, warmup))
    return rate(_STAMPS, warmup, batch)


def plain_rate(config: Path, root: str, steps: int, warmup: int, batch: int, medians: list[float] | None = None) -> float:
    """The same model and data in a hand-written loop (its median step time appended to ``medians``)."""
    from lightcnn.commands.common import datamodule_from_config
    from lightcnn.tasks import ClassificationTask
    import yaml

    environment("plain")
    cfg = yaml.safe_load(config.read_text())
    init = dict(cfg["model"]["init_args"])
    dm = datamodule_from_config(str(config), ["--data.root", root])
    dm.setup("fit")
    torch.manual_seed(0)
    model = ClassificationTask(**init, data=dm.data_info)  # normalises inside, as in lightcnn
    model = model.to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=init["lr"], weight_decay=init.get("weight_decay", 0.0))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=init["lr"], total_steps=steps)
    x, y = dm.splits["train"]
    perm = torch.randperm(len(y))
    smoothing = init.get("label_smoothing", 0.0)
    stamps = []
    for step in range(steps):
        stamps.append(time.perf_counter())
        idx = perm[step * batch : (step + 1) * batch]
        xb = x[idx].float().div_(255)  # the task normalises (and goes channels-last) in its forward
        loss = F.cross_entropy(model(xb), y[idx], label_smoothing=smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    stamps.append(time.perf_counter())
    if medians is not None:
        medians.append(median_step_ms(stamps, warmup))
    return rate(stamps, warmup, batch)


def main() -> None:
    _import_builtins()
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--steps", type=int, default=250)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--repeats", type=int, default=6)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "overhead.json")
    a = p.parse_args()
    results = {"torch_threads": torch.get_num_threads(), "steps": a.steps, "warmup": a.warmup, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (config, batch) in CASES.items():
            plain, framework, plain_ms, framework_ms = [], [], [], []
            for i in range(a.repeats):
                # ABBA order: drift of the machine's speed within a pair cancels over the pairs
                runs = [lambda: plain.append(plain_rate(config, a.root, a.steps, a.warmup, batch, plain_ms)),
                        lambda: framework.append(lightcnn_rate(config, a.root, a.steps, a.warmup, batch, Path(tmp), framework_ms))]
                for run in runs if i % 2 == 0 else runs[::-1]:
                    run()
            results["cases"][name] = {
                "batch": batch, "plain_img_s": plain, "lightcnn_img_s": framework,
                "paired_ratios": [f / p for f, p in zip(framework, plain)],
                "ratio": statistics.median(f / p for f, p in zip(framework, plain)),
                # what lightcnn adds per step, in ms: the paired difference of the step times
                "added_ms": statistics.median(1000 * batch * (1 / f - 1 / p) for f, p in zip(framework, plain)),
                # the same from each run's median step, which leaves out the host's stalls
                "plain_median_step_ms": plain_ms, "lightcnn_median_step_ms": framework_ms,
                "median_step_ratio": statistics.median(p / f for f, p in zip(framework_ms, plain_ms)),
                "median_step_added_ms": statistics.median(f - p for f, p in zip(framework_ms, plain_ms)),
            }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2))
    print(f"torch threads: {results['torch_threads']}; {a.steps} steps, first {a.warmup} dropped; median of {a.repeats}")
    print("| case | batch | plain loop img/s | lightcnn fit img/s | lightcnn / plain (median of pairs) | added ms per step | "
          "pairs | by median steps: ratio, added ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results["cases"].items():
        pairs = ", ".join(f"{q:.2f}" for q in r["paired_ratios"])
        print(f"| {name} | {r['batch']} | {statistics.median(r['plain_img_s']):,.0f} | "
              f"{statistics.median(r['lightcnn_img_s']):,.0f} | **{r['ratio']:.3f}x** | {r['added_ms']:+.2f} | {pairs} | "
              f"{r['median_step_ratio']:.3f}x, {r['median_step_added_ms']:+.2f} |")


if __name__ == "__main__":
    main()

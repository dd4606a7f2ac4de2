"""Where the time of a training step goes, lightcnn against a plain loop on the same net: the
forward, the backward and the optimizer step timed inside the steps, and the step period.

    python ../shared/data/materialize.py .data
    python benchmarks/step_phases.py --root .data            # the labs' CIFAR-10 net, 3 rounds

The lightcnn side is ``lightcnn fit`` of the config with a callback stamping
``on_train_batch_start`` / ``on_before_backward`` / ``on_after_backward`` /
``on_train_batch_end``; the plain side is ``overhead.py``'s loop (its forward includes the
batch's gather and uint8 -> float conversion, which lightcnn does before ``on_train_batch_start``).
Medians over the steps after ``--warmup``; the sides alternate. No file is written.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from lightning.pytorch import Callback
from torch.nn import functional as F

from lightcnn.cli import _import_builtins
from lightcnn.cli import main as lightcnn_main
from overhead import environment

REPO = Path(__file__).resolve().parents[1]
_MARKS: dict[str, list[float]] = {}


class Phases(Callback):
    def _mark(self, name: str) -> None:
        _MARKS.setdefault(name, []).append(time.perf_counter())

    def on_train_batch_start(self, *args) -> None:
        self._mark("start")

    def on_before_backward(self, *args) -> None:
        self._mark("forward")

    def on_after_backward(self, *args) -> None:
        self._mark("backward")

    def on_train_batch_end(self, *args) -> None:
        self._mark("end")


def lightcnn_side(config: Path, root: str, steps: int, warmup: int) -> dict[str, float]:
    _MARKS.clear()
    environment("lightning")
    with tempfile.TemporaryDirectory() as tmp:
        assert lightcnn_main(["fit", "--config", str(config), "--data.root", root, "--trainer.max_epochs", "1",
                              "--trainer.limit_train_batches", str(steps), "--trainer.limit_val_batches", "0",
                              "--trainer.default_root_dir", tmp, f"--trainer.callbacks+={__name__}.Phases"]) == 0
    m, n = _MARKS, len(_MARKS["start"])
    span = lambda a, b: 1000 * statistics.median(m[b][i] - m[a][i] for i in range(warmup, n))  # noqa: E731
    return {"forward": span("start", "forward"), "backward": span("forward", "backward"),
            "optimizer": span("backward", "end"),
            "step": 1000 * statistics.median(m["start"][i + 1] - m["start"][i] for i in range(warmup, n - 1))}


def plain_side(config: Path, root: str, steps: int, warmup: int) -> dict[str, float]:
    from lightcnn.commands.common import datamodule_from_config
    from lightcnn.tasks import ClassificationTask

    environment("plain")
    init = dict(yaml.safe_load(config.read_text())["model"]["init_args"])
    dm = datamodule_from_config(str(config), ["--data.root", root])
    dm.setup("fit")
    torch.manual_seed(0)
    model = ClassificationTask(**init, data=dm.data_info).to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=init["lr"], weight_decay=init.get("weight_decay", 0.0))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=init["lr"], total_steps=steps)
    x, y = dm.splits["train"]
    perm, batch = torch.randperm(len(y)), dm.batch_size
    times: dict[str, list[float]] = {"forward": [], "backward": [], "optimizer": [], "step": []}
    for step in range(steps):
        t0 = time.perf_counter()
        idx = perm[step * batch:(step + 1) * batch]
        loss = F.cross_entropy(model(x[idx].float().div_(255)), y[idx], label_smoothing=init.get("label_smoothing", 0.0))
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        sched.step()
        t3 = time.perf_counter()
        if step >= warmup:
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                times[k].append(1000 * v)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    _import_builtins()
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--config", type=Path, default=REPO / "configs" / "cifar10_base.yaml")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    sides = {"plain loop": plain_side, "lightcnn fit": lightcnn_side}
    print(f"{a.config.name}: ms, medians over steps {a.warmup}-{a.steps}")
    print("| side | forward | backward | optimizer step | step period |")
    print("|---|---|---|---|---|")
    for r in range(a.rounds):
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            t = sides[name](a.config, a.root, a.steps, a.warmup)
            print(f"| {name} | {t['forward']:.2f} | {t['backward']:.2f} | {t['optimizer']:.2f} | {t['step']:.2f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())

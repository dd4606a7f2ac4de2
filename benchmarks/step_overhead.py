"""What a training step costs beyond the model: a plain PyTorch loop, a bare Lightning loop and
``lightcnn fit``, all on a net that computes almost nothing, so the milliseconds per step are
the loops' own.

    python ../shared/data/materialize.py .data
    python benchmarks/step_overhead.py --root .data     # -> benchmarks/results/step_overhead.json + a table
    python benchmarks/step_overhead.py --root .data --net mnist   # the same on the MNIST config's own net
    python benchmarks/step_overhead.py --root .data --net cifar10 --steps 200   # the labs' CIFAR-10 net on CIFAR-10

The net is ``bench_null`` (a 2x2 average pool and the task's linear head: ~50 parameters), fed
MNIST batches of 128 from memory. The three sides run the same ``ClassificationTask`` module
(normalisation inside, as lightcnn runs it), AdamW + one-cycle, label smoothing 0.05:

- **plain**: a hand-written loop (index, ``float()/255``, forward, loss, backward, step);
- **Lightning**: a minimal ``LightningModule`` around that module, ``Trainer`` with no logger,
  checkpoints, progress bar or summary (Lightning's loop and nothing else); and the same with
  manual optimization (the step calls backward and the optimizer itself);
- **lightcnn**: ``lightcnn fit`` of ``configs/mnist_classify.yaml`` with this backbone, as a
  user runs it (its callbacks, metrics, logging; no progress bar when not on a terminal);
- and four ablations of lightcnn, to attribute what it adds: without its per-step metric
  updates (training accuracy, loss mean), without its default callbacks, with two of the
  Lightning per-step costs that ``lightcnn/tasks/step_costs.py`` removes put back (the NVML
  probe, the hook attributes), and with Lightning's own hook dispatch put back.

Every side starts with Lightning's own hook dispatch and the step costs as lightcnn sets them,
whatever the side before it changed.

Each side runs in the environment it would have alone (``overhead.environment``: the plain loop
without the ``PYTORCH_NVML_BASED_CUDA_CHECK`` that importing Lightning sets).

Each side runs ``--steps`` steps, the first 50 dropped, in turn, ``--repeats`` rounds; the
table gives the median ms per step. The MNIST net's step is ~15-40 ms on this machine, so
each 0.1 ms here is 0.3-0.7 % of it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.trainer import call
from torch import nn
from torch.nn import functional as F

from lightcnn.cli import _import_builtins
from lightcnn.cli import main as lightcnn_main
from lightcnn.registry import BACKBONES
from overhead import _STAMPS, StepStamps, environment  # its step timing (batch starts, the end of the last step) and each side's environment

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "mnist_classify.yaml"
WARMUP, BATCH, LR = 50, 128, 3e-3
_ABLATE: set[str] = set()
# --net: the backbone every side trains ("null": the loops' own cost; "mnist": the config's own
# net, to see whether what lightcnn adds grows with the model)
# ("cifar10": the labs' CIFAR-10 net on CIFAR-10, with its config's data settings)
NETS = {"null": ("bench_null", None, False, CONFIG), "mnist": ("mnist_cnn", {"batchnorm": True}, True, CONFIG),
        "cifar10": ("cifar10_base", None, True, REPO / "configs" / "cifar10_base.yaml")}
_NET = list(NETS["null"])
# the training settings every side uses (configs/mnist_classify.yaml's), given to lightcnn fit as options
SETTINGS = ["--model.optimizer", "adamw", "--model.lr", str(LR), "--model.weight_decay", "0.0001",
            "--model.label_smoothing", "0.05", "--model.scheduler", "onecycle"]


@BACKBONES.register("bench_null")
class NullNet(nn.Module):
    """A backbone that computes almost nothing: a 2x2 average pool, flattened."""

    def __init__(self, in_channels: int = 1, image_size: int = 28) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.num_features = in_channels * 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x).flatten(1)


class Stamps(StepStamps):
    """``overhead.StepStamps``, applying in ``on_train_start`` the ablations asked for (``_ABLATE``)."""

    def on_train_start(self, trainer, pl_module) -> None:
        if "metrics" in _ABLATE:
            pl_module.train_correct.add = pl_module.train_loss_steps.add = lambda *a, **k: None
        if "callbacks" in _ABLATE:
            trainer.callbacks = [c for c in trainer.callbacks if isinstance(c, Stamps)]


def ms_per_step(stamps: list[float]) -> float:
    return 1000 * (stamps[-1] - stamps[WARMUP]) / (len(stamps) - 1 - WARMUP)


def _data(root: str) -> tuple[torch.Tensor, torch.Tensor, object]:
    from lightcnn.commands.common import datamodule_from_config

    dm = datamodule_from_config(str(_NET[3]), ["--data.root", root])
    dm.setup("fit")
    x, y = dm.splits["train"]
    return x, y, dm.data_info


def _task(info: object) -> nn.Module:
    from lightcnn.tasks import ClassificationTask

    torch.manual_seed(0)
    backbone, args, channels_last, _ = _NET
    task = ClassificationTask(backbone=backbone, backbone_args=args, optimizer="adamw", lr=LR, label_smoothing=0.05,
                              channels_last=channels_last, data=info)
    return task.to(memory_format=torch.channels_last) if channels_last else task


def _optimizer(params, steps: int):
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=1e-4)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)


def plain(root: str, steps: int) -> float:
    environment("plain")
    x, y, info = _data(root)
    model = _task(info).train()
    opt, sched = _optimizer(model.parameters(), steps)
    order = torch.randperm(len(y)).repeat(steps * BATCH // len(y) + 1)
    stamps = []
    for i in range(steps):
        stamps.append(time.perf_counter())
        idx = order[i * BATCH:(i + 1) * BATCH]
        loss = F.cross_entropy(model(x[idx].float().div_(255)), y[idx], label_smoothing=0.05)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    stamps.append(time.perf_counter())
    return ms_per_step(stamps)


class _Bare(L.LightningModule):
    def __init__(self, net: nn.Module, steps: int) -> None:
        super().__init__()
        self.net, self.steps = net, steps

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.net(x.float().div_(255)), y, label_smoothing=0.05)

    def configure_optimizers(self):
        opt, sched = _optimizer(self.parameters(), self.steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class _BareManual(_Bare):
    """The same step with Lightning's manual optimization: no closure, no automatic-optimization
    wrappers; what is left is the fit loop's own per-batch machinery."""

    def __init__(self, net: nn.Module, steps: int) -> None:
        super().__init__(net, steps)
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        opt, sched = self.optimizers(), self.lr_schedulers()
        loss = super().training_step(batch, batch_idx)
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt.step()
        sched.step()
        return loss


class _Batches(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, steps: int) -> None:
        self.x, self.y, self.steps = x, y, steps
        self.order = torch.randperm(len(y)).repeat(steps * BATCH // len(y) + 1)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int):
        idx = self.order[i * BATCH:(i + 1) * BATCH]
        return self.x[idx], self.y[idx]


def lightning(root: str, steps: int, module: type[_Bare] = _Bare) -> float:
    x, y, info = _data(root)
    _STAMPS.clear()
    environment("lightning")
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[Stamps()], accelerator="cpu")
    trainer.fit(module(_task(info), steps), torch.utils.data.DataLoader(_Batches(x, y, steps), batch_size=None))
    return ms_per_step(_STAMPS)


def lightcnn(root: str, steps: int, ablate: tuple[str, ...] = ()) -> float:
    from lightcnn.tasks import base, step_costs

    _STAMPS.clear()
    _ABLATE.clear()
    _ABLATE.update(ablate)
    environment("lightning")
    saved = step_costs._PLAIN_ATTRIBUTES, base.remove_per_step_costs
    if "step_costs" in ablate:  # Lightning's NVML probe and hook attributes as they come (the hook dispatch stays lean)
        step_costs._PLAIN_ATTRIBUTES, base.remove_per_step_costs = frozenset(), step_costs.lean_hook_dispatch
    if "dispatch" in ablate:  # Lightning's own hook dispatch
        base.remove_per_step_costs = step_costs.skip_nvml_without_driver
    try:
        with tempfile.TemporaryDirectory() as tmp:
            code = lightcnn_main([
                "fit", "--config", str(_NET[3]), "--data.root", root, "--model.backbone", _NET[0], "--model.backbone_args", json.dumps(_NET[1]),
                "--data.batch_size", str(BATCH), *SETTINGS,
                "--trainer.max_epochs", "1", "--trainer.limit_train_batches", str(steps), "--trainer.limit_val_batches", "0",
                "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", tmp, f"--trainer.callbacks+={__name__}.Stamps",
            ])
    finally:  # the next side starts as Lightning and lightcnn come, whatever this one took out
        step_costs._PLAIN_ATTRIBUTES, base.remove_per_step_costs = saved
        lightning_dispatch()
    assert code == 0
    return ms_per_step(_STAMPS)


def lightning_dispatch() -> None:
    """Lightning's own hook dispatchers back in place (a lightcnn fit puts its lean ones there)."""
    from lightcnn.tasks import step_costs

    call._call_callback_hooks, call._call_lightning_module_hook = step_costs._LIGHTNING_CALLBACK_HOOKS, step_costs._LIGHTNING_MODULE_HOOK


SIDES = {
    "plain PyTorch loop": plain,
    "bare Lightning loop": lightning,
    "bare Lightning loop, manual optimization": lambda root, steps: lightning(root, steps, _BareManual),
    "lightcnn fit": lightcnn,
    "lightcnn fit, no per-step metric updates": lambda root, steps: lightcnn(root, steps, ("metrics",)),
    "lightcnn fit, no default callbacks": lambda root, steps: lightcnn(root, steps, ("callbacks",)),
    "lightcnn fit, NVML probe and hook attributes as Lightning leaves them": lambda root, steps: lightcnn(root, steps, ("step_costs",)),
    "lightcnn fit, Lightning's hook dispatch": lambda root, steps: lightcnn(root, steps, ("dispatch",)),
}


def main() -> None:
    _import_builtins()
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--steps", type=int, default=400, help="steps per run (MNIST has 421 batches of 128 for training)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--net", choices=sorted(NETS), default="null", help="null: the loops' own cost; mnist, cifar10: the benchmark nets")
    p.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/step_overhead[_NET].json")
    a = p.parse_args()
    _NET[:] = NETS[a.net]
    a.out = a.out or REPO / "benchmarks" / "results" / ("step_overhead.json" if a.net == "null" else f"step_overhead_{a.net}.json")
    if a.steps <= WARMUP + 1:
        p.error(f"--steps must be > {WARMUP + 1}")
    runs: dict[str, list[float]] = {name: [] for name in SIDES}
    for r in range(a.repeats):
        names = list(SIDES) if r % 2 == 0 else list(SIDES)[::-1]  # alternate the order: drift cancels
        for name in names:
            runs[name].append(SIDES[name](a.root, a.steps))
    result = {"net": a.net, "torch_threads": torch.get_num_threads(), "steps": a.steps, "warmup": WARMUP, "batch": BATCH,
              "ms_per_step": runs, "median_ms": {k: statistics.median(v) for k, v in runs.items()}}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2))
    med = result["median_ms"]
    base = med["plain PyTorch loop"]
    print(f"{a.net} net, batch {BATCH}, {a.steps} steps (first {WARMUP} dropped), median of {a.repeats}, torch threads {result['torch_threads']}")
    print("| loop | ms per step | added over the plain loop | runs |")
    print("|---|---|---|---|")
    for name, value in med.items():
        print(f"| {name} | {value:.3f} | {value - base:+.3f} | {', '.join(f'{v:.3f}' for v in runs[name])} |")


if __name__ == "__main__":
    main()

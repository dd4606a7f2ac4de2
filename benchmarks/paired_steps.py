"""What ``lightcnn fit`` adds per training step, measured step by step against a plain PyTorch
step interleaved with it in the same process, so the host's drift cancels.

    python ../shared/data/materialize.py .data
    python benchmarks/paired_steps.py --root .data      # -> benchmarks/results/paired_steps.json + two tables
    python benchmarks/paired_steps.py --root .data --ablate callbacks   # lightcnn without its default callbacks
    python benchmarks/paired_steps.py --root .data --ablate metrics     # ... without its training metrics and loss logging
    python benchmarks/paired_steps.py --root .data --sides lightcnn lightning   # and a bare Lightning Trainer, same run

``overhead.py`` alternates whole runs (a plain loop, then ``lightcnn fit``, ...), and this
machine's speed drifts by ±10 % between runs, several times the milliseconds being measured.
Here one ``lightcnn fit`` of the case's config runs, and a callback runs one plain PyTorch step
just before each of lightcnn's steps (in ``on_train_batch_start``), on its own copy of the model
(a ``ClassificationTask`` built from the same config, channels_last as the config says) with the
same optimizer class and settings, one-cycle, label smoothing, batch size, in-memory uint8 data:
index, ``float()/255``, forward, loss, ``zero_grad``, backward, step, scheduler step, as
``overhead.py``'s plain loop does.

Each lightcnn step is the time from the end of that plain step to the start of the next one:
its data fetch, hooks, callbacks, logging and metrics, its forward/backward/step, everything
but the plain step. The two therefore alternate step by step, each after the other's step (so
both find the caches holding the other model's data), and the figure is the median of the
per-step differences (lightcnn minus plain) with the ratio of the mean step times. Both run
with the environment a lightcnn fit has (its tasks drop Lightning's NVML check where no NVIDIA
driver is, see lightcnn/tasks/step_costs.py, so neither side pays that probe here).

The second table splits both steps into the phases of ``PHASES`` (stamps between the plain
step's lines; lightcnn's hooks and wrappers around its task's ``training_step`` and ``forward``),
to show where the added time sits: in the model's work, or in the code around it.

``--sides lightcnn lightning`` also runs, after each case's lightcnn fit, a bare Lightning ``Trainer`` in lightcnn's place: the same task module
(its forward, normalisation included) inside a minimal ``LightningModule`` whose step is the
plain step's cross-entropy, the same optimizer and one-cycle, the case config's DataModule for the
batches, and no logger, checkpoints, progress bar, summary, metrics or lightcnn callbacks. What it
adds over the plain step is Lightning's own loop, the floor under any trainer built on it.

Intervals that cross an epoch boundary (validation, checkpoints, epoch-end plots) are left out,
as are the first ``--warmup`` steps of each epoch.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import tempfile
import time
from pathlib import Path

import lightning.pytorch as L
import torch
import yaml
from lightning.pytorch import Callback
from torch.nn import functional as F

from lightcnn.cli import _import_builtins
from lightcnn.commands.common import datamodule_from_config
from lightcnn.cli import main as lightcnn_main
from overhead import CASES, REPO

_RUN: dict = {}  # the current case: config, warm-up, ablations, and the (plain, lightcnn) per-phase step times of each pair


PHASES = {  # phase: (what the plain step does in it, what lightcnn's step does in it)
    "between steps": ("the batch's gather and uint8 -> float",
                      "the same, plus the batch-end hooks, logging and the fit loop's fetch and bookkeeping"),
    "before the forward": ("-", "the batch-start hooks, then Lightning's optimizer step wrappers calling the closure that runs training_step"),
    "model forward": ("the model's forward", "the same"),
    "loss": ("the loss", "the loss, the training metrics' step sums, the loss logging"),
    "loss to backward": ("zero_grad", "the closure's result, zero_grad, the before-backward hooks"),
    "backward": ("the backward", "the same, plus the after-backward hooks"),
    "optimizer step": ("the optimizer and scheduler steps", "the same, plus Lightning's step bookkeeping"),
}


class PairedSteps(Callback):
    """Runs one plain PyTorch step before each of lightcnn's training steps and times both, in
    the phases of ``PHASES``: the plain step's from stamps between its lines, lightcnn's from
    its hooks and a wrapper around the task's ``training_step`` and ``forward``."""

    def on_train_start(self, trainer, pl_module) -> None:
        from lightcnn.tasks import ClassificationTask

        cfg = yaml.safe_load(_RUN["config"].read_text())
        init = dict(cfg["model"]["init_args"])
        dm = trainer.datamodule
        torch.manual_seed(1)
        model = ClassificationTask(**init, data=dm.data_info).train()
        self.model = model.to(memory_format=torch.channels_last) if init.get("channels_last") else model
        used = trainer.optimizers[0]  # the same optimizer class and settings as lightcnn's
        settings = {k: v for k, v in used.defaults.items() if k in inspect.signature(type(used)).parameters}
        self.opt = type(used)(self.model.parameters(), **settings)
        total = trainer.estimated_stepping_batches
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=init["lr"], total_steps=total + 1)
        self.x, self.y = dm.splits["train"]
        self.order = torch.randperm(len(self.y)).repeat(total * dm.batch_size // len(self.y) + 1)
        self.smoothing, self.batch, self.step, self.last, self.pending = init.get("label_smoothing", 0.0), dm.batch_size, 0, None, None
        self.marks: dict[str, float] = {}
        step_fn, forward = pl_module.training_step, pl_module.forward

        def timed_training_step(*args, **kwargs):
            self.marks["step_in"] = time.perf_counter()
            out = step_fn(*args, **kwargs)
            self.marks["step_out"] = time.perf_counter()
            return out

        def timed_forward(*args, **kwargs):
            self.marks["forward_in"] = time.perf_counter()
            out = forward(*args, **kwargs)
            self.marks["forward_out"] = time.perf_counter()
            return out

        pl_module.training_step, pl_module.forward = timed_training_step, timed_forward  # instance attributes: removed in on_train_end
        if "callbacks" in _RUN["ablate"]:  # lightcnn's default callbacks (checkpoints, run record and report, reports) out
            trainer.callbacks = [c for c in trainer.callbacks if isinstance(c, PairedSteps)]
        if "metrics" in _RUN["ablate"]:  # the training metrics' step sums and the loss logging out
            pl_module.train_correct.add = lambda *args, **kwargs: None
            pl_module.log_train_loss = lambda loss: None

    def on_train_end(self, trainer, pl_module) -> None:
        del pl_module.training_step, pl_module.forward
        if "metrics" in _RUN["ablate"]:
            del pl_module.train_correct.add, pl_module.log_train_loss

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        now = time.perf_counter()  # the end of lightcnn's step before this one
        if self.pending is not None:  # lightcnn's step after that plain step has ended: a pair
            m = self.marks
            _RUN["pairs"].append((self.pending, [now - m["batch_end"], m["forward_in"] - self.last, m["forward_out"] - m["forward_in"],
                                            m["step_out"] - m["forward_out"], m["before_backward"] - m["step_out"],
                                            m["after_backward"] - m["before_backward"], m["batch_end"] - m["after_backward"]]))
        t0 = time.perf_counter()
        idx = self.order[self.step * self.batch:(self.step + 1) * self.batch]
        self.step += 1
        x, y = self.x[idx].float().div_(255), self.y[idx]
        t1 = time.perf_counter()
        logits = self.model(x)
        t2 = time.perf_counter()
        loss = F.cross_entropy(logits, y, label_smoothing=self.smoothing)
        t3 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        loss.backward()
        t5 = time.perf_counter()
        self.opt.step()
        self.sched.step()
        t6 = time.perf_counter()
        self.pending = [t1 - t0, 0.0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5] if batch_idx >= _RUN["warmup"] else None
        self.last = time.perf_counter()

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self.marks["before_backward"] = time.perf_counter()

    def on_after_backward(self, trainer, pl_module) -> None:
        self.marks["after_backward"] = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.marks["batch_end"] = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.last = self.pending = None  # no pair across the epoch boundary


class BareLightning(L.LightningModule):
    """The case's task module inside a minimal LightningModule (the ``lightning`` side): the plain
    step's loss, the config's optimizer class and settings with one-cycle, stepped every batch."""

    def __init__(self, config: Path, data_info: object) -> None:
        from lightcnn.tasks import ClassificationTask

        super().__init__()
        init = dict(yaml.safe_load(config.read_text())["model"]["init_args"])
        torch.manual_seed(0)
        task = ClassificationTask(**init, data=data_info).train()
        self.task = task.to(memory_format=torch.channels_last) if init.get("channels_last") else task
        self.lr, self.smoothing = init["lr"], init.get("label_smoothing", 0.0)
        self.optimizer_class = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[init.get("optimizer", "adamw")]
        self.optimizer_settings = {"lr": self.lr, "weight_decay": init.get("weight_decay", 0.0)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.task(x)

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self(batch[0]), batch[1], label_smoothing=self.smoothing)

    def configure_optimizers(self):
        opt = self.optimizer_class(self.parameters(), **self.optimizer_settings)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=int(self.trainer.estimated_stepping_batches) + 1)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def run_bare_lightning(config: Path, root: str, epochs: int, steps: int) -> None:
    """The ``lightning`` side: the case on a bare ``Trainer`` (no logger, checkpoints, progress bar,
    summary; the only callback is ``PairedSteps``), with Lightning's own hook dispatch."""
    from lightcnn.tasks.step_costs import skip_nvml_without_driver

    skip_nvml_without_driver()  # as in a lightcnn fit: the probe would cost both steps alike, and lightcnn's side is without it
    dm = datamodule_from_config(str(config), ["--data.root", root])
    dm.setup("fit")
    trainer = L.Trainer(max_epochs=epochs, limit_train_batches=steps, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[PairedSteps()], accelerator="cpu")
    trainer.fit(BareLightning(config, dm.data_info), datamodule=dm)


SIDES = {"lightcnn": "", "lightning": ", bare Lightning"}  # --sides: what each adds to the case's name in the tables


def run_case(config: Path, root: str, epochs: int, steps: int, warmup: int, out: Path,
             ablate: tuple[str, ...] = (), side: str = "lightcnn") -> list[tuple[list[float], list[float]]]:
    """Per-step seconds in the phases of ``PHASES``, as (plain step, the ``side`` step right after it) pairs."""
    _RUN.update(config=config, warmup=warmup, pairs=[], ablate=ablate)
    if side == "lightning":
        run_bare_lightning(config, root, epochs, steps)
        return _RUN["pairs"]
    code = lightcnn_main([
        "fit", "--config", str(config), "--data.root", root, "--trainer.max_epochs", str(epochs),
        "--trainer.limit_train_batches", str(steps), "--trainer.limit_val_batches", "0",
        "--trainer.default_root_dir", str(out), f"--trainer.callbacks+={__name__}.PairedSteps",
    ])
    assert code == 0
    return _RUN["pairs"]


def summary(pairs: list[tuple[list[float], list[float]]]) -> dict:
    """Step times, their ratio and the added milliseconds (median of the paired differences), overall and by phase."""
    plain, framework = [sum(q) for q, _ in pairs], [sum(f) for _, f in pairs]
    diffs = [1000 * (f - q) for q, f in zip(plain, framework)]
    return {
        "pairs": len(diffs), "plain_ms_mean": 1000 * statistics.mean(plain), "lightcnn_ms_mean": 1000 * statistics.mean(framework),
        "plain_ms_median": 1000 * statistics.median(plain), "lightcnn_ms_median": 1000 * statistics.median(framework),
        "added_ms_median": statistics.median(diffs),
        "added_ms_halves": [statistics.median(diffs[: len(diffs) // 2]), statistics.median(diffs[len(diffs) // 2:])],
        "ratio_of_means": statistics.mean(plain) / statistics.mean(framework),
        "ratio_of_medians": statistics.median(plain) / statistics.median(framework),
        "phases_ms_median": {phase: {"plain": 1000 * statistics.median(q[i] for q, _ in pairs),
                                     "lightcnn": 1000 * statistics.median(f[i] for _, f in pairs),
                                     "added": 1000 * statistics.median(f[i] - q[i] for q, f in pairs)}
                             for i, phase in enumerate(PHASES)},
    }


def main() -> None:
    _import_builtins()
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--steps", type=int, default=300, help="training steps per epoch (CIFAR-10's 45k train images make 351)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--warmup", type=int, default=20, help="steps left out at the start of each epoch")
    p.add_argument("--ablate", nargs="*", choices=["callbacks", "metrics"], default=[],
                   help="take lightcnn's default callbacks, or its training metrics and loss logging, out of its side")
    p.add_argument("--sides", nargs="+", choices=list(SIDES), default=["lightcnn"],
                   help="what runs beside the plain step, each case in turn: lightcnn fit, a bare Lightning Trainer (Lightning's own loop)")
    p.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/paired_steps[_without_ABLATED][_and_bare_lightning].json")
    a = p.parse_args()
    if a.ablate and "lightcnn" not in a.sides:
        p.error("--ablate takes parts out of the lightcnn side; add it to --sides")
    suffix = "".join(f"_without_{x}" for x in a.ablate) + ("_and_bare_lightning" if "lightning" in a.sides else "")
    a.out = a.out or REPO / "benchmarks" / "results" / f"paired_steps{suffix}.json"
    if a.steps <= a.warmup + 1:
        p.error(f"--steps must be > --warmup + 1 ({a.warmup + 1})")
    results = {"torch_threads": torch.get_num_threads(), "steps": a.steps, "epochs": a.epochs, "warmup": a.warmup,
               "ablated": a.ablate, "sides": a.sides, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for case, (config, _batch) in CASES.items():
            for side in a.sides:
                pairs = run_case(config, a.root, a.epochs, a.steps, a.warmup, Path(tmp), tuple(a.ablate), side)
                results["cases"][case + SIDES[side]] = summary(pairs)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2))
    print(f"torch threads {results['torch_threads']}; {a.epochs} epochs x {a.steps} steps, first {a.warmup} of each left out"
          + (f"; lightcnn without its {' and '.join(a.ablate)}" if a.ablate else "")
          + ("; the rows marked 'bare Lightning' have a bare Lightning Trainer in lightcnn's place (the columns named lightcnn are its)"
             if "lightning" in a.sides else ""))
    print("| case | pairs | plain ms/step (mean, median) | lightcnn ms/step (mean, median) | plain / lightcnn (means; medians) | "
          "added ms per step (median of pairs; each half) |")
    print("|---|---|---|---|---|---|")
    for name, r in results["cases"].items():
        print(f"| {name} | {r['pairs']} | {r['plain_ms_mean']:.2f}, {r['plain_ms_median']:.2f} | {r['lightcnn_ms_mean']:.2f}, "
              f"{r['lightcnn_ms_median']:.2f} | **{r['ratio_of_means']:.3f}x**; {r['ratio_of_medians']:.3f}x | "
              f"**{r['added_ms_median']:+.2f}**; {r['added_ms_halves'][0]:+.2f}, {r['added_ms_halves'][1]:+.2f} |")
    names = list(results["cases"])
    print()
    print("Median ms per step in each phase, plain / lightcnn (added: the median of the paired differences):")
    print("| phase | " + " | ".join(names) + " | the plain step does | lightcnn's step does |")
    print("|---|" + "---|" * len(names) + "---|---|")
    for phase, (plain_does, lightcnn_does) in PHASES.items():
        cells = []
        for name in names:
            ph = results["cases"][name]["phases_ms_median"][phase]
            cells.append(f"{ph['plain']:.2f} / {ph['lightcnn']:.2f} ({ph['added']:+.2f})")
        print(f"| {phase} | " + " | ".join(cells) + f" | {plain_does} | {lightcnn_does} |")


if __name__ == "__main__":
    main()

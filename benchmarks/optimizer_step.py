"""Would a leaner optimizer step pay? Lightning's automatic-optimization step against the same
step with its wrapper layers taken out, alternating step by step inside one ``lightcnn fit``.

    python ../shared/data/materialize.py .data
    python benchmarks/optimizer_step.py --root .data    # -> benchmarks/results/optimizer_step.json + a table

Lightning runs each step as ``LightningModule.optimizer_step`` -> ``LightningOptimizer.step`` ->
``Strategy.optimizer_step`` -> ``Precision.optimizer_step`` -> ``torch.optim.Optimizer.step(closure)``,
whose closure wraps ``Closure.closure`` -> ``_training_step`` -> ``_call_strategy_hook`` ->
``Strategy.training_step``, then the zero-grad and backward closures and ``_after_closure``: about
forty calls and context managers. ``lean_run`` below calls the same pieces in the same order
itself: the training step, the zero-grad hooks and ``zero_grad``, ``Strategy.backward``,
``_after_closure`` (the before-step hooks, gradient clipping), then ``optimizer.step()`` with no
closure. It is valid only in the plain case (one device, no accumulation, no gradient scaler, an
optimizer that needs no closure, no optimizer step pre-hook), which is what the benchmark runs.

Each step of one ``lightcnn fit`` (the null net, the MNIST net, the labs' CIFAR-10 net; 400
steps, the first 50 dropped) goes through Lightning's ``run`` or ``lean_run`` in turn, and the
table gives the median of the per-step differences of adjacent pairs, so the host's drift
cancels. ``--check`` first trains 3 steps each way and asserts bitwise-equal weights.

It was written to decide whether lightcnn should carry such an override (as it carries the
lean hook dispatch of ``lightcnn/tasks/step_costs.py``); BENCHMARKS.md has the answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loops.optimization.automatic import Closure, ClosureResult, _AutomaticOptimization
from lightning.pytorch.trainer import call

import step_overhead
from lightcnn.cli import _import_builtins
from lightcnn.cli import main as lightcnn_main

REPO = Path(__file__).resolve().parents[1]
LIGHTNING_RUN = _AutomaticOptimization.run
WARMUP = 50


def lean_run(self: _AutomaticOptimization, optimizer, batch_idx: int, kwargs) -> dict:
    """``_AutomaticOptimization.run`` for the plain case, the pieces called in Lightning's order."""
    trainer = self.trainer
    module = trainer.lightning_module
    strategy = trainer.strategy
    progress = self.optim_progress.optimizer
    progress.step.increment_ready()
    prev_fx_name = module._current_fx_name
    module._current_fx_name = "optimizer_step"  # the module hook Lightning runs all of this inside
    with torch.enable_grad():  # as Closure.closure
        module._current_fx_name = "training_step"
        with strategy.precision_plugin.train_step_context():
            output = module.training_step(*kwargs.values())
        module._current_fx_name = "optimizer_step"
        result = ClosureResult.from_training_step_output(output, 1)
        if result.closure_loss is None:
            Closure.warning_cache.warn("`training_step` returned `None`. If this was on purpose, ignore this warning...")
        progress.zero_grad.increment_ready()
        call._call_callback_hooks(trainer, "on_before_zero_grad", optimizer)
        call._call_lightning_module_hook(trainer, "on_before_zero_grad", optimizer)
        progress.zero_grad.increment_started()
        call._call_lightning_module_hook(trainer, "optimizer_zero_grad", trainer.current_epoch, batch_idx, optimizer)
        progress.zero_grad.increment_completed()
        if result.closure_loss is not None:
            module._current_fx_name = "backward"
            strategy.backward(result.closure_loss, optimizer)
            module._current_fx_name = "optimizer_step"
        strategy.precision_plugin._after_closure(module, optimizer)  # on_before_optimizer_step, clipping
    optimizer.step()
    module._current_fx_name = prev_fx_name
    progress.step.increment_completed()
    return {} if result.loss is None else result.asdict()


_TIMES: dict[str, list[float]] = {"lightning": [], "lean": []}
_WEIGHTS: list[torch.Tensor] = []


def alternating(self, optimizer, batch_idx, kwargs):
    """Even steps through Lightning's ``run``, odd ones through ``lean_run``, each timed."""
    name = "lightning" if len(_TIMES["lightning"]) == len(_TIMES["lean"]) else "lean"
    run = LIGHTNING_RUN if name == "lightning" else lean_run
    start = time.perf_counter()
    out = run(self, optimizer, batch_idx, kwargs)
    _TIMES[name].append(time.perf_counter() - start)
    return out


class FinalWeights(Callback):
    def on_train_end(self, trainer, pl_module) -> None:
        _WEIGHTS.append(torch.cat([p.detach().flatten() for p in pl_module.parameters()]))


def check(root: str) -> None:
    """3 steps of the MNIST config with each ``run``: the weights must be bitwise equal."""
    for run in (LIGHTNING_RUN, lean_run):
        _AutomaticOptimization.run = run
        with tempfile.TemporaryDirectory() as tmp:
            code = lightcnn_main(["fit", "--config", "configs/mnist_classify.yaml", "--data.root", root, "--data.batch_size", "32",
                                  "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "0",
                                  "--trainer.default_root_dir", tmp, "--trainer.enable_progress_bar", "false",
                                  f"--trainer.callbacks+={__name__}.FinalWeights"])
        assert code == 0
    _AutomaticOptimization.run = LIGHTNING_RUN
    assert torch.equal(*_WEIGHTS), "lean_run trained other weights than Lightning's run"
    print("check: 3 steps each way, bitwise-equal weights")


def measure(root: str, net: str, steps: int) -> dict:
    step_overhead._NET[:] = step_overhead.NETS[net]
    for times in _TIMES.values():
        times.clear()
    _AutomaticOptimization.run = alternating
    try:
        step_overhead.lightcnn(root, steps)
    finally:
        _AutomaticOptimization.run = LIGHTNING_RUN
    light, lean = _TIMES["lightning"][WARMUP // 2:], _TIMES["lean"][WARMUP // 2:]
    pairs = min(len(light), len(lean))
    diffs = [1000 * (a - b) for a, b in zip(light[:pairs], lean[:pairs])]
    return {"pairs": pairs, "lightning_ms_median": 1000 * statistics.median(light), "lean_ms_median": 1000 * statistics.median(lean),
            "saved_ms_median_of_pairs": statistics.median(diffs),
            "saved_ms_halves": [statistics.median(diffs[: pairs // 2]), statistics.median(diffs[pairs // 2:])]}


def main() -> None:
    _import_builtins()
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--nets", nargs="+", choices=sorted(step_overhead.NETS), default=["null", "mnist", "cifar10"])
    p.add_argument("--check", action="store_true", help="first assert that both runs train the same weights")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "optimizer_step.json")
    a = p.parse_args()
    if a.check:
        check(a.root)
    results = {"torch_threads": torch.get_num_threads(), "steps": a.steps, "warmup": WARMUP,
               "nets": {net: measure(a.root, net, a.steps) for net in a.nets}}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2))
    print(f"torch threads {results['torch_threads']}; {a.steps} steps, alternating, the first {WARMUP} dropped")
    print("| net | pairs | Lightning's run, ms (median) | lean run, ms (median) | saved per step, ms (median of pairs; each half) |")
    print("|---|---|---|---|---|")
    for net, r in results["nets"].items():
        print(f"| {net} | {r['pairs']} | {r['lightning_ms_median']:.3f} | {r['lean_ms_median']:.3f} | "
              f"**{r['saved_ms_median_of_pairs']:+.3f}**; {r['saved_ms_halves'][0]:+.3f}, {r['saved_ms_halves'][1]:+.3f} |")


if __name__ == "__main__":
    sys.exit(main())

"""Every GPU measurement of the speed issue in one run, for a lent GPU machine with little time.

    python ../shared/data/materialize.py .data
    python benchmarks/gpu.py --root .data --out benchmarks/results/gpu.json --budget 600

Each job writes its result into ``--out`` as soon as it ends, so a run cut short keeps what it
measured; jobs run in order of importance and a job that would start after ``--budget`` seconds
is skipped (and says so). The jobs:

- ``lightcnn fit --test true`` of ``configs/cifar10_gpu_fast.yaml`` (10-13 epochs, eager and
  compiled, bf16 autocast and ``bf16-true``, three seeds) and of ``configs/mnist_speedrun.yaml``
  (batch 256 and 512), on the GPU, each in a fresh process as a user runs it: the whole
  command's seconds, the training seconds (``time/fit_s`` of the run's own history: the epochs,
  validation included), the test accuracy, per-epoch validation accuracy;
- a plain PyTorch loop of the same CIFAR-10 recipe (the same module, data kept on the GPU as
  uint8, flip + reflect-crop done with plain tensor ops, bf16 autocast, channels_last, the same
  SGD parameter groups and one-cycle schedule, Lookahead as the config has it) over 10 epochs, eager: its
  training seconds and test accuracy, so lightcnn's share of the training time is measured in
  the same run; and a ``torch.profiler`` table of 30 of its steps;
- ``benchmarks/startup.py`` on that machine (one round).

``--smoke`` runs every job at a tiny size (for checking the script itself, on CPU too with
``--accelerator cpu``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
CIFAR = REPO / "configs" / "cifar10_gpu_fast.yaml"
SPEEDRUN = REPO / "configs" / "mnist_speedrun.yaml"


def history_of(runs: Path, name: str) -> dict[str, Any]:
    """The newest run folder's history under ``runs/name``: fit seconds, test accuracy, val curve."""
    from lightcnn.report.history import read_run_history
    from lightcnn.run import versions

    run = versions(runs / name)[-1]
    h = read_run_history(run)
    val = h.get("val/acc")[1]
    return {"run": str(run), "epochs": len(val), "fit_s": h.last("time/fit_s"), "test_acc": h.test.get("test/acc"),
            "val_acc": [round(v, 4) for v in val]}


def fit(config: Path, name: str, extra: list[str], a: argparse.Namespace) -> dict[str, Any]:
    """``lightcnn fit --test true`` in a fresh process; whole-command seconds and the run's history."""
    args = [sys.executable, "-m", "lightcnn", "fit", "--config", str(config), "--data.root", a.root,
            "--trainer.default_root_dir", str(a.runs), "--name", name, "--test", "true",
            "--trainer.accelerator", a.accelerator, *a.smoke_args, *extra]
    t = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    command_s = time.perf_counter() - t
    log = a.logs / f"{name}.log"
    log.write_text(f"$ {' '.join(args)}\n{done.stdout}\n{done.stderr}")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {done.returncode}: {last}", "command_s": round(command_s, 2)}
    return {"command_s": round(command_s, 2), "args": extra, **history_of(a.runs, name)}


def plain_cifar(a: argparse.Namespace, epochs: int, weights: str = "autocast", profile: Path | None = None) -> dict[str, Any]:
    """The CIFAR-10 GPU recipe as a hand-written loop over the same module and data.

    ``weights``: ``autocast`` (float32 weights, bf16 autocast: what the config's ``bf16-mixed``
    does) or ``bf16`` (bf16 weights with BatchNorm in float32, no autocast: airbench's way, in
    bf16). ``profile``: run 30 steps under ``torch.profiler`` instead and write its table there."""
    import torch
    import yaml
    from torch.nn import functional as F

    from lightcnn.callbacks.lookahead import Lookahead
    from lightcnn.commands.common import datamodule_from_config
    from lightcnn.tasks import ClassificationTask
    from lightcnn.tasks.optim import parameter_groups

    dev = torch.device("cuda" if a.accelerator == "gpu" else "cpu")
    torch.backends.cudnn.benchmark = True  # as the config's trainer.benchmark
    cfg = yaml.safe_load(CIFAR.read_text())
    init = dict(cfg["model"]["init_args"])
    # The config's Lookahead, if it has one, run by the callback's own code (same schedule and sync)
    lookahead = next((Lookahead(**c.get("init_args", {})) for c in cfg["trainer"].get("callbacks", [])
                      if c["class_path"].split(".")[-1] == "Lookahead"), None)
    dm = datamodule_from_config(str(CIFAR), ["--data.root", a.root, "--trainer.accelerator", a.accelerator])
    dm.setup("fit")
    dm.setup("test")
    (x, y), (xt, yt) = [tuple(t.to(dev) for t in dm.splits[s]) for s in ("train", "test")]
    if a.smoke:
        x, y, xt, yt = x[:512], y[:512], xt[:256], yt[:256]
    batch, pad = cfg["data"]["init_args"]["batch_size"], 2
    torch.manual_seed(0)
    task = ClassificationTask(**init, data=dm.data_info).to(dev).to(memory_format=torch.channels_last).train()
    if hasattr(task.backbone, "init_from_data"):  # the whitening stem, from 5,000 training images as in lightcnn
        task.backbone.init_from_data(task.normalize(x[:5000].float().div(255)))
    autocast = weights == "autocast" and dev.type == "cuda"
    if weights == "bf16":
        task = task.to(torch.bfloat16)
        for m in task.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.float()
    groups = parameter_groups(task, init["lr"], init["weight_decay"], float(init.get("norm_bias_lr", 1.0)))
    opt = torch.optim.SGD(groups, lr=init["lr"], momentum=init["momentum"], nesterov=init["nesterov"],
                          weight_decay=init["weight_decay"])  # as lightcnn's optim.optimizer_and_schedule
    steps_per_epoch = len(y) // batch if len(y) > batch else 1
    total = epochs * steps_per_epoch if profile is None else 40  # the profile takes 35 steps
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=total,
                                                pct_start=init.get("warmup_pct", 0.2),
                                                cycle_momentum=bool(init.get("cycle_momentum", True)))
    live = list(task.parameters()) + [b for b in task.buffers() if b.is_floating_point()]
    slow = [p.detach().clone() for p in live]
    if lookahead is not None:
        lookahead.on_train_start(None, task)  # its slow weights: a copy of the model's

    def average(step: int) -> None:  # the config's Lookahead, else an EMA of 0.98
        if lookahead is not None:
            lookahead.on_train_batch_end(SimpleNamespace(global_step=step, estimated_stepping_batches=total), task, None, None, 0)
        else:
            torch._foreach_lerp_(slow, [p.detach() for p in live], 1 - 0.98)

    def augment(xb: torch.Tensor) -> torch.Tensor:
        xb = torch.where(torch.rand(len(xb), 1, 1, 1, device=dev) < 0.5, xb.flip(3), xb)
        padded = F.pad(xb, (pad,) * 4, mode="reflect")
        shifts = torch.randint(0, 2 * pad + 1, (2, len(xb)), device=dev)
        out = torch.empty_like(xb)
        h, w = xb.shape[-2:]
        for dy in range(2 * pad + 1):
            for dx in range(2 * pad + 1):
                m = (shifts[0] == dy) & (shifts[1] == dx)
                out[m] = padded[m, :, dy:dy + h, dx:dx + w]
        return out

    dtype = torch.bfloat16 if weights == "bf16" else torch.float32

    def step(i: int, perm: torch.Tensor, n: int) -> None:
        idx = perm[i * batch:(i + 1) * batch]
        xb = augment(x[idx].to(dtype).div_(255))  # the task normalises, as in lightcnn
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            loss = F.cross_entropy(task(xb), y[idx].long(), label_smoothing=init.get("label_smoothing", 0.0))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        average(n)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    if profile is not None:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as prof

        perm = torch.randperm(len(y), device=dev)
        for i in range(5):  # warm-up (cuDNN's algorithm search)
            step(i % steps_per_epoch, perm, i + 1)
        sync()
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
        with prof(activities=acts) as p:
            for i in range(30):
                step(i % steps_per_epoch, perm, i + 6)
            sync()
        key = "cuda_time_total" if dev.type == "cuda" else "cpu_time_total"
        profile.write_text(p.key_averages().table(sort_by=key, row_limit=45))
        return {"profile": str(profile)}
    sync()
    t = time.perf_counter()
    n = 0
    for _ in range(epochs):
        perm = torch.randperm(len(y), device=dev)
        for i in range(steps_per_epoch):
            n += 1
            step(i, perm, n)
    sync()
    train_s = time.perf_counter() - t
    if lookahead is None:
        torch._foreach_copy_([p.data for p in live], slow)
    task.eval()
    correct = 0
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
        for i in range(0, len(yt), 2000):
            xb = xt[i:i + 2000].to(dtype).div(255)
            correct += int(task.evaluate(xb).argmax(1).eq(yt[i:i + 2000]).sum())
    return {"epochs": epochs, "weights": weights, "train_s": round(train_s, 2), "test_acc_tta": correct / len(yt),
            "img_s": round(total * batch / train_s), "averaging": "lookahead" if lookahead is not None else "ema 0.98"}


def info() -> dict[str, Any]:
    import lightning
    import torch

    out = {"torch": torch.__version__, "lightning": lightning.__version__, "python": sys.version.split()[0],
           "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        out |= {"device": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count(),
                "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "gpu.json")
    p.add_argument("--runs", type=Path, default=Path("runs/gpu"))
    p.add_argument("--budget", type=float, default=420, help="seconds; later jobs are skipped past it")
    p.add_argument("--accelerator", default="gpu")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--logs", type=Path, default=None, help="folder for each job's output (default: beside --out)")
    p.add_argument("--only", default="", help="comma-separated job names")
    a = p.parse_args()
    a.logs = a.logs or a.out.parent / "gpu_logs"
    a.logs.mkdir(parents=True, exist_ok=True)
    a.smoke_args = (["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2",
                     "--trainer.limit_test_batches", "2", "--data.val_size", "100"] if a.smoke else [])
    if a.accelerator == "cpu":  # bf16 convolutions crawl on CPU: a smoke run there checks the code, in float32
        a.smoke_args += ["--trainer.precision", "32-true"]
    start = time.perf_counter()
    results: dict[str, Any] = {"budget_s": a.budget}
    cifar_epochs = 10
    logs = a.logs

    def startup() -> dict[str, Any]:
        out = a.out.parent / "startup.json"
        done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "startup.py"), "--root", a.root, "--repeats", "1",
                               "--out", str(out)], capture_output=True, text=True)
        (logs / "startup.log").write_text(done.stdout + done.stderr)
        return json.loads(out.read_text()) if out.exists() else {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}

    def cifar(name: str, *extra: str) -> tuple[str, Callable[[], dict[str, Any]]]:
        return name, lambda: fit(CIFAR, name, list(extra), a)

    def mnist(name: str, *extra: str) -> tuple[str, Callable[[], dict[str, Any]]]:
        return name, lambda: fit(SPEEDRUN, name, ["--data.data_on_device", "true", *extra], a)

    eager, compiled, true_bf16 = ("--model.compile", "false"), ("--model.compile", "true"), ("--trainer.precision", "bf16-true")
    ep = lambda n: ("--trainer.max_epochs", str(n))  # noqa: E731
    all50k = ("--data.val_size", "0", "--data.val_on_test", "true", "--trainer.check_val_every_n_epoch", "10", *ep(10))
    jobs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("info", info),
        cifar("cifar10_gpu_fast_10ep_eager", *ep(10), *eager),
        ("cifar10_plain_loop", lambda: plain_cifar(a, 1 if a.smoke else cifar_epochs)),
        ("cifar10_plain_profile", lambda: plain_cifar(a, 1, profile=logs / "profile_autocast.txt")),
        ("cifar10_plain_loop_bf16_weights", lambda: plain_cifar(a, 1 if a.smoke else cifar_epochs, weights="bf16")),
        mnist("mnist_speedrun_on_device"),
        cifar("cifar10_gpu_fast_13ep_eager", *ep(13), *eager),
        cifar("cifar10_gpu_fast_10ep_eager_bf16_true", *ep(10), *eager, *true_bf16),
        cifar("cifar10_gpu_fast_10ep_compiled", *ep(10), *compiled),
        mnist("mnist_speedrun_b512_lr015_on_device", "--data.batch_size", "512", "--model.lr", "0.015"),
        ("cifar10_plain_profile_bf16_weights", lambda: plain_cifar(a, 1, weights="bf16", profile=logs / "profile_bf16.txt")),
        ("startup", startup),
        # the second pass (same lease): compiled, more epochs, true bf16, other seeds
        cifar("cifar10_gpu_fast_10ep_compiled_bf16_true", *ep(10), *compiled, *true_bf16),
        cifar("cifar10_gpu_fast_11ep_compiled", *ep(11), *compiled),
        cifar("cifar10_gpu_fast_11ep_compiled_bf16_true", *ep(11), *compiled, *true_bf16),
        cifar("cifar10_gpu_fast", *ep(12), *compiled),  # the shipped config
        cifar("cifar10_gpu_fast_10ep_compiled_seed1", *ep(10), *compiled, "--seed_everything", "1"),
        cifar("cifar10_gpu_fast_10ep_compiled_seed2", *ep(10), *compiled, "--seed_everything", "2"),
        cifar("cifar10_gpu_fast_10ep_compiled_bf16_true_seed1", *ep(10), *compiled, *true_bf16, "--seed_everything", "1"),
        mnist("mnist_speedrun_on_device_seed1", "--seed_everything", "1"),
        mnist("mnist_speedrun_b512_lr02_on_device", "--data.batch_size", "512", "--model.lr", "0.02"),
        # the third pass: all 50,000 training images (validated once, after the last epoch), MNIST batch 384/512
        cifar("cifar10_gpu_fast_10ep_all50k_compiled_bf16_true", *all50k, *true_bf16),
        mnist("mnist_speedrun_b512_lr02_on_device_seed1", "--data.batch_size", "512", "--model.lr", "0.02", "--seed_everything", "1"),
        mnist("mnist_speedrun_b512_lr02_warmup02_on_device", "--data.batch_size", "512", "--model.lr", "0.02", "--model.warmup_pct", "0.2"),
        cifar("cifar10_gpu_fast_10ep_all50k_compiled_bf16_true_seed1", *all50k, *true_bf16, "--seed_everything", "1"),
        mnist("mnist_speedrun_b384_lr012_on_device", "--data.batch_size", "384", "--model.lr", "0.012"),
        cifar("cifar10_gpu_fast_10ep_all50k_compiled", *all50k),
        mnist("mnist_speedrun_b512_lr025_on_device", "--data.batch_size", "512", "--model.lr", "0.025"),
    ]
    only = set(filter(None, a.only.split(",")))
    for name, job in jobs:
        if only and name not in only:
            continue
        elapsed = time.perf_counter() - start
        if elapsed > a.budget:
            results[name] = {"skipped": f"budget: {elapsed:.0f} s elapsed"}
        else:
            t = time.perf_counter()
            try:
                results[name] = job()
            except Exception as e:  # noqa: BLE001 - one failed job must not lose the others' results
                results[name] = {"error": f"{type(e).__name__}: {e}"[:500]}
            results[name]["job_s"] = round(time.perf_counter() - t, 1)
        print(name, json.dumps(results[name])[:400], flush=True)
        a.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

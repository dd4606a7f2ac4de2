"""Every GPU measurement of the speed issue in one run, for a lent GPU machine with little time.

    python ../shared/data/materialize.py .data
    python benchmarks/gpu.py --root .data --out benchmarks/results/gpu.json --budget 600

Each job writes its result into ``--out`` as soon as it ends, so a run cut short keeps what it
measured; jobs run in order of importance and a job that would start after ``--budget`` seconds
is skipped (and says so). The jobs:

- ``lightcnn fit --test true`` of ``configs/cifar10_gpu_fast.yaml`` (10 and 12 epochs,
  ``torch.compile``'s default mode and ``reduce-overhead``, several seeds) and of
  ``configs/mnist_speedrun.yaml`` (batch 256 and 512, eager and ``reduce-overhead``), on the GPU,
  each in a fresh process as a user runs it: the whole command's seconds, the training seconds
  (``time/fit_s`` of the run's own history: the epochs, validation included), the test
  accuracy, per-epoch seconds and validation accuracy;
- ``benchmarks/plain_cifar.py``, the same CIFAR-10 recipe as a plain PyTorch script, 10 epochs,
  in a fresh process: training seconds, test accuracy and the whole process's seconds, so both
  lightcnn's share of the training time and its fixed cost beyond a plain script's are
  measured in the same run;
- where the fixed cost goes: ``-X importtime`` of ``lightcnn.cli`` and a cProfile of a whole
  MNIST fit (text files beside the logs);
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
            "val_acc": [round(v, 4) for v in val], "epoch_s": [round(v, 3) for v in h.get("time/epoch_s")[1]]}


def fit(config: Path, name: str, extra: list[str], a: argparse.Namespace) -> dict[str, Any]:
    """``lightcnn fit --test true`` in a fresh process; whole-command seconds and the run's history."""
    args = [sys.executable, "-m", "lightcnn", "fit", "--config", str(config), "--data.root", a.root,
            "--trainer.default_root_dir", str(a.runs), "--name", name, "--test", "true",
            "--trainer.accelerator", a.accelerator, *extra, *a.smoke_args]
    t = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    command_s = time.perf_counter() - t
    log = a.logs / f"{name}.log"
    log.write_text(f"$ {' '.join(args)}\n{done.stdout}\n{done.stderr}")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {done.returncode}: {last}", "command_s": round(command_s, 2)}
    return {"command_s": round(command_s, 2), "args": extra, **history_of(a.runs, name)}


def plain(a: argparse.Namespace, epochs: int) -> dict[str, Any]:
    """``benchmarks/plain_cifar.py`` (the recipe as a plain PyTorch script) in a fresh process: its
    training seconds and test accuracy, and the whole process's seconds."""
    out = a.logs / f"plain_{epochs}.json"
    args = [sys.executable, str(REPO / "benchmarks" / "plain_cifar.py"), "--root", a.root, "--epochs", str(epochs),
            "--device", "cuda" if a.accelerator == "gpu" else "cpu", "--out", str(out)] + (["--limit", "2048"] if a.smoke else [])
    t = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    command_s = time.perf_counter() - t
    (a.logs / f"plain_{epochs}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {(done.stderr.strip().splitlines() or ['?'])[-1]}"}
    return {"command_s": round(command_s, 2), **json.loads(out.read_text())}


def diagnose(a: argparse.Namespace) -> dict[str, Any]:
    """Where a GPU command's fixed cost goes: ``-X importtime`` of ``lightcnn.cli`` and a cProfile
    of a whole ``lightcnn fit`` of the MNIST speedrun (top functions by cumulative time), as text."""
    imp = subprocess.run([sys.executable, "-X", "importtime", "-c", "import lightcnn.cli"], capture_output=True, text=True)
    rows = [ln.split("|") for ln in imp.stderr.splitlines() if ln.startswith("import time:") and "|" in ln]
    rows = sorted(((int(r[1]), r[2].rstrip()) for r in rows if r[1].strip().isdigit()), reverse=True)[:80]
    (a.logs / "importtime_top.txt").write_text("\n".join(f"{us / 1e6:8.3f} s  {name}" for us, name in rows))
    prof = a.logs / "fit.prof"
    args = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "lightcnn", "fit", "--config", str(SPEEDRUN),
            "--data.root", a.root, "--trainer.default_root_dir", str(a.runs), "--name", "profiled", "--test", "true",
            "--trainer.accelerator", a.accelerator, "--data.data_on_device", "true", *a.smoke_args]
    t = time.perf_counter()
    subprocess.run(args, capture_output=True, text=True)
    command_s = time.perf_counter() - t
    import io
    import pstats

    text = io.StringIO()
    pstats.Stats(str(prof), stream=text).sort_stats("cumulative").print_stats(120)
    (a.logs / "fit_profile.txt").write_text(text.getvalue())
    prof.unlink()
    return {"profiled_command_s": round(command_s, 2), "import_lightcnn_cli_s": rows[0][0] / 1e6 if rows else None}


def info() -> dict[str, Any]:
    from importlib.metadata import version

    import torch

    out = {"torch": torch.__version__, "lightning": version("lightning"), "python": sys.version.split()[0],
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
                     "--trainer.limit_test_batches", "2"] if a.smoke else [])
    if a.accelerator == "cpu":  # bf16 convolutions crawl on CPU: a smoke run there checks the code, in float32
        a.smoke_args += ["--trainer.precision", "32-true"]
    start = time.perf_counter()
    results: dict[str, Any] = {"budget_s": a.budget}
    logs = a.logs

    def startup() -> dict[str, Any]:
        out = a.out.with_name(a.out.stem + "_startup.json")  # not the CPU figures in startup.json
        done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "startup.py"), "--root", a.root, "--repeats", "1",
                               "--out", str(out)], capture_output=True, text=True)
        (logs / "startup.log").write_text(done.stdout + done.stderr)
        return json.loads(out.read_text()) if out.exists() else {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}

    def cifar(name: str, *extra: str) -> tuple[str, Callable[[], dict[str, Any]]]:
        return name, lambda: fit(CIFAR, name, list(extra), a)

    def mnist(name: str, *extra: str) -> tuple[str, Callable[[], dict[str, Any]]]:
        return name, lambda: fit(SPEEDRUN, name, ["--data.data_on_device", "true", *extra], a)

    compiled, ro = ("--model.compile", "true"), ("--model.compile", "reduce-overhead")
    ep = lambda n: ("--trainer.max_epochs", str(n))  # noqa: E731
    seed = lambda n: ("--seed_everything", str(n))  # noqa: E731
    b512 = ("--data.batch_size", "512", "--model.lr", "0.02")
    fused = ("--model.fused", "true")
    triangle = ("--model.anneal", "linear", "--model.start_factor", "0.2", "--model.end_factor", "0.07", "--model.warmup_pct", "0.23")
    jobs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("info", info),
        # torch.compile's default mode (the config before CUDA graphs) against reduce-overhead, same run
        cifar("cifar10_gpu_fast_10ep_compiled", *ep(10), *compiled),
        cifar("cifar10_gpu_fast_10ep_reduce_overhead", *ep(10), *ro),
        ("cifar10_plain_script_10ep", lambda: plain(a, 1 if a.smoke else 10)),
        cifar("cifar10_gpu_fast_12ep_reduce_overhead", *ep(12), *ro),
        mnist("mnist_speedrun_on_device"),
        mnist("mnist_speedrun_reduce_overhead_first", *ro),  # the first compile on this machine
        mnist("mnist_speedrun_reduce_overhead", *ro),  # inductor's cache warm
        mnist("mnist_speedrun_b512_reduce_overhead", *b512, *ro),
        cifar("cifar10_gpu_fast_12ep_reduce_overhead_seed1", *ep(12), *ro, *seed(1)),
        cifar("cifar10_gpu_fast_12ep_reduce_overhead_seed2", *ep(12), *ro, *seed(2)),
        ("diagnose", lambda: diagnose(a)),
        cifar("cifar10_gpu_fast_10ep_reduce_overhead_seed1", *ep(10), *ro, *seed(1)),
        cifar("cifar10_gpu_fast_10ep_reduce_overhead_seed2", *ep(10), *ro, *seed(2)),
        mnist("mnist_speedrun_reduce_overhead_seed1", *ro, *seed(1)),
        mnist("mnist_speedrun_b512_reduce_overhead_seed1", *b512, *ro, *seed(1)),
        ("startup", startup),
        cifar("cifar10_gpu_fast_12ep_reduce_overhead_seed3", *ep(12), *ro, *seed(3)),
        # not yet run on a GPU: torch's fused optimizer step (model.fused), after the profile above
        mnist("mnist_speedrun_reduce_overhead_fused", *ro, *fused),  # the first compile of that lease
        mnist("mnist_speedrun_reduce_overhead_fused_seed1", *ro, *fused, *seed(1)),
        mnist("mnist_speedrun_reduce_overhead_fused_seed2", *ro, *fused, *seed(2)),
        mnist("mnist_speedrun_fused", *fused),
        cifar("cifar10_gpu_fast_fused", *compiled, *fused),  # 12 epochs
        cifar("cifar10_gpu_fast_fused_seed1", *compiled, *fused, *seed(1)),
        cifar("cifar10_gpu_fast_seed1", *compiled, *seed(1)),
        # airbench94's own schedule (a linear triangle 0.2 -> 1 at 23 % -> 0.07) at 10 epochs
        cifar("cifar10_gpu_fast_10ep_triangle", *ep(10), *triangle),
        cifar("cifar10_gpu_fast_10ep_triangle_seed1", *ep(10), *triangle, *seed(1)),
        cifar("cifar10_gpu_fast_10ep_triangle_seed2", *ep(10), *triangle, *seed(2)),
        cifar("cifar10_gpu_fast_10ep_triangle_seed3", *ep(10), *triangle, *seed(3)),
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

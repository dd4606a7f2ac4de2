"""UMAPCallback cost: cold (first fit in a process, numba compiling) and warm, on 10,000 x 64.

    python benchmarks/umap_callback.py [--run runs/mnist_embed/version_0]
    # -> a table on stdout and benchmarks/results/umap.json

With --run, also the callback's share of that embedding fit: the fit's training wall time
(time/fit_s in its metrics.csv) against one warm projection of as many points as the run's
callback projected (max_per_class x classes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from lightcnn.callbacks.umap import UMAPCallback
from lightcnn.outputs import EmbeddingOutputs
from lightcnn.report.history import read_run_history


def clustered(n: int, dim: int, classes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(n // classes)
    centres = torch.randn(classes, dim, generator=g) * 3
    emb = torch.nn.functional.normalize(centres[labels] + torch.randn(len(labels), dim, generator=g), dim=1)
    return emb, labels


def project_seconds(cb: UMAPCallback, emb: torch.Tensor, labels: torch.Tensor, out: Path, tag: str) -> float:
    trainer = SimpleNamespace(is_global_zero=True, default_root_dir=str(out), loggers=[], global_step=0)
    task = SimpleNamespace(outputs={"test": EmbeddingOutputs("test", [str(i) for i in range(10)], emb, labels, [5, 6, 7, 8, 9])})
    t = time.perf_counter()
    cb.project(trainer, task, "test", tag)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", type=Path, default=None, help="an embedding run folder, for the share of its fit")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/umap.json"))
    a = p.parse_args()
    out = Path("runs/bench_umap")
    emb, labels = clustered(10_000, 64, 10)
    cb = UMAPCallback(max_per_class=1000)
    res = {"points": 10_000, "dim": 64, "threads": torch.get_num_threads()}
    res["cold_s"] = project_seconds(cb, emb, labels, out, "cold")
    res["warm_s"] = project_seconds(cb, emb, labels, out, "warm")
    res["umap_fit_only_s"] = cb.seconds[-1]
    if a.run is not None:
        fit_s = read_run_history(a.run).last("time/fit_s")
        per_class = 300
        n = per_class * 10
        small = UMAPCallback(max_per_class=per_class)
        warm_small = project_seconds(small, emb[: n], labels[: n], out, "small")  # warm: same process
        res |= {"run": str(a.run), "run_fit_s": fit_s, "projection_points": n, "projection_warm_s": warm_small}
        res["share_of_fit_warm"] = warm_small / (fit_s + warm_small)
        compile_s = res["cold_s"] - res["warm_s"]  # what the first projection in a process adds
        res["share_of_fit_cold"] = (warm_small + compile_s) / (fit_s + warm_small + compile_s)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2))
    print("| UMAPCallback, 10,000 x 64 | seconds |")
    print("|---|---|")
    print(f"| cold (first fit in the process: numba compile) | {res['cold_s']:.1f} |")
    print(f"| warm | {res['warm_s']:.1f} |")
    if a.run is not None:
        print(f"\n{a.run}: fit {res['run_fit_s']:.0f} s; one warm projection of {n:,} points {res['projection_warm_s']:.1f} s "
              f"({100 * res['share_of_fit_warm']:.1f}% of fit + projection); the first one in a process, compile included, "
              f"{100 * res['share_of_fit_cold']:.1f}%")


if __name__ == "__main__":
    main()

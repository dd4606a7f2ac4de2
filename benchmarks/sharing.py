"""How training shares two cores: solo, beside a busy neighbour, and with fewer torch threads.

    python benchmarks/sharing.py --root .data       # -> benchmarks/results/sharing.json + a table

Training here is the MNIST net's plain training step (the same work as ``lightcnn fit``'s step,
see overhead.py) for ``--steps`` steps. The neighbours are what could run beside it: a UMAP fit
(umap-learn, numba's default threads: all cores), a UMAP fit as lightcnn's callback runs it
(``random_state`` set: single-threaded), and a pure-Python busy loop standing for a DataLoader
worker. Each condition is measured twice, alternating with a solo run, and compared with the
solo runs beside it (the machine's speed drifts).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

NEIGHBOURS = {
    "busy Python loop (a DataLoader worker)": "while True: pass",
    "UMAP fit, numba on all cores": (
        "import numpy as np, umap\n"
        "x = np.random.default_rng(0).normal(size=(6000, 64)).astype('float32')\n"
        "while True: umap.UMAP(n_neighbors=15).fit_transform(x)"
    ),
    "UMAP fit as lightcnn runs it (random_state: one thread)": (
        "import numpy as np, umap\n"
        "x = np.random.default_rng(0).normal(size=(6000, 64)).astype('float32')\n"
        "while True: umap.UMAP(n_neighbors=15, random_state=0).fit_transform(x)"
    ),
}


def training_rate(root: str, steps: int, threads: int) -> float:
    from overhead import REPO as _, plain_rate  # noqa: F401

    torch.set_num_threads(threads)
    try:
        return plain_rate(REPO / "configs" / "mnist_classify.yaml", root, steps, 10, 128)
    finally:
        torch.set_num_threads(os.cpu_count() or 2)


def with_neighbour(code: str, fn):  # noqa: ANN001, ANN201
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(8 if "umap" in code else 1)  # let imports and numba compilation finish
        return fn()
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    from lightcnn.cli import _import_builtins

    _import_builtins()
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--lightcnn-only", action="store_true", help="only the in-lightcnn UMAP measurement")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "sharing.json")
    a = p.parse_args()
    cores = os.cpu_count() or 2
    rows = []
    for name, code in NEIGHBOURS.items() if not a.lightcnn_only else []:
        for threads in (cores, 1):
            solo, shared = [], []
            for _ in range(2):
                solo.append(training_rate(a.root, a.steps, cores))
                shared.append(with_neighbour(code, lambda: training_rate(a.root, a.steps, threads)))
            solo_rate = statistics.median(solo)
            rows.append({"neighbour": name, "torch_threads": threads, "solo_img_s": solo_rate,
                         "shared_img_s": statistics.median(shared), "share_of_solo": statistics.median(shared) / solo_rate})
            print(rows[-1], flush=True)
    in_lightcnn = {"without UMAP": lightcnn_with_umap(a.root, 120, False), "UMAP after every epoch": lightcnn_with_umap(a.root, 120, True)}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"cores": cores, "steps": a.steps, "rows": rows, "lightcnn_epoch_img_s": in_lightcnn}, indent=2))
    print(f"| neighbour | torch threads | solo img/s ({cores} threads) | beside it img/s | share of solo |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['neighbour']} | {r['torch_threads']} | {r['solo_img_s']:,.0f} | {r['shared_img_s']:,.0f} | "
              f"**{r['share_of_solo']:.0%}** |")
    print("\nlightcnn fit (mnist_embed), training img/s per epoch; UMAPCallback projects after each validation:")
    for name, rates in in_lightcnn.items():
        print(f"| {name} | " + " | ".join(f"{r:,.0f}" for r in rates) + " |")


# --- lightcnn itself: does a UMAP projection between epochs slow the training steps after it? ---
_EPOCH_STAMPS: dict[int, list[float]] = {}


def lightcnn_with_umap(root: str, steps: int, umap: bool) -> list[float]:
    """Training images/s per epoch of a 3-epoch mnist_embed fit, with a UMAP projection after
    every epoch's validation or with none."""
    from lightning.pytorch import Callback

    from lightcnn.cli import main as lightcnn_main

    class Stamps(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            _EPOCH_STAMPS.setdefault(trainer.current_epoch, []).append(time.perf_counter())

    globals()["Stamps"] = Stamps
    _EPOCH_STAMPS.clear()
    callbacks = "[{class_path: UMAPCallback, init_args: {every_n_epochs: 1, max_per_class: 100}}]" if umap else "[]"
    with tempfile.TemporaryDirectory() as tmp:
        assert lightcnn_main([
            "fit", "--config", str(REPO / "configs" / "mnist_embed.yaml"), "--data.root", root, "--trainer.max_epochs", "3",
            "--trainer.limit_train_batches", str(steps), "--trainer.limit_val_batches", "10", "--trainer.callbacks", callbacks,
            "--trainer.callbacks+=__main__.Stamps", "--trainer.default_root_dir", tmp, "--trainer.enable_progress_bar", "false",
        ]) == 0
    return [(len(s) - 11) * 160 / (s[-1] - s[10]) for _, s in sorted(_EPOCH_STAMPS.items())]


if __name__ == "__main__":
    main()

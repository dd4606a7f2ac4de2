"""Time to accuracy: configs/mnist_fast.yaml under `lightcnn fit` against the same recipe as a
plain PyTorch loop, in the same run.

    python ../shared/data/materialize.py .data
    python benchmarks/time_to_accuracy.py --root .data      # -> benchmarks/results/time_to_accuracy.json

The plain loop trains the same module (ClassificationTask's backbone + head, channels_last) on
the same training split (the DataModule's, validation images held out), batch size, AdamW,
one-cycle schedule, label smoothing and seed, then measures test accuracy. lightcnn runs as a
user runs it: `lightcnn fit` then `lightcnn test --ckpt_path last`, each a fresh process;
"training s" is its `time/fit_s` (the epoch, validation included), "command s" the whole fit
command (start-up, data loading, report). The two alternate ``--repeats`` times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from lightcnn.report.history import read_run_history
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "mnist_fast.yaml"


def plain(root: str) -> tuple[float, float]:
    """(training seconds, test accuracy) of the recipe as a hand-written loop."""
    from lightcnn.commands.common import datamodule_from_config
    from lightcnn.tasks import ClassificationTask

    cfg = yaml.safe_load(CONFIG.read_text())
    init, epochs = dict(cfg["model"]["init_args"]), cfg["trainer"]["max_epochs"]
    dm = datamodule_from_config(str(CONFIG), ["--data.root", root])
    dm.setup()
    torch.manual_seed(cfg["seed_everything"])
    model = ClassificationTask(**init, data=dm.data_info).to(memory_format=torch.channels_last).train()  # normalises inside
    x, y = dm.splits["train"]
    batch = cfg["data"]["init_args"]["batch_size"]
    steps_per_epoch = len(y) // batch
    opt = torch.optim.AdamW(model.parameters(), lr=init["lr"], weight_decay=init["weight_decay"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=init["lr"], total_steps=epochs * steps_per_epoch, pct_start=init["warmup_pct"])
    start = time.perf_counter()
    for epoch in range(epochs):
        perm = torch.randperm(len(y))
        for step in range(steps_per_epoch):
            idx = perm[step * batch : (step + 1) * batch]
            xb = x[idx].float().div_(255)
            loss = F.cross_entropy(model(xb), y[idx], label_smoothing=init["label_smoothing"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    seconds = time.perf_counter() - start
    model.eval()
    xt, yt = dm.splits["test"]
    with torch.no_grad():
        correct = sum(
            int((model(xt[i : i + 1000].float().div(255)).argmax(1)
                 == yt[i : i + 1000]).sum())
            for i in range(0, len(yt), 1000)
        )
    return seconds, correct / len(yt)


def lightcnn(root: str, runs: Path) -> tuple[float, float, float]:
    """(training seconds, whole fit command seconds, test accuracy) through the real commands."""
    args = ["--config", str(CONFIG), "--data.root", root, "--trainer.default_root_dir", str(runs), "--trainer.enable_progress_bar", "false"]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lightcnn", "fit", *args], check=True, capture_output=True)
    command = time.perf_counter() - start
    subprocess.run([sys.executable, "-m", "lightcnn", "test", *args, "--ckpt_path", "last"], check=True, capture_output=True)
    run = sorted((runs / CONFIG.stem).glob("version_*"), key=lambda p: int(p.name.split("_")[1]))[-1]
    history = read_run_history(run)  # lightcnn's own record of the run
    return history.last("time/fit_s"), command, history.test["test/acc"]


def main() -> None:
    from lightcnn.cli import _import_builtins

    _import_builtins()
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "time_to_accuracy.json")
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.repeats):
            p_s, p_acc = plain(a.root)
            l_s, l_cmd, l_acc = lightcnn(a.root, Path(tmp))
            rows.append({"plain_s": p_s, "plain_acc": p_acc, "lightcnn_s": l_s, "lightcnn_command_s": l_cmd,
                         "lightcnn_acc": l_acc, "ratio": l_s / p_s})
            print(rows[-1], flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"config": CONFIG.name, "rows": rows}, indent=2))
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print("| | training s | test acc | whole fit command s |")
    print("|---|---|---|---|")
    print(f"| plain PyTorch loop | {med['plain_s']:.1f} | {med['plain_acc']:.4f} | - |")
    print(f"| `lightcnn fit --config configs/mnist_fast.yaml` | {med['lightcnn_s']:.1f} | {med['lightcnn_acc']:.4f} | "
          f"{med['lightcnn_command_s']:.1f} |")
    pairs = ", ".join(f"{r['ratio']:.2f}" for r in rows)
    print(f"lightcnn / plain training time, median of the {a.repeats} pairs: {statistics.median(r['ratio'] for r in rows):.3f}x ({pairs})")


if __name__ == "__main__":
    main()

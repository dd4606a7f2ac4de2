"""Time to accuracy on MNIST: lightcnn configs against the fastest known recipe as a plain
PyTorch loop (tuomaso/train_mnist_fast), alternating in the same run.

    python ../shared/data/materialize.py .data
    python benchmarks/time_to_accuracy.py --root .data      # -> benchmarks/results/time_to_accuracy.json
    python benchmarks/time_to_accuracy.py --root .data --configs configs/mnist_speedrun.yaml configs/mnist_fast.yaml

The reference is tuomaso's script as published, on this machine: the 60,000 training images as
one normalised float tensor in a fixed shuffled order, its net (conv 5x5 24, conv 3x3 32, dense
256), Adam (0.01, betas 0.7/0.9), one-cycle without momentum cycling, batch 256, one epoch, no
validation; test accuracy on the 10,000 test images. Each lightcnn config runs as a user runs
it: ``lightcnn fit --test true`` in a fresh process; its training time is ``time/fit_s`` from
the run's own history (the epochs, validation included), "command s" the whole command (start-up,
data loading, the test, the report). Each repeat runs the reference, then every config.
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
from torch import nn
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIGS = [REPO / "configs" / "mnist_speedrun.yaml", REPO / "configs" / "mnist_fast.yaml"]


class TuomasoNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 24, 5, 1), nn.Conv2d(24, 32, 3, 1)
        self.fc1, self.fc2 = nn.Linear(800, 256), nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return F.log_softmax(self.fc2(F.relu(self.fc1(torch.flatten(x, 1)))), dim=1)


def mnist_tensors(root: str) -> tuple[torch.Tensor, ...]:
    """The four MNIST arrays as tuomaso's preprocessing leaves them (normalised floats, shuffled once)."""
    from lightcnn.data.mnist import MNISTDataModule

    dm = MNISTDataModule(root=root, download=False)
    (x, y), (xt, yt) = dm.load(train=True), dm.load(train=False)
    norm = lambda a: (a.float() / 255 - 0.1307) / 0.3081  # noqa: E731
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    return norm(x)[perm], y[perm].long(), norm(xt), yt.long()


def reference(data: tuple[torch.Tensor, ...], seed: int) -> tuple[float, float]:
    """(training seconds, test accuracy) of tuomaso's loop."""
    x, y, xt, yt = data
    torch.manual_seed(seed)
    model, batch = TuomasoNet(), 256
    steps = (len(y) - 1) // batch + 1
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.7, 0.9))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=steps, cycle_momentum=False)
    model.train()
    start = time.perf_counter()
    for i in range(steps):
        opt.zero_grad()
        F.nll_loss(model(x[batch * i : batch * (i + 1)]), y[batch * i : batch * (i + 1)]).backward()
        opt.step()
        sched.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(xt[i : i + 2000]).argmax(1) == yt[i : i + 2000]).sum()) for i in range(0, len(yt), 2000))
    return seconds, correct / len(yt)


def lightcnn(config: Path, root: str, runs: Path) -> tuple[float, float, float, int]:
    """(training seconds, whole command seconds, test accuracy, epochs) of ``lightcnn fit --test true``."""
    from lightcnn.report.history import read_run_history
    from lightcnn.run import versions

    args = ["--config", str(config), "--data.root", root, "--trainer.default_root_dir", str(runs),
            "--trainer.enable_progress_bar", "false", "--test", "true"]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lightcnn", "fit", *args], check=True, capture_output=True)
    command = time.perf_counter() - start
    run = versions(runs / config.stem)[-1]  # the newest run folder
    history = read_run_history(run)
    return history.last("time/fit_s"), command, history.test["test/acc"], len(history.epochs)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--configs", type=Path, nargs="+", default=DEFAULT_CONFIGS)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "time_to_accuracy.json")
    a = p.parse_args()
    data = mnist_tensors(a.root)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            ref_s, ref_acc = reference(data, seed=r)
            row = {"reference_s": ref_s, "reference_acc": ref_acc}
            for config in a.configs:
                s, cmd, acc, epochs = lightcnn(config, a.root, Path(tmp))
                row[config.stem] = {"s": s, "command_s": cmd, "acc": acc, "epochs": epochs, "ratio": s / ref_s}
            rows.append(row)
            print(json.dumps(row), flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=2))
    med = lambda f: statistics.median(f(r) for r in rows)  # noqa: E731
    print("| | epochs | training s | test accuracy | whole command s | training time / reference's (pairs) |")
    print("|---|---|---|---|---|---|")
    print(f"| tuomaso/train_mnist_fast as a plain loop | 1 | {med(lambda r: r['reference_s']):.1f} | "
          f"{med(lambda r: r['reference_acc']):.4f} | - | 1 |")
    for config in a.configs:
        k = config.stem
        pairs = ", ".join(f"{r[k]['ratio']:.2f}" for r in rows)
        print(f"| `configs/{config.name}` | {rows[0][k]['epochs']} | {med(lambda r: r[k]['s']):.1f} | {med(lambda r: r[k]['acc']):.4f} | "
              f"{med(lambda r: r[k]['command_s']):.1f} | {med(lambda r: r[k]['ratio']):.2f}x ({pairs}) |")


if __name__ == "__main__":
    main()

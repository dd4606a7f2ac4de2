"""float32 against bfloat16 autocast on this CPU, same nets, same batches, alternating.

    python benchmarks/precision.py            # -> benchmarks/results/precision.json and a table

For each case a plain loop (channels_last, 2 torch threads, random data of the net's input
shape) runs ``--steps`` steps in float32, then in bf16 autocast, then bf16, then float32 (ABBA),
``--rounds`` times; the figure is the median img/s of each side and the median of the paired
ratios. Training cases do forward, backward and an SGD step; ``embed_cnn inference`` is what
``lightcnn knn`` does per batch. The first line says whether torch sees AMX / AVX512-BF16: only
with them is bf16 native (``lightcnn.precision.native_bf16``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from lightcnn.models.base import build_backbone
from lightcnn.precision import autocast, native_bf16

REPO = Path(__file__).resolve().parents[1]
# (label, backbone, backbone args, channels, image size, batch, training?)
CASES = [
    ("fastnet width 0.5, training (cifar10_fast before)", "fastnet", {"width": 0.5}, 3, 32, 256, True),
    ("fastnet width 1.0, training (cifar10_fast)", "fastnet", {"width": 1.0}, 3, 32, 256, True),
    ("speednet, training (mnist_speedrun)", "speednet", {}, 1, 28, 256, True),
    ("embed_cnn inference (lightcnn knn)", "embed_cnn", {}, 1, 28, 512, False),
]


def rate(net: nn.Module, head: nn.Module, x: torch.Tensor, y: torch.Tensor, train: bool, precision: str, steps: int) -> float:
    opt = torch.optim.SGD([*net.parameters(), *head.parameters()], lr=1e-3, momentum=0.9)
    net.train(train)
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        if train:
            with autocast(precision):
                loss = nn.functional.cross_entropy(head(net(x)).float(), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        else:
            with torch.inference_mode(), autocast(precision):
                net(x).float()
        times.append(time.perf_counter() - start)
    return len(x) / statistics.median(times[2:])  # the first two warm oneDNN's kernel cache


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "precision.json")
    a = p.parse_args()
    torch.set_num_threads(2)
    cpu = {"capability": torch.backends.cpu.get_cpu_capability(), "native_bf16": native_bf16("cpu")}
    print(f"CPU: {cpu['capability']}, native bf16 (AMX or AVX512-BF16): {cpu['native_bf16']}")
    res = {"cpu": cpu, "cases": {}}
    print("| case | float32 img/s | bf16 img/s | bf16 / float32 (pairs) |\n|---|---|---|---|")
    for label, name, args, c, size, batch, train in CASES:
        torch.manual_seed(0)
        net = build_backbone(name, c, size, args).to(memory_format=torch.channels_last)
        head = nn.Linear(net.num_features, 10)
        x = torch.rand(batch, c, size, size).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (batch,))
        sides: dict[str, list[float]] = {"32": [], "bf16": []}
        for _ in range(a.rounds):
            for precision in ("32", "bf16", "bf16", "32"):
                sides[precision].append(rate(net, head, x, y, train, precision, a.steps))
        ratios = [b / f for f, b in zip(sides["32"], sides["bf16"])]
        row = {k: statistics.median(v) for k, v in sides.items()} | {"ratio": statistics.median(ratios), "pairs": ratios}
        res["cases"][label] = row
        pairs = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"| {label} | {row['32']:,.0f} | {row['bf16']:,.0f} | **{row['ratio']:.2f}×** ({pairs}) |", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()

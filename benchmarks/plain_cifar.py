"""The CIFAR-10 GPU recipe (configs/cifar10_gpu_fast.yaml: airbench94's) as a plain PyTorch
script: no Lightning, no lightcnn training code, only its backbone (``lightcnn.models.fastnet``,
which imports torch alone). The reference that ``benchmarks/gpu.py`` times lightcnn against, in
training seconds and as a whole process (python, torch, CUDA, reading the data, training, test).

    python benchmarks/plain_cifar.py --root .data --epochs 10 --out plain.json [--device cuda]

It reads the config's numbers (net options, learning rate, momentum, weight decay, BatchNorm-bias
multiplier, warm-up, label smoothing, batch size, crop padding, Lookahead period) and does what
lightcnn does with them, written out: uint8 data on the device, per-image alternating flip and
reflect-padded random crop, bf16 autocast, channels_last, Nesterov SGD with the BatchNorm biases in
their own group, one-cycle, Lookahead with airbench's ramped decay (0.95 ** 5, cubed ramp), test
with flip + 1-pixel-shift test-time augmentation. 1,000 training images are held out, as the
config's ``val_size`` does, so an epoch has the same 47 steps.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from lightcnn.models.fastnet import FastNet  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cifar10_gpu_fast.yaml"


def read_cifar(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10's python pickles: uint8 ``(N, 3, 32, 32)`` images and int64 labels, train and test."""
    def batch(name: str) -> tuple[np.ndarray, np.ndarray]:
        with open(root / "cifar-10-batches-py" / name, "rb") as f:
            d = {k.decode() if isinstance(k, bytes) else k: v for k, v in pickle.load(f, encoding="bytes").items()}
        return d["data"].reshape(-1, 3, 32, 32), np.asarray(d["labels"], dtype=np.int64)

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    xt, yt = batch("test_batch")
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), xt, yt


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", type=Path, default=Path(".data"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--device", default="cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="train on this many images only (a smoke run)")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    cfg = yaml.safe_load(CONFIG.read_text())
    m, d = cfg["model"]["init_args"], cfg["data"]["init_args"]
    every = next(c["init_args"]["every"] for c in cfg["trainer"]["callbacks"] if c["class_path"] == "Lookahead")
    pad = next(o["padding"] for o in d["augment"] if o["name"] == "random_crop")
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)
    torch.backends.cudnn.benchmark = True

    x, y, xt, yt = read_cifar(a.root)
    perm = torch.randperm(len(y))
    keep = perm[d["val_size"]:]  # the held-out 1,000 are not used: validation is lightcnn's extra work
    x, y = torch.from_numpy(x)[keep].to(dev), torch.from_numpy(y)[keep].to(dev)
    xt, yt = torch.from_numpy(xt).to(dev), torch.from_numpy(yt).to(dev)
    if a.limit:
        x, y = x[:a.limit], y[:a.limit]
    mean = x.float().mean((0, 2, 3), keepdim=True) / 255
    std = x.float().div(255).std((0, 2, 3), keepdim=True)

    net = FastNet(**m["backbone_args"]).to(dev)
    head = torch.nn.Linear(net.num_features, 10, bias=m.get("head_bias", True)).to(dev)
    model = torch.nn.Sequential(net, head).to(memory_format=torch.channels_last)
    norm = lambda u8: ((u8.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)  # noqa: E731
    net.init_from_data(norm(x[:5000]))

    norm_biases = {id(q.bias) for q in model.modules() if isinstance(q, torch.nn.BatchNorm2d)}
    params = [q for q in model.parameters() if q.requires_grad]
    lr, wd, k = m["lr"], m["weight_decay"], m["norm_bias_lr"]
    groups = [{"params": [q for q in params if id(q) not in norm_biases]},
              {"params": [q for q in params if id(q) in norm_biases], "lr": lr * k, "weight_decay": wd / k}]
    opt = torch.optim.SGD(groups, lr=lr, momentum=m["momentum"], nesterov=m["nesterov"], weight_decay=wd)
    batch = d["batch_size"]
    steps = len(y) // batch
    total = a.epochs * steps
    start, end = m.get("start_factor", 0.04), m.get("end_factor", 4e-6)  # fractions of the peak, as lightcnn's
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=total,
                                                pct_start=m["warmup_pct"], cycle_momentum=m["cycle_momentum"],
                                                anneal_strategy=m.get("anneal", "cos"), div_factor=1 / start,
                                                final_div_factor=start / end)
    live = [t for t in [*model.parameters(), *model.buffers()] if t.is_floating_point()]
    slow = [t.detach().clone() for t in live]
    start_flip = torch.rand(len(y), device=dev) < 0.5

    def augment(idx: torch.Tensor, epoch: int) -> torch.Tensor:
        xb = x[idx]
        xb = torch.where((start_flip[idx] ^ bool(epoch & 1)).view(-1, 1, 1, 1), xb.flip(3), xb)
        padded = F.pad(xb.float(), (pad,) * 4, mode="reflect")
        n, c, h, w = xb.shape
        dy, dx = (torch.randint(0, 2 * pad + 1, (2, n, 1, 1), device=dev))
        rows = (dy + torch.arange(h, device=dev).view(1, h, 1)) * (w + 2 * pad)
        flat = (rows + dx + torch.arange(w, device=dev).view(1, 1, w)).view(n, 1, h * w).expand(n, c, h * w)
        return padded.flatten(2).gather(2, flat).view(n, c, h, w)

    def train_step(step: int, idx: torch.Tensor, epoch: int) -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            out = model(((augment(idx, epoch) / 255 - mean) / std).contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(out, y[idx], label_smoothing=m["label_smoothing"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % every == 0 or step == total:  # Lookahead: slow <- d slow + (1 - d) fast; fast <- slow
            decay = 1.0 if step == total else 0.95**5 * (step / total) ** 3
            torch._foreach_lerp_(slow, [t.detach() for t in live], 1 - decay)
            torch._foreach_copy_([t.detach() for t in live], slow)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    sync()
    t = time.perf_counter()
    step = 0
    model.train()
    for epoch in range(a.epochs):
        order = torch.randperm(len(y), device=dev)
        for i in range(steps):
            step += 1
            train_step(step, order[i * batch:(i + 1) * batch], epoch)
    sync()
    train_s = time.perf_counter() - t

    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16):
        for i in range(0, len(yt), 2000):
            xb = norm(xt[i:i + 2000])
            mirrored = lambda u: (model(u) + model(u.flip(3))) / 2  # noqa: E731
            padded = F.pad(xb, (1, 1, 1, 1), mode="reflect")
            logits = 0.5 * mirrored(xb) + 0.25 * (mirrored(padded[..., :32, :32]) + mirrored(padded[..., 2:, 2:]))
            correct += int(logits.argmax(1).eq(yt[i:i + 2000]).sum())
    sync()
    result = {"epochs": a.epochs, "steps": total, "train_s": round(train_s, 3), "img_s": round(total * batch / train_s),
              "test_acc_tta": correct / len(yt), "process_s_before_exit": round(time.perf_counter() - T0, 3),
              "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"}
    a.out.write_text(json.dumps(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

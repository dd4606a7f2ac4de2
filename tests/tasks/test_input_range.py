"""Images enter a task in [0, 1]: uint8 batches from any DataModule are read as 0-255, and a first
training batch on another scale (0-255 floats, images normalised already) is refused in one line."""

from __future__ import annotations

import pytest
import torch

from lightcnn.errors import LightCNNError
from lightcnn.tasks.normalize import Normalize, range_problem


def norm(armed: bool = True) -> Normalize:
    n = Normalize(1, mean=[0.5], std=[0.25])
    n.check_next_training_batch = armed  # as BaseTask.on_train_start does when a fit starts
    return n


def test_uint8_images_are_read_as_0_to_255():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3)
    out = norm().eval()(x)
    assert out.dtype == torch.float32
    assert torch.allclose(out.flatten(), torch.tensor([-2.0, -1.2, 2.0]))  # (v / 255 - 0.5) / 0.25


def test_float_images_in_range_pass_and_are_normalised_as_given():
    x = torch.tensor([0.0, 0.75, 1.0]).view(1, 1, 1, 3)
    assert torch.equal(norm().train()(x).flatten(), torch.tensor([-2.0, 1.0, 2.0]))


@pytest.mark.parametrize("values, says", [
    ([0.0, 17.0, 255.0], ["[0, 255]", "x / 255"]),            # 0-255 floats
    ([-0.4242, 0.0, 2.8215], ["[-0.4242, 2.822]", "do not normalise them in the DataModule"]),  # MNIST, normalised already
])
def test_a_first_training_batch_on_another_scale_is_refused(values, says):
    x = torch.tensor(values).view(1, 1, 1, -1)
    with pytest.raises(LightCNNError) as err:
        norm().train()(x)
    for text in says:
        assert text in str(err.value)
    assert ("x / 255" in str(err.value)) == (values[-1] == 255.0)


def test_the_range_is_checked_once_and_only_in_a_fits_training():
    bad = torch.tensor([0.0, 255.0]).view(1, 1, 1, 2)
    assert norm().eval()(bad).shape == bad.shape  # evaluation, export: never checked
    assert norm(armed=False).train()(bad).shape == bad.shape  # outside a fit (Python, unit tests): never checked
    n = norm().train()
    n(torch.rand(2, 1, 4, 4))
    assert n(bad).shape == bad.shape  # only the first training batch costs a sync
    assert not Normalize(1, [0.5], [0.25]).check_next_training_batch  # unarmed until a fit starts


def test_a_little_overshoot_is_not_another_scale():
    assert range_problem(torch.tensor([-0.5, 0.3, 1.5])) is None  # an unclamped resize, some noise
    assert range_problem(torch.tensor([-0.51, 0.3])) is not None
    assert range_problem(torch.tensor([0.3, 1.51])) is not None
    assert range_problem(torch.empty(0)) is None

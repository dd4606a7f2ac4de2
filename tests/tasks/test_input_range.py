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


def loaded(channels: int = 1) -> Normalize:
    n = Normalize(channels, mean=[0.5] * channels, std=[0.25] * channels).eval()
    n.check_inputs = True  # as load_task sets it: every call is a user's
    return n


@pytest.mark.parametrize("shape, channels, says", [
    ((2, 28, 28, 1), 1, "got shape (2, 28, 28, 1), channels last: x.permute(0, 3, 1, 2) puts them first"),  # Keras's layout
    ((32, 32, 3), 3, "got shape (32, 32, 3), channels last: x.permute(2, 0, 1) puts them first"),  # np.array(img)
    ((2, 3, 28, 28), 1, "got shape (2, 3, 28, 28), 3 channels: convert the images to grayscale"),
    ((2, 1, 32, 32), 3, "got shape (2, 1, 32, 32), 1 channel: convert the images to RGB"),
    ((784,), 1, "got a 1-dimensional tensor of shape (784,)"),
    ((32, 32), 3, "got a 2-dimensional tensor of shape (32, 32)"),
])
def test_a_loaded_model_names_images_of_the_wrong_layout(shape, channels, says):
    """torch reported these deep in the first convolution (a channel count of the image's width)."""
    kind = {1: "grayscale", 3: "RGB"}[channels]
    with pytest.raises(LightCNNError) as err:
        loaded(channels)(torch.rand(shape))
    assert str(err.value) == f"the model takes {kind} images (B, {channels}, H, W), or one image ({channels}, H, W); {says}"


def test_a_loaded_model_takes_a_batch_one_image_or_a_grayscale_plane_and_names_arrays():
    assert loaded(3)(torch.rand(2, 3, 8, 8)).shape == (2, 3, 8, 8)
    assert loaded(3)(torch.rand(3, 8, 8)).shape == (1, 3, 8, 8)  # one image: a batch of one
    assert loaded(1)(torch.rand(8, 8)).shape == (1, 1, 8, 8)
    assert loaded(1)(torch.full((1, 1, 1, 1), 255, dtype=torch.uint8)).item() == 2.0  # (1 - 0.5) / 0.25
    with pytest.raises(LightCNNError, match=r"given a value of type ndarray; it takes a torch tensor .*torch.from_numpy\(a\)"):
        loaded(1)(torch.rand(1, 1, 8, 8).numpy())
    # a fit's own batches and an unloaded model are not checked (their layout is the DataModule's contract)
    assert Normalize(1, [0.5], [0.25]).eval()(torch.rand(1, 8, 8, 1)).shape == (1, 8, 8, 1)


def test_a_loaded_model_names_images_of_another_size_than_its_head_takes():
    """A flattening backbone gives another number of features on other sizes; torch named only the
    head's matrix shapes ("mat1 and mat2 shapes cannot be multiplied (2x4096 and 3136x10)")."""
    from lightcnn.data import DataInfo
    from lightcnn.tasks import ClassificationTask

    task = ClassificationTask(backbone="mnist_cnn", data=DataInfo(num_classes=10, in_channels=1, image_size=28, mean=(0.5,), std=(0.25,)))
    task.normalize.check_inputs = True  # as load_task sets it
    task.eval()
    assert task(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(LightCNNError) as err:
        task(torch.rand(2, 1, 32, 32))
    assert str(err.value) == ("the model was built for 28x28 images; on 32x32 ones its backbone gives 4096 features where its "
                              "head takes 3136: resize the images to 28x28")
    task.normalize.check_inputs = False  # in a fit (or an unloaded task) nothing is checked here: torch's own error
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        task(torch.rand(2, 1, 32, 32))

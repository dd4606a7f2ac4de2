"""The first batch of each stage is checked against the data facts the task was built for: a
DataModule whose batches disagree with its own data_info is named at its first batch, instead of
a matrix-shape error inside the model, or silent training on another image size."""

from __future__ import annotations

import pytest
import torch

from lightcnn.data.info import DataInfo
from lightcnn.errors import LightCNNError
from lightcnn.tasks import ClassificationTask
from lightcnn.tasks.batch import check_batch, task_batch

INFO = DataInfo(num_classes=3, in_channels=1, image_size=16, mean=(0.5,), std=(0.3,))


@pytest.mark.parametrize(("x", "y", "said"), [
    (torch.zeros(4, 3, 16, 16), torch.zeros(4, dtype=torch.long), "holds images of shape (4, 3, 16, 16), but the data facts say 1-channel 16x16 images"),
    (torch.zeros(4, 1, 20, 20), torch.zeros(4, dtype=torch.long), "so the task expects (B, 1, 16, 16)"),
    (torch.zeros(4, 16, 16), torch.zeros(4, dtype=torch.long), "holds images of shape (4, 16, 16)"),
    (torch.zeros(4, 1, 16, 16), torch.zeros(4, 3), "holds labels (4, 3) torch.float32 for 4 images"),
    (torch.zeros(4, 1, 16, 16), torch.zeros(4), "holds labels (4,) torch.float32"),
], ids=["channels", "size", "no channel axis", "one-hot labels", "float labels"])
def test_a_batch_that_disagrees_with_the_data_facts_is_named(x, y, said):
    with pytest.raises(LightCNNError, match="a val batch from Mine") as err:
        check_batch(x, y, INFO, "a val batch from Mine")
    assert said in str(err.value)


def test_each_stage_is_checked_on_its_first_batch_only():
    task = ClassificationTask(backbone="mnist_cnn", data=INFO)
    good = (torch.rand(2, 1, 16, 16), torch.tensor([0, 2]))
    assert task_batch(task, good, "train") == good
    wrong = (torch.rand(2, 3, 16, 16), torch.tensor([0, 2]))
    assert task_batch(task, wrong, "train")[0].shape == (2, 3, 16, 16)  # later batches are not looked at
    with pytest.raises(LightCNNError, match="a val batch from the DataModule holds images of shape"):
        task_batch(task, wrong, "val")  # but another stage's first one is

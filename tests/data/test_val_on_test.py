"""The notebooks' protocol, validating on the test split: explicit, labelled, never the default."""

import pytest
import torch

from lightcnn.data.image_folder import ImageFolderDataModule
from lightcnn.data.mnist import MNISTDataModule
from lightcnn.errors import LightCNNError
from tests.conftest import write_image_folder


def test_val_is_the_test_split_and_training_keeps_every_image(mnist_root):
    dm = MNISTDataModule(root=str(mnist_root), download=False, val_size=0, val_on_test=True)
    assert dm.data_info.val_is_test
    with pytest.warns(UserWarning, match=r"validating on the test split \(data.val_on_test"):
        dm.setup("fit")
    assert len(dm.splits["train"][1]) == 300
    test = MNISTDataModule(root=str(mnist_root), download=False)
    test.setup("test")
    assert torch.equal(dm.splits["val"][0], test.splits["test"][0])
    assert torch.equal(dm.splits["val"][1], test.splits["test"][1])
    assert not MNISTDataModule(root=str(mnist_root), download=False).data_info.val_is_test  # never the default


def test_val_on_test_refuses_a_val_size(mnist_root):
    with pytest.raises(LightCNNError, match=r"data.val_on_test validates on the test split: set data.val_size: 0 \(got 0.1\)"):
        MNISTDataModule(root=str(mnist_root), download=False, val_on_test=True)


@pytest.mark.parametrize("split", [(0.6, 0.2, 0.2), (1.0, 0.0, 0.0)])
def test_image_folder_val_on_test_needs_a_test_share_and_no_val_share(tmp_path, split):
    write_image_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    with pytest.raises(LightCNNError, match=r"data.split \[.*\] needs a val share of 0 and a test share above 0, e.g. \[0.8, 0, 0.2\]"):
        ImageFolderDataModule(root=str(tmp_path / "imgs"), split=split, val_on_test=True)
    dm = ImageFolderDataModule(root=str(tmp_path / "imgs"), split=(0.5, 0.0, 0.5), val_on_test=True, cache=False)
    with pytest.warns(UserWarning):
        dm.setup("fit")
    assert len(dm.splits["val"][1]) == 3 and len(dm.splits["train"][1]) == 3
    assert dm.splits["val"] is dm.splits["test"]

"""A plugin augmentation that breaks the op contract (shape, batch size, dtype, range) is named
with its file on the first batch, instead of training on 30x30 images, being blamed on the
DataModule's scale, or an IndexError; the built-in ops all pass the same check."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lightcnn.augment import Pipeline
from lightcnn.augment.base import BatchAugment
from lightcnn.errors import LightCNNError
from lightcnn.registry import AUGMENTATIONS


class Pads(BatchAugment):
    def apply(self, x, g):
        return F.pad(x, (1, 1, 1, 1))


class Scales(BatchAugment):
    def apply(self, x, g):
        return x * 255


class Halves(BatchAugment):
    def apply(self, x, g):
        return x[: len(x) // 2]


class Keeps(BatchAugment):
    def apply(self, x, g):
        return x


class Doubles(BatchAugment):
    def apply(self, x, g):
        return x.double()


def _run(op, n=8):
    pipe = Pipeline([op])
    return pipe, pipe(torch.rand(n, 3, 12, 12, generator=torch.Generator().manual_seed(0)), torch.Generator().manual_seed(1))


@pytest.mark.parametrize(("op", "said"), [
    (Pads(), "it should return (8, 3, 12, 12) torch.float32 on cpu; it returned (8, 3, 14, 14)"),
    (Halves(), "it should return (8, 3, 12, 12) torch.float32 on cpu; it returned (4, 3, 12, 12)"),
    (Doubles(), "it returned (8, 3, 12, 12) torch.float64 on cpu"),
    (Scales(), "it returned values in [0"),
    (Halves(p=0.5), "failed on a batch of shape (8, 3, 12, 12): RuntimeError: shape mismatch"),
], ids=["pads", "halves", "doubles", "scales", "halves some"])
def test_a_broken_op_is_named_with_its_file(op, said):
    with pytest.raises(LightCNNError) as err:
        _run(op)
    text = str(err.value)
    assert f"augmentation {op.name} (" in text and "test_contract.py:" in text and "breaks the augmentation contract" in text
    assert said in text, text


def test_the_check_runs_on_the_first_batch_only():
    op = Scales()
    pipe, _ = _run(Keeps())
    assert pipe.checked
    pipe.ops, pipe._runs = [op], [[op]]  # what a later batch meets is no longer checked: no reduction per step
    assert float(pipe(torch.ones(2, 1, 4, 4), torch.Generator()).max()) == 255.0


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_every_built_in_op_keeps_the_contract(name):
    op = AUGMENTATIONS.get(name)(p=1.0)
    pipe, out = _run(op)
    assert pipe.checked and out.shape[:2] == (8, 3)

import pytest
import torch

from lightcnn.samplers import IndexBatchSampler, TensorBatches


def test_index_batches_cover_everything_once_in_order():
    batches = list(IndexBatchSampler(10, 4))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(IndexBatchSampler(10, 4)) == 3


def test_shuffle_is_seeded_per_epoch_and_drop_last():
    s = IndexBatchSampler(10, 4, shuffle=True, drop_last=True, seed=3)
    first = torch.cat(list(s))
    assert len(s) == 2 and len(first) == 8 and len(set(first.tolist())) == 8
    assert torch.equal(first, torch.cat(list(s)))  # same epoch, same order
    s.set_epoch(1)
    assert not torch.equal(first, torch.cat(list(s)))
    again = IndexBatchSampler(10, 4, shuffle=True, drop_last=True, seed=3)
    assert torch.equal(first, torch.cat(list(again)))


def test_tensor_batches_index_a_whole_batch():
    ds = TensorBatches(torch.arange(10).view(10, 1), torch.arange(10) * 2)
    x, y = ds[torch.tensor([3, 1])]
    assert x.flatten().tolist() == [3, 1] and y.tolist() == [6, 2]


from lightcnn import samplers  # noqa: E402
from lightcnn.errors import LightCNNError  # noqa: E402
from lightcnn.samplers import MPerClassBatchSampler  # noqa: E402

LABELS = torch.arange(6).repeat_interleave(torch.tensor([40, 40, 40, 40, 40, 3]))


def test_every_batch_holds_m_images_of_each_of_its_classes():
    s = MPerClassBatchSampler(LABELS, classes_per_batch=3, m_per_class=4, seed=0)
    batches = list(s)
    assert len(batches) == len(s) == -(-len(LABELS) // 12)  # default: cover the split once
    for b in batches:
        counts = torch.bincount(LABELS[b], minlength=6)
        assert len(b) == 12 and sorted(counts[counts > 0].tolist()) == [4, 4, 4]


def test_fixed_length_seeded_per_epoch():
    s = MPerClassBatchSampler(LABELS, 2, 5, batches_per_epoch=7, seed=3)
    first = torch.cat(list(s))
    assert len(s) == 7 and torch.equal(first, torch.cat(list(s)))
    s.set_epoch(1)
    assert not torch.equal(first, torch.cat(list(s)))
    assert torch.equal(first, torch.cat(list(MPerClassBatchSampler(LABELS, 2, 5, batches_per_epoch=7, seed=3))))


def test_small_class_is_sampled_with_replacement():
    s = MPerClassBatchSampler(LABELS, 6, 5, batches_per_epoch=4)
    for b in s:
        small = b[LABELS[b] == 5]
        assert len(small) == 5 and set(small.tolist()) <= {200, 201, 202}


def test_two_ranks_get_disjoint_whole_per_class_batches(monkeypatch):
    per_rank = {}
    for rank in (0, 1):
        monkeypatch.setattr(samplers, "rank_and_world", lambda r=rank: (r, 2))
        s = MPerClassBatchSampler(LABELS, 3, 4, batches_per_epoch=10, seed=0)
        per_rank[rank] = list(s)
        assert len(s) == 5
        for b in per_rank[rank]:
            counts = torch.bincount(LABELS[b], minlength=6)
            assert sorted(counts[counts > 0].tolist()) == [4, 4, 4]
    monkeypatch.setattr(samplers, "rank_and_world", lambda: (0, 1))
    single = list(MPerClassBatchSampler(LABELS, 3, 4, batches_per_epoch=10, seed=0))
    assert [b.tolist() for b in single[0::2]] == [b.tolist() for b in per_rank[0]]
    assert [b.tolist() for b in single[1::2]] == [b.tolist() for b in per_rank[1]]


def test_more_classes_per_batch_than_classes_is_an_error():
    with pytest.raises(LightCNNError, match="classes_per_batch=7 but the training split has only 6 classes"):
        MPerClassBatchSampler(LABELS, 7, 2)


def test_ranks_get_equal_step_counts(monkeypatch):
    for world in (2, 3):
        lens = set()
        for rank in range(world):
            monkeypatch.setattr(samplers, "rank_and_world", lambda r=rank, w=world: (r, w))
            per_class = MPerClassBatchSampler(LABELS, 3, 4, batches_per_epoch=1)
            shuffled = IndexBatchSampler(11, 2, shuffle=True, drop_last=True)
            lens.add((len(per_class), len(list(per_class)), len(shuffled), len(list(shuffled))))
        assert len(lens) == 1  # every rank: same number of batches, and at least one
        assert next(iter(lens))[0] >= 1


def test_fixed_batches_repeat_the_first_draw_as_a_sequential_sampler():
    from torch.utils.data import SequentialSampler

    from lightcnn.samplers import FixedBatches

    inner = IndexBatchSampler(10, 4, shuffle=True, seed=3)
    fixed = FixedBatches(inner)
    first = [b.tolist() for b in fixed]
    assert first == [b.tolist() for b in IndexBatchSampler(10, 4, shuffle=True, seed=3)]  # epoch 0's draw
    inner.set_epoch(1)
    assert [b.tolist() for b in fixed] == first and len(fixed) == 3  # every epoch the same batches
    assert isinstance(fixed, SequentialSampler)  # what Lightning's overfit_batches keeps as it is


def test_overfit_batches_gets_the_same_mixed_batches_every_epoch(tmp_path):
    """Lightning's overfit_batches swapped lightcnn's samplers for a per-sample one (one image per
    'batch', then a crash); a class-sorted split in order would also give one-class batches."""
    from lightning.pytorch import Trainer
    from torch.utils.data import SequentialSampler

    from lightcnn.data import ImageFolderDataModule
    from tests.conftest import write_image_folder

    root = write_image_folder(tmp_path / "imgs", {"a": 20, "b": 20, "c": 20})
    dm = ImageFolderDataModule(root=str(root), image_size=8, batch_size=8, split=[0.6, 0.2, 0.2], cache=False)
    dm.trainer = Trainer(overfit_batches=2, logger=False, enable_checkpointing=False)
    dm.setup("fit")
    for split in ("train", "val"):
        loader = getattr(dm, f"{split}_dataloader")()
        assert isinstance(loader.sampler, SequentialSampler)  # Lightning keeps it rather than batching per image
        epochs = [[(x.shape, y.tolist()) for x, y in loader] for _ in range(2)]
        assert epochs[0] == epochs[1]
        assert tuple(epochs[0][0][0]) == ((8, 3, 8, 8) if split == "train" else (12, 3, 8, 8))  # whole batches
        assert len({c for _, y in epochs[0] for c in y}) > 1, split  # not the first class only
    dm.trainer = Trainer(logger=False, enable_checkpointing=False)
    assert type(dm.train_dataloader().sampler) is IndexBatchSampler  # a normal fit: a fresh shuffle every epoch


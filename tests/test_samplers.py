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

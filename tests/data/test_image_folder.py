import pytest
import torch
from PIL import Image

from lightcnn.data.flowers17 import Flowers17DataModule
from lightcnn.data.image_folder import ImageFolderDataModule
from lightcnn.errors import LightCNNError
from tests.conftest import write_image_folder


def test_split_60_20_20_stratified_resized_and_cached(tmp_path):
    root = write_image_folder(tmp_path / "imgs", {"cat": 10, "dog": 10, "eel": 5})
    dm = ImageFolderDataModule(root=str(root), image_size=8)
    assert dm.class_names == ["cat", "dog", "eel"] and (dm.in_channels, dm.image_size) == (3, 8)
    dm.setup()
    sizes = {k: v[1].bincount(minlength=3).tolist() for k, v in dm.splits.items()}
    assert sizes == {"train": [6, 6, 3], "val": [2, 2, 1], "test": [2, 2, 1]}
    assert dm.splits["train"][0].shape[1:] == (3, 8, 8)
    cache = list((root / ".lightcnn_cache").glob("*.pt"))
    assert len(cache) == 1
    again = ImageFolderDataModule(root=str(root), image_size=8)
    again.setup()
    assert torch.equal(again.splits["test"][0], dm.splits["test"][0])


def test_a_cache_written_by_another_decoder_version_is_not_reused(tmp_path, monkeypatch):
    # decode() changed what it returns for some files (EXIF orientation, 16-bit scaling): a cache
    # from before must be decoded again, not trusted because the files are unchanged
    import lightcnn.data.image_folder as image_folder

    root = write_image_folder(tmp_path / "imgs", {"cat": 3, "dog": 3})
    ImageFolderDataModule(root=str(root), image_size=8).setup()
    monkeypatch.setattr(image_folder, "DECODER_VERSION", image_folder.DECODER_VERSION + 1)
    ImageFolderDataModule(root=str(root), image_size=8).setup()
    assert len(list((root / ".lightcnn_cache").glob("*.pt"))) == 2


def test_non_images_skipped_and_counted(tmp_path):
    root = write_image_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    (root / "a" / "notes.txt").write_text("hello")
    (root / "b" / "Thumbs.db").write_bytes(b"\0")
    with pytest.warns(UserWarning, match="skipped 2 file"):
        ImageFolderDataModule(root=str(root), cache=False)


def test_hidden_files_and_folders_are_not_the_class_s_images(tmp_path):
    # Jupyter's .ipynb_checkpoints (and .git and the like) hold copies, which would be counted twice
    root = write_image_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    (root / "a" / ".ipynb_checkpoints").mkdir()
    copy = root / "a" / ".ipynb_checkpoints" / "img_00-checkpoint.png"
    copy.write_bytes((root / "a" / "img_00.png").read_bytes())
    (root / "a" / "._img_00.png").write_bytes(b"\0\5\26\7 AppleDouble metadata")  # macOS, beside img_00.png
    (root / "b" / "more").mkdir()
    (root / "b" / "more" / "extra.png").write_bytes((root / "b" / "img_00.png").read_bytes())  # a visible subfolder counts
    with pytest.warns(UserWarning, match=r"skipped 2 file\(s\) that are not images or are hidden, e\.g\. .*/a/\._img_00\.png"):
        samples = ImageFolderDataModule(root=str(root), cache=False).scan()
    assert [label for _, label in samples].count(0) == 3 and [label for _, label in samples].count(1) == 4
    assert copy not in [p for p, _ in samples]


def test_unreadable_image_empty_class_and_missing_folder_are_named(tmp_path):
    root = write_image_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    bad = root / "b" / "img_01.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(LightCNNError, match=rf"cannot read image {bad}"):
        ImageFolderDataModule(root=str(root), cache=False).setup("fit")
    (root / "empty").mkdir()
    with pytest.raises(LightCNNError, match=rf"class folder {root / 'empty'} has no images"):
        ImageFolderDataModule(root=str(root))
    with pytest.raises(LightCNNError, match="does not exist"):
        ImageFolderDataModule(root=str(tmp_path / "nope"))
    with pytest.raises(LightCNNError, match="summing to 1"):
        ImageFolderDataModule(root=str(root), split=(0.5, 0.2, 0.2))


def test_flowers17_official_archive_layout(tmp_path):
    jpg = tmp_path / "jpg"
    jpg.mkdir()
    for i in range(1360):
        Image.new("RGB", (6, 4), ((i // 80) * 15, 0, 0)).save(jpg / f"image_{i + 1:04d}.jpg")
    dm = Flowers17DataModule(root=str(tmp_path), download=False, image_size=4, cache=False)
    assert dm.num_classes == 17 and dm.class_names[0] == "daffodil"
    dm.setup()
    assert dm.splits["test"][1].bincount().tolist() == [16] * 17
    x, y = dm.splits["train"]
    assert x.shape[1:] == (3, 4, 4)
    assert (x[:, 0, 2, 2].float() / 15 - y).abs().max() < 0.5  # label k has red 15 k: files 80k+1..80k+80


def test_flowers17_missing_says_both_layouts(tmp_path):
    dm = Flowers17DataModule(root=str(tmp_path), download=False)  # nothing is read (or fetched) in __init__
    assert dm.data_info.num_classes == 17
    dm.prepare_data()
    with pytest.raises(LightCNNError) as err:
        dm.setup("fit")
    assert "jpg/image_0001.jpg" in str(err.value) and "flowers17/<class>" in str(err.value)


@pytest.mark.real_data
def test_real_flowers17(real_data):
    dm = Flowers17DataModule(root=str(real_data), download=False, image_size=32, cache=False)
    dm.setup()
    total = sum(len(v[1]) for v in dm.splits.values())
    assert total == 1360
    assert [v[1].bincount().tolist() for v in dm.splits.values()] == [[48] * 17, [16] * 17, [16] * 17]


def test_classes_too_small_for_a_split_are_named(tmp_path):
    # "eel" has one image: the seeded 60/20/20 split puts it in training, none in val or test
    root = write_image_folder(tmp_path / "imgs", {"cat": 10, "dog": 10, "eel": 1})
    dm = ImageFolderDataModule(root=str(root), image_size=8, cache=False)
    with pytest.warns(UserWarning, match=r"1 class\(es\) have no images in the val split .*: eel;") as caught:
        dm.setup("fit")
    assert not any("train split" in str(w.message) for w in caught)
    assert dm.splits["train"][1].bincount(minlength=3).tolist() == [6, 6, 1]
    with pytest.warns(UserWarning, match=r"no images in the test split .*: eel;"):
        dm.setup("test")


def test_a_long_decode_is_announced_with_its_time(tmp_path, monkeypatch):
    import lightcnn.data.image_folder as image_folder

    said: list[str] = []
    monkeypatch.setattr(image_folder, "rank_zero_info", said.append)
    monkeypatch.setattr(image_folder, "ANNOUNCE_DECODING", 10)  # 1,000 images by default
    root = write_image_folder(tmp_path / "imgs", {"cat": 6, "dog": 6})
    ImageFolderDataModule(root=str(root), image_size=8).setup()
    assert said[0] == f"ImageFolderDataModule: decoding 12 images of {root} once at 8 px (cached in {root}/.lightcnn_cache/)"
    assert said[1].startswith("ImageFolderDataModule: decoded 12 images in ") and len(said) == 2
    ImageFolderDataModule(root=str(root), image_size=8).setup()  # from the cache: nothing to say
    assert len(said) == 2


def test_evaluation_splits_of_a_class_sorted_folder_are_mixed_so_their_first_batches_are_too(tmp_path):
    """Lightning's limit_val_batches / limit_test_batches take the first batches: in the folder's
    (class) order those held only the first class. Membership is unchanged; training keeps its order."""
    from lightcnn.data.splits import stratified_split

    y = torch.tensor([0] * 10 + [1] * 10 + [2] * 10)
    rest, taken = stratified_split(y, 3, 0.3, seed=0)
    assert y[taken].tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2] and torch.equal(rest, rest.sort().values)
    assert taken.tolist() == [4, 13, 24, 1, 19, 20, 7, 14, 28]  # the members of the earlier sorted split, interleaved
    assert torch.equal(taken, stratified_split(y, 3, 0.3, seed=0)[1])  # seeded
    root = write_image_folder(tmp_path / "imgs", {"a": 10, "b": 10, "c": 10})
    dm = ImageFolderDataModule(root=str(root), image_size=8, split=[0.4, 0.3, 0.3])
    dm.setup()
    for split in ("val", "test"):
        labels = dm.splits[split][1]
        assert labels.bincount(minlength=3).tolist() == [3, 3, 3]
        assert labels.tolist() == [0, 1, 2] * 3, split  # in the folder's order: a, a, a, b, ...
    assert dm.splits["train"][1].tolist() == sorted(dm.splits["train"][1].tolist())

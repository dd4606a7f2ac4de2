"""Loose image files for predict and visualize."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lightcnn.data.images import decode, expand, load_files, predict_file_list
from lightcnn.errors import LightCNNError


def test_grayscale_matches_pil_and_size_is_the_model_s(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    x = load_files([tmp_path / "a.png"], channels=1, size=16)
    assert x.shape == (1, 1, 16, 16) and x.dtype.is_floating_point is False
    assert (x[0, 0].numpy() == np.asarray(Image.fromarray(rgb).convert("L"))).all()
    assert load_files([tmp_path / "a.png"], channels=3, size=8).shape == (1, 3, 8, 8)


def test_expand_folders_globs_and_misses(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in expand([str(tmp_path)])] == ["a.jpg", "b.png"]
    assert [p.name for p in expand(str(tmp_path / "*.png"))] == ["b.png"]
    assert len(expand([str(tmp_path / "b.png"), str(tmp_path / "*.png")])) == 1  # no duplicates
    with pytest.raises(LightCNNError, match="'nope/\\*.png' matches no image file"):
        expand(["nope/*.png"])


def test_predict_files_as_a_list_and_an_empty_one_refused():
    """An empty list predicted the whole test split instead (it read as "not given")."""
    assert predict_file_list(None) is None
    assert predict_file_list("photos/") == ["photos/"]
    assert predict_file_list(["a.png", "b/"]) == ["a.png", "b/"]
    for empty in ([], "", ["a.png", ""]):
        with pytest.raises(LightCNNError, match=r"data.predict_files: .* names no file; give files, folders or glob patterns, "
                                                r"or leave it out \(null\) to predict the test split"):
            predict_file_list(empty)


def test_paths_under_the_home_folder_are_read_from_it(tmp_path, monkeypatch):
    """~ in a YAML value (no shell to expand it) is the home folder, as torchvision's roots are;
    it never makes a folder named '~' in the working directory."""
    from lightcnn.data import ImageFolderDataModule, MNISTDataModule
    from tests.conftest import write_image_folder, write_mnist_layout

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    write_image_folder(tmp_path / "home" / "pets", {"cat": 4, "dog": 4})
    assert [p.name for p in expand("~/pets/cat/*.png")] == [f"img_{i:02d}.png" for i in range(4)]
    assert len(expand(["~/pets"])) == 8
    folder = ImageFolderDataModule(root="~/pets", image_size=8)
    folder.setup("fit")
    assert folder.class_names == ["cat", "dog"]
    write_mnist_layout(tmp_path / "home" / "data")
    mnist = MNISTDataModule(root="~/data", download=False)
    mnist.setup("fit")
    assert len(mnist.splits["train"][1]) + len(mnist.splits["val"][1]) == 300
    assert not (tmp_path / "~").exists()


def _gray16(values: np.ndarray) -> Image.Image:
    return Image.fromarray(values.astype(np.uint16))


def test_16_bit_images_are_scaled_to_8_bits_not_clipped(tmp_path):
    # Pillow's convert("RGB") clips 16-bit values at 255: this 3x3 scan would read as nearly all white
    values = np.array([[0, 257, 514], [25700, 32896, 40000], [65278, 65534, 65535]])
    _gray16(values).save(tmp_path / "scan.png")
    expected = np.array([[0, 1, 2], [100, 128, 156], [254, 255, 255]])  # round(v / 257)
    assert Image.open(tmp_path / "scan.png").mode == "I;16"
    x = decode(tmp_path / "scan.png", 3)
    assert x.shape == (3, 3, 3) and x.dtype == np.uint8
    assert (x == expected).all()  # each channel the same gray
    # a 16-bit PGM (Pillow opens it as 32-bit mode I, with maxval scaled to 65535), and a 16-bit TIFF
    (tmp_path / "scan.pgm").write_bytes(b"P5 3 3 65535\n" + values.astype(">u2").tobytes())
    _gray16(values).save(tmp_path / "scan.tif")
    for name in ("scan.pgm", "scan.tif"):
        assert (decode(tmp_path / name, 3) == expected).all(), name


@pytest.mark.parametrize("array, kind", [
    (np.full((4, 4), 0.5, dtype=np.float32), "floating-point"),  # convert("RGB") made these black
    (np.full((4, 4), 70000, dtype=np.int32), "32-bit or signed integer"),
])
def test_pixels_without_a_known_range_are_refused_naming_the_file(tmp_path, array, kind):
    Image.fromarray(array).save(tmp_path / "x.tif")
    with pytest.raises(LightCNNError, match=f"image {tmp_path / 'x.tif'} has {kind} pixels .*8- or 16-bit"):
        decode(tmp_path / "x.tif", 4)


def test_exif_orientation_is_applied(tmp_path):
    # stored 4 rows x 8 columns, left half red, right half blue; orientation 6 = shown rotated
    # 90 degrees clockwise: 8 rows x 4 columns, red on top
    stored = np.zeros((4, 8, 3), dtype=np.uint8)
    stored[:, :4, 0] = 255
    stored[:, 4:, 2] = 255
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "phone.png", exif=exif)
    x = decode(tmp_path / "phone.png", 4)  # the upright 8x4 centre-cropped to rows 2-5
    assert (x[:, :2] == np.array([255, 0, 0]).reshape(3, 1, 1)).all()
    assert (x[:, 2:] == np.array([0, 0, 255]).reshape(3, 1, 1)).all()


def test_a_folder_is_read_with_its_subfolders_and_other_files_are_counted(tmp_path):
    # photos/ holding only class subfolders matched nothing before; images in subfolders beside
    # top-level ones were left out of the predictions without a word
    for name in ("photos/a.png", "photos/cats/b.png", "photos/cats/deep/c.jpg", "photos/.ipynb_checkpoints/a.png",
                 "photos/cats/._b.png", "photos/labels.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    with pytest.warns(UserWarning, match=r"skipped 1 file\(s\) that are not images, e.g. .*labels.csv"):
        found = expand([str(tmp_path / "photos")])
    assert [p.relative_to(tmp_path / "photos").as_posix() for p in found] == ["a.png", "cats/b.png", "cats/deep/c.jpg"]
    (tmp_path / "only_dirs" / "x").mkdir(parents=True)
    (tmp_path / "only_dirs" / "x" / "d.png").write_bytes(b"")
    assert [p.name for p in expand(str(tmp_path / "only_dirs"))] == ["d.png"]


def test_jpegs_are_decoded_at_a_reduced_scale_close_to_the_full_decode(tmp_path):
    # 800x600 at 64 px: libjpeg's 1/8 scale (100x75) covers 64x64, so only that is decoded
    yy, xx = np.mgrid[0:600, 0:800]
    smooth = np.stack([xx * 255 / 800, yy * 255 / 600, (xx + yy) * 255 / 1400], -1).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "big.jpg", quality=95)
    with Image.open(tmp_path / "big.jpg") as im:
        full = im.convert("RGB").resize((85, 64), Image.Resampling.BILINEAR, reducing_gap=3.0).crop((10, 0, 74, 64))
    x = decode(tmp_path / "big.jpg", 64)
    assert x.shape == (3, 64, 64)
    assert np.abs(x.astype(int) - np.asarray(full).transpose(2, 0, 1)).mean() < 2.0


def test_decode_many_keeps_the_order_and_names_an_unreadable_file(tmp_path):
    from lightcnn.data.images import decode_many

    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)] * 20
    paths = []
    for i, c in enumerate(colours):
        Image.new("RGB", (6, 6), c).save(tmp_path / f"{i:02d}.png")
        paths.append(tmp_path / f"{i:02d}.png")
    x = decode_many(paths, 4)
    assert x.shape == (60, 3, 4, 4) and [tuple(im[:, 0, 0]) for im in x] == colours
    (tmp_path / "41.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(LightCNNError, match=f"cannot read image {tmp_path / '41.png'}"):
        decode_many(paths, 4)
    assert decode_many([], 4).shape == (0, 3, 4, 4)

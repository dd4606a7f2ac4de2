"""The mechanisms behind the trust catalogue, one by one: atomic version folders, full disks,
symlink loops, the image cache, what a batch may be, which classes a checkpoint may name."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from lightcnn.cli import main
from lightcnn.data.images import expand
from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write
from lightcnn.run import reserve_version
from lightcnn.tasks.batch import images_and_labels
from lightcnn.trust import is_trusted, vet_classes
from tests.conftest import QUIET, REPO, write_image_folder, write_mnist_layout


def test_version_folders_reserved_at_the_same_instant_are_all_different(tmp_path):
    with ThreadPoolExecutor(16) as pool:
        runs = list(pool.map(lambda _: reserve_version(tmp_path / "exp"), range(64)))
    assert len(set(runs)) == 64
    assert sorted(int(r.name.split("_")[1]) for r in runs) == list(range(64))


@pytest.mark.cluster  # three processes at once: in the multi-process tier
def test_fits_started_together_get_their_own_folders(tmp_path):
    root = write_mnist_layout(tmp_path / "data")
    args = ["fit", "--config", str(REPO / "configs" / "mnist_classify.yaml"), "--data.root", str(root), "--data.download", "false",
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1", *QUIET]
    procs = [subprocess.Popen([sys.executable, "-m", "lightcnn", *args], cwd=tmp_path, stderr=subprocess.PIPE) for _ in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0], [p.stderr.read()[-1500:] for p in procs]
    runs = sorted((tmp_path / "runs" / "mnist_classify").iterdir())
    assert [r.name for r in runs] == ["version_0", "version_1", "version_2"]
    assert all((r / "checkpoints" / "last.ckpt").is_file() and (r / "config.yaml").is_file() for r in runs)


def test_a_full_disk_is_one_line_and_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "kept.json"
    target.write_text("previous")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(LightCNNError, match=f"no space left on the device holding {tmp_path}/ while writing kept.json"):
        with atomic_write(target) as f:
            f.write("new")
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["kept.json"]


def test_a_fit_on_a_full_disk_says_so(tmp_path, monkeypatch, capsys):
    """A real full file system where one can be mounted (a 64 KiB tmpfs for the runs), else skipped."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        root = write_mnist_layout(tmp_path / "data")
        code = main(["fit", "--config", str(REPO / "configs" / "mnist_classify.yaml"), "--data.root", str(root), "--data.download",
                     "false", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", *QUIET,
                     "--trainer.default_root_dir", str(disk / "runs")])
        err = capsys.readouterr().err
        assert code == 2, err[-2000:]
        assert "Traceback" not in err and "no space left on the device holding" in err, err[-2000:]
        assert not list(disk.rglob("*.tmp"))
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_globs_do_not_follow_symlink_loops_and_list_each_file_once(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p" / "a").mkdir(parents=True)
    Image.new("L", (8, 8)).save(tmp_path / "p" / "a" / "x.png")
    os.symlink("..", tmp_path / "p" / "a" / "up")  # p/a/up -> p: a loop
    os.symlink(tmp_path / "p", tmp_path / "p" / "again")  # p/again -> p: another
    assert expand(["p/**/*.png"]) == [Path("p/a/x.png")]
    assert expand(["p/a", "p/a/x.png", "p/*/x.png", str(tmp_path / "p/**/*.png")]) == [Path("p/a/x.png")]


def test_a_corrupt_image_cache_is_rebuilt(tmp_path):
    from lightcnn.data.image_folder import ImageFolderDataModule

    root = write_image_folder(tmp_path / "imgs", {"cat": 3, "dog": 3})
    first = ImageFolderDataModule(root=str(root), image_size=16, split=[0.5, 0.25, 0.25]).decode_all()
    (cache,) = (root / ".lightcnn_cache").iterdir()
    cache.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        again = ImageFolderDataModule(root=str(root), image_size=16, split=[0.5, 0.25, 0.25]).decode_all()
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    torch.load(cache, weights_only=True)  # rewritten whole


def test_a_batch_is_images_and_labels_as_a_sequence_or_a_mapping():
    x, y = torch.zeros(2, 1, 4, 4), torch.tensor([0, 1])
    assert images_and_labels((x, y))[1] is y
    assert images_and_labels([x, y, "extra"])[0] is x
    assert images_and_labels({"images": x, "label": y})[1] is y
    for bad, said in [({"img": x}, "keys ['img']"), (x, "single tensor of shape (2, 1, 4, 4)"), ((x,), "tuple of length 1")]:
        with pytest.raises(LightCNNError, match=said.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            images_and_labels(bad)


def test_classes_a_checkpoint_may_name():
    assert is_trusted("lightcnn.tasks.classification.ClassificationTask")
    assert is_trusted("plugins.tinynet.TinyNet") and is_trusted("TinyNet")  # plugin folder; bare name = registry only
    assert not is_trusted("os.system") and not is_trusted("subprocess.Popen")
    vet_classes({"_class_path": "lightcnn.tasks.embedding.EmbeddingTask", "backbone": "mnist_cnn"}, "ok.ckpt")
    with pytest.raises(LightCNNError, match=r"x.ckpt names backbone.init_args.inner class_path 'subprocess.Popen'"):
        vet_classes({"backbone": {"class_path": "plugins.a.B", "init_args": {"inner": {"class_path": "subprocess.Popen"}}}}, "x.ckpt")
    with pytest.raises(LightCNNError, match="unknown instantiator"):
        vet_classes({"_instantiator": "os.system"}, "x.ckpt")


@pytest.mark.parametrize("code, words", [(errno.ENOENT, "no such file or folder"), (errno.EROFS, "read-only file system"),
                                         (errno.EACCES, "permission denied")])
def test_a_file_error_from_any_library_is_one_line_naming_the_path(code, words):
    from lightcnn.errors import user_error_in

    wrapped = RuntimeError("while exporting")
    wrapped.__cause__ = OSError(code, os.strerror(code), "/proc/x.onnx")
    assert str(user_error_in(wrapped)).startswith(f"/proc/x.onnx: {words}")
    assert user_error_in(OSError(code, os.strerror(code))) is not None  # no file named: still the user's environment
    assert user_error_in(OSError(errno.EIO, "I/O error", "/x")) is None  # not a path mistake: a traceback, for a report


def test_a_folder_of_images_leaves_out_hidden_files(tmp_path, monkeypatch):
    # macOS writes ._photo.png beside photo.png on foreign disks: metadata with an image's suffix
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "photos" / "photo.png")
    (tmp_path / "photos" / "._photo.png").write_bytes(b"\0\5\26\7 AppleDouble")
    assert expand(["photos"]) == [Path("photos/photo.png")]
    assert expand(["photos/._photo.png"]) == [Path("photos/._photo.png")]  # named on purpose: read as asked

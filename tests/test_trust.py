"""The catalogue beyond the first 40 cases, by class of failure (issue 14): silently wrong data,
checkpoints that decide or import on their own, library errors that were tracebacks, files and
paths, plugins. Each case: exit 2, one ``lightcnn: error:`` line naming the culprit, no
traceback, nothing half-written, no run folder left.
"""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import REPO, write_cifar_layout, write_idx, write_image_folder, write_plugin
from tests.test_bad_inputs import CIFAR, EMBED, MNIST, assert_explained, fit, raw, trained_checkpoint

TEST = ["--data.root", "data", "--data.download", "false"]


def mnist_labels(values: np.ndarray) -> Callable[[], list[str]]:
    def build() -> list[str]:
        write_idx(raw("train-labels-idx1-ubyte"), values.astype(np.uint8))
        return fit()
    return build


def labels_beyond_the_classes_in_test() -> list[str]:
    ckpt = trained_checkpoint()
    write_idx(raw("t10k-labels-idx1-ubyte"), (np.arange(100) % 13).astype(np.uint8))
    return ["test", "--config", MNIST, *TEST, "--ckpt_path", str(ckpt)]


def cifar_labels(labels: list[int]) -> Callable[[], list[str]]:
    def build() -> list[str]:
        write_cifar_layout(Path("data"))
        path = Path("data/cifar-10-batches-py/data_batch_2")
        d = pickle.loads(path.read_bytes(), encoding="bytes")
        d[b"labels"] = [labels[i % len(labels)] for i in range(len(d[b"labels"]))]
        path.write_bytes(pickle.dumps(d, protocol=2))
        return fit(CIFAR, "--data.val_size", "0.2")
    return build


def finished_run() -> list[str]:
    trained_checkpoint()  # a 1-epoch run named 'trained'
    return fit(MNIST, "--name", "trained", "--ckpt_path", "last")


def embedding_checkpoint() -> Path:
    args = fit(EMBED, "--trainer.limit_train_batches", "2", "--name", "trained_embed", "--data.batch_size", "20",
               "--data.classes_per_batch", "5", "--data.m_per_class", "4")
    from lightcnn.cli import main

    assert main(args) == 0
    return Path("runs/trained_embed/version_0/checkpoints/last.ckpt")


def naming_a_module() -> list[str]:
    """A checkpoint that loads safely but names an importable module as its backbone class."""
    Path("sneaky.py").write_text("from pathlib import Path\nPath('IMPORTED').touch()\nclass Net: ...\n")
    state = torch.load(trained_checkpoint(), weights_only=True)
    state["hyper_parameters"]["backbone"] = {"class_path": "sneaky.Net"}
    state["hyper_parameters"]["backbone_args"] = None
    torch.save(state, "gift.ckpt")
    return ["test", "--config", MNIST, *TEST, "--ckpt_path", "gift.ckpt"]


def checkpoint_for(command: str, content: bytes | Callable[[], None]) -> Callable[[], list[str]]:
    def build() -> list[str]:
        if callable(content):
            content()
        else:
            Path("x.ckpt").write_bytes(content)
        if command in ("test", "predict"):
            return [command, "--config", MNIST, *TEST, "--ckpt_path", "x.ckpt"]
        if command == "coarse":
            return ["coarse", "--fine-ckpt", "x.ckpt", "--config", str(REPO / "configs" / "cifar100_fine.yaml")]
        extra = ["--index", "0"] if command == "visualize" else []
        return [command, "--ckpt", "x.ckpt", "--config", MNIST, *extra]
    return build


def unsafe_file() -> None:
    torch.save({"state_dict": {}, "pytorch-lightning_version": "2.6.6", "x": Payload()}, "x.ckpt")


class Payload:
    """Stands for any object a malicious checkpoint could carry."""


def with_callback(name: str) -> list[str]:
    return fit(MNIST, f"--trainer.callbacks+={name}", "--trainer.callbacks.monitor", "val/accuracy")


def config_bytes(content: bytes) -> Callable[[], list[str]]:
    def build() -> list[str]:
        Path("c.yaml").write_bytes(content)
        return fit("c.yaml")
    return build


def idx_sizes_overflow() -> list[str]:
    path = raw("train-images-idx3-ubyte")
    path.write_bytes(path.read_bytes()[:4] + struct.pack(">III", 2**31, 2**31, 2**31) + bytes(64))
    return fit()


def png_claiming(width: int, height: int, path: Path) -> None:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def decompression_bomb() -> list[str]:
    root = write_image_folder(Path("imgs"), {"cat": 5, "dog": 5})
    png_claiming(30000, 30000, root / "cat" / "img_02.png")
    return fit(MNIST, "--data", "ImageFolderDataModule", "--data.root", "imgs", "--data.image_size", "28",
               "--data.grayscale", "true", "--data.split", "[0.6, 0.2, 0.2]")


def damaged_run_file(name: str, command: str) -> Callable[[], list[str]]:
    def build() -> list[str]:
        run = trained_checkpoint().parents[1]
        (run / name).write_text('{"epochs": ')
        return [command, str(run)] if command == "report" else [command, str(run), str(run), "--out", "cmp"]
    return build


def out_is_a_folder() -> list[str]:
    Path("out").mkdir()
    return ["embed", "--ckpt", str(trained_checkpoint()), "--out", "out"]


def out_is_a_file() -> list[str]:
    Path("cmp").write_text("a file where the folder would go")
    run = str(trained_checkpoint().parents[1])
    return ["compare", run, run, "--out", "cmp"]


def two_runs_compared_by(metric: str) -> Callable[[], list[str]]:
    def build() -> list[str]:
        run = trained_checkpoint().parents[1]
        shutil.copytree(run, "runs/trained_too/version_0")
        return ["compare", str(run), "runs/trained_too/version_0", "--metric", metric, "--out", "cmp"]
    return build


def plugin(body: str) -> Callable[[], list[str]]:
    return lambda: (write_plugin(Path("plugins"), "rude", "", body=body), ["list"])[1]


def batches_without_labels() -> list[str]:
    write_plugin(Path("plugins"), "nolabels", "", body="""
        import torch
        from lightning.pytorch import LightningDataModule
        from torch.utils.data import DataLoader
        from lightcnn.data import DataInfo
        from lightcnn.registry import DATAMODULES

        @DATAMODULES.register()
        class ImagesOnly(LightningDataModule):
            data_info = DataInfo(num_classes=2, in_channels=1, image_size=28, class_names=("a", "b"), mean=(0.5,), std=(0.5,))

            def train_dataloader(self):
                return DataLoader([{"image": torch.rand(1, 28, 28)} for _ in range(8)], batch_size=4)

            def val_dataloader(self):
                return self.train_dataloader()
    """)
    return ["fit", "--config", MNIST, "--data", "ImagesOnly", "--trainer.max_epochs", "1",
            "--trainer.enable_progress_bar", "false", "--trainer.num_sanity_val_steps", "0"]


CASES: dict[str, tuple[Callable[[], list[str]], list[str]]] = {
    # 1. silently wrong data
    "IDX labels beyond the classes": (mnist_labels(np.arange(300) * 7 % 200), ["train-labels-idx1-ubyte", "284 of 300 labels are outside 0..9"]),
    "test on labels beyond the classes": (labels_beyond_the_classes_in_test, ["t10k-labels-idx1-ubyte", "outside 0..9"]),
    "CIFAR labels 10-14": (cifar_labels([0, 1, 10, 14]), ["data_batch_2", "outside 0..9", "values: 10, 14"]),
    "negative CIFAR label": (cifar_labels([3, -1]), ["data_batch_2", "values: -1"]),
    "data.root at the dataset's own folder": (lambda: fit(MNIST, "--data.root", "data/MNIST"),
                                              ["data.root=data/MNIST looks like the MNIST folder itself", "--data.root data"]),
    "MNIST folder without its files": (lambda: (raw("train-images-idx3-ubyte").unlink(), fit())[1],
                                       ["not found", "data/MNIST/raw", "but not the IDX files expected"]),
    "batch size 0": (lambda: fit(MNIST, "--data.batch_size", "0"), ["data.batch_size", "got 0"]),
    "a fractional validation count": (lambda: fit(MNIST, "--data.val_size", "1.5"), ["data.val_size", "got 1.5"]),
    "no training batches": (lambda: fit(MNIST, "--trainer.limit_train_batches", "0"), ["trainer.limit_train_batches=0 trains nothing"]),
    "max_epochs 0": (lambda: fit(MNIST, "--trainer.max_epochs", "0"), ["trainer.max_epochs=0 trains nothing"]),
    "resuming a finished run": (finished_run, ["has finished 1 epoch of max_epochs=1", "--trainer.max_epochs"]),
    "batches without labels": (batches_without_labels, ["a mapping with keys ['image']", "(images, labels)"]),
    # 2. checkpoints do not decide or import on their own
    "checkpoint of another task than the config": (
        lambda: ["test", "--config", MNIST, *TEST, "--ckpt_path", str(embedding_checkpoint())],
        ["holds a EmbeddingTask", "config names a ClassificationTask", "leave out --config"]),
    "checkpoint naming a module to import": (naming_a_module, ["gift.ckpt names backbone class_path 'sneaky.Net'",
                                                               "does not import", "--weights_only false"]),
    **{f"empty checkpoint ({c})": (checkpoint_for(c, b""), ["x.ckpt is not a readable checkpoint: the file is empty"])
       for c in ("test", "predict", "embed", "knn", "visualize", "export", "coarse")},
    **{f"random bytes as checkpoint ({c})": (checkpoint_for(c, bytes(np.random.default_rng(1).integers(0, 256, 4000, np.uint8))),
                                             ["x.ckpt is not a readable checkpoint (truncated or corrupt?)"])
       for c in ("test", "embed", "export")},
    **{f"unsafe checkpoint ({c})": (checkpoint_for(c, unsafe_file), ["x.ckpt holds objects that safe loading (weights_only) refuses",
                                                                    "tests.test_trust.Payload"])
       for c in ("test", "embed", "knn", "visualize", "coarse")},
    # 4. library errors as one line
    "negative epochs": (lambda: fit(MNIST, "--trainer.max_epochs", "-5"), ["trainer.max_epochs=-5", "-1 for no limit"]),
    "accumulating over 0 batches": (lambda: fit(MNIST, "--trainer.accumulate_grad_batches", "0"), ["trainer.accumulate_grad_batches=0"]),
    "validating every 0 epochs": (lambda: fit(MNIST, "--trainer.check_val_every_n_epoch", "0"), ["trainer.check_val_every_n_epoch=0"]),
    "negative gradient clipping": (lambda: fit(MNIST, "--trainer.gradient_clip_val", "-1"), ["trainer.gradient_clip_val=-1"]),
    "an opset the exporter cannot write": (lambda: ["export", "--ckpt", str(trained_checkpoint()), "--opset", "3"],
                                           ["--opset 3", "opset 18 or higher"]),
    **({} if torch.cuda.is_available() else {
        "a GPU asked for on a machine without one": (lambda: fit(MNIST, "--trainer.accelerator", "gpu"),
                                                     ["trainer settings", "gpu", "this machine has no such device: use trainer.accelerator cpu, or auto"]),
        "CUDA asked for on a machine without one": (lambda: fit(MNIST, "--trainer.accelerator", "cuda"),
                                                    ["trainer settings", "CUDAAccelerator", "use trainer.accelerator cpu, or auto"])}),
    "devices that are not a number": (lambda: fit(MNIST, "--trainer.devices", "abc"), ["trainer settings", "devices"]),
    "unknown metric for EarlyStopping": (lambda: with_callback("EarlyStopping"),
                                         ["EarlyStopping(monitor='val/accuracy')", "did you mean val/acc", "val/loss"]),
    "unknown metric for ModelCheckpoint": (lambda: with_callback("ModelCheckpoint"), ["ModelCheckpoint(monitor='val/accuracy')", "val/f1"]),
    "config not UTF-8": (config_bytes(b"model:\n  lr: \xff\xfe\n"), ["c.yaml is not UTF-8 text (byte 13"]),
    "empty config": (config_bytes(b"# nothing yet\n"), ["c.yaml is empty"]),
    "config with a control character": (config_bytes(b"model:\n  lr: 0.1\x07\n"), ["c.yaml: not valid YAML", "#x0007"]),
    "config that is a list": (config_bytes(b"- model\n- data\n"), ["c.yaml holds a YAML list"]),
    "IDX sizes overflowing": (idx_sizes_overflow, ["train-images-idx3-ubyte", "header"]),
    "decompression bomb": (decompression_bomb, ["imgs/cat/img_02.png", "decompression bomb"]),
    "corrupt history for report": (damaged_run_file("history.json", "report"), ["history.json is not a lightcnn history file"]),
    "corrupt run_info for compare": (damaged_run_file("run_info.json", "compare"), ["run_info.json is not valid JSON"]),
    "--out naming a folder": (out_is_a_folder, ["out is a folder, but a file is written here"]),
    "--out folder that is a file": (out_is_a_file, ["cmp"]),
    "an abbreviated option": (lambda: fit(MNIST, "--trainer.max_epoch", "1"), ["unknown option --trainer.max_epoch"]),
    "an abbreviated command option": (lambda: ["export", "--ckpt", "x.ckpt", "--opse", "18"], ["--opse"]),
    "compare by a metric no run has": (two_runs_compared_by("val/nope"), ["--metric val/nope: none of these runs has it", "val/acc"]),
    # 5. files and paths
    "run name leaving the runs folder": (lambda: fit(MNIST, "--name", "../../x"), ["--name '../../x'", "inside the runs folder"]),
    "absolute run name": (lambda: fit(MNIST, "--name", "/tmp/elsewhere"), ["--name '/tmp/elsewhere'"]),
    # 6. plugins
    "plugin calling sys.exit": (plugin("import sys\n\nsys.exit(3)\n"), ["plugins/rude.py:3 called sys.exit(3)"]),
    "plugin parsing the command line": (plugin("import argparse\n\nargparse.ArgumentParser().parse_args()\n"),
                                        ["plugins/rude.py:3 called sys.exit(2)", "unrecognized arguments"]),
}
STRICT = {"data.root at the dataset's own folder", "MNIST folder without its files"}  # and no folder made in the user's data


SLOW = {"checkpoint of another task than the config"}  # trains two runs first


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in CASES], ids=list(CASES))
def test_mistake_is_explained(case, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(tmp_path))  # where sneaky.py would be importable from
    monkeypatch.setattr(sys, "argv", ["lightcnn", "list", "--colour"])  # what a plugin parsing sys.argv sees
    build, expected = CASES[case]
    assert_explained(tmp_path, monkeypatch, capsys, build, expected, strict=case in STRICT)
    assert not (tmp_path / "IMPORTED").exists()  # the module a checkpoint named was never imported

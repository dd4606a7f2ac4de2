"""The bad-input catalogue: each mistake a user can make gets one message naming the culprit,
a non-zero exit (2), no traceback, and nothing half-written left behind.

Every case runs the real command in process, in a fresh folder holding a tiny MNIST.
"""

from __future__ import annotations

import atexit
import gzip
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lightcnn.cli import main
from lightcnn.errors import exception_chain
from tests.conftest import REPO, write_cifar_layout, write_image_folder, write_mnist_layout, write_plugin

MNIST = str(REPO / "configs" / "mnist_classify.yaml")
EMBED = str(REPO / "configs" / "mnist_embed.yaml")
CIFAR = str(REPO / "configs" / "cifar10_base.yaml")
FIT = ["--data.download", "false", "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false"]


def fit(config: str = MNIST, *extra: str) -> list[str]:
    return ["fit", "--config", config, "--data.root", "data", *FIT, *extra]


def raw(name: str) -> Path:
    return Path("data/MNIST/raw") / name


def truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


PAD_AUGMENT = """
    import torch.nn.functional as F

    from lightcnn.augment.base import BatchAugment, register

    @register("pad2")
    class Pad(BatchAugment):
        def apply(self, x, g):
            return F.pad(x, (1, 1, 1, 1))
"""

RGB_DATA = """
    import torch
    from lightning.pytorch import LightningDataModule
    from torch.utils.data import DataLoader, TensorDataset

    from lightcnn.data import DataInfo

    class Rgb(LightningDataModule):
        data_info = DataInfo(num_classes=2, in_channels=1, image_size=16, mean=(0.5,), std=(0.3,))

        def _loader(self):
            return DataLoader(TensorDataset(torch.rand(16, 3, 16, 16), torch.arange(16) % 2), batch_size=8)

        train_dataloader = val_dataloader = test_dataloader = _loader
"""

_TRAINED: dict[str, Path] = {}  # one trained run per test session, copied into each case's folder


def trained_checkpoint() -> Path:
    """A 1-epoch MNIST run's last.ckpt (1 channel, 28 px), as ``runs/trained/version_0`` of the
    current folder (trained once per session on the tiny MNIST every case has, then copied)."""
    run = Path("runs/trained/version_0")
    if "run" not in _TRAINED or not _TRAINED["run"].is_dir():
        assert main(fit(MNIST, "--trainer.limit_train_batches", "2", "--name", "trained")) == 0
        keep = tempfile.mkdtemp(prefix="lightcnn-trained-")
        atexit.register(shutil.rmtree, keep, True)
        _TRAINED["run"] = Path(keep) / "version_0"
        shutil.copytree(run, _TRAINED["run"])
    elif not run.exists():
        shutil.copytree(_TRAINED["run"], run)
    return run / "checkpoints" / "last.ckpt"


def mnist_checkpoint_on_cifar() -> list[str]:
    write_cifar_layout(Path("data"))
    return ["embed", "--ckpt", str(trained_checkpoint()), "--config", CIFAR, "--data.root", "data", "--data.download", "false"]


def duplicate_plugins() -> list[str]:
    write_plugin(Path("plugins"), "tiny", "tiny_a")
    write_plugin(Path("more"), "tiny", "tiny_b")
    return ["list", "backbones"]


def same_name_twice() -> list[str]:
    write_plugin(Path("plugins"), "net_a", "twin")
    write_plugin(Path("plugins"), "net_b", "twin")
    return ["list", "backbones"]


def contract_breaker() -> list[str]:
    write_plugin(Path("plugins"), "nofeat", "", body="""
        from torch import nn
        from lightcnn.registry import BACKBONES

        @BACKBONES.register("nofeat")
        class NoFeatures(nn.Module):
            def __init__(self, in_channels: int = 1, image_size: int = 28) -> None:
                super().__init__()
                self.fc = nn.Linear(in_channels * image_size * image_size, 8)

            def forward(self, x):
                return self.fc(x.flatten(1))
    """)
    return fit(MNIST, "--model.backbone", "nofeat", "--model.backbone_args", "null")


def corrupt_pickle() -> list[str]:
    write_cifar_layout(Path("data"))
    Path("data/cifar-10-batches-py/data_batch_3").write_bytes(b"\x80\x02}q\x00(X\x04")
    return fit(CIFAR)


def wrong_shape_pickle() -> list[str]:
    write_cifar_layout(Path("data"))
    with open("data/cifar-10-batches-py/data_batch_2", "wb") as f:
        pickle.dump({b"data": np.zeros((40, 100), np.uint8), b"labels": [0] * 40}, f, protocol=2)
    return fit(CIFAR)


def image_folder(make: Callable[[Path], None]) -> Callable[[], list[str]]:
    def build() -> list[str]:
        root = write_image_folder(Path("imgs"), {"cat": 5, "dog": 5})
        make(root)
        return fit(MNIST, "--data", "ImageFolderDataModule", "--data.root", "imgs", "--data.image_size", "28",
                   "--data.grayscale", "true", "--data.split", "[0.6, 0.2, 0.2]")
    return build


def cut_mnist_labels() -> list[str]:
    truncate(raw("train-labels-idx1-ubyte"), 20)
    return fit()


def bad_magic() -> list[str]:
    raw("t10k-images-idx3-ubyte").write_bytes(b"\x12\x34\x08\x03" + bytes(100))
    return ["test", "--config", MNIST, "--data.root", "data", "--data.download", "false"]


def gzip_garbage() -> list[str]:
    path = raw("train-images-idx3-ubyte")
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes())[:200])
    path.unlink()
    return fit()


def unwritable_output() -> list[str]:
    Path("afile").write_text("not a folder")
    return fit(MNIST, "--trainer.default_root_dir", "afile/runs")


def corrupt_checkpoint() -> list[str]:
    ckpt = trained_checkpoint()
    truncate(ckpt, 5000)
    return ["test", "--config", MNIST, "--data.root", "data", "--data.download", "false", "--ckpt_path", str(ckpt)]


class Payload:
    """Stands for any object a malicious checkpoint could carry."""


def unsafe_checkpoint() -> list[str]:
    import torch

    torch.save({"state_dict": {}, "pytorch-lightning_version": "2.6.6", "x": Payload()}, "gift.ckpt")
    return ["test", "--config", MNIST, "--data.root", "data", "--data.download", "false", "--ckpt_path", "gift.ckpt"]


def report_without_metrics() -> list[str]:
    Path("runs/x/version_0").mkdir(parents=True)
    return ["report", "runs/x/version_0"]


PLAIN_MODULE = """
import lightning as L

class MyModule(L.LightningModule):
    def __init__(self, lr: float = 0.01):
        super().__init__()
"""

SCALED_DATA = """
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from lightcnn.data import DataInfo

class Scaled(LightningDataModule):
    data_info = DataInfo(num_classes=2, in_channels=1, image_size=8, class_names=("a", "b"), mean=(0.5,), std=(0.25,))

    def train_dataloader(self):
        x = torch.arange(8 * 64, dtype=torch.float32).view(8, 1, 8, 8) % 256  # 0-255, as floats
        return DataLoader(TensorDataset(x, torch.arange(8) % 2), batch_size=4)

    val_dataloader = train_dataloader
"""


CASES: dict[str, tuple[Callable[[], list[str]], list[str]]] = {
    # configs and the command line
    "unknown config key": (lambda: fit(MNIST, "--model.lrr", "0.1"), ["unknown key 'model.lrr'", "did you mean lr"]),
    "wrong type": (lambda: fit(MNIST, "--data.batch_size", "abc"), ["data.batch_size", "got 'abc', expected int"]),
    "unknown task": (lambda: fit(MNIST, "--model", "Classifier"), ["unknown task 'Classifier'"]),
    "unknown datamodule": (lambda: fit(MNIST, "--data", "MNIST"), ["MNIST", "did you mean MNISTDataModule"]),
    "missing config file": (lambda: ["fit", "--config", "nope.yaml"], ["nope.yaml", "not found"]),
    "broken YAML": (lambda: (Path("bad.yaml").write_text("model: [unclosed\n"), fit("bad.yaml"))[1], ["bad.yaml:2:1: not valid YAML"]),
    "YAML indented with a tab": (lambda: (Path("tab.yaml").write_text("model:\n\tclass_path: ClassificationTask\n"), fit("tab.yaml"))[1],
                                 ["tab.yaml:2:1: not valid YAML", "indents with spaces, and this line has a tab"]),
    "a section given twice in a config": (
        lambda: (Path("twice.yaml").write_text(Path(MNIST).read_text() + "trainer:\n  max_epochs: 1\n"), fit("twice.yaml"))[1],
        ["twice.yaml:", "'trainer' is given twice in one mapping (first on line", "keep one of them"]),
    # YAML reads `key:value` (no space after the colon) as one string: the section becomes a string
    "a key:value without its space in a config": (
        lambda: (Path("glued.yaml").write_text(Path(MNIST).read_text().replace("max_epochs: 3", "max_epochs:3")), fit("glued.yaml"))[1],
        ["glued.yaml:5: 'max_epochs:3' is one string to YAML", "write 'max_epochs: 3'"]),
    "a key:value without its space among others": (
        lambda: (Path("glued.yaml").write_text(Path(MNIST).read_text().replace("lr: 0.003", "lr:0.003")), fit("glued.yaml"))[1],
        ["glued.yaml:14: 'lr:0.003' is one string to YAML", "write 'lr: 0.003'"]),
    "a flow mapping without spaces": (lambda: fit(MNIST, "--model.backbone_args", "{depth:4}"),
                                      ["model.backbone_args", "YAML needs a space after each ':', as in '{depth: 4}'"]),
    "a section given as a glued mapping": (lambda: fit(MNIST, "--trainer", "{max_epochs:1}"),
                                           ["'--trainer'", "takes a YAML file or a mapping", "as in '{max_epochs: 1}'"]),
    "min_epochs above max_epochs": (lambda: fit(MNIST, "--trainer.min_epochs", "5"),
                                    ["trainer.min_epochs=5 is above trainer.max_epochs=1", "lower min_epochs or raise max_epochs"]),
    "min_steps above max_steps": (lambda: fit(MNIST, "--trainer.max_steps", "10", "--trainer.min_steps", "20"),
                                  ["trainer.min_steps=20 is above trainer.max_steps=10"]),
    "unknown optimizer": (lambda: fit(MNIST, "--model.optimizer", "adamx"), ["model.optimizer", "'adamx'", "adamw"]),
    "negative learning rate": (lambda: fit(MNIST, "--model.lr", "-0.1"), ["lr=-0.1", "positive"]),
    "a step schedule's gamma of 0": (lambda: fit(MNIST, "--model.scheduler", "step", "--model.gamma", "0"), ["gamma=0.0", "positive"]),
    "unknown backbone": (lambda: fit(MNIST, "--model.backbone", "mnist_cn"), ["mnist_cn", "mnist_cnn"]),
    "unknown backbone option": (lambda: fit(MNIST, "--model.backbone_args", "{widht: 2}"), ["'widht'", "width"]),
    "no checkpoint to resume or test": (lambda: ["test", "--config", MNIST, "--ckpt_path", "best"], ["--ckpt_path best", "no best.ckpt"]),
    "checkpoint file missing": (lambda: ["test", "--config", MNIST, "--ckpt_path", "gone.ckpt"], ["gone.ckpt", "no such checkpoint"]),
    "checkpoint file missing, no config": (lambda: ["test", "--ckpt_path", "runs/gone.ckpt"], ["--ckpt_path runs/gone.ckpt: no such checkpoint file"]),
    "checkpoint path a folder": (lambda: (Path("ckpts").mkdir(), ["predict", "--ckpt_path", "ckpts"])[1],
                                 ["--ckpt_path ckpts: a folder, not a checkpoint file", "checkpoints/best.ckpt"]),
    "corrupt checkpoint": (corrupt_checkpoint, ["last.ckpt is not a readable checkpoint (truncated or corrupt?)"]),
    "checkpoint carrying objects": (unsafe_checkpoint, ["gift.ckpt holds objects that safe loading (weights_only) refuses",
                                                        "tests.test_bad_inputs.Payload", "--weights_only false"]),
    "bad value of a callback's option": (lambda: fit(MNIST, "--trainer.callbacks+=LearningRateMonitor", "--trainer.callbacks.logging_interval", "hour"),
                                         ["bad value for 'trainer.callbacks.logging_interval'", "got 'hour'", "Literal['step', 'epoch']"]),
    "a library class refusing its settings": (lambda: fit(MNIST, "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor", "val/loss",
                                                          "--trainer.callbacks.mode", "bigger"),
                                              ["EarlyStopping(monitor='val/loss', mode='bigger') refused its settings", "got bigger"]),
    "early stopping that max_steps ends before any validation": (
        lambda: fit(MNIST, "--data.batch_size", "16", "--trainer.max_steps", "2", "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor", "val/acc"),
        ["trainer.max_steps=2 ends the fit before its first validation", "EarlyStopping(monitor='val/acc') would have nothing to check"]),
    "validating every 0 batches": (lambda: fit(MNIST, "--trainer.val_check_interval", "0"),
                                   ["trainer.val_check_interval=0", "a fraction of an epoch in (0, 1] or a whole number of training batches >= 1"]),
    "validating every 0.0 of an epoch": (lambda: fit(MNIST, "--trainer.val_check_interval", "0.0"), ["trainer.val_check_interval=0.0"]),
    "a negative validation limit": (lambda: ["validate", "--config", MNIST, "--trainer.limit_val_batches", "-1"],
                                    ["trainer.limit_val_batches=-1", "a whole number of batches >= 0"]),
    "a negative sanity check": (lambda: fit(MNIST, "--trainer.num_sanity_val_steps", "-5"), ["trainer.num_sanity_val_steps=-5", "-1 for all"]),
    "Lightning's barebones mode": (lambda: fit(MNIST, "--trainer.barebones", "true"),
                                   ["trainer.barebones=true", "turns off logging, checkpoints", "leave it off"]),
    "a plugin augmentation that changes the image size": (
        lambda: (write_plugin(Path("plugins"), "aug", "", body=PAD_AUGMENT), fit(MNIST, "--data.augment", "[{name: pad2}]"))[1],
        ["augmentation pad2 (", "plugins/aug.py:", "breaks the augmentation contract", "it returned", "30, 30)"]),
    "a DataModule whose batches disagree with its data_info": (
        lambda: (write_plugin(Path("plugins"), "rgb", "", body=RGB_DATA),
                 ["fit", "--model", "ClassificationTask", "--model.backbone", "mnist_cnn", "--data", "plugins.rgb.Rgb",
                  "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false"])[1],
        ["a val batch from Rgb holds images of shape (8, 3, 16, 16)", "1-channel 16x16 images"]),
    "a LightningModule that is not a task": (lambda: (write_plugin(Path("plugins"), "mymod", "", body=PLAIN_MODULE),
                                                      fit(MNIST, "--model", "plugins.mymod.MyModule"))[1],
                                             ["'plugins.mymod.MyModule' for 'model'", "is not a task", "lightcnn.tasks.BaseTask"]),
    "a task class that does not exist": (lambda: fit(MNIST, "--model", "lightcnn.tasks.Classifier"),
                                         ["unknown task 'lightcnn.tasks.Classifier'", "has no attribute 'Classifier'", "ClassificationTask"]),
    "no config, no datamodule": (lambda: ["fit", "--model", "ClassificationTask"],
                                 ["no datamodule chosen", "--config", "MNISTDataModule"]),
    "datamodule option without a datamodule": (lambda: ["fit", "--data.root", "data"],
                                               ["'data.root' is set but no datamodule is chosen", "--data NAME", "MNISTDataModule"]),
    "a DataModule yielding 0-255 floats": (lambda: (write_plugin(Path("plugins"), "scaled", "", body=SCALED_DATA),
                                                    ["fit", "--model", "ClassificationTask", "--data", "plugins.scaled.Scaled", *FIT[2:]])[1],
                                           ["first training batch", "[0, 255]", "x / 255"]),
    "zero threads": (lambda: fit(MNIST, "--threads", "0"), ["--threads must be >= 1, got 0"]),
    "unwritable output folder": (unwritable_output, ["afile/runs", "cannot"]),
    # plugins
    "plugin with a syntax error": (lambda: (write_plugin(Path("plugins"), "broken", "", body="def f(:\n"), ["list"])[1],
                                   ["broken.py:1", "SyntaxError"]),
    "plugin importing a missing module": (lambda: (write_plugin(Path("plugins"), "needs", "", body="import nope_mod\n"), ["list"])[1],
                                          ["needs.py:1 failed to import", "nope_mod"]),
    "plugin importing its sibling file as a script would": (
        lambda: (write_plugin(Path("plugins"), "_blocks", "", body="X = 1\n"),
                 write_plugin(Path("plugins"), "net", "", body="from _blocks import X\n"), ["list"])[2],
        ["net.py:1 failed to import", "No module named '_blocks'", "write `from plugins._blocks import ...` (or `from ._blocks import ...`)"]),
    "duplicate plugin file name": (duplicate_plugins, ["plugins/tiny.py", "more/tiny.py"]),
    "duplicate registered name": (same_name_twice, ["'twin'", "net_a.py", "net_b.py"]),
    "backbone breaking the contract": (contract_breaker, ["backbone 'nofeat'", "nofeat.py:5", "num_features"]),
    # datasets
    "missing dataset files": (lambda: (shutil.rmtree("data"), fit(MNIST, "--data.offline_fallback", "false"))[1],
                              ["train-images-idx3-ubyte", "data/MNIST/raw"]),
    "truncated IDX labels": (cut_mnist_labels, ["train-labels-idx1-ubyte"]),
    "IDX with a bad magic number": (bad_magic, ["t10k-images-idx3-ubyte", "bad magic number"]),
    "truncated gzip": (gzip_garbage, ["train-images-idx3-ubyte.gz", "corrupt or truncated"]),
    "corrupt CIFAR pickle": (corrupt_pickle, ["data_batch_3"]),
    "CIFAR batch of the wrong shape": (wrong_shape_pickle, ["data_batch_2", "3072"]),
    "empty class folder": (image_folder(lambda root: [p.unlink() for p in (root / "dog").iterdir()]), ["imgs/dog", "has no images"]),
    "unreadable image": (image_folder(lambda root: (root / "cat" / "img_01.png").write_bytes(b"\x89PNG broken")),
                         ["cannot read image imgs/cat/img_01.png"]),
    "unknown class": (lambda: fit(MNIST, "--data.classes", "[0, 1, eleven]"), ["data.classes", "eleven", "valid"]),
    "an image folder of one class": (image_folder(lambda root: shutil.rmtree(root / "dog")),
                                     ["ImageFolderDataModule (root imgs) has 1 class (cat)", "at least 2"]),
    "data.classes keeping one class": (lambda: fit(MNIST, "--data.classes", "[7]"), ["data.classes keeps 1 class (7)", "at least 2"]),
    "float pixels in an image folder": (image_folder(lambda root: Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(root / "cat" / "scan.tif")),
                                       ["image imgs/cat/scan.tif has floating-point pixels", "8- or 16-bit"]),
    "statistics for the wrong channel count": (lambda: fit(MNIST, "--data.mean", "[0.5, 0.5, 0.5]"), ["data.mean has 3 values", "1 channels"]),
    "checkpoint for other channels": (mnist_checkpoint_on_cifar, ["1-channel 28x28", "3-channel 32x32", "grayscale"]),
    "validation split taking everything": (lambda: fit(MNIST, "--data.val_size", "300"), ["data.val_size=300"]),
    # augmentation
    "unknown augmentation": (lambda: fit(MNIST, "--data.augment", "[{name: rotate}]"), ["rotate", "rotation"]),
    "augmentation value out of range": (lambda: fit(MNIST, "--data.augment", "[{name: hflip, p: 1.5}]"), ["hflip", "p=1.5", "valid"]),
    "augmentation that cannot fit the images": (lambda: fit(MNIST, "--data.augment", "[{name: random_crop, size: 40, padding: 2}]"),
                                                ["random_crop (data.augment[0])", "size=40 is larger than the 28-px images"]),
    "augmentation option unknown": (lambda: fit(MNIST, "--data.augment", "[{name: rotation, degree: 5}]"), ["'degree'", "degrees"]),
    "augmentation written {name:hflip}": (lambda: fit(MNIST, "--data.augment", "[{name:hflip}]"),
                                          ["data.augment[0] must be a mapping", "{name: hflip}, not {name:hflip}"]),
    "augmentation given by its name alone": (lambda: fit(MNIST, "--data.augment", "[hflip, rotation]"),
                                             ["data.augment", "got 'hflip', expected dict", "e.g. {name: hflip}"]),
    "one augmentation without the list": (lambda: fit(MNIST, "--data.augment", "hflip"),
                                          ["data.augment", "got 'hflip'", "a list of augmentations, each a mapping: [{name: hflip}"]),
    "one augmentation mapping without the list": (lambda: fit(MNIST, "--data.augment", "{name: hflip}"),
                                                  ["data.augment", "a list of augmentations, each a mapping"]),
    # embedding settings
    "batch not classes x m": (lambda: fit(EMBED, "--data.batch_size", "100"), ["data.batch_size=100", "classes_per_batch x m_per_class"]),
    "m_per_class without classes_per_batch": (lambda: fit(EMBED, "--data.classes_per_batch", "null"), ["classes_per_batch and data.m_per_class go together"]),
    "unknown held-out class": (lambda: fit(EMBED, "--data.train_classes", "[0, 1, x]"), ["data.train_classes", "'x'"]),
    "more classes per batch than classes": (lambda: fit(EMBED, "--data.train_classes", "[0, 1]", "--data.classes_per_batch", "4",
                                                        "--data.batch_size", "128"), ["classes_per_batch=4", "only 2 classes"]),
    # tools' own options
    "mistyped option of a tool": (lambda: ["lr-find", "--config", MNIST, "--data.root", "data", "--num-training", "5"],
                                  ["lightcnn lr-find: unknown option --num-training", "did you mean --num_training"]),
    "mistyped option of a tool that reads a checkpoint": (lambda: ["visualize", "--ckpt", str(trained_checkpoint()), "--image", "x.png", "--layers", "1"],
                                                          ["lightcnn visualize: unknown option --layers", "did you mean --layer"]),
    "data options where no data is read": (lambda: ["visualize", "--ckpt", str(trained_checkpoint()), "--image", "x.png", "--data.root", "data"],
                                           ["--image reads no dataset", "--data.root data would be ignored"]),
    "a folder given to visualize --image": (lambda: (Path("photos").mkdir(), ["visualize", "--ckpt", str(trained_checkpoint()), "--image", "photos"])[1],
                                            ["--image photos: a folder: give one image file in it"]),
    "a file name given to export --out": (lambda: ["export", "--ckpt", str(trained_checkpoint()), "--out", "model.onnx", "--format", "onnx"],
                                          ["--out model.onnx: names a file", "give a folder, e.g. --out model"]),
    "an empty list of files to predict": (lambda: ["predict", "--ckpt_path", str(trained_checkpoint()), "--data.predict_files", "[]"],
                                          ["data.predict_files: [] names no file", "leave it out (null) to predict the test split"]),
    "knn with k = 0": (lambda: ["knn", "--ckpt", str(trained_checkpoint()), "--k", "0", "--data.root", "data"],
                       ["--k must be between 1 and the number of references, got 0"]),
    "report of a folder without metrics": (report_without_metrics, ["runs/x/version_0 has no history.json"]),
    "report of an experiment's folder": (lambda: (trained_checkpoint(), ["report", "runs/trained"])[1],
                                         ["runs/trained holds run folders (version_0)", "e.g. runs/trained/version_0"]),
}


def assert_explained(tmp_path: Path, monkeypatch, capsys, build: Callable[[], list[str]], expected: list[str],
                     strict: bool = False) -> str:
    """Run the command ``build`` gives in a fresh folder holding a tiny MNIST: exit 2, one
    ``lightcnn: error:`` line holding each of ``expected``, no traceback, nothing half-written
    and no run folder left; ``strict``: nothing new at all. Returns the message."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "more").mkdir(exist_ok=True)
    monkeypatch.setenv("LIGHTCNN_PLUGIN_PATH", str(tmp_path / "more"))  # a second plugin folder
    write_mnist_layout(tmp_path / "data")
    argv = build()
    capsys.readouterr()
    before = {p for p in tmp_path.rglob("*") if "trained" not in p.parts}
    code = main(argv)
    err = capsys.readouterr().err
    # notes about the configuration as built (options a --data/--model choice dropped) may come first
    err = "".join(line for line in err.splitlines(keepends=True) if not line.startswith("lightcnn: note:"))
    assert code == 2, err[-2000:]
    assert "Traceback" not in err and err.startswith("lightcnn: error:"), err[-2000:]
    assert len([line for line in err.splitlines() if line.startswith("lightcnn: error:")]) == 1, err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    left = {p for p in tmp_path.rglob("*") if "trained" not in p.parts} - before
    assert not [p for p in left if p.name.endswith(".tmp")], left  # no half-written file
    assert not [p for p in left if p.parent.name == "runs" or p.name.startswith("version_")], left  # no empty run folder
    if strict:
        assert not [p for p in left if "__pycache__" not in p.parts], left
    return err


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_explained(case, tmp_path, monkeypatch, capsys):
    build, expected = CASES[case]
    assert_explained(tmp_path, monkeypatch, capsys, build, expected)


def test_a_bad_value_of_an_option_the_class_has_is_not_called_an_unknown_key(tmp_path, monkeypatch, capsys):
    # jsonargparse also tries the base Callback, which has no options; that branch must not be the message
    err = assert_explained(tmp_path, monkeypatch, capsys, CASES["bad value of a callback's option"][0], [])
    assert "unknown key" not in err and "not accepted" not in err


def test_a_plugin_class_refusing_its_settings_keeps_its_traceback(tmp_path, monkeypatch):
    # a plugin's own exception is its author's to read in full (README: a traceback is a bug in lightcnn or the plugin)
    monkeypatch.chdir(tmp_path)
    write_mnist_layout(tmp_path / "data")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "picky.py").write_text(
        "from lightning.pytorch.callbacks import Callback\n\n"
        "class Picky(Callback):\n"
        "    def __init__(self, level: int = 1):\n"
        "        raise ValueError(f'picky refuses level {level}')\n")
    with pytest.raises(Exception) as caught:
        main(fit(MNIST, "--trainer.callbacks+=plugins.picky.Picky", "--trainer.callbacks.level", "3"))
    assert "picky refuses level 3" in "".join(str(e) for e in exception_chain(caught.value))

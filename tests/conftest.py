"""Shared fixtures: tiny datasets in their true on-disk formats, registry isolation, real data."""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lightcnn import plugins
from lightcnn.cli import _import_builtins
from lightcnn.registry import REGISTRIES

_import_builtins()  # before any registry snapshot, so restoring one never loses a built-in

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]

# Tiers a run takes part in only when its -m expression names them: out of the default run and
# of `-m "not slow"` (the quick tier), in with `-m cluster`, `-m readme`, `-m labs`. (A filter
# in pyproject's addopts would not do: a -m on the command line replaces it.)
OPT_IN_TIERS = ("cluster", "readme", "labs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    named = config.getoption("markexpr") or ""
    left_out = [tier for tier in OPT_IN_TIERS if tier not in named]
    dropped = [item for item in items if any(item.get_closest_marker(tier) for tier in left_out)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(map(id, dropped))
        items[:] = [item for item in items if id(item) not in gone]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a test's server or process group)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_fit_args(root: Path, runs: Path, epochs: int = 2) -> list[str]:
    return [
        "--config", str(REPO / "configs" / "mnist_classify.yaml"),
        "--data.root", str(root), "--data.download", "false", "--data.batch_size", "32",
        "--trainer.max_epochs", str(epochs), "--trainer.default_root_dir", str(runs), *QUIET,
    ]


PLUGIN = """
from torch import nn
from lightcnn.registry import BACKBONES

@BACKBONES.register("{name}")
class {cls}(nn.Module):
    def __init__(self, in_channels: int = 1, width: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.num_features = width

    def forward(self, x):
        return self.pool(self.conv(x)).flatten(1)
"""


def write_plugin(folder: Path, stem: str, name: str, cls: str = "Net", body: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.py"
    path.write_text(textwrap.dedent(body) if body is not None else PLUGIN.format(name=name, cls=cls))
    return path


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    """Write ``array`` (uint8) as an IDX file: 0x0000, dtype 0x08, ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def synthetic_digits(n_per_class: int, seed: int, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Learnable 28x28 images: class c is a bright 8x8 square at its own place, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), n_per_class)
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(len(labels), 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        r, q = divmod(int(c), 4)
        images[i, 2 + 8 * r : 10 + 8 * r, 1 + 7 * q : 8 + 7 * q] = 255
    return images, labels.astype(np.uint8)


def write_mnist_layout(root: Path, folder: str = "MNIST", n_train: int = 30, n_test: int = 10, gz: bool = False) -> Path:
    """torchvision's raw layout, ``root/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``."""
    raw = root / folder / "raw"
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = synthetic_digits(n, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, gz)
    return root


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    """A tiny MNIST (300 train / 100 test synthetic digits) in torchvision's raw IDX layout."""
    return write_mnist_layout(tmp_path / "data")


@pytest.fixture(autouse=True)
def isolated_registries():
    """Each test sees the built-in registrations only, and no plugins imported by another test."""
    saved = {k: dict(r._items) for k, r in REGISTRIES.items()}
    imported = dict(plugins._imported)
    mods = {k: v for k, v in sys.modules.items() if k == "plugins" or k.startswith("plugins.")}
    yield
    for k, r in REGISTRIES.items():
        r._items.clear()
        r._items.update(saved[k])
    plugins._imported.clear()
    plugins._imported.update(imported)
    for k in [k for k in sys.modules if k == "plugins" or k.startswith("plugins.")]:
        del sys.modules[k]
    sys.modules.update(mods)


@pytest.fixture(scope="session")
def real_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real datasets, materialized from ../shared/data (skip when that folder is absent)."""
    if not (SHARED_DATA / "materialize.py").is_file():
        pytest.skip("../shared/data is not here")
    local = REPO / ".data"
    if (local / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        return local
    out = tmp_path_factory.mktemp("real")
    subprocess.run([sys.executable, str(SHARED_DATA / "materialize.py"), str(out)], check=True, capture_output=True)
    return out


def write_cifar_layout(root: Path, hundred: bool = False, n_per_class: int = 4, bytes_keys: bool = True) -> Path:
    """CIFAR "python version" pickles (protocol 2, bytes keys, as the official Python 2 files)."""
    import pickle

    def key(k: str):
        return k.encode() if bytes_keys else k

    rng = np.random.default_rng(0)
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True, exist_ok=True)

    def dump(name: str, obj: dict) -> None:
        with open(folder / name, "wb") as f:
            pickle.dump({key(k): v for k, v in obj.items()}, f, protocol=2)

    if hundred:
        from lightcnn.data.cifar100 import COARSE, FINE, FINE_TO_COARSE

        for name, n in (("train", n_per_class), ("test", 1)):
            fine = np.repeat(np.arange(100), n)
            data = rng.integers(0, 256, size=(len(fine), 3072), dtype=np.uint8)
            dump(name, {"data": data, "fine_labels": fine.tolist(), "coarse_labels": [FINE_TO_COARSE[f] for f in fine]})
        dump("meta", {"fine_label_names": FINE, "coarse_label_names": COARSE})
    else:
        for i, name in enumerate([f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]):
            labels = np.repeat(np.arange(10), n_per_class)
            data = np.full((len(labels), 3072), i, dtype=np.uint8)  # batch index as pixel value
            data[:, :1024] = labels[:, None] * 20  # red channel encodes the label
            dump(name, {"data": data, "labels": labels.tolist()})
        dump("batches.meta", {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]})
    return root


def write_image_folder(root: Path, classes: dict[str, int], size: tuple[int, int] = (20, 12)) -> Path:
    """``root/<class>/img_XX.png`` with solid colours per class."""
    from PIL import Image

    for c, (name, n) in enumerate(classes.items()):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", size, (c * 40 % 256, i * 10 % 256, 100)).save(d / f"img_{i:02d}.png")
    return root

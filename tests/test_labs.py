"""The notebooks as lightcnn experiments (configs/labs/): the notebooks' nets have their
parameter counts, and (the ``labs`` tier, ``python -m pytest -q -m labs``, run by .ci/run) every
lab sweep runs end to end with tiny limits on small files in each dataset's true format, its
report carrying the notebook's figures beside lightcnn's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lightcnn.data.info import DataInfo
from lightcnn.models.summary import totals
from lightcnn.registry import TASKS
from tests.conftest import REPO, write_cifar_layout, write_image_folder, write_mnist_layout

LABS = REPO / "configs" / "labs"
MNIST = DataInfo(num_classes=10, in_channels=1, image_size=28, mean=(0.13,), std=(0.31,))
CIFAR10 = DataInfo(num_classes=10, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)


def task_of(config: Path, data: DataInfo, **changes):
    import lightcnn.tasks  # noqa: F401 - registers the tasks

    init = yaml.safe_load(config.read_text())["model"]
    args = {k: v for k, v in init["init_args"].items() if k in ("backbone", "backbone_args", "embedding_dim")} | changes
    return TASKS.get(init["class_path"])(data=data, **args)


@pytest.mark.parametrize("config, data, changes, trainable, non_trainable", [
    ("000_cifar100_fine.yaml", DataInfo(num_classes=100, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3), {}, 270_372, 0),
    ("000_cifar100_fine.yaml", DataInfo(num_classes=20, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3), {}, 260_052, 0),
    ("001_cifar10_base.yaml", CIFAR10, {}, 122_570, 0),  # the notebook's printed model.summary()
    ("002_cifar10_5x5.yaml", DataInfo(num_classes=10, in_channels=3, image_size=24, mean=(0.5,) * 3, std=(0.25,) * 3), {}, 731_658, 128),
    ("003_mnist_sgd.yaml", MNIST, {}, 54_666, 0),
    ("004_mnist_conv.yaml", MNIST, {}, 87_050, 0),
    ("004_mnist_conv.yaml", MNIST, {"backbone": "mlp", "backbone_args": {"hidden": [10]}}, 7_960, 0),  # 004's dense-only net
    ("004_embed_mnist.yaml", MNIST, {}, 327_200, 0),
])
def test_the_notebooks_nets_have_their_parameter_counts(config, data, changes, trainable, non_trainable):
    assert totals(task_of(LABS / config, data, **changes)) == (trainable, non_trainable)


def test_every_lab_sweep_names_the_notebook_it_reproduces():
    sweeps = sorted(p.name for p in LABS.glob("0*.yaml") if "variants" in yaml.safe_load(p.read_text()))
    assert sweeps == ["000.yaml", "001.yaml", "002.yaml", "003.yaml", "004_classify.yaml", "004_embed.yaml"]
    for name in sweeps:
        raw = yaml.safe_load((LABS / name).read_text())
        assert raw["reference"]["source"].startswith("notebook 00"), name
        assert any(v.startswith("lightcnn_") for v in raw["variants"]), f"{name}: no lightcnn recipe beside the notebook's"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST, CIFAR-10, CIFAR-100 and Flowers 17 (its ImageFolder layout): just enough images for
    the shipped recipes' validation counts (cifar10_gray_embed holds out 5,000)."""
    root = tmp_path_factory.mktemp("labs") / "data"
    write_mnist_layout(root, n_train=110, n_test=6)
    write_cifar_layout(root, n_per_class=101)  # five batches: 5,050 training images
    write_cifar_layout(root, hundred=True, n_per_class=11)  # cifar100_fast holds out 1,000
    write_image_folder(root / "flowers17", {f"flower{i:02d}": 5 for i in range(17)}, size=(70, 70))
    return root


@pytest.mark.slow
@pytest.mark.labs
@pytest.mark.parametrize("sweep", ["000.yaml", "001.yaml", "002.yaml", "003.yaml", "004_classify.yaml", "004_embed.yaml"])
def test_lab_sweep_runs_end_to_end_with_tiny_limits(sweep, tiny_data, tmp_path, monkeypatch):
    from lightcnn.entry import main

    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--config", str(LABS / sweep), "--data.root", str(tiny_data), "--data.download", "false",
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
            "--trainer.limit_test_batches", "1", "--trainer.enable_progress_bar", "false"]
    if sweep == "004_embed.yaml":
        args += ["--data.batches_per_epoch", "2"]
    assert main(args) == 0
    name = Path(sweep).stem
    report = (tmp_path / "runs" / name / "sweep.md").read_text()
    assert "## Beside notebook" in report
    variants = yaml.safe_load((LABS / sweep).read_text())["variants"]
    for variant in variants:
        assert (tmp_path / "runs" / name / variant / "report.md").is_file(), variant
    assert report.count("| done |") == len(variants)
    reference = yaml.safe_load((LABS / sweep).read_text())["reference"]
    for variant, figure in reference["values"].items():  # the source's figure, then lightcnn's test/acc beside it
        shown = "not printed" if figure is None else f"{figure:.4f}"
        assert re.search(rf"\| {variant} \| {shown} \| \d\.\d{{4}} \| ", report), (variant, report)
    if sweep == "003.yaml":
        assert "Validated on the test split" in (tmp_path / "runs" / name / "mnist_sgd" / "report.md").read_text()

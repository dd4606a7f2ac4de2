"""The declared joints: one run folder whatever the loggers, the data facts reaching a backbone
given by name or by class_path, a checkpoint that describes itself (config from its run folder,
normalisation inside), and the one-line errors when a part does not keep its side."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from lightcnn.cli import main
from tests.conftest import QUIET, REPO, tiny_fit_args, write_cifar_layout, write_mnist_layout

RUN = ("report.md", "report.html", "curves.png", "history.json", "config.yaml", "checkpoints/best.ckpt", "checkpoints/last.ckpt")


def only_run_folder(runs: Path) -> Path:
    folders = [p for p in runs.rglob("version_*") if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


@pytest.mark.parametrize(
    "logger",
    [
        "false",
        "{class_path: TensorBoardLogger, init_args: {save_dir: elsewhere}}",
        "[{class_path: CSVLogger, init_args: {save_dir: a}}, {class_path: TensorBoardLogger, init_args: {save_dir: b}}]",
    ],
    ids=["no logger", "tensorboard", "two loggers"],
)
@pytest.mark.slow
def test_every_logger_choice_gives_one_complete_run_folder(logger, mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs), "--trainer.logger", logger, "--name", "x"]) == 0
    run = only_run_folder(runs)
    assert run == runs / "x" / "version_0"
    for name in RUN:
        assert (run / name).is_file(), name
    history = json.loads((run / "history.json").read_text())
    assert sorted(history["epochs"]) == ["0", "1"] and "val/acc" in history["epochs"]["1"]
    assert "## Training curves" in (run / "report.md").read_text()
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "a").exists()
    if "TensorBoard" in logger:
        assert list(run.glob("events.out.tfevents.*"))  # TensorBoard writes into the run folder too


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["cifar10", "mnist"])
def test_readme_class_path_tinynet_gets_the_data_facts(dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(REPO / "plugins", tmp_path / "plugins")
    if dataset == "cifar10":
        root, config = write_cifar_layout(tmp_path / "data"), "cifar10_base.yaml"
    else:
        root, config = write_mnist_layout(tmp_path / "data"), "mnist_classify.yaml"
    args = ["fit", "--config", str(REPO / "configs" / config), "--data.root", str(root), "--data.download", "false",
            "--data.val_size", "0.2", "--trainer.max_epochs", "1", "--model.backbone", "{class_path: plugins.tinynet.TinyNet, init_args: {width: 8}}",
            "--model.backbone_args", "null", *QUIET]
    assert main(args) == 0
    ckpt = next(tmp_path.glob("runs/*/version_0/checkpoints/best.ckpt"))
    hp = torch.load(ckpt, weights_only=True)["hyper_parameters"]
    assert hp["backbone"] == {"class_path": "plugins.tinynet.TinyNet", "init_args": {"width": 8}}
    assert hp["data"]["in_channels"] == (3 if dataset == "cifar10" else 1)
    assert main(["test", "--ckpt_path", str(ckpt), *QUIET]) == 0  # rebuilt from the checkpoint's own record


@pytest.mark.slow
def test_test_and_predict_from_a_checkpoint_alone(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs)]) == 0
    run = runs / "mnist_classify" / "version_0"
    ckpt = run / "checkpoints" / "best.ckpt"
    assert main(["test", "--ckpt_path", str(ckpt), *QUIET]) == 0  # no --config: the run's own
    assert (run / "test_per_class.json").is_file() and not (runs / "mnist_classify" / "version_1").exists()
    test_acc = json.loads((run / "history.json").read_text())["test"]["test/acc"]
    assert test_acc == pytest.approx(json.loads((run / "test_per_class.json").read_text())["accuracy"])
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.new("L", (28, 28), 40 * i).save(photos / f"p{i}.png")
    shutil.rmtree(mnist_root)  # no dataset at all: the checkpoint carries classes, shape and normalisation
    assert main(["predict", "--ckpt_path", str(ckpt), "--data.predict_files", f"[{photos}]", *QUIET]) == 0
    lines = (run / "predictions.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[1].startswith(str(photos / "p0.png"))
    assert lines[1].split(",")[2] in [str(d) for d in range(10)]


@pytest.mark.slow
def test_a_checkpoint_of_another_task_is_refused_and_another_backbone_named(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs)]) == 0
    ckpt = runs / "mnist_classify" / "version_0" / "checkpoints" / "best.ckpt"
    capsys.readouterr()
    args = ["test", "--config", str(REPO / "configs" / "mnist_embed.yaml"), "--data.root", str(mnist_root),
            "--data.download", "false", "--ckpt_path", str(ckpt), "--trainer.default_root_dir", str(runs), *QUIET]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "holds a ClassificationTask (backbone mnist_cnn), but the config names a EmbeddingTask" in err
    assert not (runs / "mnist_embed").exists()  # refused before anything was written
    other = ["test", "--config", str(REPO / "configs" / "mnist_classify.yaml"), "--data.root", str(mnist_root),
             "--data.download", "false", "--trainer.default_root_dir", str(runs), *QUIET]
    assert main([*other, "--ckpt_path", str(ckpt), "--model.backbone", "convnet"]) == 2  # on the command line: cannot be
    assert "--model.backbone convnet: " in capsys.readouterr().err
    conv = ["--model.backbone", "convnet", "--model.backbone_args", "null", "--model.scheduler", "none", "--name", "conv"]
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1), *conv]) == 0
    capsys.readouterr()
    assert main([*other, "--ckpt_path", str(runs / "conv" / "version_0" / "checkpoints" / "last.ckpt")]) == 0  # config's: a note
    err = capsys.readouterr().err
    assert "holds a ClassificationTask with backbone convnet, the config names a ClassificationTask with backbone mnist_cnn" in err
    # the run's own command line with --ckpt_path last (and one more epoch) resumes: equal architecture options are fine
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=2), *conv, "--ckpt_path", "last"]) == 0


@pytest.mark.slow
def test_python_api_example_in_the_readme_runs(tmp_path, monkeypatch):
    """The README's "Python" block, as written (MNIST from the offline sample in ./data)."""
    text = (REPO / "README.md").read_text()
    code = text.split("<!-- python-example -->")[1].split("```python")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(REPO / "configs")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    exp = namespace["exp"]
    assert exp.run_dir == Path("runs/notebook/version_0")
    assert 0.5 < namespace["metrics"]["test/acc"] <= 1.0
    assert "<h1>" in namespace["report"]._repr_html_()
    assert (Path("runs/notebook/version_0") / "report.html").is_file()


class NoFacts:
    """A LightningDataModule-like class with no data_info."""


@pytest.mark.slow
def test_bad_joints_are_one_line(mnist_root, tmp_path, monkeypatch, capsys):
    from tests.conftest import write_plugin

    monkeypatch.chdir(tmp_path)
    write_plugin(tmp_path / "plugins", "facts", "x", body='''
        from lightning.pytorch import LightningDataModule
        from torch import nn

        class NoFacts(LightningDataModule):
            def __init__(self, n: int = 1):
                super().__init__()

        class OneChannelOnly(nn.Module):
            def __init__(self, width: int = 4):
                super().__init__()
                self.conv = nn.Conv2d(1, width, 3)
                self.num_features = width

            def forward(self, x):
                return self.conv(x).mean((2, 3))
    ''')
    base = ["fit", "--config", str(REPO / "configs" / "mnist_classify.yaml"), "--trainer.max_epochs", "1", *QUIET]
    cases = {
        "no data facts": ([*base, "--data", "plugins.facts.NoFacts"], "NoFacts does not provide the data facts"),
        "backbone cannot take them": (
            ["fit", "--config", str(REPO / "configs" / "cifar10_base.yaml"), "--data.root", str(write_cifar_layout(tmp_path / "c")),
             "--data.download", "false", "--model.backbone", "{class_path: plugins.facts.OneChannelOnly}", "--model.backbone_args", "null", *QUIET],
            "failed on a dummy batch of shape (2, 3, 32, 32)"),
    }
    for name, (args, expected) in cases.items():
        capsys.readouterr()
        assert main(args) == 2, name
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (name, err)
    lone = tmp_path / "lone" / "version_0" / "checkpoints"
    lone.mkdir(parents=True)
    assert main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs"), "--trainer.max_epochs", "1"]) == 0
    shutil.copy(next((tmp_path / "runs").rglob("best.ckpt")), lone / "best.ckpt")
    capsys.readouterr()
    assert main(["test", "--ckpt_path", str(lone / "best.ckpt")]) == 2
    err = capsys.readouterr().err
    assert "no --config given and its run folder" in err and "has no config.yaml" in err


def test_python_api_mistakes_are_lightcnn_errors_naming_the_fix(mnist_root, tmp_path, monkeypatch):
    """What a notebook user gets wrong first: the DataModule itself as ``data``, and a bad override
    to ``Experiment.from_config`` (the command's one line, as an exception, not jsonargparse's dump)."""
    from lightcnn import Experiment
    from lightcnn.data import MNISTDataModule
    from lightcnn.errors import LightCNNError
    from lightcnn.tasks import ClassificationTask

    monkeypatch.chdir(tmp_path)
    dm = MNISTDataModule(root=str(mnist_root), download=False)
    with pytest.raises(LightCNNError, match=r"got MNISTDataModule: pass its \.data_info \(data=dm\.data_info\)"):
        ClassificationTask(backbone="mnist_cnn", data=dm)
    config = str(REPO / "configs" / "mnist_classify.yaml")
    with pytest.raises(LightCNNError, match=r"unknown key 'model.lrr' .*did you mean lr\?"):
        Experiment.from_config(config, "--model.lrr", "1")
    Path("tab.yaml").write_text("model:\n\tlr: 1\n")
    with pytest.raises(LightCNNError, match="tab.yaml:2:1: not valid YAML"):
        Experiment.from_config("tab.yaml")
    task = ClassificationTask(backbone="mnist_cnn", data=dm.data_info)
    with pytest.raises(LightCNNError, match=r"Experiment\(max_epoch=\.\.\.\): Trainer has no option 'max_epoch'; did you mean max_epochs"):
        Experiment(task, dm, max_epoch=1)
    with pytest.raises(LightCNNError, match="trainer.max_epochs=0 trains nothing"):
        Experiment(task, dm, max_epochs=0)
    with pytest.raises(TypeError, match="devices"):  # Lightning's own check, raised by the Trainer
        Experiment(task, dm, devices="abc")
    # a class for an instance, the two swapped: taken before, failing later inside Lightning
    with pytest.raises(LightCNNError, match=r"Experiment's task must be a built LightningModule, .*; got the class "
                                            r"ClassificationTask, not an instance of it"):
        Experiment(ClassificationTask, dm)
    with pytest.raises(LightCNNError, match=r"Experiment's data must be a built LightningDataModule, .*got the class MNISTDataModule"):
        Experiment(task, MNISTDataModule)
    with pytest.raises(LightCNNError, match=r"got a MNISTDataModule: task and data are swapped \(Experiment\(task, data\)\)"):
        Experiment(dm, task)
    # from Python no parser checks the types: a string lr failed in a comparison (TypeError)
    with pytest.raises(LightCNNError, match=r"model.lr='0.1' is not a number \(str\); give e.g. lr=0.1"):
        ClassificationTask(backbone="mnist_cnn", data=dm.data_info, lr="0.1")
    with pytest.raises(LightCNNError, match=r"model.betas=0.9 is not two numbers; give e.g. betas=\(0.9, 0.999\)"):
        ClassificationTask(backbone="mnist_cnn", data=dm.data_info, betas=0.9)
    assert not Path("runs").exists()  # none of them took a version folder


@pytest.mark.slow
def test_a_checkpoint_from_before_saved_normalisation_is_read_with_a_note(mnist_root, tmp_path, monkeypatch, capsys):
    from lightcnn.inference import load_task

    monkeypatch.chdir(tmp_path)
    assert main(["fit", *tiny_fit_args(mnist_root, tmp_path / "runs"), "--trainer.max_epochs", "1"]) == 0
    ckpt = next((tmp_path / "runs").rglob("best.ckpt"))
    state = torch.load(ckpt, weights_only=True)
    new = load_task(ckpt)
    # the old layout: data facts as four hyperparameters, statistics only in the DataModule's state
    mean, std = state["state_dict"].pop("normalize.mean"), state["state_dict"].pop("normalize.std")
    data = state["hyper_parameters"].pop("data")
    state["hyper_parameters"] |= {k: data[k] for k in ("num_classes", "class_names", "in_channels", "image_size")}
    state["MNISTDataModule"] = {"mean": mean.flatten().tolist(), "std": std.flatten().tolist()}
    old = tmp_path / "old.ckpt"
    torch.save(state, old)
    task = load_task(old)
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(task(x), new(x))
    assert torch.equal(task.normalize.mean, mean)


@pytest.mark.slow
def test_any_datamodule_that_provides_data_info_trains(tmp_path, monkeypatch):
    """Not an InMemoryDataModule: a plain LightningDataModule with a DataInfo and its own loaders."""
    from tests.conftest import write_plugin

    monkeypatch.chdir(tmp_path)
    write_plugin(tmp_path / "plugins", "mydata", "x", body='''
        import torch
        from lightning.pytorch import LightningDataModule
        from torch.utils.data import DataLoader, TensorDataset

        from lightcnn.data import DataInfo

        class Squares(LightningDataModule):
            """Two classes: a bright square top-left or bottom-right, 16x16 RGB in [0, 1]."""

            data_info = DataInfo(num_classes=2, in_channels=3, image_size=16, class_names=("tl", "br"),
                                 mean=(0.1, 0.1, 0.1), std=(0.3, 0.3, 0.3))

            def __init__(self, n: int = 64):
                super().__init__()
                g = torch.Generator().manual_seed(0)
                self.y = torch.arange(n) % 2
                self.x = torch.rand(n, 3, 16, 16, generator=g) * 0.1
                self.x[self.y == 0, :, :6, :6] = 1.0
                self.x[self.y == 1, :, -6:, -6:] = 1.0

            def _loader(self):
                return DataLoader(TensorDataset(self.x, self.y), batch_size=16)

            train_dataloader = val_dataloader = test_dataloader = _loader
    ''')
    args = ["--model", "ClassificationTask", "--model.backbone", "tinynet_like", "--data", "plugins.mydata.Squares",
            "--trainer.max_epochs", "3", "--name", "squares", *QUIET]
    write_plugin(tmp_path / "plugins", "net", "tinynet_like")
    assert main(["fit", *args]) == 0
    run = tmp_path / "runs" / "squares" / "version_0"
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert history["2"]["train/loss_epoch"] < history["0"]["train/loss_epoch"]
    assert "## Validation (last epoch): per-class precision" in (run / "report.md").read_text()
    assert main(["test", "--ckpt_path", str(run / "checkpoints" / "best.ckpt"), *QUIET]) == 0
    assert json.loads((run / "test_per_class.json").read_text())["classes"][0]["class"] == "tl"



def test_a_task_built_for_other_data_is_refused_naming_both(mnist_root, tmp_path, monkeypatch, capsys):
    # Python users build the task and the DataModule separately; a task built for CIFAR-10's facts
    # fed MNIST failed inside the normalisation with a message about neither
    from lightcnn import Experiment
    from lightcnn.data import MNISTDataModule
    from lightcnn.data.info import DataInfo
    from lightcnn.errors import LightCNNError
    from lightcnn.tasks import ClassificationTask, EmbeddingTask

    monkeypatch.chdir(tmp_path)
    dm = MNISTDataModule(root=str(mnist_root), download=False)
    task = ClassificationTask(backbone="mnist_cnn", data=DataInfo(num_classes=10, in_channels=3, image_size=32))
    with pytest.raises(LightCNNError, match=r"ClassificationTask was built for 3-channel 32x32 images of 10 classes, but "
                                            r"MNISTDataModule gives 1-channel 28x28 images of 10 classes: build the task"):
        Experiment(task, dm, max_epochs=1, enable_progress_bar=False).fit()
    # the class count matters for a classifier's outputs, not for an embedding's
    five = DataInfo(num_classes=5, in_channels=1, image_size=28)
    with pytest.raises(LightCNNError, match="of 5 classes, but MNISTDataModule gives 1-channel 28x28 images of 10 classes"):
        Experiment(ClassificationTask(backbone="mnist_cnn", data=five), dm, max_epochs=1).test(verbose=False)
    assert "no best checkpoint in runs/" in capsys.readouterr().err  # test() before any fit says what it tests
    five.check_same(dm.data_info, "EmbeddingTask", "MNISTDataModule", classes=EmbeddingTask.fixed_classes)

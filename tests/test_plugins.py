
import pytest
import yaml

from lightcnn.errors import LightCNNError
from lightcnn.plugins import discover
from lightcnn.registry import BACKBONES
from tests.conftest import QUIET, write_plugin

def test_discovers_cwd_plugins_and_plugin_path_in_order(tmp_path, monkeypatch):
    write_plugin(tmp_path / "plugins", "b_net", "b_net")
    write_plugin(tmp_path / "plugins", "a_net", "a_net")
    write_plugin(tmp_path / "elsewhere", "c_net", "c_net")
    write_plugin(tmp_path / "plugins", "_private", "never")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIGHTCNN_PLUGIN_PATH", str(tmp_path / "elsewhere"))
    assert discover() == ["plugins.a_net", "plugins.b_net", "plugins.c_net"]
    assert {"a_net", "b_net", "c_net"} <= set(BACKBONES) and "never" not in BACKBONES
    assert BACKBONES.get("a_net").__module__ == "plugins.a_net"  # importable again by class_path
    assert discover() == []  # idempotent


def test_an_unknown_name_run_from_a_subfolder_names_the_plugins_folder_above(tmp_path, monkeypatch):
    write_plugin(tmp_path / "plugins", "my_net", "my_net")
    (tmp_path / "configs").mkdir()
    monkeypatch.chdir(tmp_path / "configs")
    monkeypatch.delenv("LIGHTCNN_PLUGIN_PATH", raising=False)
    discover()
    with pytest.raises(LightCNNError) as err:
        BACKBONES.get("my_net")
    assert (f"not {tmp_path / 'plugins'} (plugins/ is read from the folder you run in: run from {tmp_path}, "
            f"or set LIGHTCNN_PLUGIN_PATH={tmp_path})") in str(err.value)
    monkeypatch.chdir(tmp_path)  # from the folder that holds plugins/: found, no note
    discover()
    assert BACKBONES.get("my_net").__module__ == "plugins.my_net"


def test_plugin_import_error_names_file_and_line(tmp_path, monkeypatch):
    body = """
    import torch

    x = 1
    raise RuntimeError("boom")
    """
    path = write_plugin(tmp_path / "plugins", "broken", "", body=body)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LightCNNError) as err:
        discover()
    assert f"{path.resolve()}:5" in str(err.value).replace(str(path), str(path.resolve()))
    assert "RuntimeError: boom" in str(err.value)


def test_plugin_syntax_error_names_file_and_line(tmp_path, monkeypatch):
    path = write_plugin(tmp_path / "plugins", "typo", "", body="import torch\ndef f(:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LightCNNError, match=rf"{path.name}:2 failed to import: SyntaxError"):
        discover()


def test_duplicate_plugin_name_names_both_files(tmp_path, monkeypatch):
    first = write_plugin(tmp_path / "plugins", "one", "twin", cls="One")
    second = write_plugin(tmp_path / "plugins", "two", "twin", cls="Two")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LightCNNError) as err:
        discover()
    msg = str(err.value)
    assert "duplicate backbone name 'twin'" in msg
    assert first.name in msg and second.name in msg


def test_same_file_stem_in_two_folders_is_an_error(tmp_path, monkeypatch):
    a = write_plugin(tmp_path / "plugins", "net", "net_a")
    b = write_plugin(tmp_path / "other", "net", "net_b")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIGHTCNN_PLUGIN_PATH", str(tmp_path / "other"))
    with pytest.raises(LightCNNError) as err:
        discover()
    assert str(a) in str(err.value) and str(b) in str(err.value)


def test_plugin_path_folder_with_plugins_subfolder(tmp_path, monkeypatch):
    write_plugin(tmp_path / "project" / "plugins", "deep", "deep_net")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIGHTCNN_PLUGIN_PATH", str(tmp_path / "project"))
    discover()
    assert "deep_net" in BACKBONES


def test_a_plugin_path_entry_that_is_not_a_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIGHTCNN_PLUGIN_PATH", str(tmp_path / "typo"))
    with pytest.raises(LightCNNError, match="LIGHTCNN_PLUGIN_PATH names .*typo'?, which is not a folder"):
        discover()


def test_list_refuses_a_plugin_taking_a_built_in_name_as_a_run_does(tmp_path):
    # `lightcnn list` does not import the built-ins, so the registry alone cannot see this clash
    import subprocess
    import sys

    path = write_plugin(tmp_path / "plugins", "mine", "mnist_cnn")
    done = subprocess.run([sys.executable, "-m", "lightcnn", "list", "backbones"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "duplicate backbone name 'mnist_cnn': built into lightcnn (lightcnn.models.convnet)" in done.stderr
    assert f"{path.name}:" in done.stderr and done.stdout == ""


OWN_NAMES = """
import torch
from lightning.pytorch import Callback, LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from lightcnn.data import DataInfo
from lightcnn.registry import CALLBACKS, DATAMODULES, TASKS
from lightcnn.tasks import ClassificationTask


@TASKS.register("own_task")
class OwnTask(ClassificationTask):
    pass


@DATAMODULES.register("tiny_data")
class TinyData(LightningDataModule):
    def __init__(self, n: int = 32):
        super().__init__()
        self.n = n

    @property
    def data_info(self):
        return DataInfo(num_classes=2, in_channels=1, image_size=8, class_names=["a", "b"], mean=[0.5], std=[0.25])

    def _loader(self):
        g = torch.Generator().manual_seed(0)
        return DataLoader(TensorDataset(torch.rand(self.n, 1, 8, 8, generator=g), torch.arange(self.n) % 2), batch_size=8)

    train_dataloader = val_dataloader = test_dataloader = _loader


@CALLBACKS.register("count_steps")
class CountSteps(Callback):
    seen = 0

    def on_train_batch_end(self, *args):
        type(self).seen += 1
"""


def test_names_plugins_register_datamodules_and_callbacks_under_choose_them_in_configs(tmp_path, monkeypatch, capsys):
    """jsonargparse resolves a bare class_path by class name only: `class_path: tiny_data` (the
    name `lightcnn list` shows) was refused as an unknown datamodule, offering tiny_data as valid."""
    from lightcnn.cli import main

    write_plugin(tmp_path / "plugins", "own_names", "", body=OWN_NAMES)
    (tmp_path / "c.yaml").write_text(
        "model: {class_path: own_task, init_args: {backbone: mlp, backbone_args: {hidden: [8]}}}\n"
        "data: {class_path: tiny_data}\n"
        "trainer: {max_epochs: 1, callbacks: [{class_path: count_steps}]}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", "c.yaml", *QUIET]) == 0
    import plugins.own_names as own

    assert own.CountSteps.seen == 4  # 32 images in batches of 8, one epoch
    saved = yaml.safe_load(next(tmp_path.rglob("config.yaml")).read_text())
    assert saved["data"]["class_path"] == "plugins.own_names.TinyData"  # the run's config reloads without the name
    from lightcnn.inference import load_task

    assert type(load_task(next(tmp_path.rglob("last.ckpt")))) is own.OwnTask  # the checkpoint records the class
    # on the command line too, and a zero-batch training split is an error, not an untrained run
    capsys.readouterr()
    assert main(["fit", "--config", "c.yaml", "--data", "tiny_data", "--data.n", "0", *QUIET]) == 2
    assert ("lightcnn: error: TinyData's train_dataloader yields no batches: nothing was trained; check its training "
            "split") in capsys.readouterr().err
    assert len(list(tmp_path.rglob("version_*"))) == 1  # the failed fit left no run folder

"""The per-step costs lightcnn takes out of Lightning's loop (lightcnn/tasks/step_costs.py)."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from lightcnn.data import DataInfo
from lightcnn.tasks import ClassificationTask
from lightcnn.tasks import step_costs
from lightcnn.tasks.step_costs import NVML_CHECK, skip_nvml_without_driver


def _count_module_setattr(monkeypatch) -> list[str]:
    names: list[str] = []
    plain = torch.nn.Module.__setattr__

    def spy(self, name, value):
        names.append(name)
        plain(self, name, value)

    monkeypatch.setattr(torch.nn.Module, "__setattr__", spy)
    return names


def test_hook_attributes_skip_module_bookkeeping_and_the_rest_keeps_it(monkeypatch) -> None:
    task = ClassificationTask(backbone="mnist_cnn", data=DataInfo(num_classes=10, in_channels=1, image_size=28))
    extra, scale = torch.nn.Linear(2, 2), torch.nn.Parameter(torch.ones(1))
    names = _count_module_setattr(monkeypatch)
    task._current_fx_name = "training_step"
    task._nonfinite = torch.tensor(False)
    assert names == [] and task._current_fx_name == "training_step" and task.__dict__["_current_fx_name"] == "training_step"
    task.extra = extra  # anything else still goes through nn.Module: a submodule is registered
    task.scale = scale
    assert names == ["extra", "scale"]
    assert "extra" in task._modules and "scale" in task._parameters and "extra" not in task.__dict__


class _Library:
    def __init__(self, loads: bool) -> None:
        self.loads, self.calls = loads, 0

    def __call__(self, name: str) -> object:
        self.calls += 1
        assert name == "libnvidia-ml.so.1"
        if not self.loads:
            raise OSError(f"{name}: cannot open shared object file")
        return object()


@pytest.mark.parametrize("value, built, loads, kept", [
    ("1", True, False, False),  # no driver: the NVML check only costs a failed dlopen per call, dropped
    ("1", True, True, True),    # NVML loads: Lightning's fork-safe check stays
    ("1", False, False, True),  # a CPU-only torch never asks: left as it is
    ("0", True, False, True),   # not Lightning's setting: not ours to touch
])
def test_the_nvml_check_is_dropped_only_where_nvml_cannot_load(monkeypatch, value, built, loads, kept) -> None:
    monkeypatch.setenv(NVML_CHECK, value)
    library = _Library(loads)
    monkeypatch.setattr(step_costs.ctypes, "CDLL", library)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: built)
    skip_nvml_without_driver()
    assert (os.environ.get(NVML_CHECK) == value) is kept
    assert library.calls == (1 if value == "1" and built else 0)


def test_a_fit_neither_asks_nvml_per_step_nor_sets_hook_names_through_the_module(monkeypatch, mnist_root, tmp_path) -> None:
    if not torch.backends.cuda.is_built():
        pytest.skip("a CPU-only torch build never asks NVML")
    from lightcnn.cli import main

    monkeypatch.setenv(NVML_CHECK, "1")  # as Lightning sets it when imported
    monkeypatch.setattr(step_costs.ctypes, "CDLL", _Library(loads=False))  # a machine without the NVIDIA driver
    asked: list[int] = []  # NVML device counts asked for by an optimizer step
    nvml_count = torch.cuda._device_count_nvml

    def counted() -> int:
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_name != "_accelerator_graph_capture_health_check":
            frame = frame.f_back
        asked.extend([1] if frame is not None else [])
        return nvml_count()

    monkeypatch.setattr(torch.cuda, "_device_count_nvml", counted)
    names = _count_module_setattr(monkeypatch)
    code = main(["fit", "--config", "configs/mnist_classify.yaml", "--data.root", str(mnist_root), "--data.download", "false",
                 "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "1",
                 "--trainer.default_root_dir", str(tmp_path / "runs"), "--trainer.enable_progress_bar", "false"])
    assert code == 0
    assert NVML_CHECK not in os.environ
    assert asked == []  # 4 AdamW steps, each of which asked NVML (and failed) before
    assert "_current_fx_name" not in names and "_nonfinite" not in names
    assert "backbone" in names  # the spy saw the task being built: it was in place

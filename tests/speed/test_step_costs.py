"""The per-step costs lightcnn takes out of Lightning's loop (lightcnn/tasks/step_costs.py)."""

from __future__ import annotations

import os
import sys

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer import call

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


_HEARD: list[tuple[str, str]] = []  # (hook, the task's _current_fx_name during it), by HookRecorder


class HookRecorder(Callback):
    """Records the callback hooks it defines and one set on the instance, as a user's callback might."""

    def __init__(self) -> None:
        self.on_after_backward = lambda trainer, pl_module: _HEARD.append(("instance on_after_backward", pl_module._current_fx_name))

    def setup(self, trainer, pl_module, stage) -> None:
        _HEARD.append(("setup", pl_module._current_fx_name))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        _HEARD.append((f"on_train_batch_start {batch_idx}", pl_module._current_fx_name))

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        _HEARD.append(("on_before_optimizer_step", pl_module._current_fx_name))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        _HEARD.append((f"on_train_batch_end {batch_idx} loss={float(outputs['loss']):.6f}", pl_module._current_fx_name))

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        _HEARD.append((f"on_validation_batch_end {batch_idx}", pl_module._current_fx_name))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        _HEARD.append(("on_train_epoch_end", pl_module._current_fx_name))


def _fit_heard(monkeypatch, root, runs, dispatch: str, *extra: str) -> tuple[list, int]:
    """A 3-step fit with HookRecorder: what it heard, and how often ``Callback``'s own no-op
    ``on_before_backward`` ran (every callback without its own hook inherits it)."""
    from lightcnn.cli import main

    if dispatch == "lightning":  # the fit keeps Lightning's own dispatchers
        monkeypatch.setattr(step_costs, "lean_hook_dispatch", lambda: None)
        monkeypatch.setattr(call, "_call_callback_hooks", step_costs._LIGHTNING_CALLBACK_HOOKS)
        monkeypatch.setattr(call, "_call_lightning_module_hook", step_costs._LIGHTNING_MODULE_HOOK)
    noop_calls: list[int] = []
    monkeypatch.setattr(Callback, "on_before_backward", lambda self, trainer, pl_module, loss: noop_calls.append(1))
    _HEARD.clear()
    code = main(["fit", "--config", "configs/mnist_classify.yaml", "--data.root", str(root), "--data.download", "false",
                 "--data.batch_size", "64", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
                 "--trainer.default_root_dir", str(runs), "--trainer.enable_progress_bar", "false",
                 f"--trainer.callbacks+={__name__}.HookRecorder", *extra])
    assert code == 0
    return list(_HEARD), len(noop_calls)


def test_the_lean_hook_dispatch_calls_what_lightnings_calls_and_skips_callbacks_empty_hooks(monkeypatch, mnist_root, tmp_path) -> None:
    lean, lean_noops = _fit_heard(monkeypatch, mnist_root, tmp_path / "lean", "lean")
    assert call._call_callback_hooks is step_costs._call_callback_hooks  # the fit put the lean dispatch in place
    with monkeypatch.context() as m:
        plain, plain_noops = _fit_heard(m, mnist_root, tmp_path / "plain", "lightning")
    # the same hooks, in the same order, with the same hook name set on the task, the same losses
    assert lean == plain
    assert ("instance on_after_backward", "on_after_backward") in lean
    assert ("on_before_optimizer_step", "on_before_optimizer_step") in lean
    assert sum(h.startswith("on_train_batch_end") for h, _ in lean) == 3
    assert sum(h.startswith("on_validation_batch_end") for h, _ in lean) == 2  # the sanity check's and the epoch's
    # Callback's own empty hook: once per callback that does not define it, per step, under
    # Lightning's dispatch; never under the lean one
    assert lean_noops == 0 and plain_noops >= 3 * 5


def test_a_profiled_fit_keeps_lightnings_dispatch(monkeypatch, mnist_root, tmp_path) -> None:
    heard, noops = _fit_heard(monkeypatch, mnist_root, tmp_path / "runs", "lean", "--trainer.profiler", "simple")
    assert noops >= 3 * 5  # every callback's every hook, each timed by the profiler as Lightning does
    assert sum(h.startswith("on_train_batch_end") for h, _ in heard) == 3


def test_another_lightning_module_keeps_lightnings_dispatch(monkeypatch) -> None:
    monkeypatch.setattr(call, "_call_callback_hooks", step_costs._call_callback_hooks)  # in place, as after a lightcnn fit
    monkeypatch.setattr(call, "_call_lightning_module_hook", step_costs._call_lightning_module_hook)
    noop_calls: list[int] = []
    monkeypatch.setattr(Callback, "on_before_backward", lambda self, trainer, pl_module, loss: noop_calls.append(1))

    class Plain(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=4)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[Callback()], accelerator="cpu")
    trainer.fit(Plain(), data)
    assert noop_calls == [1, 1]  # the one callback's empty hook, on each of the 2 steps, as Lightning calls it

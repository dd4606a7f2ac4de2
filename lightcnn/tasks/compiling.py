"""``model.compile``: ``torch.compile`` of a task's backbone, in place, in one of torch's modes."""

from __future__ import annotations

from typing import Any, Literal

from lightcnn.errors import LightCNNError

# torch.compile's modes. ``reduce-overhead`` replays the compiled forward and backward as CUDA
# graphs: one launch instead of one per kernel, for steps that are launch-bound on a fast GPU
# (on a CPU it is the default mode). ``max-autotune`` also benchmarks kernels: minutes to compile.
CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
MODES = CompileMode.__args__
# What a config gives: false, true (the default mode) or a mode's name.
Compile = bool | CompileMode


def compile_mode(value: Any) -> str | None:
    """The torch.compile mode that ``model.compile: value`` asks for; None for no compilation."""
    if value is False or value is None:
        return None
    if value is True:
        return "default"
    if value in MODES:
        return value
    raise LightCNNError(f"model.compile={value!r}; valid: false, true (= default), {', '.join(MODES)}")


def compile_backbone(task: Any) -> None:
    """Compile ``task.backbone`` in place (``nn.Module.compile``: its state-dict keys stay) in the
    asked mode, once; lazily, so nothing is traced until the first batch runs."""
    mode = compile_mode(task.hparams.get("compile"))
    if mode is None or getattr(task.backbone, "_compiled_call_impl", None) is not None:
        return
    task.backbone.compile(mode=None if mode == "default" else mode)

"""Per-step costs that come with Lightning's loop, not with the model, taken out of every lightcnn
task: ``BaseTask`` mixes in ``LeanHookAttributes`` and calls ``remove_per_step_costs`` in ``setup``.
``benchmarks/step_costs.py`` times each alone; ``benchmarks/step_overhead.py`` measures what is left.

These are overrides of private parts of Lightning, like those in ``lightcnn/lightning_overrides.py``
and under the same version pin (``WRITTEN_FOR``); they are kept here, beside each other, because
they are one concern: the training step's fixed cost.
"""

from __future__ import annotations

import ctypes
import logging
import os
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.trainer import call

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
NVML_LIBRARY = "libnvidia-ml.so.1"

# Attributes that only ever hold a str, None or a plain tensor flag, never a parameter, buffer or
# submodule: ``_current_fx_name`` is set by Lightning before and after every LightningModule hook
# it calls (about 44 times per training step), ``_nonfinite`` by ``NonFiniteCheck`` (twice).
_PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "_nonfinite"})


class LeanHookAttributes:
    """``nn.Module.__setattr__`` first looks a name up in the parameter, buffer and submodule
    tables and type-checks the value (about 2 us a call on this project's 2-core machine, against
    0.2 us for a plain attribute): for the attributes Lightning sets on every hook call that is
    ~0.1 ms per step, 0.5 % of the MNIST net's CPU step. They never hold what those tables hold,
    so they are set on the instance directly, as ``nn.Module`` itself would end up doing."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


def skip_nvml_without_driver() -> None:
    """Drop ``PYTORCH_NVML_BASED_CUDA_CHECK`` where NVML cannot be loaded (no NVIDIA driver).

    Lightning sets it when imported, so that ``torch.cuda.is_available()`` asks NVML instead of
    initialising CUDA (which would make forking DataLoader workers unsafe). torch asks on every
    optimizer step (``Optimizer._accelerator_graph_capture_health_check``) and does not cache the
    answer before CUDA is initialised, so on a machine without the driver each step tries to
    ``dlopen`` the NVML library, fails, and falls back to ``cudaGetDeviceCount`` anyway: 80 us a
    call here, ~170 us per AdamW step. Without NVML the variable changes nothing else (the fallback
    is the same call), so dropping it changes no answer and no fork safety. Where NVML loads it is
    kept, as Lightning wants it.
    """
    if os.environ.get(NVML_CHECK) != "1" or not torch.backends.cuda.is_built():
        return
    try:
        ctypes.CDLL(NVML_LIBRARY)
    except OSError:
        del os.environ[NVML_CHECK]


def remove_per_step_costs() -> None:
    """What ``BaseTask.setup`` calls: ``skip_nvml_without_driver`` and ``lean_hook_dispatch``."""
    skip_nvml_without_driver()
    lean_hook_dispatch()


# Lightning's hook dispatchers, as they were before ``lean_hook_dispatch`` replaced them.
_LIGHTNING_CALLBACK_HOOKS = call._call_callback_hooks
_LIGHTNING_MODULE_HOOK = call._call_lightning_module_hook


def _lean(trainer: Any, pl_module: Any) -> bool:
    """Dispatch this hook call lean: the module is a lightcnn task, no profiler records hooks, and
    Lightning's debug log (one line per hook call) is off."""
    return (isinstance(pl_module, LeanHookAttributes) and type(trainer.profiler) is PassThroughProfiler
            and not call.log.isEnabledFor(logging.DEBUG))


def _call_callback_hooks(trainer: Any, hook_name: str, *args: Any, monitoring_callbacks: bool | None = None,
                         **kwargs: Any) -> None:
    """``call._call_callback_hooks`` without what does nothing. Lightning calls every callback's
    every hook, each inside a profiler context named with the callback's ``state_key`` (which
    ``ModelCheckpoint`` formats anew on every call), even when the callback inherits ``Callback``'s
    empty hook and no profiler records anything. With lightcnn's seven default callbacks and six
    callback hooks per training step that was ~0.2 ms per step on the 2-core CPU. Here a hook that
    is ``Callback``'s own no-op is skipped; the others are called as Lightning calls them, in the
    same order, with ``_current_fx_name`` set around them."""
    pl_module = trainer.lightning_module
    if monitoring_callbacks is not None or not _lean(trainer, pl_module):
        return _LIGHTNING_CALLBACK_HOOKS(trainer, hook_name, *args, monitoring_callbacks=monitoring_callbacks, **kwargs)
    noop = getattr(Callback, hook_name, None)
    prev_fx_name = pl_module._current_fx_name
    pl_module._current_fx_name = hook_name
    for callback in trainer.callbacks:
        fn = getattr(callback, hook_name)
        # a hook set on the instance (a function, not Callback's method bound to it) is called too,
        # and so is any hook Callback itself does not define
        if callable(fn) and (noop is None or getattr(fn, "__func__", None) is not noop):
            fn(trainer, pl_module, *args, **kwargs)
    pl_module._current_fx_name = prev_fx_name
    return None


def _call_lightning_module_hook(trainer: Any, hook_name: str, *args: Any, pl_module: Any = None, **kwargs: Any) -> Any:
    """``call._call_lightning_module_hook`` without the profiler context and the f-string naming
    it when no profiler records it (about 12 calls per training step)."""
    pl_module = pl_module or trainer.lightning_module
    if not _lean(trainer, pl_module):
        return _LIGHTNING_MODULE_HOOK(trainer, hook_name, *args, pl_module=pl_module, **kwargs)
    fn = getattr(pl_module, hook_name)
    if not callable(fn):
        return None
    prev_fx_name = pl_module._current_fx_name
    pl_module._current_fx_name = hook_name
    output = fn(*args, **kwargs)
    pl_module._current_fx_name = prev_fx_name
    return output


def lean_hook_dispatch() -> None:
    """Put the two lean dispatchers above in place of Lightning's (attributes of the module
    ``lightning.pytorch.trainer.call``, which the loops look up on every call). Every call they do
    not make lean (another LightningModule, a profiler, ``monitoring_callbacks``, debug logging)
    goes to Lightning's own, so other trainers in the process see no change. Idempotent."""
    call._call_callback_hooks = _call_callback_hooks
    call._call_lightning_module_hook = _call_lightning_module_hook

"""Two per-step costs that come with Lightning's loop, not with the model, taken out of every
lightcnn task (``BaseTask`` mixes in ``LeanHookAttributes`` and calls ``skip_nvml_without_driver``
in ``setup``). ``benchmarks/step_overhead.py`` measures what is left."""

from __future__ import annotations

import ctypes
import os

import torch

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

"""bfloat16 where the hardware computes it natively.

On CPUs with AMX or AVX512-BF16 units (Intel Sapphire Rapids and later, AMD Zen 4 and later)
oneDNN's bf16 convolutions train 1.9-3.2x faster than float32 (BENCHMARKS.md, "bfloat16 on the
CPU": full-width fastnet 390 -> 1,251 img/s on two cores). On CPUs without them bf16 is emulated and slower
than float32, so lightcnn never switches to it silently for training: ``note_for_precision``
says so when a config asks for it there. Inference commands (``knn``, ``embed``) take
``--precision auto``, which uses bf16 exactly where it is native and says which it used.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from lightcnn.errors import LightCNNError

CHOICES = ("auto", "32", "bf16")


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bfloat16 matrix products in hardware (CPU: AMX tiles or
    AVX512-BF16, as torch reports them; CUDA: compute capability 8.0 or newer)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    # torch.cpu exposes the CPU's feature bits only under private names (torch 2.3+); an older or
    # other torch without them reads as "not native", the safe answer (float32).
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def resolve(precision: str, device: torch.device | str = "cpu") -> str:
    """``"32"`` or ``"bf16"`` for a ``--precision`` value: ``auto`` is bf16 where native.

    Raises:
        LightCNNError: a value other than ``auto``, ``32`` or ``bf16``.
    """
    if precision not in CHOICES:
        raise LightCNNError(f"--precision {precision!r}: valid are {', '.join(CHOICES)}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "32"
    return precision


def autocast(precision: str, device: torch.device | str = "cpu") -> AbstractContextManager:
    """The autocast context for a resolved precision (``"32"``: none)."""
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return nullcontext()


def note_for_precision(precision: object, accelerator: object) -> str | None:
    """A one-line note when a training config asks for bf16 on a CPU that only emulates it
    (the run goes ahead as configured: the user asked for it)."""
    text, acc = str(precision or ""), str(accelerator or "auto")
    if not text.startswith("bf16") or acc not in ("cpu", "auto") or (acc == "auto" and torch.cuda.is_available()):
        return None
    if native_bf16("cpu"):
        return None
    return (f"trainer.precision {text}: this CPU has no AMX or AVX512-BF16 units, so bfloat16 is emulated "
            f"and usually slower than float32 here; --trainer.precision 32-true trains in float32")

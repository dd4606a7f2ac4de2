"""``NativeBF16Precision``: Lightning's bf16-mixed where the hardware computes bfloat16, float32
elsewhere.

A config cannot say ``precision: bf16-mixed`` and run well everywhere: on two cores with AMX
the fast CIFAR-10 net trains 3.2x faster in bf16 than in float32, while on an AVX2-only CPU
(bfloat16 emulated) the same step ran 16x slower (BENCHMARKS.md, "bfloat16 on the CPU"). This
plugin decides once the model is on its device, and says which it chose:

    trainer:
      plugins: [{class_path: NativeBF16Precision}]
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Any

from lightning.pytorch.plugins.precision import MixedPrecision
from lightning.pytorch.utilities import rank_zero_only

from lightcnn.precision import native_bf16


class NativeBF16Precision(MixedPrecision):
    """bf16 autocast (weights and optimizer in float32) on a device with native bfloat16 (CPU:
    AMX or AVX512-BF16; CUDA: sm80 or newer), plain float32 on any other.

    The choice is made in ``connect``, when the strategy attaches the plugin to the model on its
    device (before that, and on a device that cannot be read, it reads as float32). It prints one
    ``lightcnn: note:`` line with the choice. ``trainer.precision`` must then stay unset: Lightning
    takes the precision from one place.
    """

    def __init__(self) -> None:
        super().__init__("bf16-mixed", "cpu")
        self.native = False
        self.precision = "32-true"

    def connect(self, model: Any, optimizers: Any, lr_schedulers: Any) -> Any:
        param = next(model.parameters(), None)
        self.device = param.device.type if param is not None else "cpu"
        self.native = native_bf16(self.device)
        self.precision = "bf16-mixed" if self.native else "32-true"
        if rank_zero_only.rank == 0:
            why = "computes bfloat16 natively" if self.native else "has no native bfloat16 (AMX, AVX512-BF16 or sm80+)"
            print(f"lightcnn: note: NativeBF16Precision: this {self.device.upper()} {why}: running in {self.precision}",
                  file=sys.stderr)
        return super().connect(model, optimizers, lr_schedulers)

    def autocast_context_manager(self) -> Any:
        return super().autocast_context_manager() if self.native else nullcontext()

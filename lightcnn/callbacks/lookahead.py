"""``Lookahead``: slow weights that the model is pulled back to every few steps (airbench94's
variant of Zhang et al. 2019, with its ramped decay).
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from lightcnn.errors import LightCNNError
from lightcnn.registry import CALLBACKS


@CALLBACKS.register()
class Lookahead(Callback):
    """Every ``every`` optimizer steps: ``slow = d * slow + (1 - d) * model``, then ``model = slow``,
    for every floating-point parameter and buffer (BatchNorm statistics too), with
    ``d = decay * (step / total_steps) ** ramp``: no pull at the start, ``decay`` at the end. At
    the run's last step the model takes the slow weights (airbench94's final ``decay = 1``), so
    the last checkpoint holds them.

    Not ``torch.optim`` wrappers (the Lookahead optimizers of timm or torch-optimizer): those
    average parameters only, with a constant decay, and sit between Lightning and the optimizer's
    schedule. The slow weights are saved in checkpoints, so a resumed run continues exactly.

    Args:
        every: optimizer steps between synchronisations (airbench: 5).
        decay: the slow weights' share at a synchronisation at the end of training (airbench: 0.95 ** 5).
        ramp: power of the rise of the share from 0 (airbench: 3; 0 = constant ``decay``).
    """

    def __init__(self, every: int = 5, decay: float = 0.95**5, ramp: float = 3.0) -> None:
        if every < 1 or not 0.0 <= decay < 1.0 or ramp < 0:
            raise LightCNNError(f"Lookahead: need every >= 1, 0 <= decay < 1, ramp >= 0; got every={every}, decay={decay}, ramp={ramp}")
        self.every, self.decay, self.ramp = every, decay, ramp
        self.slow: dict[str, torch.Tensor] | None = None
        self._pairs: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None  # (slow, model) tensors

    @staticmethod
    def _fast(pl_module: Any) -> dict[str, torch.Tensor]:
        return {k: v for k, v in pl_module.state_dict(keep_vars=True).items() if v.is_floating_point()}

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        fast = self._fast(pl_module)
        if self.slow is None:  # else restored from the checkpoint (on the CPU: moved to the model's device)
            self.slow = {k: v.detach().clone() for k, v in fast.items()}
        elif set(self.slow) != set(fast):
            raise LightCNNError("Lookahead: the checkpoint's slow weights do not match this model's parameters")
        self.slow = {k: v.to(device=fast[k].device, dtype=fast[k].dtype) for k, v in self.slow.items()}
        # The pairs, once: a sync is then two multi-tensor kernels instead of two per tensor (and
        # no state_dict walk), which matters on a GPU whose steps are a few milliseconds.
        self._pairs = ([self.slow[k] for k in fast], [v.detach() for v in fast.values()])

    @torch.no_grad()
    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        step, total = trainer.global_step, max(1, int(trainer.estimated_stepping_batches))
        if self.slow is None or step == 0:
            return
        if step % self.every == 0:
            self.sync(pl_module, self.decay * min(1.0, step / total) ** self.ramp)
        if step >= total:  # the last step: the model takes the slow weights
            self.sync(pl_module, 1.0)

    @torch.no_grad()
    def sync(self, pl_module: Any, d: float) -> None:
        """``slow = d * slow + (1 - d) * model``; ``model = slow``."""
        if self._pairs is None:
            self.on_train_start(None, pl_module)
        slow, fast = self._pairs
        torch._foreach_lerp_(slow, fast, 1.0 - d)
        torch._foreach_copy_(fast, slow)

    def state_dict(self) -> dict[str, Any]:
        return {"slow": self.slow}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.slow, self._pairs = state_dict.get("slow"), None

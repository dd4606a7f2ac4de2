"""The optimizers and learning-rate schedules a task can name."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch

Optimizer = Literal["sgd", "adam", "adamw"]
Scheduler = Literal["none", "onecycle", "cosine", "step"]


def optimizer_and_schedule(task: Any) -> Any:
    """What ``configure_optimizers`` returns for a task's hyperparameters: the optimizer, and the
    schedule stepped per step (``onecycle``, ``cosine``) or per epoch (``step``)."""
    hp = task.hparams
    params = [p for p in task.parameters() if p.requires_grad]
    if hp.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay, nesterov=bool(hp.get("nesterov"))
        )
    elif hp.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay)
    if hp.scheduler == "none":
        return opt
    steps = max(1, int(task.trainer.estimated_stepping_batches))
    if hp.scheduler == "onecycle":
        # OneCycleLR divides by (phase length - 1): give very short runs (smoke tests, tiny
        # subsets) a schedule long enough for both phases; they stop before its end.
        steps = max(steps, math.floor(1 / hp.warmup_pct) + 1)  # warm-up must span > 1 step
        sched: Any = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hp.lr, total_steps=steps, pct_start=hp.warmup_pct)
    elif hp.scheduler == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    else:
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=hp.step_size, gamma=hp.gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

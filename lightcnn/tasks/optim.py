"""The optimizers and learning-rate schedules a task can name."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch

from lightcnn.errors import LightCNNError

Optimizer = Literal["sgd", "adam", "adamw", "rmsprop"]

# Keras's RMSprop (its default optimizer when ``compile`` names none): rho 0.9, epsilon 1e-7,
# no momentum; torch's defaults are alpha 0.99 and eps 1e-8.
KERAS_RMSPROP = {"alpha": 0.9, "eps": 1e-7}
Scheduler = Literal["none", "onecycle", "cosine", "step"]
FUSED = ("sgd", "adam", "adamw")  # the optimizers torch has a fused step for (RMSprop has none)


def check_optimizer_options(optimizer: str, fused: bool, **positive: float) -> None:
    """Raise ``LightCNNError`` for a ``fused`` optimizer torch has no fused step for, or for any
    of ``positive`` that is not above zero."""
    bad = {k: v for k, v in positive.items() if not v > 0}
    if bad:
        raise LightCNNError(f"model: these must be positive: {', '.join(f'{k}={v}' for k, v in bad.items())}")
    if fused and optimizer not in FUSED:
        raise LightCNNError(f"model.fused: torch has no fused {optimizer} step; fused works with optimizer: {', '.join(FUSED)}")


def optimizer_and_schedule(task: Any) -> Any:
    """What ``configure_optimizers`` returns for a task's hyperparameters: the optimizer, and the
    schedule stepped per step (``onecycle``, ``cosine``) or per epoch (``step``)."""
    hp = task.hparams
    params = parameter_groups(task, hp.lr, hp.weight_decay, float(hp.get("norm_bias_lr", 1.0)))
    # No key unless asked: torch then picks its default implementation (multi-tensor on GPUs).
    fused = {"fused": True} if hp.get("fused") else {}
    if hp.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay, nesterov=bool(hp.get("nesterov")), **fused
        )
    elif hp.optimizer == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=hp.lr, weight_decay=hp.weight_decay, **KERAS_RMSPROP)
    else:
        betas = tuple(hp.get("betas", (0.9, 0.999)))
        kind = torch.optim.Adam if hp.optimizer == "adam" else torch.optim.AdamW
        opt = kind(params, lr=hp.lr, weight_decay=hp.weight_decay, betas=betas, **fused)
    if hp.scheduler == "none":
        return opt
    steps = max(1, int(task.trainer.estimated_stepping_batches))
    if hp.scheduler == "onecycle":
        # OneCycleLR's max_lr per group keeps the norm-bias group's multiplier through the cycle.
        max_lr = [g["lr"] for g in opt.param_groups]
        # OneCycleLR divides by (phase length - 1): give very short runs (smoke tests, tiny
        # subsets) a schedule long enough for both phases; they stop before its end.
        steps = max(steps, math.floor(1 / hp.warmup_pct) + 1)  # warm-up must span > 1 step
        sched: Any = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=max_lr, total_steps=steps, pct_start=hp.warmup_pct, cycle_momentum=bool(hp.get("cycle_momentum", True))
        )
    elif hp.scheduler == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    else:
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=hp.step_size, gamma=hp.gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


NORM_LAYERS = (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm, torch.nn.LayerNorm)


def parameter_groups(task: Any, lr: float, weight_decay: float, norm_bias_lr: float) -> list[dict[str, Any]]:
    """The trainable parameters as optimizer groups: one, or with ``norm_bias_lr != 1`` a second
    group of normalisation-layer biases at ``lr * norm_bias_lr`` and ``weight_decay / norm_bias_lr``
    (airbench's BatchNorm-bias scaling, which keeps their ``lr * weight_decay``)."""
    params = [p for p in task.parameters() if p.requires_grad]
    if norm_bias_lr == 1.0:
        return [{"params": params}]
    biases = {id(m.bias) for m in task.modules() if isinstance(m, NORM_LAYERS) and getattr(m, "bias", None) is not None}
    scaled = [p for p in params if id(p) in biases]
    rest = [p for p in params if id(p) not in biases]
    groups = [{"params": rest}] if rest else []
    if scaled:
        groups.append({"params": scaled, "lr": lr * norm_bias_lr, "weight_decay": weight_decay / norm_bias_lr})
    return groups

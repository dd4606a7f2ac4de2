"""The optimizers and learning-rate schedules a task can name."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch

from lightcnn.errors import LightCNNError
from lightcnn.option_types import fits

Optimizer = Literal["sgd", "adam", "adamw", "rmsprop"]

# Keras's RMSprop (its default optimizer when ``compile`` names none): rho 0.9, epsilon 1e-7,
# no momentum; torch's defaults are alpha 0.99 and eps 1e-8.
KERAS_RMSPROP = {"alpha": 0.9, "eps": 1e-7}
Scheduler = Literal["none", "onecycle", "cosine", "step"]
Anneal = Literal["cos", "linear"]
FUSED = ("sgd", "adam", "adamw")  # the optimizers torch has a fused step for (RMSprop has none)


def check_optimizer_options(hp: dict[str, Any]) -> None:
    """Raise ``LightCNNError`` naming the first bad optimizer or schedule option of a task's
    hyperparameters ``hp`` and what would be valid."""
    # from Python nothing has checked the types yet (the CLI's parser has): lr="0.1" failed in a comparison below
    numbers = ("lr", "step_size", "gamma", "norm_bias_lr", "warmup_pct", "weight_decay", "momentum", "start_factor", "end_factor")
    for key, value in ((k, hp[k]) for k in numbers):
        if not fits(value, float):
            raise LightCNNError(f"model.{key}={value!r} is not a number ({type(value).__name__}); give e.g. {key}=0.1")
    betas = hp["betas"]
    if not fits(betas, tuple[float, float]):
        raise LightCNNError(f"model.betas={betas!r} is not two numbers; give e.g. betas=(0.9, 0.999)")
    bad = {k: hp[k] for k in ("lr", "step_size", "gamma", "norm_bias_lr") if not hp[k] > 0}  # gamma 0: lr 0 after step_size epochs
    if bad:
        raise LightCNNError(f"model: these must be positive: {', '.join(f'{k}={v}' for k, v in bad.items())}")
    betas, momentum = hp["betas"], hp["momentum"]
    if not 0.0 < hp["warmup_pct"] < 1.0 or hp["weight_decay"] < 0 or not 0.0 <= momentum < 1.0 or not all(0.0 <= b < 1.0 for b in betas):
        raise LightCNNError(
            f"model: need 0 < warmup_pct < 1, weight_decay >= 0, 0 <= momentum < 1, 0 <= betas < 1; got "
            f"warmup_pct={hp['warmup_pct']}, weight_decay={hp['weight_decay']}, momentum={momentum}, betas={list(betas)}"
        )
    if not (0.0 < hp["start_factor"] <= 1.0 and 0.0 < hp["end_factor"] <= 1.0):
        raise LightCNNError(f"model: need 0 < start_factor <= 1 and 0 < end_factor <= 1 (fractions of the peak lr); "
                            f"got start_factor={hp['start_factor']}, end_factor={hp['end_factor']}")
    if hp["fused"] and hp["optimizer"] not in FUSED:
        raise LightCNNError(f"model.fused: torch has no fused {hp['optimizer']} step; fused works with optimizer: {', '.join(FUSED)}")


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
        # start_factor / end_factor: torch's div_factor / final_div_factor as fractions of the peak
        # (defaults 0.04 and 4e-6: torch's 25 and 1e4); airbench94's triangle is linear, 0.2 -> 1 -> 0.07.
        start, end = hp.get("start_factor", 0.04), hp.get("end_factor", 4e-6)
        sched: Any = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=max_lr, total_steps=steps, pct_start=hp.warmup_pct, cycle_momentum=bool(hp.get("cycle_momentum", True)),
            anneal_strategy=hp.get("anneal", "cos"), div_factor=1 / start, final_div_factor=start / end,
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

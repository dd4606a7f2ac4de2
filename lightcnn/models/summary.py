"""A Keras-style model summary: each layer's output shape and parameter count, and the trainable
and non-trainable totals counted as Keras counts them.

Why not Lightning's ``ModelSummary``: it prints only the top-level modules and counts BatchNorm's
running mean and variance nowhere, while the labs' notebooks read Keras's ``model.summary()``,
where each BatchNormalization layer has ``4 x channels`` parameters, half of them non-trainable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Buffers Keras counts as (non-trainable) weights: BatchNormalization's moving mean and variance.
_STAT_BUFFERS = ("running_mean", "running_var")


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]  # without the batch dimension
    trainable: int
    non_trainable: int

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


def _own_counts(module: nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters(recurse=False) if not p.requires_grad)
    stats = sum(b.numel() for n, b in module.named_buffers(recurse=False) if n in _STAT_BUFFERS and b is not None)
    return trainable, frozen + stats


def layer_rows(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerRow]:
    """One row per leaf module that runs in ``model(torch.zeros(1, *input_shape))``, in call order
    (a module called twice appears once); leaf modules that hold weights but do not run (a loss's
    parameters, say) come last with no shape."""
    rows: dict[int, LayerRow] = {}
    names = {id(m): n for n, m in model.named_modules()}
    leaves = [m for m in model.modules() if not list(m.children())]

    def hook(module: nn.Module, _inputs: tuple, output: object) -> None:
        if id(module) in rows or not isinstance(output, torch.Tensor):
            return
        rows[id(module)] = LayerRow(names[id(module)], type(module).__name__, tuple(output.shape[1:]), *_own_counts(module))

    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    unused = [LayerRow(names[id(m)], type(m).__name__, (), *_own_counts(m)) for m in leaves if id(m) not in rows and sum(_own_counts(m))]
    return [*rows.values(), *unused]


def totals(model: nn.Module) -> tuple[int, int]:
    """``(trainable, non_trainable)`` over the whole model, Keras's way (BatchNorm statistics and
    frozen parameters are non-trainable)."""
    counts = [_own_counts(m) for m in model.modules()]
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def summary_text(model: nn.Module, input_shape: tuple[int, ...], title: str = "") -> str:
    """The summary as text, Keras's layout; shapes are PyTorch's ``(None, C, H, W)`` (Keras prints
    ``(None, H, W, C)``)."""
    rows = layer_rows(model, input_shape)
    table = [("Layer (type)", "Output Shape", "Param #")]
    table += [(f"{r.name} ({r.kind})", "(None, " + ", ".join(map(str, r.output_shape)) + ")" if r.output_shape else "(not run)",
               f"{r.params:,}") for r in rows]
    w0, w1 = (max(len(t[i]) for t in table) + 2 for i in range(2))
    w2 = max(len(t[2]) for t in table)
    rule = "=" * (w0 + w1 + w2)
    lines = [f'Model: "{title or type(model).__name__}"  input (None, {", ".join(map(str, input_shape))})', rule]
    lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in table[:1]] + [rule]
    lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in table[1:]]
    trainable, frozen = totals(model)
    lines += [rule, f"Total params: {trainable + frozen:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {frozen:,}"]
    lines += [rule, "Shapes are (batch, channels, height, width); BatchNorm's running mean and variance count as "
              "non-trainable parameters, as in Keras."]
    return "\n".join(lines)

"""Building a backbone by name and checking the backbone contract.

The backbone contract: an ``nn.Module`` with an int attribute ``num_features``
whose ``forward`` maps ``(B, C, H, W)`` to ``(B, num_features)``. The task owns the head, so a
backbone never needs ``num_classes``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lightcnn.errors import LightCNNError
from lightcnn.registry import BACKBONES, _where, accepted_options, check_options

# Arguments the task supplies from the DataModule; a factory receives those it declares.
DATA_ARGS = ("in_channels", "image_size")


def build_backbone(name: str, in_channels: int, image_size: int, args: dict[str, Any] | None = None) -> nn.Module:
    """Build a registered backbone, passing it the data's shape where it asks for it.

    Args:
        name: registry name (``mnist_cnn``, ``timm/resnet18``, a plugin's name).
        in_channels, image_size: from the DataModule, given to factories that declare them.
        args: the factory's own options (``backbone_args`` in YAML).

    Raises:
        LightCNNError: unknown name, an option the factory does not take, or a broken contract.
    """
    factory = BACKBONES.get(name)
    args = dict(args or {})
    names, var_kw = accepted_options(factory)
    clash = sorted(set(args) & set(DATA_ARGS))
    if clash:
        raise LightCNNError(
            f"backbone_args for {name!r} set {clash}: these come from the data module; "
            f"set them on the data (e.g. data.init_args.grayscale / image_size) instead"
        )
    check_options(factory, args, f"backbone {name!r}", hidden=DATA_ARGS)
    data = {"in_channels": in_channels, "image_size": image_size}
    kwargs = {k: v for k, v in data.items() if k in names or (var_kw and k == "in_channels")}
    try:
        model = factory(**kwargs, **args)
    except LightCNNError:
        raise
    except (TypeError, ValueError) as err:
        raise LightCNNError(f"backbone {name!r} ({_where(factory)}) could not be built with {args}: {err}") from err
    return check_backbone(model, in_channels, image_size, origin=f"{name!r} ({_where(factory)})")


def check_backbone(model: Any, in_channels: int, image_size: int, origin: str | None = None) -> nn.Module:
    """Check the backbone contract on a 2-image dummy batch; return the model unchanged.

    Raises:
        LightCNNError: not an ``nn.Module``, no int ``num_features``, the forward pass fails on
            ``(2, in_channels, image_size, image_size)``, or its output is not ``(2, num_features)``.
    """
    origin = origin or f"{type(model).__qualname__} ({_where(type(model))})"
    if not isinstance(model, nn.Module):
        raise LightCNNError(f"backbone {origin} is a {type(model).__name__}, not a torch.nn.Module")
    nf = getattr(model, "num_features", None)
    if not isinstance(nf, int) or isinstance(nf, bool) or nf < 1:
        raise LightCNNError(
            f"backbone {origin} breaks the backbone contract: it needs an int attribute `num_features` "
            f"(the width of its (B, num_features) output), got {nf!r}"
        )
    param = next(model.parameters(), None)
    x = torch.zeros(2, in_channels, image_size, image_size, device=param.device if param is not None else None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as err:  # noqa: BLE001 - any failure here is a contract violation to report
        raise LightCNNError(
            f"backbone {origin} failed on a dummy batch of shape {tuple(x.shape)} "
            f"(in_channels={in_channels}, image_size={image_size} from the data): {type(err).__name__}: {err}"
        ) from err
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, nf):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise LightCNNError(
            f"backbone {origin} breaks the backbone contract: forward must map (B, C, H, W) to "
            f"(B, num_features) = (2, {nf}), got {shape}"
        )
    return model


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, in_channels: int, image_size: int) -> int | None:
    """Floating-point operations of one forward pass on one image (a multiply-add counts 2),
    by torch's ``FlopCounterMode``; None when the model cannot be traced that way."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()  # BatchNorm statistics must not move
    try:
        param = next(model.parameters(), None)
        x = torch.zeros(1, in_channels, image_size, image_size, device=param.device if param is not None else "cpu")
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        return int(counter.get_total_flops())
    except Exception:  # noqa: BLE001 - a figure for the report, never a reason to stop a run
        return None
    finally:
        model.train(was_training)


def with_depth(widths: list[int], depth: int | None) -> list[int]:
    """``widths`` truncated to ``depth`` entries, or extended by repeating the last one."""
    out = list(widths)[: depth or len(widths)]
    return out + [out[-1]] * ((depth or 0) - len(out))


def dense_block(in_features: int, widths: list[int], batchnorm: bool, dropout: float) -> tuple[list[nn.Module], int]:
    """Linear, [BatchNorm1d], ReLU, [Dropout] per width; returns the layers and the output width."""
    layers: list[nn.Module] = []
    for w in widths:
        layers += [nn.Linear(in_features, w, bias=not batchnorm)]
        layers += [nn.BatchNorm1d(w)] if batchnorm else []
        layers += [nn.ReLU(inplace=True)]
        layers += [nn.Dropout(dropout)] if dropout else []
        in_features = w
    return layers, in_features

"""Building a backbone by name and checking the backbone contract.

The backbone contract: an ``nn.Module`` with an int attribute ``num_features``
whose ``forward`` maps ``(B, C, H, W)`` to ``(B, num_features)``. The task owns the head, so a
backbone never needs ``num_classes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lightcnn.errors import LightCNNError
from lightcnn.registry import BACKBONES, _where, accepted_options, check_options

# Arguments the task supplies from the DataModule; a factory receives those it declares.
DATA_ARGS = ("in_channels", "image_size")


def build_backbone(spec: str | Mapping[str, Any] | nn.Module, in_channels: int, image_size: int, args: dict[str, Any] | None = None) -> nn.Module:
    """Build a backbone from a registered name, a ``{class_path, init_args}`` spec or a module,
    giving it the data's shape where its ``__init__`` asks for it, and check the contract.

    A name and a ``class_path`` get the same facts: ``in_channels`` and ``image_size`` are passed
    to a factory or class that declares them (``in_channels`` also to one taking ``**kwargs``).

    Args:
        spec: registry name (``mnist_cnn``, ``timm/resnet18``, a plugin's name), a mapping
            ``{class_path: plugins.tinynet.TinyNet, init_args: {width: 8}}``, or a built module.
        in_channels, image_size: from the data.
        args: the named factory's own options (``backbone_args`` in YAML); only for a name.

    Raises:
        LightCNNError: unknown name or class, an option the factory does not take, data facts set
            by hand that disagree with the data, or a broken contract.
    """
    if isinstance(spec, nn.Module):
        if args:
            raise LightCNNError(_ARGS_WITH_MODULE.format(args=args, kind=f"a {type(spec).__name__} module"))
        return check_backbone(spec, in_channels, image_size)
    if isinstance(spec, Mapping):
        if args:
            raise LightCNNError(_ARGS_WITH_MODULE.format(args=args, kind=f"given by class_path {spec.get('class_path')!r}"))
        factory, args, what = _from_class_path(spec)
    elif isinstance(spec, str):
        factory, args, what = BACKBONES.get(spec), dict(args or {}), f"backbone {spec!r}"
    else:
        raise LightCNNError(f"model.backbone must be a registered name (`lightcnn list backbones`), a mapping "
                            f"{{class_path: ..., init_args: ...}} or an nn.Module, got {type(spec).__name__} {spec!r}")
    names, var_kw = accepted_options(factory)
    data = {"in_channels": in_channels, "image_size": image_size}
    clash = {k: v for k, v in args.items() if k in DATA_ARGS and v != data[k]}
    if clash:
        raise LightCNNError(
            f"{what}: {clash} disagree with the data ({data}); these come from the data module: "
            f"set them on the data (e.g. data.init_args.grayscale / image_size) and leave them out here"
        )
    check_options(factory, args, what, hidden=DATA_ARGS)
    kwargs = {k: v for k, v in data.items() if k not in args and (k in names or (var_kw and k == "in_channels"))}
    try:
        model = factory(**kwargs, **args)
    except LightCNNError:
        raise
    except (TypeError, ValueError) as err:
        raise LightCNNError(f"{what} ({_where(factory)}) could not be built with {args}: {err}") from err
    return check_backbone(model, in_channels, image_size, origin=f"{what.removeprefix('backbone ')} ({_where(factory)})")


_ARGS_WITH_MODULE = (
    "model.backbone_args {args} only applies to a backbone given by name, but model.backbone is {kind}; "
    "pass --model.backbone_args null (or remove it from the config) and put its options in the backbone's init_args"
)


def _from_class_path(spec: Mapping[str, Any]) -> tuple[Any, dict[str, Any], str]:
    """``(class, init_args, description)`` of a ``{class_path, init_args}`` mapping. A bare class
    name is looked up among the registered backbones' classes.

    Raises:
        LightCNNError: a malformed spec, or a class that cannot be imported (named).
    """
    import importlib

    unknown = sorted(set(spec) - {"class_path", "init_args", "dict_kwargs"})
    path = spec.get("class_path")
    if unknown or not isinstance(path, str) or not path:
        raise LightCNNError(f"model.backbone {dict(spec)} must be a mapping {{class_path: module.Class, init_args: {{...}}}}")
    init_args = dict(spec.get("init_args") or {}) | dict(spec.get("dict_kwargs") or {})
    module, _, name = path.rpartition(".")
    if not module:
        found = [obj for obj in (BACKBONES.get(n) for n in BACKBONES) if getattr(obj, "__name__", None) == name]
        if not found:
            raise LightCNNError(f"model.backbone class_path {path!r}: no registered backbone class of that name; give module.Class")
        return found[0], init_args, f"backbone {path}"
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise LightCNNError(
            f"model.backbone class_path {path!r} cannot be imported ({type(err).__name__}: {err}); a plugin file "
            f"plugins/x.py is plugins.x.ClassName"
        ) from err
    return cls, init_args, f"backbone {path}"


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


def dense_block(
    in_features: int, widths: list[int], batchnorm: bool, dropout: float, bn_after_relu: bool = False
) -> tuple[list[nn.Module], int]:
    """Linear, [BatchNorm1d], ReLU, [Dropout] per width (BatchNorm after the ReLU, the Linear
    keeping its bias, with ``bn_after_relu``); returns the layers and the output width."""
    layers: list[nn.Module] = []
    for w in widths:
        layers += [nn.Linear(in_features, w, bias=not batchnorm or bn_after_relu)]
        layers += [nn.BatchNorm1d(w)] if batchnorm and not bn_after_relu else []
        layers += [nn.ReLU(inplace=True)]
        layers += [nn.BatchNorm1d(w)] if batchnorm and bn_after_relu else []
        layers += [nn.Dropout(dropout)] if dropout else []
        in_features = w
    return layers, in_features

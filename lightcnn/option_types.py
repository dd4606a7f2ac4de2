"""Checking option values given as plain data (``backbone_args``, ``data.augment`` entries)
against the annotations of the function or class that takes them, so a wrong type is one line
naming the option instead of a ``TypeError`` deep inside it."""

from __future__ import annotations

import collections.abc
import inspect
import sys
import types
import typing
from typing import Any

from lightcnn.errors import LightCNNError


def _hints(factory: Any) -> dict[str, Any]:
    """Annotations of the parameters (a factory's ``__signature__`` too, as presets set it)."""
    try:
        params = inspect.signature(factory, eval_str=True).parameters.values()
    except Exception:  # noqa: BLE001 - an annotation we cannot resolve is simply not checked
        return {}
    scope = vars(sys.modules.get(getattr(factory, "__module__", ""), typing))
    hints = {}
    for p in params:
        hint = p.annotation
        if isinstance(hint, str):  # a signature set by hand keeps its annotations as text
            try:
                hint = eval(hint, dict(scope))  # noqa: S307 - the factory's own annotation, in its own module
            except Exception:  # noqa: BLE001
                continue
        if hint is not p.empty:
            hints[p.name] = hint
    return hints


def fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` (plain YAML data) can be the annotated type; unknown types pass."""
    if hint is Any or hint is object:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        inner = [a for a in args if a is not Ellipsis]
        if origin is tuple and inner and Ellipsis not in args:  # tuple[float, float]: position by position
            return len(value) == len(inner) and all(fits(v, a) for v, a in zip(value, inner))
        return all(any(fits(v, a) for a in inner) for v in value) if inner else True
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True  # a class, a callable...: left to the factory


def _readable(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def check_option_types(factory: Any, options: dict[str, Any], what: str) -> None:
    """Raise a ``LightCNNError`` for the first option whose value its annotation cannot take."""
    hints = _hints(factory)
    for name, value in options.items():
        if name in hints and not fits(value, hints[name]):
            raise LightCNNError(f"{what}: {name}={value!r} is not valid; {name} takes {_readable(hints[name])}")

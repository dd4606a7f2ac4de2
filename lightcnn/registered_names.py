"""The names plugins register datamodules, tasks and callbacks under, usable where a config
chooses a class (``data: {class_path: mydm}``, ``--data mydm``, ``--model.class_path ...``,
``trainer.callbacks: [{class_path: mycallback}]``).

jsonargparse resolves a bare ``class_path`` by class name only: among the imported subclasses of
the base the option expects, the one whose ``__name__`` it is. lightcnn's own classes register
under their class names, but a plugin may register another (``@DATAMODULES.register("mydm")``
on ``class MyDM``), which ``lightcnn list`` shows and the unknown-name message offers as valid,
and which jsonargparse then reported as unknown. ``resolve_registered_names`` puts a resolver
in front of jsonargparse's (``_typehints.resolve_class_path_by_name``, a private function,
looked up by name on every resolution; written for jsonargparse 4.53): a registered name that is
not its class's own resolves to the class's import path, when that class fits the option; every
other name goes to jsonargparse as before. ``tests/test_plugins.py`` fails if a jsonargparse
upgrade stops calling it.
"""

from __future__ import annotations

from typing import Any

from jsonargparse import _typehints

from lightcnn.registry import CALLBACKS, DATAMODULES, TASKS

_JSONARGPARSE_RESOLVER = _typehints.resolve_class_path_by_name


def registered_class_path(base: type | tuple[type, ...], name: str) -> str | None:
    """The import path of the class registered as ``name`` (under another name than its own) if it
    subclasses ``base``, else None."""
    bases = base if isinstance(base, tuple) else (base,)
    for registry in (DATAMODULES, TASKS, CALLBACKS):
        obj = registry.get(name) if name in registry else None
        if isinstance(obj, type) and obj.__name__ != name and any(isinstance(b, type) and issubclass(obj, b) for b in bases):
            return f"{obj.__module__}.{obj.__qualname__}"
    return None


def _resolve(base: Any, name: str) -> str:
    if "." not in name and (path := registered_class_path(base, name)):
        return path
    return _JSONARGPARSE_RESOLVER(base, name)


def resolve_registered_names() -> None:
    """Install the resolver (idempotent); ``LightCNNCLI`` calls it as it builds its parser."""
    _typehints.resolve_class_path_by_name = _resolve

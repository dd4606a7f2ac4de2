"""What lightcnn imports because a checkpoint names it: nothing outside lightcnn, the user's
plugins and registered classes.

``weights_only`` loading keeps a checkpoint from running code while it is unpickled, but a
lightcnn checkpoint also names classes in its hyperparameters (the task's ``_class_path``, a
backbone's ``{class_path: ...}``), which LightningCLI would import and build. A file from an
unknown source could name any installed module there, so those names are checked first; a user
who trusts the file says so with ``--weights_only false``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.registry import REGISTRIES

# The instantiator LightningCLI records; any other would be called on load.
_INSTANTIATORS = {None, "lightning.pytorch.cli.instantiate_module"}
_TRUSTED_PACKAGES = ("lightcnn", "plugins")  # plugins.<stem> imports only the user's plugin folders


def registered_paths() -> set[str]:
    """``module.QualName`` of every registered class or factory (built-ins, plugins, entry points)."""
    paths = set()
    for registry in REGISTRIES.values():
        for name in registry:
            obj = registry.get(name)
            module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
            if module and qualname:
                paths.add(f"{module}.{qualname}")
    return paths


def is_trusted(class_path: str, registered: set[str] | None = None) -> bool:
    """Whether importing ``class_path`` stays within lightcnn, the plugins and registered classes
    (a bare class name is looked up among registered classes only, so it imports nothing)."""
    module = class_path.rpartition(".")[0]
    if not module or module.split(".")[0] in _TRUSTED_PACKAGES:
        return True
    return class_path in (registered if registered is not None else registered_paths())


def named_classes(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """``(key, class_path)`` of every ``class_path`` inside hyperparameters, nested ones too."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if key in ("class_path", "_class_path") and isinstance(item, str):
                yield where or "model", item
            else:
                yield from named_classes(item, here)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from named_classes(item, f"{where}[{i}]")


def vet_classes(hparams: Any, path: str, way_out: str | None = "pass --weights_only false") -> None:
    """Refuse a checkpoint whose hyperparameters name a class lightcnn would not import on its own.

    Raises:
        LightCNNError: the first untrusted ``class_path`` or instantiator, with the key it is under.
    """
    if not isinstance(hparams, dict):
        return
    tail = f" (if you made this file yourself, {way_out})" if way_out else ""
    instantiator = hparams.get("_instantiator")
    if instantiator not in _INSTANTIATORS:
        raise LightCNNError(f"{path} names an unknown instantiator {instantiator!r}; lightcnn does not call code a checkpoint names "
                            f"(if you made this file yourself, {way_out})")
    registered = registered_paths()
    for key, class_path in named_classes(hparams):
        if not is_trusted(class_path, registered):
            raise LightCNNError(
                f"{path} names {key} class_path {class_path!r}, which is not a lightcnn class, a plugin or a registered class: "
                f"lightcnn does not import modules a checkpoint names. Put the class in plugins/ (or register it){tail}"
            )

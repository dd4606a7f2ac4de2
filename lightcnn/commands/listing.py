"""``lightcnn list``: registered names. Built-in names come from ``lightcnn.catalogue`` and only
plugins are imported, so the answer costs no Lightning import (timm's names import timm)."""

from __future__ import annotations

import argparse
import fnmatch
import importlib


def main(argv: list[str]) -> int:
    from lightcnn.catalogue import BUILTINS, PROVIDERS
    from lightcnn.plugins import discover
    from lightcnn.registry import REGISTRIES

    p = argparse.ArgumentParser(allow_abbrev=False, prog="lightcnn list", description="List registered names.")
    p.add_argument("kind", nargs="?", choices=sorted(REGISTRIES), help="what to list (default: all)")
    p.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'cifar*' or 'timm/resnet*'")
    a = p.parse_args(argv)
    discover()  # plugins register their names (importing whatever they import)
    _refuse_builtin_names(REGISTRIES, BUILTINS)
    head, _, rest = a.pattern.partition("/")
    for kind in [a.kind] if a.kind else sorted(REGISTRIES):
        names = set(REGISTRIES[kind].names(a.pattern)) | {n for n in BUILTINS[kind] if fnmatch.fnmatchcase(n, a.pattern)}
        for prefix, module in PROVIDERS.get(kind, {}).items():
            if rest and fnmatch.fnmatchcase(prefix, head):  # 'timm/resnet*': ask timm
                importlib.import_module(module)
                names |= set(REGISTRIES[kind].names(a.pattern))
            elif a.pattern == "*":
                names.add(f"{prefix}/*  ({prefix}'s models: `lightcnn list {kind} '{prefix}/*'`)")
        print(f"{kind}:")
        print("\n".join(f"  {n}" for n in sorted(names)) if names else "  (none match)")
    return 0


def _refuse_builtin_names(registries: dict, builtins: dict[str, dict[str, str]]) -> None:
    """A plugin name that is also a built-in one, refused as a run refuses it. The built-ins are
    not imported here, so the registry's own duplicate check cannot see the clash.

    Raises:
        LightCNNError: the name, the built-in module and the plugin's file and line.
    """
    from lightcnn.errors import LightCNNError
    from lightcnn.registry import _where

    for kind, registry in registries.items():
        for name in registry:
            obj = registry.get(name)
            module = builtins.get(kind, {}).get(name)
            if module is not None and not getattr(obj, "__module__", "").startswith("lightcnn."):
                raise LightCNNError(f"duplicate {registry.kind} name {name!r}: built into lightcnn ({module}) and "
                                    f"defined again in {_where(obj)}; rename the plugin's")

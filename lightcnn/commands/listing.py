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

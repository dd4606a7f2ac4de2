"""``lightcnn list``: registered names."""

from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    from lightcnn.registry import REGISTRIES

    p = argparse.ArgumentParser(allow_abbrev=False, prog="lightcnn list", description="List registered names.")
    p.add_argument("kind", nargs="?", choices=sorted(REGISTRIES), help="what to list (default: all)")
    p.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'cifar*' or 'timm/resnet*'")
    a = p.parse_args(argv)
    for kind in [a.kind] if a.kind else sorted(REGISTRIES):
        names = REGISTRIES[kind].names(a.pattern)
        if kind == "backbones" and a.pattern == "*":
            import timm

            names.append(f"timm/*  ({len(timm.list_models())} timm models: `lightcnn list backbones 'timm/*'`)")
        print(f"{kind}:")
        print("\n".join(f"  {n}" for n in names) if names else "  (none match)")
    return 0

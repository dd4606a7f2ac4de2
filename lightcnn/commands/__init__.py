"""lightcnn's own subcommands (beside LightningCLI's fit/validate/test/predict), one module each,
imported only when used so that ``lightcnn fit`` does not pay for them."""

from __future__ import annotations

import importlib

# name -> (module, function); each function takes the remaining argv and returns an exit status.
COMMANDS = {
    "list": ("listing", "main"),
    "preview-augment": ("preview", "main"),
    "embed": ("embed", "embed"),
    "knn": ("embed", "knn"),
    "report": ("report", "report"),
    "compare": ("report", "compare"),
    "visualize": ("visualize", "main"),
    "coarse": ("coarse", "main"),
    "sweep": ("sweep", "main"),
}


def run_command(name: str, argv: list[str]) -> int:
    """Run subcommand ``name`` with ``argv``; return its exit status."""
    module, function = COMMANDS[name]
    return getattr(importlib.import_module(f"lightcnn.commands.{module}"), function)(argv)

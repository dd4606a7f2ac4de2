"""The ``lightcnn`` console script. ``--help``, ``--version`` and unknown commands answer here,
before torch and Lightning are imported (seconds); lightcnn's tools (``list``, ``report``,
``export``, ...) run from here and import Lightning only once their own arguments parsed; the
training commands go to ``lightcnn.cli.main``."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

USAGE = "usage: lightcnn COMMAND [options]    (lightcnn COMMAND --help for a command's options)"


def help_text() -> str:
    """Every command with one line each."""
    from lightcnn.commands import COMMANDS, TRAINER_COMMANDS

    width = max(map(len, [*COMMANDS, *TRAINER_COMMANDS])) + 2
    lines = [USAGE, "", "A trainer for image CNNs on PyTorch Lightning, configured in YAML.", "",
             "training (LightningCLI: --config FILE, --model.* --data.* --trainer.* options):"]
    lines += [f"  {name:<{width}}{summary}" for name, summary in TRAINER_COMMANDS.items()]
    lines += ["", "tools:"]
    lines += [f"  {name:<{width}}{summary}" for name, (_, _, summary) in COMMANDS.items()]
    lines += ["", "options:", f"  {'-h, --help':<{width}}this list", f"  {'--version':<{width}}lightcnn's version and torch's / Lightning's",
              "", "example: lightcnn fit --config configs/mnist_embed.yaml"]
    return "\n".join(lines)


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from lightcnn import __version__

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return f"lightcnn {__version__} (torch {installed('torch')}, lightning {installed('lightning')}, python {sys.version.split()[0]})"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(help_text())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(version_text())
        return 0
    from lightcnn.commands import COMMANDS, TRAINER_COMMANDS

    if argv[0] in COMMANDS:
        from lightcnn.commands import run_command
        from lightcnn.guard import guarded
        from lightcnn.terminal import quiet_terminal

        quiet_terminal()
        return guarded(lambda: run_command(argv[0], argv[1:]), argv)
    if argv[0] not in TRAINER_COMMANDS and not argv[0].startswith("-"):
        import difflib

        known = [*TRAINER_COMMANDS, *COMMANDS]
        close = difflib.get_close_matches(argv[0], known, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        print(f"lightcnn: error: unknown command {argv[0]!r}; {hint}commands: {', '.join(known)} (lightcnn --help)", file=sys.stderr)
        return 2
    with _frozen_imports(_console):
        from lightcnn.cli import main as cli_main

    return cli_main(argv)


# Set by ``run()``: this process is the ``lightcnn`` command and ends with it, so it may tune the
# garbage collector; ``main()`` called from Python (tests, notebooks) leaves the collector alone.
_console = False


@contextmanager
def _frozen_imports(console: bool) -> Iterator[None]:
    """Import the training stack (torch, Lightning, torchmetrics, torchvision: ~3,500 modules and
    millions of objects) with the cyclic collector paused, then move what the imports made into
    the permanent generation (``gc.freeze``), which later collections skip. Imports make few
    cycles that die, but every full collection during them walked all the objects made so far:
    seven of them, ~0.45 s of a ~3 s import on the MNIST speedrun (BENCHMARKS.md, Start-up)."""
    if not console:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _quick_shutdown() -> None:
    """Collect this run's garbage once (its ``__del__`` methods and weakref callbacks run as at a
    normal exit), then freeze what is left: the interpreter's shutdown collects again and again
    while it clears ~3,500 modules, 0.55-0.7 s on every Lightning process here, and nothing that
    is frozen is walked. ``atexit`` handlers and ``weakref.finalize`` still run (after this)."""
    gc.collect()
    gc.freeze()


def run() -> None:
    """Console-script wrapper: exit with ``main()``'s status."""
    global _console
    _console = True
    try:
        code = main()
    finally:
        _quick_shutdown()
    sys.exit(code)

"""The ``lightcnn`` console script. ``--help``, ``--version`` and unknown commands answer here,
before torch and Lightning are imported (seconds); lightcnn's tools (``list``, ``report``,
``export``, ...) run from here and import Lightning only once their own arguments parsed; the
training commands go to ``lightcnn.cli.main``."""

from __future__ import annotations

import sys

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
    from lightcnn.cli import main as cli_main

    return cli_main(argv)


def run() -> None:
    """Console-script wrapper: exit with ``main()``'s status."""
    sys.exit(main())

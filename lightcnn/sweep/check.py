"""Check every trial of a sweep against the base config before anything is written: each
variant's keys and values through the CLI's own parser (so a key no config takes is caught
with the variant that names it), and the metric against what the task logs."""

from __future__ import annotations

import argparse
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightcnn.cli import LightCNNCLI
from lightcnn.errors import user_error_in
from lightcnn.config_errors import explain
from lightcnn.errors import LightCNNError
from lightcnn.preflight import check_precision_choice
from lightcnn.report.spec import known_metrics
from lightcnn.sweep.spec import SweepSpec, to_args

RESERVED = {"trainer.default_root_dir": "the sweep puts each trial in its own folder", "name": "the variant names the trial",
            "config": "the sweep's base names the config"}


@dataclass(frozen=True)
class Checked:
    """What the checks learned: the task class, the metric to rank by and its direction."""

    task: type
    metric: str
    direction: str


class _Parsed(Exception):
    def __init__(self, cli: Any) -> None:
        self.cli = cli


class _ParseOnly(LightCNNCLI):
    """The CLI up to its parsed config; nothing instantiated, no folder chosen."""

    def before_instantiate_classes(self) -> None:
        raise _Parsed(self)


def check_sweep(spec: SweepSpec, extra: list[str]) -> Checked:
    """Parse the base config with each trial's overrides (and ``extra``, the command line's).

    Raises:
        LightCNNError: a key no config takes or a bad value (named, with the variant), a reserved
            key, or a metric the task does not log (the logged ones listed).
    """
    trials = _trial_overrides(spec)
    seeded = any(p.seed is not None for p in spec.plans)
    for label, overrides in [("overrides", spec.overrides), *((f"variant '{p.label}'", p.overrides) for p in spec.plans), *((t[0], t[1]) for t in trials)]:
        for key in overrides:
            root = key.split(".")[0] if key.split(".")[0] in ("name", "config") else key
            if root in RESERVED:
                raise LightCNNError(f"{spec.where(label)}: {key} cannot be set in a sweep: {RESERVED[root]}")
        if seeded and "seed_everything" in overrides:
            raise LightCNNError(f"{spec.where(label)}: seed_everything is set by repeats (seed, seed+1, ...); drop one of them")
    parser = _parser(spec)
    config = None
    tasks: dict[str, type] = {}  # each trial's task class: the sweep's metric must be one they all log
    # the command line alone, then with the file's common overrides, then every trial: each
    # mistake is blamed on where it is
    given = [("command line", {}, extra, None), ("overrides", spec.overrides, extra, None)] if extra else [("overrides", spec.overrides, [], None)]
    for label, overrides, command_line, base in [*given, *((label, spec.overrides | o, extra, b) for label, o, b in trials)]:
        args = ["--config", str(base or spec.base), *to_args(overrides), *command_line]
        if seeded:
            args += ["--seed_everything", str(spec.plans[0].seed)]
        try:
            parsed = parser.parse_args(args)
            check_precision_choice(parsed.get("trainer") or {})
            # Build the task and the DataModule (not the Trainer: no folder, no data read), so that
            # what only their constructors check (backbone_args, batch sizes) is checked now too.
            parser.instantiate_classes(parsed)
        except LightCNNError as err:
            raise LightCNNError(f"{_where(spec, label)}: {_line(str(err))}") from err
        except (argparse.ArgumentError, SystemExit) as err:
            raise LightCNNError(f"{_where(spec, label)}: {_line(explain(str(err)))}") from err
        except Exception as err:  # jsonargparse wraps constructor errors; show ours unwrapped
            cause = user_error_in(err)
            text = str(cause) if cause is not None else explain(str(err))
            raise LightCNNError(f"{_where(spec, label)}: {_line(text)}") from err
        config = config or parsed
        tasks[label] = _task_class(parsed)
    task = _task_class(config)
    metric = spec.metric or (task.monitor.replace("val/", "test/", 1) if spec.test else task.monitor)
    for label, other in tasks.items():
        known = known_metrics(other)
        if metric not in known:
            where = spec.path if other is task else spec.where(label)
            raise LightCNNError(f"{where}: metric {metric} is not logged by {other.__name__}; it logs {', '.join(sorted(known))}")
    return Checked(task, metric, spec.direction or direction_of(metric, task))


def _where(spec: SweepSpec, label: str) -> str:
    return "lightcnn sweep (command line)" if label == "command line" else spec.where(label)


def _line(text: str) -> str:
    """One line: the parser's hints (valid options) follow the message after a semicolon."""
    return "; ".join(part.strip() for part in text.strip().splitlines() if part.strip())


def _trial_overrides(spec: SweepSpec) -> list[tuple[str, dict[str, Any], Path | None]]:
    """``(label, overrides)`` to check: every variant, or each search choice and bound."""
    if spec.search is None:
        return [(f"variant '{p.label}'", p.overrides, p.base) for p in spec.plans]
    out = []
    for param in spec.search.params:
        out += [(f"search.space.{param.key}", {param.key: v}, None) for v in param.examples()]
    return out


def _parser(spec: SweepSpec) -> Any:
    seed_log = logging.getLogger("lightning.fabric.utilities.seed")
    level = seed_log.level
    seed_log.setLevel(logging.WARNING)  # "Seed set to 0" for a parse that trains nothing
    try:
        _ParseOnly(args=["--config", str(spec.base)], run=False)
    except _Parsed as done:
        return done.cli.parser
    except (argparse.ArgumentError, SystemExit) as err:
        raise LightCNNError(f"{spec.path}: base {spec.base}: {explain(str(err), [str(spec.base)])}") from err
    finally:
        seed_log.setLevel(level)
    raise AssertionError("unreachable: the parse-only CLI always stops before instantiating")


def _task_class(config: Any) -> type:
    path = str(config["model"]["class_path"])
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def direction_of(metric: str, task: type) -> str:
    """The task's monitor mode for its own metric at any stage; losses are minimised, the rest
    (accuracy, F1, MAP@R...) maximised."""
    name = metric.split("/", 1)[1]
    if name == task.monitor.split("/", 1)[1]:
        return "maximize" if task.monitor_mode == "max" else "minimize"
    return "minimize" if "loss" in name else "maximize"

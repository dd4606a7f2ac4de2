"""A search's space, sampler and pruner, from the sweep file to Optuna's objects.

    space:
      model.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      model.backbone_args.width: {type: int, low: 8, high: 32, step: 8}
      model.optimizer: {type: categorical, choices: [adam, adamw]}
      data.augment: {type: categorical, choices: {none: null, flip: [{name: hflip}]}}   # named values
    sampler: tpe            # or random, qmc, gp, cmaes; or {name: tpe, seed: 0, n_startup_trials: 5}
    pruner: median          # or none, percentile, hyperband, successive_halving, threshold; or {name: ..., ...}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.yaml_spacing import space_hint
from lightcnn.sweep.names import KEY, NAME, value_name

INSTALL = "pip install -e '.[sweep]'"
KINDS = ("float", "int", "categorical")
SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler", "qmc": "QMCSampler", "gp": "GPSampler", "cmaes": "CmaEsSampler"}
PRUNERS = {
    "median": "MedianPruner", "percentile": "PercentilePruner", "hyperband": "HyperbandPruner",
    "successive_halving": "SuccessiveHalvingPruner", "threshold": "ThresholdPruner", "none": "NopPruner",
}


def require_optuna() -> Any:
    """The ``optuna`` module, or one line naming the install command."""
    try:
        import optuna
    except ImportError as err:
        raise LightCNNError(f"lightcnn sweep needs Optuna, which is not installed: {INSTALL}") from err
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # lightcnn prints its own one line per trial
    return optuna


@dataclass(frozen=True)
class Param:
    """One dimension of a search: ``key`` is the CLI's dotted key it sets."""

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[tuple[str, Any], ...] = ()  # (name Optuna records, value the config gets)

    def suggest(self, trial: Any) -> tuple[Any, Any]:
        """``(what Optuna records, the config value)`` for this trial."""
        if self.kind == "float":
            v = trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
            return v, v
        if self.kind == "int":
            v = trial.suggest_int(self.key, self.low, self.high, log=self.log, step=self.step or 1)
            return v, v
        name = trial.suggest_categorical(self.key, [n for n, _ in self.choices])
        return name, dict(self.choices)[name]

    def examples(self) -> list[Any]:
        """Config values to check the key with: the bounds, or every choice."""
        return [self.low, self.high] if self.kind != "categorical" else [v for _, v in self.choices]


def parse_param(key: Any, spec: Any, where: str) -> Param:
    """A ``Param`` from its sweep-file mapping.

    Raises:
        LightCNNError: a malformed distribution (the key, what is wrong and what is valid).
    """
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise LightCNNError(f"{where}: {key!r} is not a config key; use the CLI's dotted keys, e.g. model.lr{space_hint(key)}")
    where = f"{where}.{key}"
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict) or spec.get("type") not in KINDS:
        raise LightCNNError(f"{where}: give {{type: float|int|categorical, ...}}, e.g. {{type: float, low: 1.0e-4, high: 1.0e-2, log: true}}")
    kind = spec["type"]
    allowed = {"type", "choices"} if kind == "categorical" else {"type", "low", "high", "log", "step"}
    extra = sorted(set(map(str, spec)) - allowed)
    if extra:
        raise LightCNNError(f"{where}: '{extra[0]}' does not apply to a {kind} distribution; it takes {', '.join(sorted(allowed))}")
    if kind == "categorical":
        choices = spec.get("choices")
        if isinstance(choices, dict) and choices:
            named = [(str(n), v) for n, v in choices.items()]
            if not all(NAME.fullmatch(n) for n, _ in named):
                raise LightCNNError(f"{where}: choice names use letters, digits and _ . = + -")
        elif isinstance(choices, list) and choices:
            named = [(value_name(v, key, i), v) for i, v in enumerate(choices)]
        else:
            raise LightCNNError(f"{where}: choices: give a non-empty list, or a mapping of names to values")
        if len({n for n, _ in named}) != len(named):
            raise LightCNNError(f"{where}: two choices share a name; name them with a mapping {{name: value}}")
        return Param(key, kind, choices=tuple(named))
    number = float if kind == "float" else int
    bounds = {}
    for b in ("low", "high"):
        v = spec.get(b)
        if isinstance(v, str) and kind == "float" and re.fullmatch(r"[-+0-9.eE]+", v):
            v = float(v)  # YAML reads 1e-4 (no dot) as text
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind == "int" and not isinstance(v, int)):
            raise LightCNNError(f"{where}: {b} {v!r}: give a{'n integer' if kind == 'int' else ' number'}")
        bounds[b] = number(v)
    low, high, log, step = bounds["low"], bounds["high"], spec.get("log", False), spec.get("step")
    if not isinstance(log, bool):
        raise LightCNNError(f"{where}: log {log!r}: use true or false")
    if not low < high:
        raise LightCNNError(f"{where}: low must be below high (got low {low}, high {high})")
    if log and low <= 0:
        raise LightCNNError(f"{where}: a log distribution needs low > 0 (got {low})")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0 or (kind == "int" and not isinstance(step, int))):
        raise LightCNNError(f"{where}: step {step!r}: give a positive {'integer' if kind == 'int' else 'number'}")
    if step is not None and log:
        raise LightCNNError(f"{where}: step and log cannot be combined (Optuna samples one or the other)")
    return Param(key, kind, low, high, log, step)


def _named(raw: Any, table: dict[str, str], where: str, what: str) -> Any:
    optuna = require_optuna()
    if isinstance(raw, str):
        name, kwargs = raw, {}
    elif isinstance(raw, dict) and isinstance(raw.get("name"), str):
        name, kwargs = raw["name"], {k: v for k, v in raw.items() if k != "name"}
    else:
        raise LightCNNError(f"{where}: give a {what} name ({', '.join(table)}) or {{name: ..., <its arguments>}}")
    if name not in table:
        raise LightCNNError(f"{where}: unknown {what} '{name}'; choose one of {', '.join(table)}")
    module = optuna.samplers if what == "sampler" else optuna.pruners
    try:
        return getattr(module, table[name])(**kwargs)
    except ImportError as err:
        raise LightCNNError(f"{where}: the {name} {what} needs a package that is not installed: {err}") from err
    except (TypeError, ValueError) as err:
        raise LightCNNError(f"{where}: {name}: {err}") from err


def sampler_of(raw: Any, where: str) -> Any:
    return _named(raw, SAMPLERS, where, "sampler")


def pruner_of(raw: Any, where: str) -> Any:
    return _named(raw, PRUNERS, where, "pruner")

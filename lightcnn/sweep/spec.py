"""Sweep files: a base config plus ``variants``, a ``grid`` or a ``search``, read and checked whole
before anything runs.

    base: ../mnist_fast.yaml            # a lightcnn config, relative to this file (a variant
                                        # may name its own: {base: ../mnist_best.yaml, ...})
    overrides: {trainer.max_epochs: 1}  # for every trial (the CLI's dotted keys)
    grid:                               # or variants: {name: {key: value}} or search: {...}
      model.backbone: [mnist_cnn, convnet]
      data.augment: {none: null, shift: [{name: translate, fraction: 0.1}]}   # named values
    repeats: 2                          # seeds seed, seed+1, ...: runs/<sweep>/<variant>/seed_<s>/

Only the file's structure is checked here; whether the keys and values suit the base config is
checked by the CLI's own parser (``lightcnn.sweep.check``).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from lightcnn.errors import LightCNNError
from lightcnn.strict_yaml import load_unique_keys
from lightcnn.sweep.names import KEY, NAME, value_name
from lightcnn.sweep.reference import Reference, read_reference
from lightcnn.sweep.space import Param, parse_param, pruner_of, sampler_of
from lightcnn.yaml_spacing import glued_line, space_hint

TOP_KEYS = ("name", "base", "overrides", "variants", "grid", "search", "repeats", "seed", "metric", "direction", "test", "root", "reference")


@dataclass(frozen=True)
class TrialPlan:
    """One trial of a variants or grid sweep: ``label`` names the variant everywhere."""

    label: str
    overrides: dict[str, Any]
    seed: int | None
    params: dict[str, Any]  # what Optuna records: the variant (or each grid axis's value name) and the seed
    base: Path | None = None  # a variant's own base config (``base:`` in the variant), else the sweep's

    @property
    def key(self) -> str:
        """The trial's identity in the study and its folder under the sweep folder."""
        return self.label if self.seed is None else f"{self.label}/seed_{self.seed}"


@dataclass(frozen=True)
class Search:
    trials: int
    params: tuple[Param, ...]
    sampler: Any  # an Optuna sampler, built (so bad arguments fail while reading the file)
    pruner: Any


@dataclass(frozen=True)
class SweepSpec:
    """A sweep file, read and checked (see the module docstring)."""

    path: Path
    name: str
    base: Path
    overrides: dict[str, Any]
    mode: str  # "variants" | "grid" | "search"
    plans: tuple[TrialPlan, ...] = ()
    search: Search | None = None
    metric: str | None = None  # None: the task's own (its monitored metric, at test when trials test)
    direction: str | None = None  # "maximize" | "minimize"; None: from the task
    test: bool = True
    root: Path = Path("runs")
    axes: tuple[str, ...] = field(default=())  # the keys the variants change, for the report
    reference: Reference | None = None

    @property
    def folder(self) -> Path:
        return self.root / self.name

    def where(self, key: str) -> str:
        return f"{self.path}: {key}"


def only_variants(spec: SweepSpec, names: str) -> SweepSpec:
    """``spec`` with its trials narrowed to the comma-separated variant (or grid trial) names.

    Raises:
        LightCNNError: a search (it has no named variants), or a name the sweep does not have.
    """
    if spec.search is not None:
        raise LightCNNError(f"--only picks variants; {spec.path} is a search (set its trials instead)")
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    labels = list(dict.fromkeys(p.label for p in spec.plans))
    unknown = [n for n in wanted if n not in labels]
    if not wanted or unknown:
        raise LightCNNError(f"--only {names}: no variant {unknown[0] if unknown else '(none given)'} in {spec.path}; "
                            f"its variants: {', '.join(labels)}")
    return replace(spec, plans=tuple(p for p in spec.plans if p.label in wanted))


def to_args(overrides: dict[str, Any]) -> list[str]:
    """``{"model.lr": 0.1, "data.augment": None}`` -> ``["--model.lr", "0.1", "--data.augment", "null"]``."""
    args: list[str] = []
    for key, value in overrides.items():
        args += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    return args


def read_sweep(path: str | Path, name: str | None = None) -> SweepSpec:
    """Read and check a sweep file.

    Raises:
        LightCNNError: the file is missing, not YAML, or malformed (the key and what is valid).
    """
    path = Path(path)
    if not path.is_file():
        raise LightCNNError(f"--config {path}: no such sweep file")
    try:
        raw = load_unique_keys(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        glued = glued_line(path, path.read_text().splitlines(), mark.line) if mark is not None else None
        raise LightCNNError(glued or f"{path}{where}: not a valid sweep file: {getattr(err, 'problem', None) or err}") from err
    if not isinstance(raw, dict):
        raise LightCNNError(f"{path}: a sweep file is a mapping with 'base' and one of 'variants', 'grid', 'search'")
    unknown = sorted(set(map(str, raw)) - set(TOP_KEYS))
    if "base" not in raw and {"model", "data", "trainer"} & set(map(str, raw)):
        raise LightCNNError(f"{path}: this is a lightcnn run config, not a sweep file; a sweep file names it as its base, "
                            f"e.g. base: {path.name} with variants, grid or search (see configs/sweeps/)")
    if unknown:
        raise LightCNNError(f"{path}: unknown key '{unknown[0]}'; a sweep file takes {', '.join(TOP_KEYS)}")
    modes = [m for m in ("variants", "grid", "search") if m in raw]
    if len(modes) != 1:
        raise LightCNNError(f"{path}: give exactly one of 'variants', 'grid', 'search' (found {', '.join(modes) or 'none'})")
    mode = modes[0]
    if "base" not in raw or not isinstance(raw["base"], str):
        raise LightCNNError(f"{path}: 'base' must name the lightcnn config the trials start from, e.g. base: ../mnist_fast.yaml")
    base = path.parent / Path(raw["base"]).expanduser()  # an absolute base stands alone
    if not base.is_file():
        raise LightCNNError(f"{path}: base {raw['base']}: no such config file (looked for {base})")
    name = name or raw.get("name") or path.stem
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise LightCNNError(f"{path}: name {name!r}: use letters, digits and _ . = + - (it names the sweep folder)")
    overrides = _overrides(raw.get("overrides") or {}, f"{path}: overrides")
    repeats = _int(raw.get("repeats", 1), f"{path}: repeats", minimum=1)
    seed = _int(raw.get("seed", 0), f"{path}: seed", minimum=0)
    metric = raw.get("metric")
    if metric is not None and (not isinstance(metric, str) or not re.fullmatch(r"(train|val|test)/\S+", metric)):
        raise LightCNNError(f"{path}: metric {metric!r}: give a logged metric such as val/acc, test/acc or test/map_at_r")
    direction = raw.get("direction")
    if direction not in (None, "maximize", "minimize"):
        raise LightCNNError(f"{path}: direction {direction!r}: use maximize or minimize")
    test = raw.get("test", mode != "search")
    if not isinstance(test, bool):
        raise LightCNNError(f"{path}: test {test!r}: use true (test each trial's best checkpoint) or false")
    if metric is not None and metric.startswith("test/") and not test:
        raise LightCNNError(f"{path}: metric {metric} needs test: true (the trials are not tested)")
    root = raw.get("root", "runs")
    if not isinstance(root, str) or not root:
        raise LightCNNError(f"{path}: root {root!r}: give the folder sweeps go in (default runs)")
    root = Path(root).expanduser()
    common = dict(name=name, base=base, overrides=overrides, mode=mode, metric=metric, direction=direction, test=test, root=root, path=path)
    if mode == "search":
        if "repeats" in raw:
            raise LightCNNError(f"{path}: repeats applies to variants and grids; a search tries each point once (seed it with seed_everything in overrides)")
        if "reference" in raw:
            raise LightCNNError(f"{path}: reference compares named variants; a search has none (use variants or a grid)")
        return SweepSpec(search=_search(raw["search"], path), **common)
    plans, axes = _variants(raw["variants"], path) if mode == "variants" else _grid(raw["grid"], path)
    common["reference"] = read_reference(raw["reference"], path, [p.label for p in plans]) if "reference" in raw else None
    seeds = [None] if repeats == 1 and "repeats" not in raw else [seed + k for k in range(repeats)]
    with_seeds = tuple(
        TrialPlan(p.label, p.overrides, s, p.params | ({} if s is None else {"seed": s}), p.base) for p in plans for s in seeds
    )
    return SweepSpec(plans=with_seeds, axes=axes, **common)


def _int(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LightCNNError(f"{where}: {value!r}: give an integer >= {minimum}")
    return value


def _overrides(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise LightCNNError(f"{where}: give a mapping of the CLI's dotted keys to values, e.g. {{model.lr: 0.01}}")
    for key in raw:
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise LightCNNError(f"{where}: {key!r} is not a config key; use the CLI's dotted keys, e.g. model.backbone_args.depth"
                                f"{space_hint(key)}")
    return dict(raw)


def _variants(raw: Any, path: Path) -> tuple[list[TrialPlan], tuple[str, ...]]:
    if not isinstance(raw, dict) or not raw:
        raise LightCNNError(f"{path}: variants: give named overrides, e.g. variants: {{base: {{}}, deeper: {{model.backbone_args.depth: 4}}}}")
    plans = []
    for name, overrides in raw.items():
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise LightCNNError(f"{path}: variant {name!r}: name it with letters, digits and _ . = + - (it names a folder)")
        overrides = dict(overrides or {}) if isinstance(overrides, dict) else overrides
        own_base = _variant_base(overrides.pop("base"), path, name) if isinstance(overrides, dict) and "base" in overrides else None
        plans.append(TrialPlan(name, _overrides(overrides or {}, f"{path}: variant '{name}'"), None, {"variant": name}, own_base))
    axes = tuple(dict.fromkeys(k for p in plans for k in p.overrides))
    return plans, axes


def _variant_base(raw: Any, path: Path, name: str) -> Path:
    """A variant's ``base:``: another run config (relative to the sweep file) it starts from,
    e.g. a shipped recipe beside a notebook's nets."""
    if not isinstance(raw, str):
        raise LightCNNError(f"{path}: variant '{name}': base must name a lightcnn config file, e.g. base: ../mnist_best.yaml")
    base = path.parent / Path(raw).expanduser()  # an absolute base stands alone
    if not base.is_file():
        raise LightCNNError(f"{path}: variant '{name}': base {raw}: no such config file (looked for {base})")
    return base


def _grid(raw: Any, path: Path) -> tuple[list[TrialPlan], tuple[str, ...]]:
    if not isinstance(raw, dict) or not raw:
        raise LightCNNError(f"{path}: grid: give keys with lists of values, e.g. grid: {{model.backbone: [mnist_cnn, convnet]}}")
    axes: list[list[tuple[str, Any]]] = []
    for key, values in raw.items():
        where = f"{path}: grid.{key}"
        _overrides({key: None}, f"{path}: grid")
        if isinstance(values, dict):
            named = list(values.items())
            for n, _ in named:
                if not isinstance(n, str) or not NAME.fullmatch(n):
                    raise LightCNNError(f"{where}: value name {n!r}: use letters, digits and _ . = + -")
        elif isinstance(values, list) and values:
            named = [(value_name(v, key, i), v) for i, v in enumerate(values)]
        else:
            raise LightCNNError(f"{where}: give a non-empty list of values, or a mapping of names to values")
        names = [n for n, _ in named]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise LightCNNError(f"{where}: two values are named '{dup}'; name them with a mapping {{name: value}}")
        axes.append(named)
    keys = list(raw)
    plans = []
    for combo in itertools.product(*axes):
        label = "-".join(n for n, _ in combo)
        plans.append(TrialPlan(label, {k: v for k, (_, v) in zip(keys, combo)}, None, {k: n for k, (n, _) in zip(keys, combo)}))
    labels = [p.label for p in plans]
    if len(set(labels)) != len(labels):
        dup = next(n for n in labels if labels.count(n) > 1)
        raise LightCNNError(f"{path}: grid: two trials would be named '{dup}'; name the values with mappings {{name: value}}")
    return plans, tuple(keys)


def _search(raw: Any, path: Path) -> Search:
    where = f"{path}: search"
    if not isinstance(raw, dict):
        raise LightCNNError(f"{where}: give trials, space and optionally sampler and pruner{space_hint(raw)}")
    unknown = sorted(set(map(str, raw)) - {"trials", "space", "sampler", "pruner"})
    if unknown:
        raise LightCNNError(f"{where}: unknown key '{unknown[0]}'; a search takes trials, space, sampler, pruner")
    trials = _int(raw.get("trials"), f"{where}.trials", minimum=1)
    space = raw.get("space")
    if not isinstance(space, dict) or not space:
        raise LightCNNError(f"{where}.space: give keys with distributions, e.g. model.lr: {{type: float, low: 1.0e-4, high: 1.0e-2, log: true}}")
    params = tuple(parse_param(key, spec, f"{where}.space") for key, spec in space.items())
    return Search(trials, params, sampler_of(raw.get("sampler", "tpe"), f"{where}.sampler"), pruner_of(raw.get("pruner", "median"), f"{where}.pruner"))

"""A sweep file's ``reference:``: figures from elsewhere (a notebook, a paper) shown beside the
trials' in the sweep report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError


@dataclass(frozen=True)
class Reference:
    """Figures a notebook (or a paper) printed, shown beside the trials' in the sweep report.

        reference:
          source: "notebook 001 (Keras): CIFAR-10 base net, 20 epochs"
          metric: test/acc                  # the lightcnn metric the figures compare with
          values: {base: 0.6867, augmented: null}   # per variant; null: the source printed none
          note: "validated on the test set"         # optional
    """

    source: str
    metric: str
    values: dict[str, float | None]
    note: str = ""



def read_reference(raw: Any, path: Path, labels: list[str]) -> Reference:
    where = f"{path}: reference"
    if not isinstance(raw, dict) or not {"source", "metric", "values"} <= set(raw):
        raise LightCNNError(f"{where}: give source (text), metric (e.g. test/acc) and values ({{variant: number or null}})")
    unknown = sorted(set(map(str, raw)) - {"source", "metric", "values", "note"})
    if unknown:
        raise LightCNNError(f"{where}: unknown key '{unknown[0]}'; a reference takes source, metric, values, note")
    metric, values = raw["metric"], raw["values"]
    if not isinstance(metric, str) or not re.fullmatch(r"(train|val|test)/\S+", metric):
        raise LightCNNError(f"{where}.metric {metric!r}: give a logged metric such as test/acc or test/map_at_r")
    if not isinstance(values, dict) or not values:
        raise LightCNNError(f"{where}.values: give {{variant: number or null}}, e.g. {{base: 0.6867}}")
    for label, value in values.items():
        if label not in labels:
            raise LightCNNError(f"{where}.values: no variant '{label}'; the variants are {', '.join(labels)}")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise LightCNNError(f"{where}.values.{label}: {value!r}: give a number, or null where the source printed none")
    return Reference(str(raw["source"]), metric, {str(k): None if v is None else float(v) for k, v in values.items()}, str(raw.get("note") or ""))

"""UMAP projection cost, cold and cached, each in a fresh process (3,000 x 64, the main job's size).

    python benchmarks/umap_callback.py      # -> benchmarks/results/umap.json and a table

Rows, each the median of ``--repeats`` fresh processes (import of umap-learn excluded, reported
apart):
- umap-learn as lightcnn called it before (``UMAP(random_state=0, n_jobs=1).fit_transform``):
  its exact small-data neighbours through scikit-learn with a Python-called metric, and its numba
  kernels compiled in every process;
- ``lightcnn.umap_fit.umap_2d`` on a machine that never ran it (an empty ``NUMBA_CACHE_DIR``:
  everything compiles, pynndescent's kernels too);
- ``umap_2d`` in a later process (kernels loaded from the on-disk cache);
- ``umap_2d`` a second time in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import json, time
import numpy as np
rng = np.random.default_rng(0)
x = (rng.normal(size=(3000, 64)) + np.repeat(rng.normal(size=(10, 64)) * 3, 300, axis=0)).astype(np.float32)
t = time.perf_counter(); import umap; imported = time.perf_counter() - t
from lightcnn.umap_fit import umap_2d
fit = (lambda: umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=0, n_jobs=1).fit_transform(x)) if {plain} else (lambda: umap_2d(x))
t = time.perf_counter(); fit(); first = time.perf_counter() - t
t = time.perf_counter(); fit(); second = time.perf_counter() - t
print(json.dumps({{"import_s": imported, "first_s": first, "second_s": second}}))
"""


def probe(plain: bool, cache_dir: str | None) -> dict:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", PROBE.format(plain=plain)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "umap.json")
    a = p.parse_args()
    rows: dict[str, list[dict]] = {"umap-learn as before": [], "umap_2d, first on the machine": [], "umap_2d, later process": []}
    for _ in range(a.repeats):
        rows["umap-learn as before"].append(probe(True, None))
        with tempfile.TemporaryDirectory() as cache:
            rows["umap_2d, first on the machine"].append(probe(False, cache))
            rows["umap_2d, later process"].append(probe(False, cache))
        print({k: v[-1] for k, v in rows.items()}, flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rows, indent=2))
    print("| 3,000 x 64, fresh process | first fit s | second fit in the process s | import umap s |")
    print("|---|---|---|---|")
    for name, rs in rows.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"| {name} | {med['first_s']:.1f} | {med['second_s']:.1f} | {med['import_s']:.1f} |")


if __name__ == "__main__":
    main()

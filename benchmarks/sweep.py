"""The sweep's own cost per trial, beyond the trial's fit and test.

Runs a sweep in this process and splits its wall time into: start-up (reading and checking the
file, opening the study), the trials themselves (``run_trial``: the config parsed and built,
data set up, fit, test and the run's own report, exactly what ``lightcnn fit`` + ``lightcnn test``
do after their imports), and the rest: claiming, recording and the sweep report rebuilt after
every trial. For scale, the same trial is then run as the two commands a user would type
(``lightcnn fit`` then ``lightcnn test``), each paying the imports.

    python benchmarks/sweep.py                     # configs/sweeps/mnist_grid.yaml, offline data
    python benchmarks/sweep.py --config configs/sweeps/mnist_grid.yaml --data.root .data

Run it alone: a second busy process on 2 cores distorts every figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "configs" / "sweeps" / "mnist_grid.yaml"))
    a, extra = p.parse_known_args()
    work = Path(tempfile.mkdtemp(prefix="lightcnn-sweep-bench-"))
    import os

    os.chdir(work)
    t0 = time.perf_counter()
    from lightcnn.cli import _import_builtins
    from lightcnn.plugins import discover

    _import_builtins()
    discover()
    imports = time.perf_counter() - t0
    from lightcnn.sweep.check import check_sweep
    from lightcnn.sweep.engine import Worker
    from lightcnn.sweep.report import write_sweep_report
    from lightcnn.sweep.spec import read_sweep
    from lightcnn.sweep.storage import open_storage

    quiet = ["--trainer.enable_progress_bar", "false", *extra]
    t1 = time.perf_counter()
    spec = read_sweep(a.config)
    checked = check_sweep(spec, quiet)
    storage = open_storage(None, spec.folder)
    reports: list[float] = []

    def report(study: object) -> None:
        r0 = time.perf_counter()
        write_sweep_report(spec, study)
        reports.append(time.perf_counter() - r0)

    worker = Worker(spec, checked, storage, quiet, on_trial=report, say=lambda m: None)
    startup = time.perf_counter() - t1
    t2 = time.perf_counter()
    worker.run()
    running = time.perf_counter() - t2
    trials = [t for t in worker.study.get_trials() if "seconds" in t.user_attrs]
    in_trials = sum(t.user_attrs["seconds"] for t in trials)
    n = len(trials)
    own = (running - in_trials) / n
    fits = [json.loads((spec.folder / t.user_attrs["dir"] / "history.json").read_text()) for t in trials]
    fit_s = sum(max(e.get("time/fit_s", 0) for e in h["epochs"].values()) for h in fits) / n
    # the same first trial as two commands
    first = trials[0]
    args = ["--config", str(spec.base), *sum(([f"--{k}", v if isinstance(v, str) else json.dumps(v)]
                                              for k, v in (spec.overrides | json.loads(first.user_attrs["overrides"])).items()), []),
            *quiet, "--name", "by_hand"]
    c0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lightcnn", "fit", *args], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "lightcnn", "test", *args, "--ckpt_path", "best"], check=True, capture_output=True)
    by_hand = time.perf_counter() - c0
    print(f"sweep {spec.name}: {n} trials")
    print(f"  imports (once)                         {imports:6.2f} s")
    print(f"  start-up: read, check {n} trials, study {startup:6.2f} s  ({startup / n:.2f} s per trial)")
    print(f"  trials (run_trial: build, fit, test)   {in_trials / n:6.2f} s per trial (of which fit {fit_s:.2f} s)")
    print(f"  sweep's own cost per trial             {own:6.2f} s  (sweep report {sum(reports) / len(reports):.2f} s of it)")
    print(f"  own cost incl. start-up, per trial     {own + startup / n:6.2f} s")
    print(f"  the first trial as lightcnn fit + lightcnn test commands: {by_hand:.2f} s "
          f"(its run_trial: {first.user_attrs['seconds']:.2f} s)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

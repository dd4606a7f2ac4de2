"""Start-up: what a command costs before it does its work, against ``import torch``, same run.

    python benchmarks/startup.py --root .data     # -> benchmarks/results/startup.json and a table

Each command runs in a fresh process, all of them in turn, ``--repeats`` rounds (warm file cache).
The last row is the fit's fixed cost: the whole ``lightcnn fit`` command of
configs/mnist_speedrun.yaml minus its training (``time/fit_s``), with ``python -c "import
lightcnn.cli"`` (torch, Lightning, torchmetrics: what every training command imports) beside it,
and the same fit through ``lightcnn.entry.main`` called from Python, which leaves the garbage
collector as Python sets it (the console script tunes it: ``lightcnn/entry.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIGHTCNN = [sys.executable, "-m", "lightcnn"]
COMMANDS = {
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "lightcnn --help": [*LIGHTCNN, "--help"],
    "lightcnn list": [*LIGHTCNN, "list"],
    "lightcnn fitt (unknown command)": [*LIGHTCNN, "fitt"],
    "lightcnn export --opset 17 (argument error)": [*LIGHTCNN, "export", "--ckpt", "x.ckpt", "--opset", "17"],
    'python -c "import lightcnn.cli"': [sys.executable, "-c", "import lightcnn.cli"],
}


def seconds(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start


# ``lightcnn.entry.main`` called from Python: the same fit without the console script's
# garbage-collector tuning (imports with the collector paused, then frozen; a frozen shutdown).
PYTHON_MAIN = [sys.executable, "-c", "import sys; from lightcnn.entry import main; sys.exit(main(sys.argv[1:]))"]


def fit_fixed_cost(root: str, runs: Path, prefix: list[str] = LIGHTCNN) -> tuple[float, float]:
    from lightcnn.report.history import read_run_history
    from lightcnn.run import versions

    config = REPO / "configs" / "mnist_speedrun.yaml"
    start = time.perf_counter()
    subprocess.run([*prefix, "fit", "--config", str(config), "--data.root", root, "--trainer.default_root_dir", str(runs),
                    "--trainer.enable_progress_bar", "false"], check=True, capture_output=True)
    command = time.perf_counter() - start
    run = versions(runs / config.stem)[-1]  # the newest run folder
    return command, read_run_history(run).last("time/fit_s")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "startup.json")
    a = p.parse_args()
    root = str(Path(a.root).resolve())
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    fits: list[tuple[float, float]] = []
    plain_fits: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.repeats):
            for name, cmd in COMMANDS.items():
                times[name].append(seconds(cmd, REPO))
            fits.append(fit_fixed_cost(root, Path(tmp)))
            plain_fits.append(fit_fixed_cost(root, Path(tmp), PYTHON_MAIN))
            print({k: round(v[-1], 2) for k, v in times.items()}, fits[-1], plain_fits[-1], flush=True)
    torch_s = statistics.median(times['python -c "import torch"'])
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"times": times, "fit_command_and_training": fits,
                                       "fit_command_and_training_python_main": plain_fits}, indent=2))
    print("| command | median s | rounds | / import torch |")
    print("|---|---|---|---|")
    for name, vals in times.items():
        print(f"| `{name}` | {statistics.median(vals):.2f} | {', '.join(f'{v:.2f}' for v in vals)} | {statistics.median(vals) / torch_s:.2f}x |")
    fixed = [c - t for c, t in fits]
    cli_s = statistics.median(times['python -c "import lightcnn.cli"'])
    rounds = ", ".join(f"{f:.1f}" for f in fixed)
    print(f"\nmnist_speedrun fit: whole command {statistics.median(c for c, _ in fits):.1f} s, training "
          f"{statistics.median(t for _, t in fits):.1f} s, fixed cost {statistics.median(fixed):.1f} s ({rounds}); "
          f"import lightcnn.cli {cli_s:.1f} s")
    plain = [c - t for c, t in plain_fits]
    print(f"the same fit through lightcnn.entry.main from Python (no GC tuning): fixed cost {statistics.median(plain):.1f} s "
          f"({', '.join(f'{f:.1f}' for f in plain)})")


if __name__ == "__main__":
    main()

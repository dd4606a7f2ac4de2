"""``model.compile: true`` (torch.compile of the backbone) against eager, on this CPU, compile
time included: each side is a whole ``lightcnn fit`` in a fresh process, alternating.

    python benchmarks/compile.py --root .data     # -> benchmarks/results/compile.json and a table

Per config: epoch 0's seconds (compilation happens in its first steps), epoch 1's (steady
state), and the whole fit (``time/fit_s``). Two epochs of each config, ``--repeats`` pairs.
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
CONFIGS = [REPO / "configs" / "mnist_speedrun.yaml", REPO / "configs" / "mnist_fast.yaml"]


def fit(config: Path, root: str, runs: Path, compiled: bool) -> dict:
    from lightcnn.report.history import read_run_history
    from lightcnn.run import versions

    name = f"{config.stem}_{'compiled' if compiled else 'eager'}"
    args = ["fit", "--config", str(config), "--data.root", root, "--trainer.max_epochs", "2", "--name", name,
            "--trainer.default_root_dir", str(runs), "--trainer.enable_progress_bar", "false", "--model.compile", str(compiled).lower()]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lightcnn", *args], check=True, capture_output=True)
    command = time.perf_counter() - start
    run = versions(runs / name)[-1]  # the newest run folder
    h = read_run_history(run)
    epochs = h.get("time/epoch_s")[1]
    return {"epoch0_s": epochs[0], "epoch1_s": epochs[1], "fit_s": h.last("time/fit_s"), "command_s": command,
            "val_acc": h.last("val/acc")}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=".data")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--configs", type=Path, nargs="+", default=CONFIGS)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "compile.json")
    a = p.parse_args()
    res: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.repeats):
            for config in a.configs:
                for compiled in (False, True):
                    row = fit(config, a.root, Path(tmp), compiled)
                    res.setdefault(config.stem, {}).setdefault("compiled" if compiled else "eager", []).append(row)
                    print(config.stem, compiled, row, flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2))
    print("| config | mode | epoch 0 s (compiles) | epoch 1 s | fit s (2 epochs) | whole command s |")
    print("|---|---|---|---|---|---|")
    for stem, modes in res.items():
        for mode, rows in modes.items():
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            print(f"| {stem} | {mode} | {med['epoch0_s']:.1f} | {med['epoch1_s']:.1f} | {med['fit_s']:.1f} | {med['command_s']:.1f} |")


if __name__ == "__main__":
    main()

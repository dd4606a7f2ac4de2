"""Train and test configs end to end and tabulate test accuracy, epochs and wall time.

    python ../shared/data/materialize.py .data
    python benchmarks/run_configs.py --root .data configs/cifar10_base.yaml configs/cifar10_aug.yaml
    # -> benchmarks/results/configs.json and a Markdown table on stdout

Each config runs as `lightcnn fit` then `lightcnn test --ckpt_path best` in a fresh process, in
runs/bench/<config stem>/version_N. "fit s" is the training wall time summed over epochs
(time/fit_s, validation included, start-up and data loading excluded); "command s" is the whole
`lightcnn fit` command.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from lightcnn.report.history import read_run_history
from lightcnn.run import versions

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def run(config: Path, root: str, runs: Path) -> dict:
    args = ["--config", str(config), "--data.root", root, "--trainer.default_root_dir", str(runs), *QUIET]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lightcnn", "fit", *args], check=True)
    command_s = time.perf_counter() - t
    subprocess.run([sys.executable, "-m", "lightcnn", "test", *args, "--ckpt_path", "best"], check=True)
    run_dir = versions(runs / config.stem)[-1]  # the newest run folder
    h = read_run_history(run_dir)  # lightcnn's own record of the run
    return {
        "config": config.name, "run": str(run_dir), "epochs": len(h.get("train/loss_epoch")[0]),
        "params": int(h.last("model/params") or 0),
        "train_acc": h.last("train/acc"), "best_val_acc": max(h.get("val/acc")[1], default=None),
        "test_acc": h.test.get("test/acc"), "test_f1": h.test.get("test/f1"),
        "fit_s": h.last("time/fit_s"), "command_s": command_s,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("configs", nargs="+", type=Path)
    p.add_argument("--root", default=".data")
    p.add_argument("--runs", type=Path, default=Path("runs/bench"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/configs.json"))
    a = p.parse_args()
    results = json.loads(a.out.read_text()) if a.out.is_file() else {}
    for config in a.configs:
        results[config.name] = run(config, a.root, a.runs)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(results, indent=2))
    print("| config | params | epochs | train acc | best val acc | test acc | fit s |")
    print("|---|---|---|---|---|---|---|")
    for r in results.values():
        print(f"| `{r['config']}` | {r['params']:,} | {r['epochs']} | {r['train_acc']:.4f} | {r['best_val_acc']:.4f} "
              f"| **{r['test_acc']:.4f}** | {r['fit_s']:.0f} |")


if __name__ == "__main__":
    main()

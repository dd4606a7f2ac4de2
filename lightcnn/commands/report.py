"""``lightcnn report RUN_DIR`` (rebuild a run's report) and ``lightcnn compare RUN_DIR...``."""

from __future__ import annotations

import argparse


def report(argv: list[str]) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="lightcnn report", description="(Re)build report.md and report.html in run folders.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="e.g. runs/cifar10_base/version_0")
    a = p.parse_args(argv)
    from lightcnn.report.run_report import build_report
    from lightcnn.plugins import load_all

    load_all()
    for run in a.run_dirs:
        md, page = build_report(run)
        print(f"wrote {md} and {page.name}")
    return 0


def compare(argv: list[str]) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="lightcnn compare", description="Compare runs: table, overlaid curves, config diff.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--metric", help="the column to rank by (default test/acc; e.g. val/acc, test/map_at_r)")
    p.add_argument("--out", default="compare", help="folder for compare.md, compare.html, compare_curves.png (default ./compare)")
    a = p.parse_args(argv)
    from lightcnn.report.compare import compare_runs
    from lightcnn.plugins import load_all

    load_all()
    md, page = compare_runs(a.run_dirs, a.out, a.metric or "test/acc", metric_given=a.metric is not None)
    print(md.read_text().split("## Curves")[0].rstrip())
    print(f"\nwrote {md}, {page.name} and compare_curves.png")
    return 0

"""``lightcnn sweep --config SWEEP.yaml``: variants, a grid or an Optuna search of one base config,
each trial fit and tested in ``runs/<sweep>/<variant>[/seed_s]/``, compared in ``sweep.md``/``.html``.

Start the same command in several shells (or on several machines with ``--storage``) to add
workers; run it again to finish what an interrupted sweep left.
"""

from __future__ import annotations

import argparse
import sys

from lightcnn.errors import LightCNNError


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="lightcnn sweep",
        allow_abbrev=False,  # --storag is a mistake to report, not --storage
        description="Run a sweep file's variants, grid or search (see the README's Sweeps section). Options after the "
        "known ones (--data.root .data, --trainer.max_epochs 2) apply to every trial.",
    )
    p.add_argument("--config", required=True, metavar="SWEEP.yaml", help="the sweep file")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="the Optuna study's storage: postgresql://user:pass@host/db (any SQLAlchemy URL) or a .journal "
                   "file; default: runs/<sweep>/study.journal")
    p.add_argument("--name", default=None, help="the sweep's name (default: the file's name: key, else its stem)")
    p.add_argument("--report", action="store_true", help="only rebuild the sweep report from the study")
    p.add_argument("--only", default=None, metavar="VARIANT,...",
                   help="run these variants only (comma-separated names; a grid's trial names); the others stay as they "
                   "are, and the report shows every trial run so far")
    a, extra = p.parse_known_args(argv)
    bad = next((x for x in extra if x.startswith("-") and not x.startswith("--")), None)
    if bad is not None or (extra and not extra[0].startswith("--")):
        raise LightCNNError(f"lightcnn sweep: unexpected argument {bad or extra[0]}; trial overrides look like --data.root .data")
    from lightcnn.plugins import load_all

    load_all()

    from lightcnn.sweep.trial import TrialJob, run_trial

    job = TrialJob.from_env()
    if job is not None:  # another rank of a DDP trial, launched by the Trainer: run that trial only
        out = run_trial(job)
        return 0 if out.error is None else 1

    from lightcnn.sweep.check import check_sweep
    from lightcnn.sweep.engine import Worker
    from lightcnn.sweep.report import rows_of, write_sweep_report
    from lightcnn.sweep.spec import only_variants, read_sweep
    from lightcnn.sweep.storage import JOURNAL, open_storage, shown, storage_study_names

    spec = read_sweep(a.config, a.name)
    if a.only is not None:
        spec = only_variants(spec, a.only)
    checked = check_sweep(spec, extra)
    if a.report and a.storage is None and not (spec.folder / JOURNAL).is_file():
        raise LightCNNError(f"--report: {spec.folder} holds no sweep yet (no {JOURNAL}); run lightcnn sweep --config {a.config} first")
    storage = open_storage(a.storage, spec.folder)  # checks done: from here on things are written
    if a.report and spec.name not in storage_study_names(storage):
        raise LightCNNError(f"--report: no study named '{spec.name}' in --storage {shown(a.storage)}; run the sweep first")

    def report(study: object, rows: list | None = None) -> None:
        try:
            write_sweep_report(spec, study, rows)
        except Exception as err:  # noqa: BLE001 - a report problem must not stop the trials
            print(f"lightcnn sweep: warning: the sweep report could not be written: {err}", file=sys.stderr)

    worker = Worker(spec, checked, storage, extra, on_trial=report, say=lambda m: print(m, file=sys.stderr, flush=True))
    if not a.report:
        worker.run()
    worker.trials()  # trials of workers that are gone (killed, crashed) are marked interrupted, not shown running
    rows = rows_of(spec, worker.study)  # read once: for the final report and the summary line
    report(worker.study, rows)
    if spec.search is None:  # this command's trials only: with --only, the report shows the others too
        asked = {plan.key for plan in spec.plans}
        rows, total = [r for r in rows if r.key in asked], len(asked)
    else:
        total = spec.search.trials
    done = sum(r.state == "done" or r.state.startswith("pruned") for r in rows)
    failed = [r for r in rows if r.state.startswith(("failed", "interrupted"))]
    print(f"lightcnn sweep {spec.name}: {done} of {total} trials finished, {len(failed)} failed"
          f"{' (' + ', '.join(r.key for r in failed) + ')' if failed else ''}; report: {spec.folder / 'sweep.md'}")
    return 1 if failed else 0

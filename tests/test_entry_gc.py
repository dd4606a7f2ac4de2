"""The ``lightcnn`` console script's garbage-collector tuning (issue 15's fixed cost): imports run
with the cyclic collector paused and are then frozen; at the end the run's garbage is collected
once (finalizers run) and the rest frozen so the interpreter's shutdown does not walk it.
``main()`` called from Python leaves the collector alone."""

from __future__ import annotations

import gc
import subprocess
import sys

from lightcnn import entry

SCRIPT = """
import gc, sys
from lightcnn import entry

out = sys.argv[1]

class Cycle:
    def __del__(self):
        with open(out, "a") as f:
            f.write("finalized\\n")

def fake_main():
    with entry._frozen_imports(entry._console):
        during = gc.isenabled()
        import json  # noqa: F401
    a, b = Cycle(), Cycle()  # made after the freeze, as a run's objects are
    a.other, b.other = b, a  # garbage only the cyclic collector frees
    with open(out, "a") as f:
        f.write(f"console={entry._console} during={during} after={gc.isenabled()} frozen={gc.get_freeze_count() > 0}\\n")
    return 3

entry.main = fake_main
entry.run()
"""


def test_console_run_pauses_gc_for_imports_and_still_finalizes_cycles(tmp_path):
    out = tmp_path / "log.txt"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr  # main()'s status is the exit status
    lines = out.read_text().splitlines()
    assert lines[0] == "console=True during=False after=True frozen=True"
    assert lines[1:] == ["finalized", "finalized"]  # the end-of-run collection ran both __del__


def test_main_called_from_python_leaves_the_collector_alone():
    frozen = gc.get_freeze_count()
    with entry._frozen_imports(entry._console):
        assert gc.isenabled()
    assert entry._console is False and gc.get_freeze_count() == frozen and gc.isenabled()

"""The test tiers: the opt-in ones (cluster, readme, labs) run only when -m names them."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


def collected(*args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return [line for line in out.stdout.splitlines() if "::" in line]


@pytest.mark.slow
def test_opt_in_tiers_run_only_when_named():
    files = ["tests/test_ddp.py", "tests/test_readme.py", "tests/test_trust_mechanisms.py"]
    quick = collected("-m", "not slow", *files)  # the opt-in tiers stay out
    assert quick and not any("test_ddp.py" in t or "test_readme.py" in t or "fits_started_together" in t for t in quick), quick
    cluster = collected("-m", "cluster", *files)  # named: in, and the other opt-in tier still out
    assert any("fits_started_together" in t for t in cluster) and all("test_readme.py" not in t for t in cluster), cluster

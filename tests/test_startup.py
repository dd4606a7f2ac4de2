"""What answers before Lightning is imported (issue 15's start-up): the built-in names' table
matches what the modules register, and ``--help``, ``list``, unknown commands and the tools'
argument errors run without importing Lightning (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lightcnn.catalogue import BUILTINS, PROVIDERS
from lightcnn.registry import REGISTRIES

PROBE = """
import contextlib, io, json, sys
from lightcnn.entry import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        code = main({argv!r})
    except SystemExit as e:
        code = e.code
heavy = sorted(m for m in ("lightning", "torchmetrics", "matplotlib", "umap", "timm", "pytorch_metric_learning", "sklearn") if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy, "torch": "torch" in sys.modules, "out": out.getvalue(), "err": err.getvalue()}}))
"""


def probe(argv: list[str], cwd) -> dict:  # noqa: ANN001
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_catalogue_is_what_the_builtin_modules_register() -> None:
    # conftest imported every built-in package; plugins registered by tests live outside lightcnn.
    for kind, registry in REGISTRIES.items():
        registered = {n: obj.__module__ for n, obj in registry._items.items() if obj.__module__.startswith("lightcnn.")}
        assert registered == BUILTINS[kind], kind
    assert set(REGISTRIES["backbones"]._providers) == set(PROVIDERS["backbones"])


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["--help"], 0, "usage: lightcnn COMMAND"),
        (["fitt"], 2, "unknown command 'fitt'; did you mean fit?"),
        (["list"], 0, "  mnist_cnn\n"),
        (["list", "backbones", "fast*"], 0, "backbones:\n  fastnet\n"),
        (["list", "models"], 2, "invalid choice: 'models'"),
        (["report"], 2, "the following arguments are required: RUN_DIR"),
        pytest.param(["export", "--ckpt", "x.ckpt", "--opset", "17"], 2, "--opset 17: the torch.export-based ONNX exporter writes opset 18",
                     marks=pytest.mark.slow),  # imports torch (the exporter's limits come from it): seconds
        (["lr-find", "--config", "c.yaml", "--min_lr", "1", "--max_lr", "0.1"], 2, "need 0 < --min_lr < --max_lr"),
        (["knn", "--bogus"], 2, "the following arguments are required: --ckpt"),
        (["visualize", "--ckpt", "x.ckpt"], 2, "one of the arguments"),
        (["sweep", "--config", "s.yaml", "-x"], 2, "unexpected argument -x"),
    ],
)
def test_answers_without_importing_lightning(tmp_path, argv, code, says) -> None:
    got = probe(argv, tmp_path)
    assert got["code"] == code
    assert says in got["out"] + got["err"]
    assert got["heavy"] == []  # not Lightning, torchmetrics, matplotlib, umap, timm, pml or scikit-learn


@pytest.mark.slow
def test_list_imports_a_plugin_but_not_lightning(tmp_path) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "wide.py").write_text(
        "from torch import nn\nfrom lightcnn.registry import BACKBONES\n\n"
        "@BACKBONES.register('wide_net')\nclass Wide(nn.Module):\n    pass\n"
    )
    got = probe(["list", "backbones", "w*"], tmp_path)
    assert (got["code"], got["out"], got["heavy"], got["torch"]) == (0, "backbones:\n  wide_net\n", [], True)

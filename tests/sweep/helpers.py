"""Tiny sweeps over the synthetic MNIST of ``tests.conftest`` (300 train / 100 test digits)."""

import json
from pathlib import Path

from tests.conftest import REPO, write_mnist_layout

BASE = REPO / "configs" / "mnist_fast.yaml"


def tiny_overrides(root: Path, epochs: int = 1) -> str:
    return (f"overrides:\n  data.root: {root}\n  data.download: false\n  data.batch_size: 32\n  data.val_size: 0.2\n"
            f"  trainer.max_epochs: {epochs}\n  trainer.enable_progress_bar: false\n  trainer.enable_model_summary: false\n"
            f"  trainer.num_sanity_val_steps: 0\n"
            f"  model.backbone_args: {{width: 4, batchnorm: true}}\n")


def write_sweep(folder: Path, body: str, name: str = "tiny", epochs: int = 1) -> Path:
    """A sweep file ``folder/<name>.yaml`` on the tiny MNIST, with ``body`` (grid/variants/search)."""
    root = folder / "data"
    if not (root / "MNIST").is_dir():
        write_mnist_layout(root)
    path = folder / f"{name}.yaml"
    path.write_text(f"base: {BASE}\n{tiny_overrides(root, epochs)}{body}")
    return path


def study_of(folder: Path, name: str):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / "runs" / name / "study.journal")))
    return optuna.load_study(study_name=name, storage=storage)


def trials_by_key(study) -> dict[str, list]:
    out: dict[str, list] = {}
    for t in study.get_trials():
        if "lightcnn:ignored" not in t.system_attrs:
            out.setdefault(t.user_attrs["key"], []).append(t)
    return out


def history(run: Path) -> dict:
    return json.loads((run / "history.json").read_text())

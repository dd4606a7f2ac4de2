"""Using a trained checkpoint outside the Trainer: embed a split, k-NN classify against another."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from lightcnn.data.base import InMemoryDataModule
from lightcnn.errors import LightCNNError
from lightcnn.tasks.base import BaseTask

SPLITS = ("train", "val", "test")


def load_task(ckpt: str | Path) -> BaseTask:
    """Rebuild the task saved in a lightcnn checkpoint (any task class), in eval mode, on CPU.

    The task's ``trained_normalization`` is the ``(mean, std)`` its DataModule saved in the
    checkpoint (what the model was trained with), or None.

    Raises:
        LightCNNError: the file is missing or is not a lightcnn checkpoint.
    """
    if not Path(ckpt).is_file():
        raise LightCNNError(f"checkpoint {ckpt} does not exist")
    try:
        # weights_only: a checkpoint is tensors and plain containers; nothing in it may run code.
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        cls = _task_class(str(state.get("hyper_parameters", {}).get("_class_path", "")), ckpt)
        task = cls.load_from_checkpoint(str(ckpt), map_location="cpu", weights_only=True)
    except (KeyError, RuntimeError, TypeError, ValueError, EOFError, AttributeError, pickle.UnpicklingError) as err:
        raise LightCNNError(f"{ckpt} is not a lightcnn checkpoint ({type(err).__name__}: {err})") from err
    task.trained_normalization = _normalization(state)
    return task.eval()


def _normalization(state: dict) -> tuple[list[float], list[float]] | None:
    """The ``(mean, std)`` a DataModule saved in a loaded checkpoint, or None."""
    for value in state.values():
        if isinstance(value, dict) and isinstance(value.get("mean"), list) and isinstance(value.get("std"), list):
            return value["mean"], value["std"]
    return None


def _task_class(class_path: str, ckpt: str | Path) -> type[BaseTask]:
    """The task class a checkpoint names, if it is an already imported ``BaseTask`` subclass
    (Lightning drops ``_class_path`` when loading through the base class)."""
    from lightcnn.registry import TASKS

    name = class_path.rpartition(".")[2]
    if name in TASKS and issubclass(TASKS.get(name), BaseTask):
        return TASKS.get(name)
    raise LightCNNError(f"{ckpt}: its task {class_path or '(none)'} is not a registered lightcnn task; known: {', '.join(TASKS)}")


def check_compatible(task: BaseTask, dm: InMemoryDataModule, ckpt: str | Path) -> None:
    """The checkpoint's input shape must match the data's."""
    want = (task.in_channels, task.image_size)
    got = (dm.in_channels, dm.image_size)
    if want != got:
        raise LightCNNError(
            f"{ckpt} was trained on {want[0]}-channel {want[1]}x{want[1]} images but the data gives "
            f"{got[0]}-channel {got[1]}x{got[1]}; set data.init_args.grayscale / image_size to match"
        )


@torch.no_grad()
def embed_split(task: BaseTask, dm: InMemoryDataModule, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs of ``task`` (embeddings, or logits for a classifier) and labels for a whole split."""
    if split not in SPLITS:
        raise LightCNNError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    dm.setup("test" if split == "test" else "fit")
    if split == "train":  # the train split of every class (held-out ones too), in order, no augmentation
        x, y = dm.splits.get("train_all_classes", dm.splits["train"])
        batches = [(x[i : i + dm.eval_batch_size], y[i : i + dm.eval_batch_size]) for i in range(0, len(y), dm.eval_batch_size)]
    else:
        batches = list(dm.val_dataloader() if split == "val" else dm.test_dataloader())
    outs, labels = [], []
    for xb, yb in batches:
        xb, yb = dm.on_after_batch_transfer((xb, yb), 0)
        outs.append(task(xb))
        labels.append(yb)
    return torch.cat(outs), torch.cat(labels)


def knn_classify(
    ref: torch.Tensor, ref_labels: torch.Tensor, query: torch.Tensor, k: int, num_classes: int
) -> torch.Tensor:
    """Predicted labels of ``query``: similarity-weighted vote of its ``k`` most cosine-similar
    references (pytorch-metric-learning's batched k-NN)."""
    from pytorch_metric_learning.distances import CosineSimilarity
    from pytorch_metric_learning.utils.inference import CustomKNN

    if not 1 <= k <= len(ref):
        raise LightCNNError(f"--k must be between 1 and the number of references ({len(ref)}), got {k}")
    sims, idx = CustomKNN(CosineSimilarity(), batch_size=2048)(query, k, ref, False)
    votes = torch.zeros(len(query), num_classes)
    votes.scatter_add_(1, ref_labels[idx], sims.clamp_min(0) + 1e-6)
    return votes.argmax(dim=1)


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """``np.savez`` through a temporary file, so an interrupted write leaves nothing half-written."""
    from lightcnn.io import atomic_write

    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)

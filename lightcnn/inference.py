"""Using a trained checkpoint outside the Trainer: embed a split, k-NN classify against another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lightcnn.data.base import InMemoryDataModule
from lightcnn.data.info import LEGACY_DATA_KEYS, data_info_of
from lightcnn.errors import LightCNNError
from lightcnn.run import check_checkpoint
from lightcnn.tasks.base import BaseTask

SPLITS = ("train", "val", "test")


def load_task(ckpt: str | Path) -> BaseTask:
    """Rebuild the task saved in a lightcnn checkpoint (any registered task class) from the
    checkpoint alone, in eval mode, on CPU: its data facts and normalisation travel with it.
    Called on float images outside [0, 1] (0-255 floats), it raises LightCNNError naming the range.

    Checkpoints from before ``DataInfo`` (hyperparameters ``num_classes`` ... ``image_size``)
    and before the model kept its normalisation are read as before, with a one-line note.

    Raises:
        LightCNNError: the file is missing or is not a lightcnn checkpoint (named).
    """
    # weights_only, and only lightcnn's, plugins' and registered classes: nothing in it may run code.
    state = check_checkpoint(ckpt, weights_only=True, way_out=None)
    try:
        hparams = dict(state.get("hyper_parameters") or {})
        cls = _task_class(str(hparams.pop("_class_path", "")), ckpt)
        hparams.pop("_instantiator", None)
        legacy = {k: hparams.pop(k) for k in LEGACY_DATA_KEYS if k in hparams}
        if "data" not in hparams:
            if not legacy:
                raise LightCNNError(f"{ckpt} does not record its data facts (DataInfo): it was not written by lightcnn")
            hparams["data"] = {k: v for k, v in legacy.items() if v is not None}
        if "backbone" not in hparams:
            raise LightCNNError(f"{ckpt} does not record its backbone (a module built in Python): rebuild the task and load the weights yourself")
        task = cls(**hparams)
        task.on_load_checkpoint(state)
        task.load_state_dict(state["state_dict"])
        task.apply_memory_format()  # as setup() does in a fit
        task.normalize.check_inputs = True  # its callers are users: 0-255 floats are named, not answered
    except LightCNNError:
        raise
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as err:
        raise LightCNNError(f"{ckpt} is not a lightcnn checkpoint ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from err
    return task.eval()


def _task_class(class_path: str, ckpt: str | Path) -> type[BaseTask]:
    """The task class a checkpoint names, if it is a registered ``BaseTask`` subclass."""
    from lightcnn.registry import TASKS

    # by its class name (lightcnn's tasks), or by the import path (a plugin's, registered under a name of its own)
    cls = TASKS.find(class_path.rpartition(".")[2]) or TASKS.find(class_path)
    if isinstance(cls, type) and issubclass(cls, BaseTask):
        return cls
    raise LightCNNError(f"{ckpt}: its task {class_path or '(none)'} is not a registered lightcnn task; known: {', '.join(TASKS)}")


def check_compatible(task: BaseTask, dm: InMemoryDataModule, ckpt: str | Path) -> None:
    """The checkpoint's input shape must match the data's."""
    info = data_info_of(dm)
    if (task.in_channels, task.image_size) != (info.in_channels, info.image_size):
        raise LightCNNError(
            f"{ckpt} was trained on {task.data_info.describe(classes=False)} but the data gives "
            f"{info.describe(classes=False)}; set data.init_args.grayscale / image_size to match"
        )


@torch.no_grad()
def split_batches(dm: InMemoryDataModule, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(images, labels)`` batches of a whole split as the task receives them (float in [0, 1],
    not normalised, never augmented); ``train`` is the train split of every class (held-out ones
    too), in order."""
    if split not in SPLITS:
        raise LightCNNError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    dm.setup("test" if split == "test" else "fit")
    if split == "train":
        x, y = dm.splits.get("train_all_classes", dm.splits["train"])
        batches = ((x[i : i + dm.eval_batch_size], y[i : i + dm.eval_batch_size]) for i in range(0, len(y), dm.eval_batch_size))
    else:
        batches = dm.val_dataloader() if split == "val" else dm.test_dataloader()
    for batch in batches:
        yield dm.on_after_batch_transfer(tuple(batch[:2]), 0)


@torch.no_grad()
@torch.inference_mode()
def embed_split(
    task: BaseTask, dm: InMemoryDataModule, split: str, progress: bool = False, forward: Any = None,
    precision: str = "32",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs of ``task`` (embeddings, or logits for a classifier) and labels for a whole split
    (the task normalises the images itself), without autograd; ``forward`` instead of
    ``task(x)`` (a classifier's ``evaluate``: its test-time augmentation, as ``test`` uses it).
    With ``progress``, a bar on a terminal's stderr and one line with the count and seconds when
    done. ``precision`` ``"bf16"`` computes under bfloat16 autocast (``lightcnn.precision``); the
    outputs are float32 either way."""
    import sys
    import time

    from tqdm import tqdm

    from lightcnn.precision import autocast

    start = time.perf_counter()
    outs, labels = [], []
    with tqdm(total=None, unit="img", desc=f"embedding {split}", file=sys.stderr, leave=False,
              disable=not (progress and sys.stderr.isatty())) as bar, autocast(precision):
        for xb, yb in split_batches(dm, split):
            outs.append((forward or task)(xb).float())
            labels.append(yb)
            bar.update(len(yb))
    out, y = torch.cat(outs), torch.cat(labels)
    if progress:
        kind = "bfloat16" if precision == "bf16" else "float32"
        print(f"embedded {split}: {len(y):,} images in {time.perf_counter() - start:.1f} s ({kind})", file=sys.stderr)
    return out, y


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


def split_images(dm: InMemoryDataModule, split: str, n: int) -> torch.Tensor:
    """The first ``n`` images of a split as the task receives them: float in [0, 1], ``(n, C, H, W)``."""
    images: list[torch.Tensor] = []
    count = 0
    for x, _ in split_batches(dm, split):
        images.append(x[: n - count])
        count += len(images[-1])
        if count >= n:
            break
    if count < n:
        raise LightCNNError(f"the {split} split has {count} images, fewer than the {n} asked for")
    return torch.cat(images).float()

"""What a training/validation/test batch is: ``(images, labels)``, from any DataModule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from lightcnn.errors import LightCNNError
from lightcnn.lightning_overrides import trainer_of

IMAGE_KEYS, LABEL_KEYS = ("image", "images"), ("label", "labels")


def images_and_labels(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` of a batch given as a sequence ``(images, labels, ...)`` (lightcnn's
    DataModules, torchvision datasets) or a mapping with ``image``/``images`` and
    ``label``/``labels`` keys.

    Raises:
        LightCNNError: any other batch, described (type, length or keys).
    """
    if isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)) and len(batch) >= 2:
        return batch[0], batch[1]
    if isinstance(batch, Mapping):
        image = next((batch[k] for k in IMAGE_KEYS if k in batch), None)
        label = next((batch[k] for k in LABEL_KEYS if k in batch), None)
        if image is not None and label is not None:
            return image, label
        what = f"a mapping with keys {sorted(map(str, batch))}"
    elif isinstance(batch, torch.Tensor):
        what = f"a single tensor of shape {tuple(batch.shape)}"
    else:
        what = f"a {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, Sequence) else "")
    raise LightCNNError(
        f"a batch from the DataModule is {what}; lightcnn's tasks need (images, labels) or a mapping with "
        f"'image' and 'label' keys"
    )


def task_batch(task: Any, batch: Any, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``images_and_labels(batch)``, with the first batch of each ``stage`` checked against the
    data facts the task was built for (``check_batch``): a DataModule whose batches disagree with
    its own ``data_info`` fails there, naming both, instead of deep inside the model (or, for a
    net with global pooling, training silently on images of another size than it declares and
    exports). Later batches cost one set lookup."""
    x, y = images_and_labels(batch)
    checked = task.__dict__.setdefault("_checked_batch_stages", set())  # a plain attribute, not an nn.Module one
    if stage not in checked:
        dm = getattr(trainer_of(task), "datamodule", None)
        check_batch(x, y, task.data_info, f"a {stage} batch from {type(dm).__name__ if dm is not None else 'the DataModule'}")
        checked.add(stage)
    return x, y


def check_batch(x: Any, y: Any, info: Any, source: str) -> None:
    """Images ``(B, in_channels, image_size, image_size)`` and labels ``(B,)`` of integers.

    Raises:
        LightCNNError: what the batch holds and what the data facts say.
    """
    want = f"(B, {info.in_channels}, {info.image_size}, {info.image_size})"
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        got = f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else f"a {type(x).__name__}"
        raise LightCNNError(f"{source} holds images of {got}; lightcnn's tasks take image batches {want}")
    if tuple(x.shape[1:]) != (info.in_channels, info.image_size, info.image_size):
        raise LightCNNError(f"{source} holds images of shape {tuple(x.shape)}, but the data facts say {info.describe(classes=False)}, "
                            f"so the task expects {want}: make its batches and its data_info (in_channels, image_size) agree")
    if not isinstance(y, torch.Tensor) or y.shape != (len(x),) or y.is_floating_point() or y.is_complex():
        got = f"{tuple(y.shape)} {y.dtype}" if isinstance(y, torch.Tensor) else f"a {type(y).__name__}"
        raise LightCNNError(f"{source} holds labels {got} for {len(x)} images; lightcnn's tasks take one integer class "
                            f"index per image, shape ({len(x)},)")

"""What a training/validation/test batch is: ``(images, labels)``, from any DataModule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from lightcnn.errors import LightCNNError

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

"""What a task takes from its DataModule when the Trainer sets it up: a check that the data is
what the task was built for, the normalisation, and the optional backbone contract
``init_from_data(images)`` (fastnet's whitening stem), run once when a fit starts from scratch."""

from __future__ import annotations

from typing import Any

import torch

from lightcnn.data.info import data_info_of
from lightcnn.errors import LightCNNError
from lightcnn.lightning_overrides import set_hparam, trainer_of
from lightcnn.tasks.batch import images_and_labels

DATA_INIT_IMAGES = 5000  # airbench whitens from 5,000 training images


def adopt_datamodule(task: Any, stage: str) -> None:
    """Called by ``BaseTask.setup``: check that the Trainer's DataModule gives the data ``task`` was
    built for (``DataInfo.check_same``; the number of classes too when ``task.fixed_classes``), and
    take the DataModule's normalisation when the model has none yet or a fit starts (the training
    data's statistics are the model's). A checkpoint loaded after this replaces them with its own."""
    dm = task.trainer.datamodule if trainer_of(task) is not None else None
    if dm is None:
        return
    info = data_info_of(dm)
    task.data_info.check_same(info, type(task).__name__, type(dm).__name__, classes=task.fixed_classes)
    if info.normalization is None and stage == "fit" and not task.normalize.known and task.trainer.ckpt_path is None:
        raise LightCNNError(
            f"{type(dm).__name__}.data_info has no mean and std, so {type(task).__name__} cannot normalise its images: "
            f"give DataInfo(..., mean=[...], std=[...]) with one value per channel ({info.in_channels}), the training "
            f"images' statistics in [0, 1] (mean 0 and std 1 for no normalisation)"
        )
    if (task.normalize.known and stage != "fit") or info.normalization is None:
        return
    task.normalize.set(*info.normalization)
    task.data_info = task.data_info.with_normalization(*info.normalization)
    set_hparam(task, "data", task.data_info.to_dict())


def training_images(task: Any, limit: int = DATA_INIT_IMAGES) -> torch.Tensor:
    """Up to ``limit`` training images in the task's input space (normalised, not augmented),
    from the start of the Trainer's training loader, on the task's device."""
    got, count = [], 0
    for batch in task.trainer.train_dataloader:
        x, _ = images_and_labels(batch)
        got.append(x[: limit - count])  # uint8 or float: task.normalize reads both
        count += len(got[-1])
        if count >= limit:
            break
    return task.normalize(torch.cat(got).to(task.device))


def init_backbone_from_data(task: Any) -> None:
    """Call ``task.backbone.init_from_data`` with training images when a fit starts from scratch
    (not when it resumes from a checkpoint). Rank 0's result is broadcast, so every DDP rank
    starts from the same weights."""
    init = getattr(task.backbone, "init_from_data", None)
    trainer = task.trainer
    if init is None or trainer.ckpt_path is not None or trainer.global_step > 0:
        return
    if trainer.is_global_zero:
        init(training_images(task))
    if trainer.world_size > 1:
        state = trainer.strategy.broadcast({k: v.cpu() for k, v in task.backbone.state_dict().items()})
        task.backbone.load_state_dict(state)

"""The optional backbone contract ``init_from_data(images)``: initialisation from the training
data (fastnet's whitening stem), run once when a fit starts from scratch."""

from __future__ import annotations

from typing import Any

import torch

from lightcnn.tasks.batch import images_and_labels

DATA_INIT_IMAGES = 5000  # airbench whitens from 5,000 training images


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

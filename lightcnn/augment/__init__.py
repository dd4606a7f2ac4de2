"""Batched augmentations (registered by name) and the pipeline that applies them."""

from lightcnn.augment import color, cutout, flip, geometric  # noqa: F401  (registration side effects)
from lightcnn.augment.base import BatchAugment
from lightcnn.augment.pipeline import Pipeline

__all__ = ["BatchAugment", "Pipeline"]

"""Tasks (LightningModules); importing this package registers them."""

from lightcnn.tasks.base import BaseTask
from lightcnn.tasks.classification import ClassificationTask

__all__ = ["BaseTask", "ClassificationTask"]

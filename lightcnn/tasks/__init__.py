"""Tasks (LightningModules); importing this package registers them."""

from lightcnn.tasks.base import BaseTask
from lightcnn.tasks.classification import ClassificationTask
from lightcnn.tasks.embedding import EmbeddingTask

__all__ = ["BaseTask", "ClassificationTask", "EmbeddingTask"]

"""Callbacks, one per file; importing this package registers them."""

from lightcnn.callbacks.class_report import ClassReport
from lightcnn.callbacks.umap import UMAPCallback

__all__ = ["ClassReport", "UMAPCallback"]

"""Callbacks, one per file; importing this package registers them."""

from lightcnn.callbacks.class_report import ClassReport

__all__ = ["ClassReport"]

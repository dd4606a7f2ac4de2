"""Callbacks, one per file; importing this package registers them."""

from lightcnn.callbacks.class_report import ClassReport
from lightcnn.callbacks.epoch_lines import EpochLines
from lightcnn.callbacks.lookahead import Lookahead
from lightcnn.callbacks.prediction_csv import PredictionCSV
from lightcnn.callbacks.run_report import RunReport
from lightcnn.callbacks.umap import UMAPCallback

__all__ = ["ClassReport", "EpochLines", "Lookahead", "PredictionCSV", "RunReport", "UMAPCallback"]

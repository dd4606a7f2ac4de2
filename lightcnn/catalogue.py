"""lightcnn's built-in registrations by name, with the module that registers each, so that
``lightcnn list`` answers without importing them (they import torch and Lightning: seconds).
``tests/test_catalogue.py`` checks this table against what importing the modules registers."""

from __future__ import annotations

import importlib

BUILTIN_PACKAGES = ("lightcnn.augment", "lightcnn.callbacks", "lightcnn.data", "lightcnn.models", "lightcnn.tasks")

_AUG, _CB, _DATA, _MODELS = "lightcnn.augment.", "lightcnn.callbacks.", "lightcnn.data.", "lightcnn.models."
BUILTINS: dict[str, dict[str, str]] = {
    "augmentations": {
        "brightness": _AUG + "color", "contrast": _AUG + "color", "cutout": _AUG + "cutout", "grayscale": _AUG + "color",
        "hflip": _AUG + "flip", "hue": _AUG + "color", "random_crop": _AUG + "geometric", "rotation": _AUG + "geometric",
        "saturation": _AUG + "color", "scale": _AUG + "geometric", "translate": _AUG + "geometric", "vflip": _AUG + "flip",
    },
    "backbones": {
        "cifar100_cnn": _MODELS + "convnet", "cifar10_base": _MODELS + "convnet", "convnet": _MODELS + "convnet",
        "embed_cnn": _MODELS + "convnet", "fastnet": _MODELS + "fastnet", "mlp": _MODELS + "mlp", "mnist_cnn": _MODELS + "convnet",
        "speednet": _MODELS + "speednet",
    },
    "callbacks": {
        "ClassReport": _CB + "class_report", "EpochLines": _CB + "epoch_lines", "Lookahead": _CB + "lookahead",
        "PredictionCSV": _CB + "prediction_csv", "RunReport": _CB + "run_report", "UMAPCallback": _CB + "umap",
    },
    "datamodules": {
        "CIFAR100DataModule": _DATA + "cifar100", "CIFAR10DataModule": _DATA + "cifar10",
        "FashionMNISTDataModule": _DATA + "fashion_mnist", "Flowers17DataModule": _DATA + "flowers17",
        "ImageFolderDataModule": _DATA + "image_folder", "MNISTDataModule": _DATA + "mnist",
    },
    "tasks": {"ClassificationTask": "lightcnn.tasks.classification", "EmbeddingTask": "lightcnn.tasks.embedding"},
}
# Names served from another library's own listing: registry -> prefix -> module that adds the provider.
PROVIDERS: dict[str, dict[str, str]] = {"backbones": {"timm": _MODELS + "timm_models"}}


def import_builtins() -> None:
    """Import every built-in package, registering its names (torch and Lightning come with them)."""
    for package in BUILTIN_PACKAGES:
        importlib.import_module(package)

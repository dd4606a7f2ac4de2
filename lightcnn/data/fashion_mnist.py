"""Fashion-MNIST: MNIST's IDX layout under ``root/FashionMNIST/raw/``."""

from __future__ import annotations

from typing import Any

from lightcnn.data.mnist import MNISTDataModule
from lightcnn.registry import DATAMODULES


@DATAMODULES.register()
class FashionMNISTDataModule(MNISTDataModule):
    """Zalando's Fashion-MNIST, 28x28 grayscale, 10 clothing classes.

    Read from ``root/FashionMNIST/raw/`` (plain or ``.gz`` IDX), else downloaded with
    torchvision; there is no offline fallback. See ``MNISTDataModule`` for the arguments.
    """

    folder = "FashionMNIST"
    torchvision_name = "FashionMNIST"
    has_fallback = False

    def __init__(self, root: str = "data", download: bool = True, **kwargs: Any) -> None:
        super().__init__(root=root, download=download, offline_fallback=False, **kwargs)

    @property
    def all_class_names(self) -> list[str]:
        return ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]

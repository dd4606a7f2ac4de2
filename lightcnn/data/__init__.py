"""DataModules, one file per dataset; importing this package registers them."""

from lightcnn.data import cifar10, cifar100, fashion_mnist, flowers17, image_folder, mnist  # noqa: F401  (registration side effects)
from lightcnn.data.base import InMemoryDataModule

__all__ = ["InMemoryDataModule"]

"""DataModules, one file per dataset; importing this package registers them.

``DataInfo`` is what a DataModule tells a task (see ``lightcnn.data.info``).
"""

from lightcnn.data.base import InMemoryDataModule
from lightcnn.data.cifar10 import CIFAR10DataModule
from lightcnn.data.cifar100 import CIFAR100DataModule
from lightcnn.data.fashion_mnist import FashionMNISTDataModule
from lightcnn.data.flowers17 import Flowers17DataModule
from lightcnn.data.image_folder import ImageFolderDataModule
from lightcnn.data.info import DataInfo, data_info_of
from lightcnn.data.mnist import MNISTDataModule

__all__ = [
    "CIFAR10DataModule", "CIFAR100DataModule", "DataInfo", "FashionMNISTDataModule", "Flowers17DataModule",
    "ImageFolderDataModule", "InMemoryDataModule", "MNISTDataModule", "data_info_of",
]

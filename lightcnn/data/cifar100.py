"""CIFAR-100 with both label sets, from the official pickles (``root/cifar-100-python/``)."""

from __future__ import annotations

from typing import Any, Literal

from lightcnn.data.cifar10 import CIFAR10DataModule
from lightcnn.errors import LightCNNError
from lightcnn.registry import DATAMODULES


# The official label orders (the ``meta`` file's), so classes are known before any file is read.
FINE = """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel
can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin
elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man
maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree
plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail
snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor train trout
tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
COARSE = """aquatic_mammals fish flowers food_containers fruit_and_vegetables household_electrical_devices
household_furniture insects large_carnivores large_man-made_outdoor_things large_natural_outdoor_scenes
large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles small_mammals trees
vehicles_1 vehicles_2""".split()
# FINE_TO_COARSE[f] = coarse label of fine label f (the official map).
FINE_TO_COARSE = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13, 15, 3, 15,
    0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13, 16, 19, 2, 4, 6, 19, 5, 5, 8, 19,
    18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]


@DATAMODULES.register()
class CIFAR100DataModule(CIFAR10DataModule):
    """CIFAR-100: 32x32 RGB, 100 fine classes in 20 coarse superclasses.

    torchvision's ``CIFAR100`` drops the coarse labels, so both are read here from the pickles.

    Args:
        label_level: train on the 100 ``fine`` or the 20 ``coarse`` labels.
        **kwargs: see ``CIFAR10DataModule``.

    Also exposes ``fine_class_names``, ``coarse_class_names`` and ``fine_to_coarse`` (the official
    map) for fine-to-coarse evaluation.
    """

    folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    files = {True: ["train"], False: ["test"]}
    meta_file = "meta"

    def __init__(self, root: str = "data", label_level: Literal["fine", "coarse"] = "fine", **kwargs: Any) -> None:
        if label_level not in ("fine", "coarse"):
            raise LightCNNError(f"data.label_level must be 'fine' or 'coarse', got {label_level!r}")
        self.label_level = label_level
        self.label_key = f"{label_level}_labels"
        super().__init__(root=root, **kwargs)

    @property
    def all_class_names(self) -> list[str]:
        return list(FINE if self.label_level == "fine" else COARSE)

    fine_class_names, coarse_class_names, fine_to_coarse = FINE, COARSE, FINE_TO_COARSE

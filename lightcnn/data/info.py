"""``DataInfo``: everything a DataModule tells a task, as one typed object.

The contract: a LightningDataModule that lightcnn can train on has a ``data_info`` attribute (or
property) holding a ``DataInfo``, valid from ``__init__`` on for the shape facts. Normalisation
may be unknown until ``setup()`` (statistics computed from the training split); the task reads
``data_info`` again after the DataModule's ``setup`` and keeps the statistics itself, so they are
saved in its checkpoints.

The CLI links ``data.data_info`` into ``model.init_args.data``; in Python pass it explicitly::

    dm = MNISTDataModule(root="data")
    task = ClassificationTask(backbone="mnist_cnn", data=dm.data_info)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from lightcnn.errors import LightCNNError


# How checkpoints written before DataInfo recorded the data facts: four hyperparameters.
LEGACY_DATA_KEYS = ("num_classes", "class_names", "in_channels", "image_size")


@dataclass(frozen=True)
class DataInfo:
    """The facts a task needs about its data.

    Args:
        num_classes: number of labels (0..num_classes-1).
        in_channels: image channels the model sees.
        image_size: square image side the model sees.
        class_names: one name per label (default: ``"0"``, ``"1"``, ...).
        heldout_class_ids: labels kept out of training (embedding runs); they stay in evaluation.
        mean, std: per-channel normalisation of images in [0, 1]; ``None`` while unknown (the
            task then takes them from the DataModule after its ``setup``), or for data that
            needs none.
        val_is_test: validation runs on the test split (``data.val_on_test``, the notebooks'
            protocol): validation figures are test figures, and so is what picked the checkpoint.

    Raises:
        LightCNNError: counts that are not positive, names or statistics of the wrong length.
    """

    num_classes: int
    in_channels: int
    image_size: int
    class_names: tuple[str, ...] = ()
    heldout_class_ids: tuple[int, ...] = ()
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = field(default=None)
    val_is_test: bool = False

    def __post_init__(self) -> None:
        for key in ("num_classes", "in_channels", "image_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise LightCNNError(f"DataInfo.{key} must be a positive int, got {value!r}")
        names = tuple(str(n) for n in self.class_names) or tuple(str(i) for i in range(self.num_classes))
        if len(names) != self.num_classes:
            raise LightCNNError(f"DataInfo: {len(names)} class_names for num_classes={self.num_classes}")
        object.__setattr__(self, "class_names", names)
        held = tuple(int(i) for i in self.heldout_class_ids)
        if any(not 0 <= i < self.num_classes for i in held):
            raise LightCNNError(f"DataInfo.heldout_class_ids {list(held)} must lie in 0..{self.num_classes - 1}")
        object.__setattr__(self, "heldout_class_ids", held)
        if (self.mean is None) != (self.std is None):
            raise LightCNNError("DataInfo: give mean and std together, or neither")
        if self.mean is not None:
            mean, std = tuple(map(float, self.mean)), tuple(map(float, self.std))
            if len(mean) != self.in_channels or len(std) != self.in_channels:
                raise LightCNNError(f"DataInfo: mean/std need {self.in_channels} values (one per channel), got {list(mean)}, {list(std)}")
            if min(std) <= 0:
                raise LightCNNError(f"DataInfo.std must be positive, got {list(std)}")
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "std", std)

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """``(mean, std)`` when known."""
        return None if self.mean is None else (self.mean, self.std)  # type: ignore[return-value]

    def with_normalization(self, mean: Any, std: Any) -> DataInfo:
        return replace(self, mean=None if mean is None else tuple(mean), std=None if std is None else tuple(std))

    def describe(self, classes: bool = True) -> str:
        """``3-channel 32x32 images of 10 classes``."""
        return f"{self.in_channels}-channel {self.image_size}x{self.image_size} images" + (f" of {self.num_classes} classes" if classes else "")

    def check_same(self, given: DataInfo, task: str, source: str, classes: bool = True) -> None:
        """Raise unless ``given`` (a DataModule's facts) has this data's channels and image size
        (and number of classes, when ``classes``): a task built for other data would fail inside
        its first layer or metric with a message about neither.

        Raises:
            LightCNNError: both descriptions, and how to make them agree.
        """
        keys = ("in_channels", "image_size", "num_classes") if classes else ("in_channels", "image_size")
        if any(getattr(self, k) != getattr(given, k) for k in keys):
            raise LightCNNError(f"{task} was built for {self.describe(classes)}, but {source} gives {given.describe(classes)}: "
                                f"build the task with data=<that DataModule>.data_info, or set the DataModule's grayscale / "
                                f"image_size{' / classes' if classes else ''} to match")

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers: what goes into hyperparameters and checkpoints (loadable with
        ``weights_only``)."""
        out = asdict(self)
        for key in ("class_names", "heldout_class_ids", "mean", "std"):
            out[key] = None if out[key] is None else list(out[key])
        return out

    @classmethod
    def coerce(cls, value: DataInfo | Mapping[str, Any], where: str = "model.data") -> DataInfo:
        """A ``DataInfo`` from itself or from its ``to_dict()`` form.

        Raises:
            LightCNNError: a mapping with unknown or missing keys (named).
        """
        if isinstance(value, DataInfo):
            return value
        if not isinstance(value, Mapping):
            hint = ": pass its .data_info (data=dm.data_info)" if hasattr(value, "data_info") else ""
            raise LightCNNError(f"{where} must be a DataInfo or a mapping of its fields, got {type(value).__name__}{hint}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(value) - known)
        if unknown:
            raise LightCNNError(f"{where} has unknown keys {unknown}; valid: {sorted(known)}")
        missing = [k for k in ("num_classes", "in_channels", "image_size") if value.get(k) is None]
        if missing:
            raise LightCNNError(f"{where} lacks {missing}: a DataInfo needs num_classes, in_channels and image_size")
        kwargs = {k: v for k, v in value.items() if v is not None}
        return cls(**kwargs)


def data_info_of(datamodule: Any) -> DataInfo:
    """The ``DataInfo`` a DataModule provides.

    Raises:
        LightCNNError: the DataModule has no ``data_info`` or it is not a ``DataInfo``.
    """
    info = getattr(datamodule, "data_info", None)
    if not isinstance(info, DataInfo):
        raise LightCNNError(
            f"{type(datamodule).__name__} does not provide the data facts lightcnn's tasks need: give it a "
            f"`data_info` property returning lightcnn.data.DataInfo(num_classes, in_channels, image_size, ...) "
            f"(got {type(info).__name__})"
        )
    return info


@runtime_checkable
class DescribesSplits(Protocol):
    """Optional, for the run report: a DataModule that can say how big its loaded splits are and
    draw its augmentation (``InMemoryDataModule`` does; others simply go without)."""

    def split_sizes(self) -> dict[str, int]: ...

    def augment_preview_png(self, n: int = 6, rows: int = 6, seed: int = 0) -> bytes | None: ...


@runtime_checkable
class DrawsSamples(Protocol):
    """Optional, for the run report: a DataModule that can draw a sample of its training images
    with their class names (``InMemoryDataModule`` does)."""

    def samples_png(self, n: int = 25) -> bytes: ...

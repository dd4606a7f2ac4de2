"""Per-channel normalisation as part of the model, so it is saved in checkpoints and exported
graphs: a task takes images in [0, 1] and normalises them itself."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lightcnn.errors import LightCNNError


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, with ``mean``/``std`` as saved buffers.

    ``known`` says whether the statistics were set (by ``set``, or by loading a state dict that
    holds them); using the module before that is an error, never a silent identity.
    """

    def __init__(self, channels: int, mean: Any = None, std: Any = None) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("std", torch.ones(1, channels, 1, 1))
        self.known = False
        self.check_next_training_batch = False  # armed when a fit starts (BaseTask.on_train_start): range_problem
        # Set by load_task: every eval-mode call is a user's own (task(x) in Python, lightcnn's
        # tools), where 0-255 floats (np.array(img) as float) would give confident garbage.
        self.check_inputs = False
        if mean is not None:
            self.set(mean, std)

    def set(self, mean: Any, std: Any) -> None:
        """Set the statistics (one value per channel)."""
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        if mean_t.shape != self.mean.shape or std_t.shape != self.std.shape:
            raise LightCNNError(f"normalisation needs {self.mean.shape[1]} values per statistic, got mean={list(mean)}, std={list(std)}")
        self.mean.copy_(mean_t)
        self.std.copy_(std_t)
        self.known = True

    def values(self) -> tuple[list[float], list[float]] | None:
        """``(mean, std)`` as lists, or None while unknown."""
        return (self.mean.flatten().tolist(), self.std.flatten().tolist()) if self.known else None

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        self.known = self.known or (f"{prefix}mean" in state_dict and f"{prefix}std" in state_dict)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        where = None
        if self.check_next_training_batch and self.training:
            self.check_next_training_batch = False
            where = DATAMODULE
        elif self.check_inputs and not self.training and not _tracing():
            where = CALLER
            if problem := shape_problem(x, self.mean.shape[1]):
                raise LightCNNError(problem)
        # uint8 images are 0-255 (a DataModule's own; lightcnn's convert theirs on the device already)
        x = x.to(self.mean.dtype).div_(255) if x.dtype == torch.uint8 else x.to(self.mean.dtype)
        if where is not None and (problem := range_problem(x, where)):
            raise LightCNNError(problem)
        if not self.known:
            raise LightCNNError(
                "the model has no normalisation statistics: fit it first, load a checkpoint, or give the data's "
                "mean and std (data.init_args.mean / std, or DataInfo(mean=..., std=...); mean 0 and std 1 for none)"
            )
        return (x - self.mean) / self.std


# How far outside [0, 1] a training batch may reach (an unclamped resize or a little noise)
# before it is taken for another scale: 0-255 floats, or images already normalised.
RANGE_SLACK = 0.5


def _tracing() -> bool:
    """An export or compile is recording the graph: no data-dependent check may go into it."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export()


# range_problem's two callers: a fit's DataModule, and a loaded model's user.
DATAMODULE = ("the first training batch from the DataModule holds", "do not normalise them in the DataModule; give data_info mean/std instead")
CALLER = ("the model was given", "it normalises them with its saved mean and std itself")


def shape_problem(x: Any, channels: int) -> str | None:
    """What is wrong with the layout of images given to a loaded model, or None: it takes a tensor
    ``(B, C, H, W)`` (or one image ``(C, H, W)``, or ``(H, W)`` for one channel). Keras and PIL
    put the channels last (``np.array(img)`` is ``(H, W, C)``), which torch reports only deep in the
    first convolution, as a channel count of the image's width."""
    kind = {1: "grayscale", 3: "RGB"}.get(channels, f"{channels}-channel")
    if not isinstance(x, torch.Tensor):
        return (f"the model was given a value of type {type(x).__name__}; it takes a torch tensor of {kind} images (B, {channels}, H, W): "
                f"torch.from_numpy(a) for a NumPy array")
    shape = tuple(x.shape)
    if (x.dim() == 4 and shape[1] == channels) or (x.dim() == 3 and shape[0] == channels) or (x.dim() == 2 and channels == 1):
        return None
    want = f"the model takes {kind} images (B, {channels}, H, W), or one image ({channels}, H, W)"
    if x.dim() in (3, 4) and shape[-1] == channels:
        order = "0, 3, 1, 2" if x.dim() == 4 else "2, 0, 1"
        return f"{want}; got shape {shape}, channels last: x.permute({order}) puts them first"
    if x.dim() in (3, 4):
        given = shape[-3]
        return (f"{want}; got shape {shape}, {given} channel{'s' if given != 1 else ''}"
                + (": convert the images to grayscale" if channels == 1 else f": convert the images to {kind}"))
    return f"{want}; got a {x.dim()}-dimensional tensor of shape {shape}"


def size_problem(x: torch.Tensor, features: torch.Tensor, image_size: int, num_features: int) -> str | None:
    """What is wrong when images of another size than a loaded model's give its backbone another
    number of features than its head takes (a flattening backbone), or None: torch named only the
    head's matrix shapes."""
    if features.dim() != 2 or features.shape[1] == num_features or tuple(x.shape[-2:]) == (image_size, image_size) or _tracing():
        return None
    h, w = x.shape[-2:]
    return (f"the model was built for {image_size}x{image_size} images; on {h}x{w} ones its backbone gives "
            f"{features.shape[1]} features where its head takes {num_features}: resize the images to {image_size}x{image_size}")


def range_problem(x: torch.Tensor, where: tuple[str, str] = DATAMODULE) -> str | None:
    """What is wrong with a batch of float images that should be in [0, 1], or None. One sync:
    on the first training batch of a fit, a DataModule yielding 0-255 floats, or normalising its
    images itself, would otherwise train on silently mis-scaled inputs (and export a model whose
    stated input range is wrong); on each call of a loaded model (``load_task``), a user's
    0-255 floats would give confident garbage."""
    if x.numel() == 0 or not x.is_floating_point():
        return None
    low, high = (float(v) for v in torch.aminmax(x.detach().float()))
    if low >= -RANGE_SLACK and high <= 1 + RANGE_SLACK:
        return None
    scale = "x / 255 for 0-255 values; " if high > 2 and low >= 0 else ""
    source, fix = where
    return (f"{source} images in [{low:.4g}, {high:.4g}], but tasks take "
            f"float images in [0, 1] (or uint8 0-255) and normalise them with the data's mean and std themselves: "
            f"scale them to [0, 1] ({scale}{fix})")


def upgrade_normalization(checkpoint: dict[str, Any], current: tuple[list[float], list[float]] | None) -> str | None:
    """Give a checkpoint written before the model kept its normalisation the ``normalize``
    buffers it lacks, in place: the statistics its DataModule saved (its ``state_dict`` under the
    DataModule's class name), else ``current`` (the data's). Returns the note to show, or None
    when the checkpoint already has them.

    Raises:
        LightCNNError: neither source has statistics.
    """
    state = checkpoint.get("state_dict", {})
    if "normalize.mean" in state:
        return None
    saved = next((v for v in checkpoint.values() if isinstance(v, dict) and isinstance(v.get("mean"), list)
                  and isinstance(v.get("std"), list)), None)
    stats = (saved["mean"], saved["std"]) if saved is not None else current
    if stats is None:
        raise LightCNNError(
            "the checkpoint holds no normalisation statistics (it predates lightcnn keeping them in the "
            "model) and the data gives none: set data.init_args.mean and std to the training values"
        )
    state["normalize.mean"] = torch.tensor(stats[0], dtype=torch.float32).view(1, -1, 1, 1)
    state["normalize.std"] = torch.tensor(stats[1], dtype=torch.float32).view(1, -1, 1, 1)
    if saved is not None:
        return "this checkpoint predates saved normalisation; using the statistics its DataModule saved"
    return "this checkpoint has no saved normalisation; using the data's"

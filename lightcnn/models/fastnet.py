"""A fast CIFAR net after Keller Jordan's airbench94: a small patch stem and three conv groups.

Each group is conv 3x3, max-pool 2, BatchNorm, GELU, conv 3x3, BatchNorm, GELU; a global max-pool
ends it. airbench94 (widths 64-256-256) reaches 94 % on CIFAR-10 in about ten epochs; ``width:
0.5`` is the CPU version, about four times cheaper. Two of airbench's initialisations are
options (off by default; ``benchmarks/airbench_tricks.py`` measures each):

- ``whiten``: the 2x2 stem is set, at the start of a fit, to the whitening transform of the
  training images' 2x2 patches (its weights then stay fixed; its bias trains);
- ``dirac``: every 3x3 conv starts as the identity on its first ``in_channels`` filters.

Three more of its settings are options too, for its learning rates (``configs/cifar10_gpu_fast.yaml``):
``bn_weight: false`` (BatchNorm scales fixed at 1), ``bn_momentum: 0.4`` and ``out_scale: 1/9``
(the features, hence the logits of a bias-free head, scaled down). Defaults: torch's BatchNorm.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lightcnn.errors import LightCNNError
from lightcnn.registry import BACKBONES


def _norm(c: int, momentum: float, weight: bool) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(c, momentum=momentum)
    norm.weight.requires_grad_(weight)  # fixed at 1 when not trained (airbench)
    return norm


def _group(c_in: int, c_out: int, momentum: float = 0.1, weight: bool = True) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.MaxPool2d(2), _norm(c_out, momentum, weight), nn.GELU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), _norm(c_out, momentum, weight), nn.GELU(),
    )


def whitening_filters(images: torch.Tensor, kernel: int, eps: float = 5e-4) -> torch.Tensor:
    """Filters ``(c*k*k, c, k, k)`` that whiten the ``k x k`` patches of ``images`` ``(N, c, H, W)``:
    the eigenvectors of the patches' second-moment matrix scaled by ``1 / sqrt(eigenvalue + eps)``,
    largest eigenvalue first (airbench's ``init_whitening_conv``)."""
    c = images.shape[1]
    patches = images.double().unfold(2, kernel, 1).unfold(3, kernel, 1)  # (N, c, H', W', k, k)
    flat = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kernel * kernel)
    values, vectors = torch.linalg.eigh(flat.T @ flat / len(flat))
    values, vectors = values.flip(0), vectors.flip(1)  # largest first
    return (vectors.T / torch.sqrt(values.clamp_min(0) + eps)[:, None]).reshape(-1, c, kernel, kernel).float()


@BACKBONES.register("fastnet")
class FastNet(nn.Module):
    """Stem (conv 2x2 to ``stem`` channels, GELU), three conv groups, global max-pool.

    Args:
        in_channels, image_size: input shape (at least 16 px: three poolings).
        widths: channels of the three groups, before ``width`` scaling.
        stem: stem channels (airbench: 24 = 2 x 3 x 2 x 2).
        width: multiplier for ``widths`` (0.5 = the CPU recipe).
        whiten: set the stem to the whitening transform of the training images' patches when a
            fit starts (``init_from_data``), as filters and their negatives, and keep it fixed.
            Needs an even ``stem`` of at most ``2 * in_channels * 4``.
        dirac: start each 3x3 conv as the identity on its first ``in_channels`` output filters.
        bn_weight: train the BatchNorm scales (false: fixed at 1; the net is then invariant to
            the scale of each conv's weights, and a high learning rate works; airbench: false).
        bn_momentum: BatchNorm's running-statistics momentum, torch's convention (airbench: 0.4).
        out_scale: multiply the pooled features by this (airbench: 1/9, with a head without bias).
    """

    def __init__(
        self, in_channels: int = 3, image_size: int = 32, widths: Sequence[int] = (64, 256, 256), stem: int = 24,
        width: float = 1.0, whiten: bool = False, dirac: bool = False, bn_weight: bool = True,
        bn_momentum: float = 0.1, out_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if width <= 0 or stem < 1 or len(widths) != 3 or min(widths) < 1 or image_size < 16:
            raise LightCNNError(
                f"fastnet: need width > 0, stem >= 1, three positive widths and image_size >= 16; "
                f"got width={width}, stem={stem}, widths={list(widths)}, image_size={image_size}"
            )
        if not 0.0 < bn_momentum <= 1.0 or not out_scale > 0:
            raise LightCNNError(f"fastnet: need 0 < bn_momentum <= 1 and out_scale > 0; got bn_momentum={bn_momentum}, "
                                f"out_scale={out_scale}")
        if whiten and (stem % 2 or stem > 2 * in_channels * 4):
            raise LightCNNError(
                f"fastnet: whiten needs an even stem of at most {2 * in_channels * 4} (2 x {in_channels} channels x 2 x 2 "
                f"patch values, each filter with its negative); got stem={stem}. Set backbone_args.stem or whiten: false"
            )
        chans = [max(1, round(w * width)) for w in widths]
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, stem, 2), nn.GELU(),
            _group(stem, chans[0], bn_momentum, bn_weight), _group(chans[0], chans[1], bn_momentum, bn_weight),
            _group(chans[1], chans[2], bn_momentum, bn_weight),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )
        self.num_features = chans[2]
        self.whiten, self.out_scale = whiten, out_scale
        if whiten:
            self.stem.weight.requires_grad_(False)  # the whitening transform stays; its bias trains
        if dirac:
            for conv in self.layers.modules():
                if isinstance(conv, nn.Conv2d) and conv is not self.stem:
                    with torch.no_grad():
                        nn.init.dirac_(conv.weight[: conv.in_channels])

    @property
    def stem(self) -> nn.Conv2d:
        return self.layers[0]  # not a second attribute: checkpoints keep their ``layers.0`` keys

    @torch.no_grad()
    def init_from_data(self, images: torch.Tensor) -> None:
        """Backbone contract (optional): called once when a fit starts from scratch, with up to
        ``DATA_INIT_IMAGES`` normalised training images. With ``whiten``, sets the stem."""
        if not self.whiten:
            return
        filters = whitening_filters(images.float(), self.stem.kernel_size[0])[: self.stem.out_channels // 2]
        self.stem.weight.copy_(torch.cat([filters, -filters]).to(self.stem.weight))

    def forward(self, x):  # noqa: ANN001, ANN201
        x = self.layers(x)
        return x * self.out_scale if self.out_scale != 1.0 else x

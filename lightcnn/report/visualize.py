"""What a CNN learned: first-layer filters, each conv layer's feature maps for one image, and the
predicted class probabilities."""

from __future__ import annotations

import math

import torch
from torch import nn

from lightcnn.errors import LightCNNError
from lightcnn.report.figures import image_grid_png, pyplot, to_png


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every ``nn.Conv2d`` in registration order, with its qualified name.

    Raises:
        LightCNNError: the model has none (a dense-only backbone such as ``mlp``).
    """
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not found:
        raise LightCNNError(
            f"the backbone {type(model).__name__} has no Conv2d layers, so it has no filters or feature maps to show "
            f"(a dense-only model such as mlp); visualize a convolutional backbone"
        )
    return found


def _unit(t: torch.Tensor) -> torch.Tensor:
    """Scale to [0, 1] by the tensor's own range (a constant tensor becomes 0.5)."""
    lo, hi = t.min(), t.max()
    return (t - lo) / (hi - lo) if hi > lo else torch.full_like(t, 0.5)


def filters_png(conv: nn.Conv2d, name: str, max_filters: int = 64) -> bytes:
    """The first ``max_filters`` kernels of ``conv``: one tile per input channel (each scaled by
    the filter's own range, so channels of one filter compare), plus an RGB tile for 3 inputs.

    One mosaic in one axes: a grid of axes (one per tile, 256 for a CIFAR stem) cost seconds."""
    import numpy as np

    plt = pyplot()
    w = conv.weight.detach().float().cpu()[:max_filters]
    n, cin, kh, kw = w.shape
    tiles = cin + (1 if cin == 3 else 0)
    per_row = max(1, min(8, 24 // tiles))  # filters side by side
    rows = math.ceil(n / per_row)
    gap, block_gap = 1, 3
    block_w = tiles * (kw + gap) - gap
    mosaic = np.ones((rows * (kh + block_gap), per_row * (block_w + block_gap), 3), dtype=np.float32)
    for f in range(n):
        r, c0 = divmod(f, per_row)
        scaled = _unit(w[f]).numpy()
        top, left = r * (kh + block_gap), c0 * (block_w + block_gap)
        for c in range(cin):
            x = left + c * (kw + gap)
            mosaic[top : top + kh, x : x + kw] = scaled[c][..., None]
        if cin == 3:
            x = left + 3 * (kw + gap)
            mosaic[top : top + kh, x : x + kw] = scaled.transpose(1, 2, 0)
    fig = plt.figure(figsize=(0.7 * per_row * tiles + 0.5, 0.75 * rows + 0.8))
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.86))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    labels = [f"in {c}" for c in range(cin)] + (["RGB"] if cin == 3 else [])
    for c0 in range(min(per_row, n)):
        for t, label in enumerate(labels):
            ax.text(c0 * (block_w + block_gap) + t * (kw + gap) + (kw - 1) / 2, -0.8, label, ha="center", va="bottom", fontsize=6)
    fig.suptitle(f"{name}: {n} of {conv.out_channels} filters, {kh}x{kw}, {cin} input channels", fontsize=9)
    return to_png(fig)


def signed_filters_png(conv: nn.Conv2d, name: str, input_channel: int | None = None, max_filters: int = 64) -> bytes:
    """The kernels of ``conv`` in a signed colour map: red positive, blue negative, white zero, on
    one scale symmetric about zero for the whole layer (as the notebooks' ``plot_conv_weights``
    with ``cmap="seismic"``); one tile per filter for ``input_channel``, or per filter and input
    channel when it is None.

    Raises:
        LightCNNError: ``input_channel`` outside the layer's input channels.
    """
    import numpy as np

    w = conv.weight.detach().float().cpu()[:max_filters]
    n, cin, kh, kw = w.shape
    if input_channel is not None and not 0 <= input_channel < cin:
        raise LightCNNError(f"--input-channel {input_channel}: {name} has input channels 0..{cin - 1}")
    chans = [input_channel] if input_channel is not None else list(range(min(cin, 8)))
    limit = float(w.abs().max()) or 1.0
    per_row = max(1, min(8, 24 // len(chans)))
    rows = math.ceil(n / per_row)
    gap, block_gap = 1, 3
    block_w = len(chans) * (kw + gap) - gap
    mosaic = np.full((rows * (kh + block_gap), per_row * (block_w + block_gap)), np.nan, dtype=np.float32)
    for f in range(n):
        r, c0 = divmod(f, per_row)
        top, left = r * (kh + block_gap), c0 * (block_w + block_gap)
        for t, c in enumerate(chans):
            mosaic[top : top + kh, left + t * (kw + gap) : left + t * (kw + gap) + kw] = w[f, c].numpy()
    plt = pyplot()
    fig = plt.figure(figsize=(0.7 * per_row * len(chans) + 1.3, 0.75 * rows + 0.8))
    ax = fig.add_axes((0.02, 0.02, 0.84, 0.86))
    cmap = plt.get_cmap("seismic").with_extremes(bad="white")  # the NaN gaps between filters
    image = ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_axis_off()
    fig.colorbar(image, cax=fig.add_axes((0.88, 0.1, 0.03, 0.7)))
    shown = f"input channel {input_channel}" if input_channel is not None else f"input channels 0-{len(chans) - 1} side by side"
    fig.suptitle(f"{name}: {n} of {conv.out_channels} filters, {kh}x{kw}, {shown} (red +, blue -)", fontsize=9)
    return to_png(fig)


def pick_conv(convs: list[tuple[str, nn.Conv2d]], layer: str | None) -> tuple[str, nn.Conv2d]:
    """The conv layer named ``layer`` (its module name, or its 0-based position among the convs);
    the first when None.

    Raises:
        LightCNNError: no such layer (the valid names and positions are listed).
    """
    if layer is None:
        return convs[0]
    for i, (name, conv) in enumerate(convs):
        if layer in (name, str(i)):
            return name, conv
    listed = ", ".join(f"{i}={name}" for i, (name, _) in enumerate(convs))
    raise LightCNNError(f"--layer {layer}: no such conv layer; valid (position=name): {listed}")


@torch.no_grad()
def feature_maps(model: nn.Module, forward: nn.Module, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Run ``forward(x)`` for one image ``(1, C, H, W)``; return each conv layer of ``model``'s
    output ``(channels, h, w)`` by name, and the forward output."""
    maps: dict[str, torch.Tensor] = {}
    hooks = [
        conv.register_forward_hook(lambda _m, _i, out, key=name: maps.__setitem__(key, out[0].detach().float().cpu()))
        for name, conv in conv_layers(model)
    ]
    try:
        out = forward(x)
    finally:
        for h in hooks:
            h.remove()
    return maps, out


def feature_map_png(fmap: torch.Tensor, name: str, max_channels: int = 32) -> bytes:
    """The first ``max_channels`` channels of one layer's output, each scaled by its own range
    (one mosaic, as ``image_grid_png`` draws it)."""
    n = min(max_channels, fmap.shape[0])
    channels = torch.stack([_unit(fmap[i]) for i in range(n)]).unsqueeze(1)
    title = f"{name}: {n} of {fmap.shape[0]} channels, {fmap.shape[1]}x{fmap.shape[2]}"
    return image_grid_png(channels, [str(i) for i in range(n)], cols=min(8, n), suptitle=title, cell=1.3, cmap="viridis")


def probabilities_png(image: torch.Tensor, probs: torch.Tensor, class_names: list[str], title: str, top: int = 10) -> bytes:
    """The input image ``(C, H, W)`` in [0, 1] beside a bar chart of the ``top`` class probabilities."""
    plt = pyplot()
    k = min(top, len(class_names))
    values, idx = probs.topk(k)
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [1, 2]})
    img = image.permute(1, 2, 0).clamp(0, 1).numpy()
    ax_img.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=1)
    ax_img.axis("off")
    ax_img.set_title(title, fontsize=8)
    ax_bar.barh(range(k)[::-1], values.numpy(), color="tab:blue")
    ax_bar.set_yticks(range(k)[::-1], [class_names[i] for i in idx.tolist()], fontsize=8)
    ax_bar.set_xlim(0, 1)
    ax_bar.set_xlabel("probability")
    for y, v in zip(range(k)[::-1], values.tolist()):
        ax_bar.text(min(v + 0.01, 0.9), y, f"{v:.3f}", va="center", fontsize=7)
    fig.tight_layout()
    return to_png(fig)

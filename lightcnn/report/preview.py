"""The data pictures of a run: a sample of training images with their class names, and the
augmentation preview (training images and N augmented versions of each)."""

from __future__ import annotations

from typing import Any


import torch


def pick_examples(y: torch.Tensor, rows: int) -> torch.Tensor:
    """Indices of ``rows`` images, cycling through the classes so each row shows another class."""
    by_class = [(y == c).nonzero().flatten() for c in range(int(y.max()) + 1)]
    picks, depth = [], 0
    while len(picks) < min(rows, len(y)):
        for idx in by_class:
            if depth < len(idx) and len(picks) < rows:
                picks.append(int(idx[depth]))
        depth += 1
    return torch.tensor(picks)


def preview_png(x_all: torch.Tensor, y_all: torch.Tensor, class_names: list[str], pipeline: Any, n: int = 8, rows: int = 6, seed: int = 0) -> bytes:
    """Render originals (first column, as evaluation sees them) and ``n`` augmented versions
    each, labelled by class; ``x_all`` uint8 ``(N, C, H, W)`` on any device (a DataModule with
    ``data_on_device`` keeps it on the GPU; the preview is drawn on the CPU), ``pipeline`` an
    augmentation ``Pipeline``."""
    from lightcnn.report.figures import pyplot, to_png

    plt = pyplot()
    y_all = y_all.cpu()
    idx = pick_examples(y_all, rows)
    x = x_all[idx.to(x_all.device)].cpu().float() / 255
    g = torch.Generator().manual_seed(seed)
    shown = [pipeline.eval_transform(x)] + [pipeline(x.clone(), g) for _ in range(n)]
    fig, axes = plt.subplots(len(idx), n + 1, figsize=(1.3 * (n + 1), 1.4 * len(idx)), squeeze=False)
    for r in range(len(idx)):
        for c, batch in enumerate(shown):
            ax = axes[r][c]
            img = batch[r].permute(1, 2, 0).clamp(0, 1).numpy()
            ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(class_names[int(y_all[idx[r]])], fontsize=8)
            if r == 0:
                ax.set_title("original" if c == 0 else f"aug {c}", fontsize=8)
    fig.suptitle(repr(pipeline), fontsize=7, wrap=True)
    fig.tight_layout()
    return to_png(fig, dpi=90)


def samples_png(x: torch.Tensor, y: torch.Tensor, class_names: list[str], cols: int = 5) -> bytes:
    """Images ``x`` uint8 ``(N, C, H, W)`` with their class names underneath, ``cols`` per row
    (the notebooks' first look at the data: 25 training images, 5 x 5); on any device."""
    from lightcnn.report.figures import image_grid_png

    return image_grid_png(x.cpu().float() / 255, [class_names[int(c)] for c in y.cpu()], cols=cols, suptitle="training images")

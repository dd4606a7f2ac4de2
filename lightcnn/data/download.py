"""Downloading an official dataset archive (only ever from ``prepare_data``: once per node)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def fetch_archive(url: str, root: str, md5: str) -> str | None:
    """Download and extract an official archive into ``root``, checking its MD5.

    Returns None on success, else the reason it failed (no network, bad checksum, ...), for the
    caller's "files not found" message.
    """
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(url, download_root=root, md5=md5)
    except Exception as err:  # noqa: BLE001 - any failure means "not available"
        text = str(err).strip().splitlines()
        return f"{type(err).__name__}: {text[-1] if text else ''}"
    return None


def root_is_dataset_folder(root: str, folder: str) -> str | None:
    """When ``root`` looks like the dataset's own folder (``.../MNIST`` or one holding ``raw/``)
    instead of the folder holding it, the sentence saying so and the fix; else None."""
    path = Path(root)
    if path.name == folder or (path / "raw").is_dir() and not (path / folder).exists():
        parent = path.parent if str(path.parent) not in ("", ".") else "."
        return (f"data.root={root} looks like the {folder} folder itself; data.root is the folder that holds {folder}/, "
                f"so try --data.root {parent}")
    return None


def remove_empty_dirs(path: Path, stop: Path) -> None:
    """Remove ``path`` and its parents up to (not including) ``stop`` while they are empty: a
    failed download must not leave empty folders in the user's data."""
    while path != stop and path.is_dir() and stop in path.parents:
        with contextlib.suppress(OSError):
            path.rmdir()
        if path.exists():
            return
        path = path.parent

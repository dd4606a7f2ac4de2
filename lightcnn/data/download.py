"""Downloading an official dataset archive (only ever from ``prepare_data``: once per node)."""

from __future__ import annotations


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

"""Names in sweep files: config keys, variant and value names (which name folders)."""

from __future__ import annotations

import re
from typing import Any

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=+-]*")  # a variant, value or sweep name: safe as a folder name
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")  # the CLI's dotted config keys


def value_name(value: Any, key: str, index: int) -> str:
    """A folder-safe name for a grid value or search choice: scalars by their text (a path by its
    last part), others by the key's last part and position (``augment1``)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, str)):
        text = str(value).rpartition("/")[2] if isinstance(value, str) else str(value)
        text = re.sub(r"[^A-Za-z0-9_.=+-]", "_", text)
        return text if NAME.fullmatch(text) else f"{key.rpartition('.')[2]}{index}"
    return f"{key.rpartition('.')[2]}{index}"

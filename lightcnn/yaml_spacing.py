"""A ``key:value`` written without the space YAML needs after the colon: YAML reads it as one
string, so ``max_epochs:1`` under ``trainer:`` makes ``trainer`` a string and ``{depth:4}`` a
mapping of the key ``'depth:4'`` to nothing. The parser's errors that follow name neither; these
helpers find the culprit for the messages of the config, sweep and option checks."""

from __future__ import annotations

import re
from pathlib import Path

_NO_SPACE = re.compile(r"(?<=[\w'\"]):(?=[^\s/\\])")  # key:value, but not http:// or C:\\

_GLUED = re.compile(r"[A-Za-z_][\w.-]*:[^\s/\\]\S*")


def unglued(text: object) -> str | None:
    """``'key: value'`` for a ``key:value`` written without the space YAML needs after the colon
    (YAML reads it as one string), else None. URLs and drive letters (``sqlite:///``, ``C:\\``)
    are not taken for one."""
    if not isinstance(text, str) or not _GLUED.fullmatch(text.strip()):
        return None
    return _NO_SPACE.sub(": ", text.strip(), count=1)


def space_hint(text: object) -> str:
    """`` (YAML needs a space after ':': 'key: value')`` for a glued ``key:value``, else ``""``."""
    fixed = unglued(text)
    return f" (YAML needs a space after ':': {fixed!r})" if fixed else ""


def glued_line(name: str | Path, lines: list[str], at: int) -> str | None:
    """``file:line: ...`` when line ``at`` (0-based) or the one before it, where YAML reports a
    syntax error, starts with a ``key:value`` missing its space."""
    for n in (at, at - 1):
        found = re.match(r"\s*(?:- )?((\S+).*)", lines[n]) if 0 <= n < len(lines) else None
        if found and unglued(found.group(2)):
            shown = found.group(1).split(" #")[0].rstrip()
            return (f"{name}:{n + 1}: {shown!r} is one string to YAML, not a key and a value: write "
                    f"{_NO_SPACE.sub(': ', shown, count=1)!r} (YAML needs a space after ':')")
    return None


def flow_hint(text: str) -> str:
    """A hint for a YAML flow collection written ``{depth:4}``: YAML reads ``depth:4`` as one
    string (a key with no value), not as a key and a value, so ``{depth:4}`` is not the mapping
    meant. Empty when ``text`` has no such colon inside braces or brackets."""
    if not text.lstrip().startswith(("{", "[")) or not _NO_SPACE.search(text):
        return ""
    return f"; YAML needs a space after each ':', as in {_NO_SPACE.sub(': ', text)!r}"

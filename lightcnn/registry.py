"""Name registries for backbones, datamodules, tasks, augmentations and callbacks.

Modelled on fvcore's ``Registry``: register, get, contains, iterate. A duplicate name is an
error naming both definitions; a miss names the registry, the close matches and the folders
that were searched for plugins. No scopes, no parents, no silent fallbacks.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.option_types import check_option_types
from lightcnn.yaml_spacing import space_hint

# Sources of names that are not registered one by one (timm's models): prefix -> (lister, getter).
Provider = tuple[Callable[[str], list[str]], Callable[[str], Any]]


def _where(obj: Any) -> str:
    """``file:line`` of a class or function, for messages that must point at a definition."""
    try:
        return f"{inspect.getsourcefile(obj)}:{inspect.getsourcelines(obj)[1]}"
    except (TypeError, OSError):
        return getattr(obj, "__module__", "?")


def _qualname(obj: Any) -> str:
    # A module imported twice (reload, tests) re-registers the same definition: not a clash.
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def accepted_options(factory: Any) -> tuple[set[str], bool]:
    """Parameter names a factory accepts, and whether it takes ``**kwargs``."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def check_options(factory: Any, options: dict[str, Any], what: str, hidden: tuple[str, ...] = ()) -> None:
    """Raise a ``LightCNNError`` naming every option ``factory`` does not take, and the valid ones."""
    names, var_kw = accepted_options(factory)
    bad = [] if var_kw else sorted(set(options) - names)
    if bad:
        valid = sorted(names - set(hidden))
        raise LightCNNError(f"{what} has no option {', '.join(map(repr, bad))}{space_hint(bad[0])}; valid options: {valid}")
    check_option_types(factory, options, what)


class Registry:
    """A mapping from lowercase-or-class names to objects, filled by a decorator.

    Args:
        kind: what the registry holds, used in messages (``"backbone"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}
        self._providers: dict[str, Provider] = {}

    def register(self, name: str | None = None) -> Callable[[Any], Any]:
        """Decorator: ``@BACKBONES.register("simple_cnn")``; the default name is ``obj.__name__``.

        Raises:
            LightCNNError: the name is already taken; the message names both definitions.
        """

        def deco(obj: Any) -> Any:
            key = name or obj.__name__
            old = self._items.get(key)
            if old is not None and _qualname(old) != _qualname(obj):
                raise LightCNNError(
                    f"duplicate {self.kind} name {key!r}: defined in {_where(old)} "
                    f"and again in {_where(obj)}; rename one of them"
                )
            self._items[key] = obj
            return obj

        return deco

    def add_provider(self, prefix: str, lister: Callable[[str], list[str]], getter: Callable[[str], Any]) -> None:
        """Serve every name ``prefix/NAME`` from another library's own listing (timm)."""
        self._providers[prefix] = (lister, getter)

    def get(self, name: str) -> Any:
        """Return the object registered as ``name``.

        Raises:
            LightCNNError: unknown name, listing close matches and where plugins were searched.
        """
        if name in self._items:
            return self._items[name]
        prefix, _, rest = name.partition("/")
        if rest and prefix in self._providers:
            lister, getter = self._providers[prefix]
            if lister(rest):
                return getter(rest)
        raise LightCNNError(self._miss_message(name))

    def find(self, key: str) -> Any | None:
        """The object registered as ``key``, or whose class name or import path ``key`` is (what run
        records and checkpoints hold for a class a plugin registered under a name of its own); None
        when there is none."""
        if key in self._items:
            return self._items[key]
        return next((self._items[n] for n in sorted(self._items) if key in (
            getattr(self._items[n], "__name__", None), f"{getattr(self._items[n], '__module__', '')}.{getattr(self._items[n], '__qualname__', '')}")), None)

    def _miss_message(self, name: str) -> str:
        from lightcnn.plugins import searched_locations  # late: plugins imports this module

        close = difflib.get_close_matches(name, list(self._items), n=5, cutoff=0.5)
        prefix, _, rest = name.partition("/")
        for pre, (lister, _) in self._providers.items():
            if rest and prefix != pre:
                continue
            bare = rest or name  # a bare "resnet18" may mean "timm/resnet18"
            pool = lister(f"*{bare[:3]}*") or []
            close += [f"{pre}/{m}" for m in difflib.get_close_matches(bare, pool, n=5, cutoff=0.6)]
        close.sort(key=lambda n: n.rpartition("/")[2] != name)  # "timm/resnet18" first for "resnet18"
        hint = f"did you mean: {', '.join(close)}?" if close else f"known: {', '.join(sorted(self._items)) or '(none)'}"
        return (
            f"unknown {self.kind} {name!r}; {hint}\n"
            f"  plugins were searched in: {', '.join(searched_locations()) or '(nowhere)'}\n"
            f"  `lightcnn list {self.kind}s` shows every name"
        )

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted registered names matching a shell-style wildcard, plus provider names."""
        out = sorted(n for n in self._items if fnmatch.fnmatchcase(n, pattern))
        for prefix, (lister, _) in self._providers.items():
            head, _, rest = pattern.partition("/")
            if rest and fnmatch.fnmatchcase(prefix, head):
                out += [f"{prefix}/{n}" for n in lister(rest)]
        return out

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} names)"


BACKBONES = Registry("backbone")
DATAMODULES = Registry("datamodule")
TASKS = Registry("task")
AUGMENTATIONS = Registry("augmentation")
CALLBACKS = Registry("callback")

REGISTRIES: dict[str, Registry] = {
    "backbones": BACKBONES,
    "datamodules": DATAMODULES,
    "tasks": TASKS,
    "augmentations": AUGMENTATIONS,
    "callbacks": CALLBACKS,
}

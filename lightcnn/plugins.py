"""Plugin discovery: user model files imported before the CLI parses.

Order (fixed, so that saved configs and checkpoints resolve the same names every time):
1. ``./plugins/*.py`` of the current working directory;
2. each folder of ``LIGHTCNN_PLUGIN_PATH`` (``os.pathsep``-separated): its ``plugins/`` subfolder
   when it has one, else the folder itself;
3. the ``lightcnn.plugins`` entry-point group, by entry-point name.

Files are sorted by name within a folder and imported as ``plugins.<stem>``, so a config may say
``class_path: plugins.tinynet.TinyNet`` and a checkpoint that pickled such a class re-imports it.
Files whose name starts with ``_`` are skipped.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import os
import sys
import traceback
import types
from pathlib import Path

from lightcnn.errors import LightCNNError

ENV_VAR = "LIGHTCNN_PLUGIN_PATH"
ENTRY_POINT_GROUP = "lightcnn.plugins"
_imported: dict[str, Path] = {}  # module name -> file, for idempotent discovery


def plugin_dirs() -> list[Path]:
    """Folders searched for plugin files, in import order (existing or not)."""
    dirs = [Path.cwd() / "plugins"]
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry.strip():
            folder = Path(entry).expanduser()
            if not folder.is_dir():  # set on purpose: a typo must not silently drop the user's plugins
                raise LightCNNError(f"{ENV_VAR} names {entry!r}, which is not a folder; give folders of plugin files, "
                                    f"separated by '{os.pathsep}'")
            dirs.append(folder / "plugins" if (folder / "plugins").is_dir() else folder)
    seen: list[Path] = []
    for d in dirs:
        if d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def searched_locations() -> list[str]:
    """Human-readable list of where plugins come from, for 'unknown name' messages: with a note
    when the working folder has no plugins/ but a folder above it has (run from a subfolder)."""
    where = [str(d) for d in plugin_dirs()] + [f"entry points '{ENTRY_POINT_GROUP}'"]
    if not (Path.cwd() / "plugins").is_dir():
        above = next((d for d in Path.cwd().parents if any((d / "plugins").glob("*.py"))), None)
        if above is not None:
            where.append(f"not {above / 'plugins'} (plugins/ is read from the folder you run in: run from {above}, "
                         f"or set {ENV_VAR}={above})")
    return where


def _namespace(dirs: list[Path]) -> types.ModuleType:
    # An explicit namespace module, so `plugins.<stem>` resolves across all folders and a
    # stray `plugins` package elsewhere on sys.path cannot shadow the user's files.
    pkg = sys.modules.get("plugins")
    if pkg is None or not hasattr(pkg, "__path__"):
        pkg = types.ModuleType("plugins")
        pkg.__path__ = []
        sys.modules["plugins"] = pkg
    # Exactly today's folders, in order: a folder searched by an earlier discover() (another
    # working directory in the same process) must not supply a same-named module.
    pkg.__path__[:] = list(dict.fromkeys(str(d) for d in dirs))
    return pkg


def _import_failure(path: Path, err: BaseException, said: str = "") -> LightCNNError:
    """Turn an import-time exception (``sys.exit`` and argument parsing included) into one
    message naming the plugin file and line."""
    line = "?"
    if isinstance(err, SyntaxError) and err.filename and Path(err.filename).resolve() == path.resolve():
        line = str(err.lineno)
    else:
        for frame in traceback.extract_tb(err.__traceback__):
            if Path(frame.filename).resolve() == path.resolve():
                line = str(frame.lineno)
    if isinstance(err, SystemExit):
        last = next((t.strip() for t in reversed(said.splitlines()) if t.strip()), "")
        printed = f" after printing {last!r}" if last else ""
        return LightCNNError(
            f"plugin {path}:{line} called sys.exit({'' if err.code is None else err.code!r}) while being imported{printed}: "
            f"a plugin file must only define and register classes (parse arguments under `if __name__ == '__main__':`)"
        )
    what = str(err) if isinstance(err, LightCNNError) else f"{type(err).__name__}: {err}"
    sibling = getattr(err, "name", None) if isinstance(err, ModuleNotFoundError) else None
    if sibling and "." not in sibling and (path.parent / f"{sibling}.py").is_file():
        # a script's folder is on sys.path, a plugin's is not: plugins are the package `plugins`
        what += f"; plugin files are imported as the package 'plugins': write `from plugins.{sibling} import ...` (or `from .{sibling} import ...`)"
    return LightCNNError(f"plugin {path}:{line} failed to import: {what}")


def _import(module: str, path: Path) -> None:
    """Import one plugin module; its failures, ``SystemExit`` included, are the plugin's."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):  # what argparse prints before exiting goes into the message
            importlib.import_module(module)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - any plugin failure becomes one clear message
        sys.modules.pop(module, None)
        raise _import_failure(path, err, said.getvalue()) from err
    sys.stderr.write(said.getvalue())  # a plugin that imported fine keeps what it printed


def discover() -> list[str]:
    """Import every plugin once; return the module names imported by this call.

    Raises:
        LightCNNError: a plugin failed to import (file and line named), or two plugin files
            share a stem (both named), or a plugin re-used a registered name (both named).
    """
    dirs = [d for d in plugin_dirs() if d.is_dir()]
    files: dict[str, Path] = {}
    for d in dirs:
        for path in sorted(d.glob("*.py")):
            if path.name.startswith("_"):
                continue
            stem = path.stem
            if stem in files and files[stem].resolve() != path.resolve():
                raise LightCNNError(
                    f"two plugin files share the module name 'plugins.{stem}': {files[stem]} and {path}; rename one"
                )
            files.setdefault(stem, path)
    _namespace(dirs)
    new: list[str] = []
    for stem, path in files.items():
        mod = f"plugins.{stem}"
        if mod in _imported:
            continue
        _import(mod, path)
        _imported[mod] = path
        new.append(mod)
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        key = f"entry_point:{ep.name}"
        if key in _imported:
            continue
        try:
            ep.load()
        except (Exception, SystemExit) as err:  # noqa: BLE001
            raise LightCNNError(f"plugin entry point {ep.name!r} ({ep.value}) failed to load: {err}") from err
        _imported[key] = Path(ep.value)
        new.append(key)
    return new


def load_all() -> None:
    """Register every name: the built-ins (importing torch and Lightning) and the plugins.
    Commands call it after their own arguments parsed, so a mistake there costs no Lightning import."""
    from lightcnn.catalogue import import_builtins

    import_builtins()
    discover()

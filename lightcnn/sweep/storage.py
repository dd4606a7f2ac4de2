"""Where a sweep's Optuna study lives.

By default a journal file inside the sweep folder (``runs/<sweep>/study.journal``): Optuna's
``JournalStorage`` appends each change under a file lock, so several worker processes on one
machine share it safely (SQLite would serialise them on its own locks and fail under load).
``--storage`` takes any SQLAlchemy URL (``postgresql://user:pass@host/db``) for workers on many
machines, or a path ending in ``.journal`` for a journal file on a shared file system.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.sweep.space import INSTALL, require_optuna

JOURNAL = "study.journal"


def shown(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can read: say it as given
        return url


def open_storage(url: str | None, folder: Path) -> Any:
    """The study storage: ``url`` (a database URL or a ``.journal`` path) or the sweep folder's
    journal, connected (so an unreachable server fails here, before anything is written).

    Raises:
        LightCNNError: the URL is malformed, its driver is missing, or the server cannot be reached.
    """
    optuna = require_optuna()
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    if url is None or "://" not in url:
        path = Path(url) if url else folder / JOURNAL
        if url and path.suffix != ".journal":
            raise LightCNNError(f"--storage {url}: give a database URL (postgresql://user:pass@host/db, sqlite:///file.db) "
                                f"or a journal file ending in .journal")
        path.parent.mkdir(parents=True, exist_ok=True)
        # An open()-based lock works on NFS too, where the default symlink lock may not.
        return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    engine: dict[str, Any] = {}
    if url.startswith(("postgresql", "mysql")):
        engine["connect_args"] = {"connect_timeout": 10}  # an unreachable host fails in seconds, not minutes
    try:
        return _rdb_storage(optuna, url, engine)
    except ImportError as err:
        cause = str(err.__cause__ or err).strip().splitlines()[0]
        raise LightCNNError(f"--storage {shown(url)}: the database driver is not installed ({cause}); {INSTALL} installs "
                            f"PostgreSQL's (psycopg)") from err
    except Exception as err:  # noqa: BLE001 - SQLAlchemy raises many kinds; each means "cannot use this URL"
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise LightCNNError(f"--storage {shown(url)}: cannot open the study storage: {reason}") from err


def _rdb_storage(optuna: Any, url: str, engine: dict[str, Any]) -> Any:
    """``RDBStorage(url)``, retried when workers starting together on a fresh database race to
    create Optuna's tables (PostgreSQL: "duplicate key value violates unique constraint"): the
    tables exist on the next try."""
    import random
    import time

    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine)
        except Exception as err:  # noqa: BLE001 - only the table-creation race is retried
            text = str(getattr(err, "orig", None) or err).lower()
            if attempt == 4 or not any(s in text for s in ("duplicate key", "already exists", "unique constraint")):
                raise
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")


def storage_study_names(storage: Any) -> list[str]:
    """The names of the studies in a storage."""
    return [s.study_name for s in storage.get_all_studies()]

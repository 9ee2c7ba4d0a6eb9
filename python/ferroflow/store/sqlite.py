"""The default run store: one SQLite file, ``$FERROFLOW_HOME/runs.db``.

:class:`SQLiteRunStore` is :class:`~ferroflow.store.sql.SQLRunStore` on a file given by
its path, with what only SQLite has (an integrity check). The file and its directory
are created private (``0600`` in ``0700``) when missing.
"""

from __future__ import annotations

import os

from ferroflow.store.database import DEFAULT_BUSY_TIMEOUT, normalize_url, sqlite_path
from ferroflow.store.sql import DEFAULT_FLUSH_INTERVAL, DEFAULT_FLUSH_ROWS, DEFAULT_MAX_PENDING, SQLRunStore

__all__ = ["SQLiteRunStore"]


class SQLiteRunStore(SQLRunStore):
    """A run store in one SQLite file (default ``$FERROFLOW_HOME/runs.db``, even when
    ``FERROFLOW_DATABASE_URL`` names another database).

    Args:
        path: the database file (or an ``sqlite:///`` URL); None for
            :func:`ferroflow.store.default_store_path`.
        busy_timeout, flush_interval, flush_rows, max_pending: as for
            :class:`~ferroflow.store.sql.SQLRunStore`.
    """

    def __init__(self, path: os.PathLike | str | None = None, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL, flush_rows: int = DEFAULT_FLUSH_ROWS,
                 max_pending: int = DEFAULT_MAX_PENDING):
        if path is None:
            from ferroflow.store.config import default_store_path

            path = default_store_path()
        url = normalize_url(path)
        found = sqlite_path(url)
        if found is None:
            raise ValueError(f"SQLiteRunStore takes the path of an SQLite file, not {url.split('://')[0]}: "
                             f"use SQLRunStore")
        #: The database file.
        self.path = found
        super().__init__(url, busy_timeout=busy_timeout, flush_interval=flush_interval, flush_rows=flush_rows,
                         max_pending=max_pending)

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` or the problems SQLite found."""
        return "\n".join(r[0] for r in self._query(lambda c: c.execute("PRAGMA integrity_check").fetchall()))

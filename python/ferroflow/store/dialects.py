"""The little that differs between SQLite and PostgreSQL on the run store's hot path.

The writer and the readers run plain SQL on a DBAPI connection (``sqlite3`` or psycopg
3): SQLAlchemy's per-statement overhead costs more than recording a plain task does.
The statements are written once, in SQLite's spelling (``?`` placeholders); a
:class:`Dialect` turns them into the other database's, begins transactions, inserts a
run and tells its key, and turns the driver's errors into
:class:`~ferroflow.store.StateStoreError` with the same reasons on both (``disk full``,
``locked``, ``read-only``, ...), saying which may pass (the batch is kept and retried)
and which mean the batch is wrong in itself.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ferroflow.store.errors import StateStoreError, describe_postgres_error, describe_sqlite_error

__all__ = ["Dialect", "SQLiteDialect", "PostgresDialect", "dialect_for"]


class Dialect:
    """What the run store needs to know about one kind of database (see the module
    docstring). A connection the store uses goes through :meth:`wrap` once: afterwards
    it has ``execute(sql, args)`` (returning a cursor with ``rowcount``, ``fetchone``,
    ``fetchall`` and iteration), ``executemany(sql, rows)`` and ``in_transaction`` for
    SQLite's spelling of the statements, on either database."""

    name = ""
    #: Whether many rows may go in one statement as a JSON array (``json_each``).
    json_bulk = False
    #: What a ``SELECT`` that a transaction will update appends to lock the rows it read
    #: (PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` locks the whole database).
    for_update = ""

    def wrap(self, conn: Any) -> Any:
        """The DBAPI connection ``conn`` (in autocommit mode) as the store uses it."""
        return conn

    def begin(self, conn: Any, write: bool) -> None:
        conn.execute("BEGIN")

    def insert_returning_key(self, conn: Any, statement: str, args: tuple) -> int | None:
        """Run an ``INSERT ... ON CONFLICT DO NOTHING`` of one row into a table whose key
        is ``id``; the new row's key, or None when it conflicted."""
        raise NotImplementedError

    def has_json(self, conn: Any) -> bool:
        return False

    def broken(self, conn: Any) -> bool:
        """Whether the connection is gone (a new one is needed)."""
        return False

    def may_pass(self, exc: BaseException) -> bool:
        """Whether a write that failed with ``exc`` may succeed later (disk full, a lock,
        a lost connection), rather than the batch being wrong in itself."""
        return isinstance(exc, OSError)

    def describe(self, exc: BaseException, location: str, action: str, busy_timeout: float = 0.0,
                 lost: int = 0) -> StateStoreError:
        """``exc`` as a StateStoreError naming the database (``location``)."""
        raise NotImplementedError

    def is_driver_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` comes from the database (or the OS), not from the records."""
        return isinstance(exc, OSError)


class SQLiteDialect(Dialect):
    """Embedded SQLite (stdlib :mod:`sqlite3`, connections with ``isolation_level=None``:
    used as they are)."""

    name = "sqlite"
    json_bulk = True

    def begin(self, conn: Any, write: bool) -> None:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def insert_returning_key(self, conn: Any, statement: str, args: tuple) -> int | None:
        cursor = conn.execute(statement, args)
        return cursor.lastrowid if cursor.rowcount == 1 else None

    def has_json(self, conn: Any) -> bool:
        try:
            return conn.execute("SELECT json_extract('[[7]]', '$[0][0]')").fetchone()[0] == 7
        except sqlite3.Error:
            return False

    def may_pass(self, exc: BaseException) -> bool:
        return isinstance(exc, (sqlite3.OperationalError, OSError)) or type(exc) is sqlite3.DatabaseError

    def describe(self, exc, location, action, busy_timeout=0.0, lost=0):
        return describe_sqlite_error(exc, location, action, busy_timeout, lost)

    def is_driver_error(self, exc: BaseException) -> bool:
        return isinstance(exc, (sqlite3.Error, OSError))


class _PostgresConnection:
    """A psycopg connection that takes SQLite's spelling: ``?`` placeholders (``%s``),
    ``IS ?`` (``IS NOT DISTINCT FROM``). Each statement is translated once."""

    __slots__ = ("raw", "_sql", "_idle")

    def __init__(self, raw: Any, statements: dict, idle: Any):
        self.raw = raw
        self._sql = statements
        self._idle = idle

    def _translate(self, statement: str) -> str:
        found = self._sql.get(statement)
        if found is None:
            found = self._sql[statement] = (statement.replace("%", "%%").replace(" IS ?", " IS NOT DISTINCT FROM ?")
                                            .replace("?", "%s"))
        return found

    def execute(self, statement: str, args: Any = ()) -> Any:
        return self.raw.execute(self._translate(statement), args)

    def executemany(self, statement: str, rows: Any) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(self._translate(statement), rows)

    @property
    def in_transaction(self) -> bool:
        return not self.raw.closed and self.raw.info.transaction_status != self._idle

    @property
    def closed(self) -> bool:
        return self.raw.closed or self.raw.broken

    def close(self) -> None:
        self.raw.close()


class PostgresDialect(Dialect):
    """PostgreSQL through psycopg 3 (connections in autocommit mode: the store begins
    and ends its transactions itself, as on SQLite)."""

    name = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self) -> None:
        import psycopg

        self._psycopg = psycopg
        self._idle = psycopg.pq.TransactionStatus.IDLE
        self._statements: dict[str, str] = {}

    def begin(self, conn: Any, write: bool) -> None:
        # A read sees one snapshot throughout, as SQLite's does (a run's tasks, counts
        # and failed children read by several statements agree).
        conn.execute("BEGIN" if write else "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def wrap(self, conn: Any) -> Any:
        if conn.info.transaction_status != self._idle:
            conn.rollback()
        conn.autocommit = True
        return _PostgresConnection(conn, self._statements, self._idle)

    def insert_returning_key(self, conn: Any, statement: str, args: tuple) -> int | None:
        row = conn.execute(statement + " RETURNING id", args).fetchone()
        return None if row is None else row[0]

    def broken(self, conn: Any) -> bool:
        return bool(getattr(conn, "closed", False))

    def may_pass(self, exc: BaseException) -> bool:
        errors = self._psycopg.errors
        return isinstance(exc, (self._psycopg.OperationalError, errors.ReadOnlySqlTransaction, OSError))

    def describe(self, exc, location, action, busy_timeout=0.0, lost=0):
        return describe_postgres_error(exc, location, action, lost)

    def is_driver_error(self, exc: BaseException) -> bool:
        return isinstance(exc, (self._psycopg.Error, OSError))


_DIALECTS: dict[str, Dialect] = {}


def dialect_for(url: str) -> Dialect:
    """The dialect of a URL as :func:`ferroflow.store.database.normalize_url` gives it."""
    name = "sqlite" if url.startswith("sqlite") else "postgresql"
    found = _DIALECTS.get(name)
    if found is None:
        found = _DIALECTS[name] = SQLiteDialect() if name == "sqlite" else PostgresDialect()
    return found

"""Which database the run store is, and SQLAlchemy engines for it.

A database is named by a URL or a path:

* a plain path, or ``sqlite:///PATH``: an embedded SQLite file (created ``0600`` in a
  ``0700`` directory when missing; WAL journal, ``synchronous=NORMAL`` and a busy
  timeout on every connection);
* ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (or ``postgresql+psycopg://...``):
  PostgreSQL through psycopg 3.

``FERROFLOW_DATABASE_URL`` names the default database; without it the default is the
SQLite file ``$FERROFLOW_HOME/runs.db``. A URL shown in a message or an error never
shows its password (:func:`mask_url`).

SQLAlchemy is imported here, and only by the store modules that need it, so that
``import ferroflow`` does not load it.
"""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING, Any

from ferroflow.store.config import DATABASE_ENV
from ferroflow.store.errors import StateStoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["DATABASE_ENV", "DEFAULT_BUSY_TIMEOUT", "default_database_url", "normalize_url", "mask_url",
           "sqlite_path", "make_engine", "create_private", "sqlite_connect"]

#: Seconds a connection waits for another one's lock before failing.
DEFAULT_BUSY_TIMEOUT = 30.0

_SQLITE = "sqlite:///"


def default_database_url() -> str:
    """``$FERROFLOW_DATABASE_URL`` (normalized), else the SQLite file
    ``$FERROFLOW_HOME/runs.db``."""
    named = os.environ.get(DATABASE_ENV, "").strip()
    if named:
        return normalize_url(named)
    from ferroflow.store.config import default_store_path

    return normalize_url(os.fspath(default_store_path()))


def normalize_url(url_or_path: os.PathLike | str) -> str:
    """The SQLAlchemy URL of a database given as a path or a URL: a path becomes
    ``sqlite:///ABSOLUTE_PATH``; ``postgresql://`` and ``postgres://`` name the psycopg 3
    driver (``postgresql+psycopg://``). A URL of another database raises
    :class:`StateStoreError`."""
    text = os.fspath(url_or_path)
    if "://" not in text:
        return _SQLITE + os.path.abspath(os.path.expanduser(text))
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path or path == ":memory:" or path.startswith("file:"):
            raise StateStoreError("unsupported database", mask_url(text), "open",
                                  "the run store needs an SQLite file (sqlite:///PATH), not an in-memory database")
        return _SQLITE + os.path.abspath(os.path.expanduser(path))
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return "postgresql+psycopg://" + rest
    raise StateStoreError("unsupported database", mask_url(text), "open",
                          "ferroflow's run store is an SQLite file (a path or sqlite:///PATH) or PostgreSQL "
                          "(postgresql://USER@HOST/DB)")


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (a path is returned as it is)."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    at = rest.rfind("@", 0, rest.find("/") if "/" in rest else len(rest))
    if at == -1:
        return url
    userinfo = rest[:at]
    if ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***{rest[at:]}"


def sqlite_path(url: str) -> str | None:
    """The file of an SQLite URL (as :func:`normalize_url` gives it), else None."""
    return url[len(_SQLITE):] if url.startswith(_SQLITE) else None


def location_of(url: str) -> str:
    """How messages name a database: an SQLite file by its path, another by its URL
    without its password."""
    path = sqlite_path(url)
    return path if path is not None else mask_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


def create_private(path: str) -> None:
    """Create an SQLite store's directory (``0700``, as ``ferroflow_home``) and its file
    (``0600``) when they are missing: a run's parameters, logs and errors are its
    owner's to read. SQLite gives the ``-wal`` and ``-shm`` files the database file's
    mode. A file or directory that exists already keeps its mode."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, PermissionError):
        return  # there already, or not ours to make: opening it says why
    os.close(fd)


def sqlite_connect(path: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> sqlite3.Connection:
    """A new connection to the SQLite file ``path``, as the run store uses them: no
    implicit transactions (the store begins them), usable from any thread, a busy
    timeout, WAL, ``synchronous=NORMAL``. Every SQLite connection of the store is made
    here (the engine's too), without SQLAlchemy: opening an up-to-date store imports
    none of it. Raises :mod:`sqlite3`'s errors."""
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def make_engine(url_or_path: os.PathLike | str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine for a database given as a path or URL (see the module
    docstring). SQLite connections are configured on connect (``busy_timeout``, WAL,
    ``synchronous=NORMAL``, no implicit transactions: a transaction begins when asked,
    ``BEGIN IMMEDIATE`` for a connection with the execution option
    ``ferroflow_write=True``); the SQLite file and its directory are created private when
    missing. ``kwargs`` go to :func:`sqlalchemy.create_engine`.

    Raises:
        StateStoreError: an unsupported URL, or a file that cannot be created.
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    url = normalize_url(url_or_path)
    path = sqlite_path(url)
    if path is None:
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", max(1, int(busy_timeout)))
        try:
            return create_engine(url, **kwargs)
        except Exception as exc:  # a malformed URL: never echo it with its password
            raise StateStoreError("invalid database URL", location_of(url), "open",
                                  f"{type(exc).__name__}") from None
    try:
        create_private(path)
    except OSError as exc:
        from ferroflow.store.errors import describe_sqlite_error

        raise describe_sqlite_error(exc, path, "create") from exc
    kwargs.setdefault("poolclass", NullPool)
    engine = create_engine(url, creator=lambda: sqlite_connect(path, busy_timeout), **kwargs)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get("ferroflow_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def writing(engine: Engine) -> Any:
    """A connection of ``engine`` whose transactions write (SQLite: ``BEGIN IMMEDIATE``,
    so a transaction that reads first still never fails half-way for the lock)."""
    return engine.connect().execution_options(ferroflow_write=True)

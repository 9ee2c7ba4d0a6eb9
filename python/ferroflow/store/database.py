"""SQLAlchemy engines for ferroflow's database (the one schema of ``store/schema.py``).

A minimal version for the secrets branch: the store port replaces it with the full one
(same names) when the branches are merged.

* :func:`default_database_url`: ``$FERROFLOW_DATABASE_URL``, else the SQLite file
  ``$FERROFLOW_HOME/runs.db``;
* :func:`engine_for`: an engine for a URL or a path (SQLite: a busy timeout, WAL;
  ``postgresql://`` through psycopg 3);
* :func:`migrate`: create the schema's tables that are missing.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["DATABASE_ENV", "default_database_url", "normalize_url", "engine_for", "migrate"]

#: The environment variable naming the default database (a URL or a path).
DATABASE_ENV = "FERROFLOW_DATABASE_URL"
_SQLITE = "sqlite:///"


def default_database_url() -> str:
    """``$FERROFLOW_DATABASE_URL`` (normalized), else the SQLite file ``$FERROFLOW_HOME/runs.db``."""
    named = os.environ.get(DATABASE_ENV, "").strip()
    if named:
        return normalize_url(named)
    from ferroflow.store.config import default_store_path

    return normalize_url(os.fspath(default_store_path()))


def normalize_url(url_or_path: os.PathLike | str) -> str:
    """A path becomes ``sqlite:///ABSOLUTE_PATH``; ``postgresql://`` names psycopg 3."""
    text = os.fspath(url_or_path)
    if "://" not in text:
        return _SQLITE + os.path.abspath(os.path.expanduser(text))
    scheme, rest = text.split("://", 1)
    if scheme.lower() in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    return text


def engine_for(url_or_path: os.PathLike | str, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine for a database given as a path or a URL. SQLite: the file's
    directory is made (``0700``), connections wait 30 s for a lock, WAL journal, a
    transaction begins when asked (``BEGIN IMMEDIATE`` for a connection with the
    execution option ``ferroflow_write=True``)."""
    from sqlalchemy import create_engine, event

    url = normalize_url(url_or_path)
    if not url.startswith(_SQLITE):
        return create_engine(url, **kwargs)
    path = url[len(_SQLITE):]
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    connect_args = kwargs.setdefault("connect_args", {})
    connect_args.update(timeout=30.0, isolation_level=None, check_same_thread=False)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout = 30000")
        dbapi_connection.execute("PRAGMA journal_mode = WAL").fetchone()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get("ferroflow_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def migrate(engine: Engine) -> None:
    """Create the tables of ``store/schema.py`` that are missing."""
    from ferroflow.store.schema import metadata

    metadata.create_all(engine)

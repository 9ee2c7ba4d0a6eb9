"""Opening a ferroflow database (embedded SQLite or PostgreSQL) and bringing it to
the current schema.

::

    from ferroflow.store.database import engine_for, migrate

    engine = engine_for("postgresql://ferroflow@db/ferroflow")   # or a path: an SQLite file
    migrate(engine)

(This minimal version creates the schema of :mod:`ferroflow.store.schema` on an empty
database; the store's Alembic migrations replace :func:`migrate` to upgrade every
earlier schema.)
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url

from ferroflow.store import schema
from ferroflow.store.errors import StateStoreError

__all__ = ["engine_for", "migrate", "schema_version", "url_of"]

#: Seconds an SQLite connection waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT = 30.0


def url_of(url_or_path: str | os.PathLike) -> str:
    """The SQLAlchemy URL of a database given as a URL (``postgresql://...``: the
    psycopg 3 driver is named) or as the path of an SQLite file."""
    text = os.fspath(url_or_path)
    if "://" not in text:
        return f"sqlite:///{os.path.abspath(os.path.expanduser(text))}"
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def engine_for(url_or_path: str | os.PathLike) -> Engine:
    """An engine for the database at ``url_or_path`` (see :func:`url_of`). An SQLite
    file is created with its directory (``0700``) when missing, and its connections
    use WAL, ``synchronous=NORMAL`` and a busy timeout."""
    url = make_url(url_of(url_or_path))
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:":
            directory = os.path.dirname(os.path.abspath(database))
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if not os.path.exists(database):
                os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def schema_version(engine: Engine) -> int | None:
    """The schema version recorded in the database's ``meta`` table, or None when it
    has none (an empty database)."""
    from sqlalchemy import inspect

    if not inspect(engine).has_table("meta"):
        return None
    with engine.connect() as conn:
        value = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).scalar()
    return None if value is None else int(value)


def migrate(engine: Engine) -> int:
    """Bring the database to :data:`ferroflow.store.schema.SCHEMA_VERSION` and return
    that version. Raises :class:`StateStoreError` for a database of another schema
    version (newer, or one this minimal version cannot upgrade)."""
    found = schema_version(engine)
    if found is not None and found != schema.SCHEMA_VERSION:
        newer = found > schema.SCHEMA_VERSION
        raise StateStoreError("newer schema" if newer else "older schema", engine.url.render_as_string(), "open",
                              f"schema version {found}; this ferroflow writes version {schema.SCHEMA_VERSION}")
    schema.metadata.create_all(engine)
    if found is None:
        with engine.begin() as conn:
            conn.execute(schema.meta.insert(), [{"key": "schema_version", "value": str(schema.SCHEMA_VERSION)}])
    return schema.SCHEMA_VERSION

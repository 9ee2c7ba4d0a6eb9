"""Real databases for tests: an SQLite file, or a PostgreSQL schema of its own.

Every store test runs against both. PostgreSQL is the one the machine runs at
``127.0.0.1:5432`` (trust authentication, database ``test``); ``FERROFLOW_TEST_PG`` names
another (a libpq URL). Each test gets a schema of its own (``ff_<random>``), set as the
connection's ``search_path``, dropped afterwards. When PostgreSQL cannot be reached the
test fails with a message saying so: it never skips silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The PostgreSQL the tests use (a libpq connection URL).
PG_URL = os.environ.get("FERROFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

KINDS = ("sqlite", "postgresql")


def _admin_connect():
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {PG_URL} ({exc}). The test suite needs a running PostgreSQL "
            f"(the project's machines start one at 127.0.0.1:5432); start it, or name another with "
            f"FERROFLOW_TEST_PG=postgresql://user@host:port/db") from exc


def with_search_path(url: str, schema: str) -> str:
    """``url`` (``postgresql://...``) with the SQLAlchemy driver named and ``schema``
    as the connections' ``search_path``."""
    base = url.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def check_postgresql() -> str | None:
    """None when the tests' PostgreSQL answers; else what is wrong and what to do."""
    try:
        with _admin_connect() as conn:
            conn.execute("SELECT 1")
    except RuntimeError as exc:
        return str(exc)
    return None


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields a SQLAlchemy URL whose connections use it."""
    schema = "ff_" + uuid.uuid4().hex[:16]
    with _admin_connect() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(PG_URL, schema)
    finally:
        with _admin_connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database of ``kind`` (``sqlite``: a file in
    ``tmp_path``; ``postgresql``: a schema of its own)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'ferroflow.db'}"
    elif kind == "postgresql":
        with pg_schema() as url:
            yield url
    else:
        raise ValueError(f"unknown database kind {kind!r}")


def query(url: str, sql: str, *args) -> list[tuple]:
    """Rows of ``sql`` (``?`` placeholders) on the database ``url``, read on a connection
    of its own (not a store's: what is committed)."""
    from ferroflow.store.database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            mark = "%s" if conn.dialect.name == "postgresql" else "?"
            return [tuple(r) for r in conn.exec_driver_sql(sql.replace("?", mark), tuple(args)).fetchall()]
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    """Run ``statements`` on the database ``url`` in one transaction."""
    from ferroflow.store.database import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()

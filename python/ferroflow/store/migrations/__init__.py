"""Creating and upgrading the run store's database: one set of migrations (Alembic,
``versions/``) for SQLite and PostgreSQL.

:func:`migrate` brings any database to the schema this ferroflow writes
(:data:`ferroflow.store.schema.SCHEMA_VERSION`, Alembic's head revision):

* an empty database is created at head;
* a legacy SQLite store (made by a ferroflow before Alembic: a ``meta`` table with
  ``schema_version`` 1 to 5, no ``alembic_version``) is first brought to schema 5 by the
  hand-written steps (:mod:`.legacy`), stamped at revision ``0001`` (which is schema 5)
  and upgraded from there;
* a database at an older revision is upgraded.

All of it happens in one transaction holding a lock, so two processes opening a new
store at once do not both create it: SQLite's ``BEGIN IMMEDIATE`` (the write lock),
PostgreSQL's ``pg_advisory_xact_lock``. Afterwards ``meta.schema_version`` says
:data:`~ferroflow.store.schema.SCHEMA_VERSION`, so that an older ferroflow refuses the
store by name; a store whose version (or revision) is newer than this ferroflow's is
refused (``StateStoreError``, reason ``newer schema``). Alembic is configured here in
code: no ``alembic.ini`` is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferroflow.store.errors import StateStoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["SCHEMA_VERSION", "HEAD", "FIRST", "migrate", "up_to_date", "current_revision", "schema_version",
           "alembic_config"]

#: The schema version this ferroflow writes; also kept in ``meta`` (key
#: ``schema_version``) so that an older ferroflow refuses a newer store by name.
#: (:mod:`ferroflow.store.schema` exports it too.)
SCHEMA_VERSION = 12
#: The revision this ferroflow's schema is (schema 12), and the one that is schema 5.
HEAD = "0008"
FIRST = "0001"
#: The key of PostgreSQL's advisory lock held while migrating ("ferroflow" in ASCII).
LOCK_KEY = 0x6665_7272_6F66_6C6F

HERE = Path(__file__).parent


def alembic_config(connection: Connection) -> Any:
    """Alembic's configuration for these migrations, running on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def _newer(location: str, found: str) -> StateStoreError:
    return StateStoreError("newer schema", location, "open",
                           f"it has schema version {found}; this ferroflow knows versions up to {SCHEMA_VERSION}: "
                           f"upgrade ferroflow")


def _state(conn: Connection, location: str) -> tuple[int | None, str | None, set]:
    """``(meta schema_version or None, alembic revision or None, table names)``."""
    from sqlalchemy import inspect

    tables = set(inspect(conn).get_table_names())
    version = revision = None
    if "meta" in tables:
        row = conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
    if "alembic_version" in tables:
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return version, revision, tables


def schema_version(engine: Engine) -> int | None:
    """The schema version the database's ``meta`` table records, or None when it has
    none (an empty database)."""
    with engine.connect() as conn:
        return _state(conn, "")[0]


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision of a database, or None (empty, or a legacy SQLite store)."""
    with engine.connect() as conn:
        return _state(conn, "")[1]


def up_to_date(conn: Any, dialect: Any) -> bool:
    """Whether a DBAPI connection's database is at this ferroflow's schema already (the
    check made on every open, before :func:`migrate` is called: two small reads).
    Leaves no transaction open."""
    try:
        dialect.begin(conn, False)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.execute("ROLLBACK")
    except Exception as exc:  # no such table: not up to date
        if not dialect.is_driver_error(exc):
            raise
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return False
    return row is not None and row[0] == str(SCHEMA_VERSION) and revision is not None and revision[0] == HEAD


def migrate(engine: Engine, location: str | None = None) -> str:
    """Bring the database of ``engine`` to this ferroflow's schema (see the module
    docstring); return what was done: ``"created"``, ``"upgraded"`` or ``"current"``.

    Raises:
        StateStoreError: the database holds other tables than a run store's, or a
            newer schema than this ferroflow's (``newer schema``).
    """
    location = location or engine.url.render_as_string(hide_password=True)
    with engine.connect() as conn:
        conn = conn.execution_options(ferroflow_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
            version, revision, tables = _state(conn, location)
            if version is not None and version > SCHEMA_VERSION:
                raise _newer(location, str(version))
            if revision is not None and revision not in _known_revisions():
                raise _newer(location, f"{version} (revision {revision})")
            if version == SCHEMA_VERSION and revision == HEAD:
                return "current"
            if revision is None:
                if "meta" in tables:
                    _from_legacy(conn, location, version or 0)
                elif tables:
                    raise StateStoreError("not a run store", location, "open",
                                          f"the database holds tables {sorted(tables)} but no ferroflow meta table")
            from alembic import command

            command.upgrade(alembic_config(conn), "head")
            conn.exec_driver_sql(_set_meta(conn), ("schema_version", str(SCHEMA_VERSION)))
            if not tables:
                from ferroflow._core import __version__

                conn.exec_driver_sql(_set_meta(conn), ("created_by", f"ferroflow {__version__}"))
            return "created" if not tables else "upgraded"


def _set_meta(conn: Connection) -> str:
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    return (f"INSERT INTO meta (key, value) VALUES ({mark}, {mark}) ON CONFLICT (key) "
            f"DO UPDATE SET value = excluded.value")


def _from_legacy(conn: Connection, location: str, version: int) -> None:
    """A store made before Alembic: to schema 5 by the hand-written steps, then stamped
    at the revision that is schema 5."""
    from ferroflow.store.migrations.legacy import LEGACY_VERSION, bring_to_5

    if conn.dialect.name != "sqlite":
        raise StateStoreError("not a run store", location, "open",
                              "it has a meta table but no alembic_version: not made by ferroflow")
    if version < LEGACY_VERSION:
        raw = conn.connection.driver_connection
        assert raw is not None  # a live connection
        bring_to_5(raw, version)
    from alembic import command

    command.stamp(alembic_config(conn), FIRST)


def _known_revisions() -> set:
    return {p.name.split("_", 1)[0] for p in (HERE / "versions").glob("[0-9]*.py")}

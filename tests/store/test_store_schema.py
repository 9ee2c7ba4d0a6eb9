"""The schema: versioned in a ``meta`` table, migrated when a store is opened."""

from __future__ import annotations

import sqlite3

import pytest

from ferroflow.store import SCHEMA_VERSION, SQLiteRunStore, StateStoreError
from ferroflow.store import sqlite as mod

TABLES = {"meta", "runs", "tasks", "task_runs", "child_counts", "child_spans", "logs"}


def meta(path) -> dict:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT key, value FROM meta"))


def test_a_new_store_has_the_current_schema(tmp_path):
    path = tmp_path / "deep" / "dir" / "runs.db"  # directories are created
    with SQLiteRunStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.integrity_check() == "ok"
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert tables == TABLES
    info = meta(path)
    assert info["schema_version"] == str(SCHEMA_VERSION)
    assert info["created_by"].startswith("ferroflow ")


def test_reopening_keeps_the_data(tmp_path):
    with SQLiteRunStore(tmp_path / "runs.db") as store:
        store.start_run("r", "etl", {"n": 1}, [])
    with SQLiteRunStore(tmp_path / "runs.db") as store:
        assert store.get_run("r").parameters == {"n": 1}


def test_an_older_schema_is_migrated_on_open(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    with SQLiteRunStore(path) as store:
        store.start_run("r", "etl", {}, [])
    monkeypatch.setattr(mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(mod.MIGRATIONS, SCHEMA_VERSION + 1, (
        "ALTER TABLE runs ADD COLUMN note TEXT",
        "UPDATE runs SET note = 'migrated'",
    ))
    with SQLiteRunStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION + 1
        assert store.get_run("r") is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT run_id, note FROM runs").fetchall() == [("r", "migrated")]


def test_a_failed_migration_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    SQLiteRunStore(path).close()
    monkeypatch.setattr(mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(mod.MIGRATIONS, SCHEMA_VERSION + 1, (
        "ALTER TABLE runs ADD COLUMN note TEXT",
        "THIS IS NOT SQL",
    ))
    with pytest.raises(StateStoreError, match=r"cannot open the run store .*syntax error"):
        SQLiteRunStore(path)
    assert meta(path)["schema_version"] == str(SCHEMA_VERSION)
    with sqlite3.connect(path) as conn:
        assert "note" not in {r[1] for r in conn.execute("PRAGMA table_info(runs)")}


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "runs.db"
    SQLiteRunStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StateStoreError, match=r"newer schema: cannot open the run store .*schema version 99; "
                                              r"this ferroflow knows versions up to \d+: upgrade ferroflow"):
        SQLiteRunStore(path)


def test_another_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StateStoreError, match=r"not a run store: .*\['customers'\] but no ferroflow meta table"):
        SQLiteRunStore(path)

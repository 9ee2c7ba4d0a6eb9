"""The schema: versioned in a ``meta`` table, migrated when a store is opened."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ferroflow.store import SCHEMA_VERSION, SQLiteRunStore, StateStoreError
from ferroflow.store import sqlite as mod

TABLES = {"meta", "runs", "run_tasks", "task_runs", "child_counts", "child_spans", "logs", "run_parameters"}


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


def store_at_version(path, version: int) -> None:
    """A run store file as a ferroflow of schema ``version`` left it, holding one ended run."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for v in range(1, version + 1):
        for statement in mod.MIGRATIONS[v]:
            conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
    conn.execute("INSERT INTO runs (run_id, flow_name, parameters, state, started_at, ended_at, hostname, pid) "
                 "VALUES ('old', 'etl', '{\"n\": 3, \"day\": \"datetime.date(2026, 1, 2)\"}', 'Failed', 1.0, 2.0, "
                 "'h', 1)")
    conn.execute("INSERT INTO tasks (run, task_id, position, name, slug, is_mapped) VALUES (1, 0, 0, 't', 't-1', 0)")
    conn.execute("INSERT INTO task_runs VALUES (1, 0, -1, 4, 1, NULL, 'file:///x', 2.0)")
    conn.close()


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_stores_of_every_older_version_are_migrated_to_5(tmp_path, version):
    from ferroflow.engine.resume import resumed_parameters

    path = tmp_path / "runs.db"
    store_at_version(path, version)
    with SQLiteRunStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
        assert store.integrity_check() == "ok"
        old = store.get_run("old")
        assert (old.state, old.parameters) == ("Failed", {"n": 3, "day": "datetime.date(2026, 1, 2)"})
        assert store.resume_info("old").tasks[0].result_location == "file:///x"
        (task,) = store.task_states("old")
        assert (task.name, task.slug, task.state, task.run_count, task.result_location) == (
            "t", "t-1", "Success", 1, "file:///x")
        # Recorded before pickles were kept: resume has only the JSON form to go on.
        assert store.recorded_parameters("old") is None
        assert resumed_parameters(store, old, {"n": 4}) == {"n": 4, "day": "datetime.date(2026, 1, 2)"}
        store.start_run("new", "etl", {"n": 5}, [(0, "t", "t-1", False)])
        store.end_run("new", "Success")
        assert store.recorded_parameters("new")["n"][0] is not None
    conn = sqlite3.connect(path)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    listed = conn.execute("SELECT ids, names, slugs, mapped, approved, codes FROM run_tasks WHERE run = 1").fetchone()
    conn.close()
    assert {"heartbeat_at", "owner", "record_error"} <= columns
    assert tables == TABLES
    assert [json.loads(x) for x in listed[:3]] == [[0], ["t"], ["t-1"]]
    assert listed[3:] == (b"\x00", b"\x00", b"")  # its state stays a task_runs row
    assert meta(path)["schema_version"] == "5"

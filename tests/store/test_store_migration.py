"""A run store written at schema 4 by ferroflow itself (``fixtures/v4_store.sql``, made
by ``fixtures/make_v4_store.py`` at 27d87d1) is migrated to the current schema when
opened, and every reader then answers what the schema-4 ferroflow answered
(``fixtures/v4_answers.json``); the migrated store takes new records. The same records
in a database at Alembic's first revision (schema 5), SQLite or PostgreSQL, are
upgraded and read back the same."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from ferroflow import _core
from ferroflow.store import SCHEMA_VERSION, ChildState, SQLiteRunStore, SQLRunStore
from ferroflow.store.database import make_engine
from ferroflow.store.migrations import FIRST, alembic_config, legacy

FIXTURES = Path(__file__).parent / "fixtures"
ANSWERS = json.loads((FIXTURES / "v4_answers.json").read_text())
RUNS = sorted(k for k in ANSWERS if k != "list_runs")
FINISHED = "7f0b3c34416143b6a16ac80e9e01f4cb"
DEAD = "dead0000dead0000dead0000dead0000"


def _readers():
    spec = importlib.util.spec_from_file_location("v4_readers", FIXTURES / "readers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


readers = _readers()


def as_json(value):
    return _without_new_fields(json.loads(json.dumps(value)))


#: Fields the readers' answers gained after schema 4, None for a run recorded then.
NEW_FIELDS = {"traceback", "executor", "parent_run_id", "run_name"}


def _without_new_fields(value):
    if isinstance(value, dict):
        return {k: _without_new_fields(v) for k, v in value.items() if not (k in NEW_FIELDS and v is None)}
    if isinstance(value, list):
        return [_without_new_fields(v) for v in value]
    return value


@pytest.fixture
def migrated(tmp_path):
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / "v4_store.sql").read_text())
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("4",)
    store = SQLiteRunStore(path)
    yield store
    store.close()


def test_the_fixture_holds_what_the_readers_are_asked_about():
    assert RUNS == sorted([FINISHED, DEAD])
    states = {t["name"]: t["code"] for t in ANSWERS[FINISHED]["task_states"]}
    assert {_core.SUCCESS, _core.FAILED, _core.SKIPPED, _core.TRIGGER_FAILED, _core.MAPPED} <= set(states.values())


def test_a_schema_4_store_is_migrated(migrated):
    assert migrated.schema_version() == SCHEMA_VERSION == 12
    assert migrated.integrity_check() == "ok"
    with sqlite3.connect(migrated.path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "tasks" not in tables and "run_tasks" in tables
        assert conn.execute("SELECT count(*) FROM run_tasks").fetchone()[0] == len(RUNS)


@pytest.mark.parametrize("run_id", RUNS)
def test_every_reader_answers_as_schema_4_did(migrated, run_id):
    expected = ANSWERS[run_id]
    store = migrated
    got = as_json(readers.answers(store, run_id))
    assert set(got) == set(expected)
    for reader, answer in expected.items():
        assert got[reader] == answer, reader
    assert as_json(readers.plain(store.list_runs(limit=None))) == ANSWERS["list_runs"]


@pytest.fixture
def at_first_revision(tmp_path, database_url):
    """The fixture's records, brought to schema 5 by the hand-written steps, copied into
    a database (SQLite or PostgreSQL) that Alembic made at its first revision."""
    from alembic import command
    from sqlalchemy import MetaData, text

    source = tmp_path / "v4.db"
    conn = sqlite3.connect(source, isolation_level=None)
    conn.executescript((FIXTURES / "v4_store.sql").read_text())
    conn.execute("BEGIN")
    legacy.bring_to_5(conn, 4)
    conn.execute("COMMIT")
    engine = make_engine(database_url)
    try:
        with engine.begin() as target:
            command.upgrade(alembic_config(target), FIRST)
            tables = MetaData()
            tables.reflect(target)
            for name in ("runs", "run_tasks", "task_runs", "child_counts", "child_spans", "logs", "run_parameters"):
                names = [c.name for c in tables.tables[name].columns]
                rows = conn.execute(f"SELECT {', '.join(names)} FROM {name}").fetchall()
                if rows:
                    target.execute(tables.tables[name].insert(), [dict(zip(names, r, strict=True)) for r in rows])
            target.execute(tables.tables["meta"].insert(), [{"key": "schema_version", "value": "5"}])
            if target.dialect.name == "postgresql":
                for name in ("runs", "logs"):
                    target.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                        f"(SELECT max(id) FROM {name}))"))
    finally:
        engine.dispose()
    conn.close()
    store = SQLRunStore(database_url)
    yield store
    store.close()


@pytest.mark.parametrize("run_id", RUNS)
def test_a_database_at_the_first_revision_answers_as_schema_4_did(at_first_revision, run_id):
    store = at_first_revision
    assert store.schema_version() == SCHEMA_VERSION
    got = as_json(readers.answers(store, run_id))
    for reader, answer in ANSWERS[run_id].items():
        assert got[reader] == answer, reader
    assert as_json(readers.plain(store.list_runs(limit=None))) == ANSWERS["list_runs"]
    store.start_run("new", "etl", {}, [(0, "t", None, False)])
    store.end_run("new", "Success")
    assert store.list_runs(limit=1)[0].run_id == "new"


def test_a_migrated_store_takes_new_records_and_reaps_the_dead(migrated):
    store = migrated
    assert store.reap() == [DEAD]
    assert store.get_run(DEAD).state == "Crashed"
    # A migrated run reopened and recorded again: its tasks' states are kept, and
    # what is recorded now replaces them task by task.
    before = {t.name: (t.state, t.message) for t in store.task_states(DEAD)}
    store.start_run(DEAD, "everything", {"n": 9}, [(0, "ok", "ok-1", False), (1, "half", "half-1", True)])
    assert {t.name: (t.state, t.message) for t in store.task_states(DEAD)} == before
    store.record_report(DEAD, [(0, None, _core.FAILED)], {(0, -1): ("broken", None, 2)})
    store.record_report(DEAD, [(1, range(3), bytes([_core.SUCCESS] * 3)), (1, None, _core.MAPPED)],
                        {(1, -1): ("Ready to proceed with mapping.", None, 1)})
    store.record_width(DEAD, 1, 3)
    store.end_run(DEAD, "Failed", "Some reference tasks failed.")
    ok, half = store.task_states(DEAD)
    assert (ok.state, ok.message, ok.run_count) == ("Failed", "broken", 2)
    assert (half.state, half.width, half.counts, half.failed_count) == ("Mapped", 3, {"Success": 3}, 0)
    store.record_report(DEAD, [(0, None, _core.SUCCESS)], {(0, -1): ("Task run succeeded.", None, None)})
    assert store.child_state(DEAD, 0, -1) == ChildState(0, -1, _core.SUCCESS, 1, "Task run succeeded.", None)
    assert store.integrity_check() == "ok"

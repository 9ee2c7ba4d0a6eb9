"""The schema: one set of Alembic migrations for SQLite and PostgreSQL, run when a
store is opened (and by ``ferroflow server migrate``); ``meta.schema_version`` names
the version so that an older ferroflow refuses a newer store; a legacy SQLite store
(schema 1 to 5, before Alembic) is brought to 5 by its hand-written steps first."""

from __future__ import annotations

import json
import sqlite3
import sys
import textwrap

import pytest
from sqlalchemy import inspect

from ferroflow.store import SCHEMA_VERSION, SQLiteRunStore, SQLRunStore, StateStoreError
from ferroflow.store.database import make_engine
from ferroflow.store.migrations import FIRST, HEAD, alembic_config, current_revision, legacy, migrate
from ferroflow.store.schema import metadata
from tests.support.databases import execute, query
from tests.support.flows import one_task_flow

TABLES = set(metadata.tables) | {"alembic_version"}
#: The tables of schema 5 (revision 0001), as the hand-written store had them.
TABLES_5 = {"meta", "runs", "run_tasks", "task_runs", "child_counts", "child_spans", "logs", "run_parameters"}


def tables(url) -> set:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def columns(url, table) -> set:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns(table)}
    finally:
        engine.dispose()


def at_revision(url, revision):
    """A database made by Alembic up to ``revision`` only."""
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
            conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('schema_version', '5')")
    finally:
        engine.dispose()


def test_a_new_store_has_the_current_schema(database_url):
    with SQLRunStore(database_url) as store:
        assert store.schema_version() == SCHEMA_VERSION == 12
    assert tables(database_url) == TABLES
    info = dict(query(database_url, "SELECT key, value FROM meta"))
    assert info["schema_version"] == str(SCHEMA_VERSION)
    assert info["created_by"].startswith("ferroflow ")
    assert query(database_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    # Every column the schema declares is there, and no other.
    for name, table in metadata.tables.items():
        assert columns(database_url, name) == {c.name for c in table.columns}, name


def test_a_new_sqlite_store_is_private_and_in_wal_mode(tmp_path):
    path = tmp_path / "deep" / "dir" / "runs.db"  # directories are created
    with SQLiteRunStore(path) as store:
        assert store.integrity_check() == "ok"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


def test_reopening_keeps_the_data(database_url):
    with SQLRunStore(database_url) as store:
        store.start_run("r", "etl", {"n": 1}, [])
    with SQLRunStore(database_url) as store:
        assert store.get_run("r").parameters == {"n": 1}


def test_a_database_at_the_first_revision_is_upgraded_and_reads_back_the_same(database_url):
    at_revision(database_url, FIRST)
    assert tables(database_url) == TABLES_5 | {"alembic_version"}
    assert "traceback" not in columns(database_url, "task_runs")
    empty, zero = ("'\\x'", "'\\x00'") if "postgresql" in database_url else ("X''", "X'00'")
    execute(database_url,
            "INSERT INTO runs (run_id, flow_name, parameters, state, started_at, ended_at, hostname, pid) "
            "VALUES ('old', 'etl', '{\"n\": 3}', 'Failed', 1.0, 2.0, 'h', 1)",
            "INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, codes) "
            f"SELECT id, '[0]', '[\"t\"]', '[\"t-1\"]', {zero}, {zero}, {empty} FROM runs",
            "INSERT INTO task_runs (run, task_id, map_index, code, run_count, message, result_location, updated_at) "
            "SELECT id, 0, -1, 4, 1, 'done', 'file:///x', 2.0 FROM runs")
    with SQLRunStore(database_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        old = store.get_run("old")
        assert (old.state, old.parameters, old.duration) == ("Failed", {"n": 3}, 1.0)
        (task,) = store.task_states("old")
        assert (task.name, task.slug, task.state, task.message, task.result_location, task.traceback) == (
            "t", "t-1", "Success", "done", "file:///x", None)
        store.start_run("new", "etl", {}, [(0, "t", "t-1", False)])
        store.end_run("new", "Success")
        assert [r.run_id for r in store.list_runs()] == ["new", "old"]
    assert tables(database_url) == TABLES
    assert query(database_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert query(database_url, "SELECT tags, state_version FROM runs WHERE run_id = 'old'") == [("[]", 0)]


def test_a_failed_migration_changes_nothing(database_url):
    """The whole migration is one transaction: here revision 0002 fails (a table it
    creates is in the way), and the database stays at revision 0001."""
    at_revision(database_url, FIRST)
    execute(database_url, "CREATE TABLE flows (id INTEGER)")
    with pytest.raises(StateStoreError, match=r"cannot open the run store .*(already exists|flows)"):
        SQLRunStore(database_url)
    assert query(database_url, "SELECT version_num FROM alembic_version") == [(FIRST,)]
    assert "traceback" not in columns(database_url, "task_runs")
    assert query(database_url, "SELECT value FROM meta WHERE key = 'schema_version'") == [("5",)]


def test_a_failed_migration_of_a_legacy_store_changes_nothing(tmp_path):
    path = tmp_path / "runs.db"
    store_at_version(path, 4)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE flows (id INTEGER)")
    with pytest.raises(StateStoreError, match=r"cannot open the run store .*already exists"):
        SQLiteRunStore(path)
    assert tables(f"sqlite:///{path}") == {"meta", "runs", "tasks", "task_runs", "child_counts", "child_spans",
                                           "logs", "run_parameters", "flows"}
    assert query(f"sqlite:///{path}", "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]


def test_a_newer_schema_is_refused(database_url):
    SQLRunStore(database_url).close()
    execute(database_url, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StateStoreError, match=r"newer schema: cannot open the run store .*schema version 99; "
                                              r"this ferroflow knows versions up to 12: upgrade ferroflow"):
        SQLRunStore(database_url)


def test_a_newer_revision_is_refused(database_url):
    SQLRunStore(database_url).close()
    execute(database_url, "UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(StateStoreError, match=r"newer schema: .*revision 0099.*upgrade ferroflow"):
        SQLRunStore(database_url)


def test_another_database_is_refused(database_url):
    execute(database_url, "CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StateStoreError, match=r"not a run store: .*\['customers'\] but no ferroflow meta table"):
        SQLRunStore(database_url)


def test_a_password_is_never_shown():
    from tests.support.databases import pg_schema

    with pg_schema() as url:
        url = url.replace("postgresql+psycopg://postgres@", "postgresql://postgres:hunter2-secret@")
        url = url.replace("127.0.0.1:5432", "127.0.0.1:1")  # nothing listens there
        with pytest.raises(StateStoreError) as info:
            SQLRunStore(url, busy_timeout=1)
    assert "hunter2" not in str(info.value) and "postgres:***@127.0.0.1:1" in str(info.value)
    assert info.value.reason == "cannot connect"


def store_at_version(path, version: int) -> None:
    """A run store file as a ferroflow of schema ``version`` left it, holding one ended run."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for v in range(1, version + 1):
        for statement in legacy.MIGRATIONS[v]:
            if callable(statement):
                statement(conn)
            else:
                conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
    conn.execute("INSERT INTO runs (run_id, flow_name, parameters, state, started_at, ended_at, hostname, pid) "
                 "VALUES ('old', 'etl', '{\"n\": 3, \"day\": \"datetime.date(2026, 1, 2)\"}', 'Failed', 1.0, 2.0, "
                 "'h', 1)")
    if version < 5:
        conn.execute("INSERT INTO tasks (run, task_id, position, name, slug, is_mapped) "
                     "VALUES (1, 0, 0, 't', 't-1', 0)")
    else:
        conn.execute("INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, codes) "
                     "VALUES (1, '[0]', '[\"t\"]', '[\"t-1\"]', X'00', X'00', X'')")
    conn.execute("INSERT INTO task_runs VALUES (1, 0, -1, 4, 1, NULL, 'file:///x', 2.0)")
    conn.close()


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_stores_of_every_older_version_are_migrated(tmp_path, version):
    from ferroflow.engine.resume import resumed_parameters

    path = tmp_path / "runs.db"
    store_at_version(path, version)
    with SQLiteRunStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 12
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
    listed = conn.execute("SELECT ids, names, slugs, mapped, approved, codes FROM run_tasks WHERE run = 1").fetchone()
    conn.close()
    assert {"heartbeat_at", "owner", "record_error", "tags"} <= columns(f"sqlite:///{path}", "runs")
    assert tables(f"sqlite:///{path}") == TABLES
    assert [json.loads(x) for x in listed[:3]] == [[0], ["t"], ["t-1"]]
    assert listed[3:] == (b"\x00", b"\x00", b"")  # its state stays a task_runs row
    assert query(f"sqlite:///{path}", "SELECT value FROM meta WHERE key = 'schema_version'") == [("12",)]
    assert query(f"sqlite:///{path}", "SELECT version_num FROM alembic_version") == [(HEAD,)]


MIGRATOR = textwrap.dedent("""
    import sys
    from ferroflow.store.database import make_engine
    from ferroflow.store.migrations import migrate
    sys.stdin.readline()  # start together
    engine = make_engine(sys.argv[1])
    print(migrate(engine))
    engine.dispose()
""")


def test_concurrent_migrations_create_the_schema_once(database_url, tmp_path):
    import subprocess

    from tests.support.servers import child_env

    procs = [subprocess.Popen([sys.executable, "-c", MIGRATOR, database_url], env=child_env(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(out.strip())
    assert sorted(results) == ["created", "current", "current"]
    assert query(database_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert tables(database_url) == TABLES
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_migrate_says_what_it_did(database_url):
    engine = make_engine(database_url)
    try:
        assert migrate(engine) == "created"
        assert migrate(engine) == "current"
    finally:
        engine.dispose()


def test_an_up_to_date_sqlite_store_records_without_sqlalchemy(tmp_path, run_python):
    """Opening a store at the current schema costs two small reads, and a plain
    ``flow.run()`` recording into it imports no SQLAlchemy, Alembic or psycopg (their
    import would cost a recorded run more than recording it does)."""
    path = tmp_path / "runs.db"
    SQLiteRunStore(path).close()
    SQLiteRunStore(tmp_path / "home" / "runs.db").close()  # where flow.run() records
    code = one_task_flow("f") + textwrap.dedent("""
        import sys
        from ferroflow.store import SQLiteRunStore

        store = SQLiteRunStore(sys.argv[1])
        state = flow.run()
        store.start_run("r", "f", {}, [(0, "t", None, False)])
        store.end_run("r", "Success")
        assert store.get_run("r").state == "Success" and store.task_states("r")
        store.close()
        print(",".join(m for m in ("sqlalchemy", "alembic", "psycopg") if m in sys.modules))
    """)
    proc = run_python("-c", code, str(path), env={"FERROFLOW_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_a_database_at_schema_6_is_upgraded_to_7_keeping_its_runs(database_url):
    """Revision 0003 adds the deployments and work pools, and a run's deployment and
    scheduled time (NULL for the runs there already)."""
    from alembic import command

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0002")
            conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('schema_version', '6')")
    finally:
        engine.dispose()
    assert "deployments" not in tables(database_url) and "deployment_id" not in columns(database_url, "runs")
    execute(database_url,
            "INSERT INTO runs (run_id, flow_name, parameters, state, started_at, ended_at, hostname, pid) "
            "VALUES ('six', 'etl', '{\"n\": 6}', 'Success', 1.0, 2.0, 'h', 1)")
    with SQLRunStore(database_url) as store:
        assert store.schema_version() == SCHEMA_VERSION == 12
        assert store.get_run("six").parameters == {"n": 6}
    assert tables(database_url) == TABLES
    assert query(database_url, "SELECT version_num FROM alembic_version") == [(HEAD,)] == [("0008",)]
    assert query(database_url, "SELECT deployment_id, scheduled_time FROM runs") == [(None, None)]
    execute(database_url, "INSERT INTO deployments (name, flow_name, entrypoint, created_at, updated_at) "
                          "VALUES ('d', 'etl', 'etl.py:etl', 1.0, 1.0)")
    assert query(database_url, "SELECT pool, paused, catchup, parameters, tags FROM deployments") in (
        [("default", 0, "latest", "{}", "[]")], [("default", False, "latest", "{}", "[]")])


def test_a_database_at_schema_9_is_upgraded_to_10_keeping_its_runs(database_url, capsys, monkeypatch):
    """Revision 0006 adds a run's executor: NULL for the runs there already, which read
    and show as before (``runs show`` has no Executor line for them)."""
    from alembic import command

    from ferroflow import cli

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0005")
            conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('schema_version', '9')")
    finally:
        engine.dispose()
    assert "executor" not in columns(database_url, "runs")
    execute(database_url,
            "INSERT INTO runs (run_id, flow_name, parameters, state, started_at, ended_at, hostname, pid) "
            "VALUES ('99990000999900009999000099990000', 'etl', '{\"n\": 9}', 'Success', 1.0, 2.0, 'h', 1)")
    with SQLRunStore(database_url) as store:
        assert store.schema_version() == SCHEMA_VERSION == 12
        old = store.get_run("99990000999900009999000099990000")
        assert (old.parameters, old.state, old.executor) == ({"n": 9}, "Success", None)
        store.start_run("new", "etl", {}, [(0, "t", None, False)], executor="local")
        assert [(r.run_id, r.executor) for r in store.list_runs()] == [
            ("new", "local"), ("99990000999900009999000099990000", None)]
    assert query(database_url, "SELECT version_num FROM alembic_version") == [(HEAD,)] == [("0008",)]
    assert "executor" in columns(database_url, "runs")
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    assert cli.main(["runs", "show", "9999"]) == 0
    shown = capsys.readouterr().out
    assert "Flow        etl" in shown and "Executor" not in shown


def test_revision_0006_goes_down_and_up_again(database_url):
    from alembic import command

    with SQLRunStore(database_url) as store:
        store.start_run("r", "etl", {}, [], executor="local")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0005")
        assert "executor" not in columns(database_url, "runs")
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
    finally:
        engine.dispose()
    assert query(database_url, "SELECT run_id, executor FROM runs") == [("r", None)]


def indexes(url, table) -> dict:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {i["name"]: i["column_names"] for i in inspect(conn).get_indexes(table)}
    finally:
        engine.dispose()


def test_a_database_at_schema_10_is_upgraded_to_11_keeping_its_runs(database_url, capsys, monkeypatch):
    """Revision 0007 adds a run's parent (subflow runs), indexed: NULL for the runs there
    already, which read and show as before (no Parent line, no subflow runs)."""
    from alembic import command

    from ferroflow import cli

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0006")
            conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('schema_version', '10')")
    finally:
        engine.dispose()
    assert "parent_run_id" not in columns(database_url, "runs")
    old_id = "10100000101000001010000010100000"
    execute(database_url,
            "INSERT INTO runs (run_id, flow_name, parameters, state, started_at, ended_at, hostname, pid, executor) "
            f"VALUES ('{old_id}', 'etl', '{{\"n\": 10}}', 'Success', 1.0, 2.0, 'h', 1, 'local')")
    with SQLRunStore(database_url) as store:
        assert store.schema_version() == SCHEMA_VERSION == 12
        old = store.get_run(old_id)
        assert (old.parameters, old.executor, old.parent_run_id) == ({"n": 10}, "local", None)
        assert store.child_runs(old_id) == []
        store.start_run("a" * 32, "sub", {}, [], 3.0, parent_run_id=old_id)
        assert [r.run_id for r in store.child_runs(old_id)] == ["a" * 32]
    assert query(database_url, "SELECT version_num FROM alembic_version") == [(HEAD,)] == [("0008",)]
    assert indexes(database_url, "runs")["runs_by_parent"] == ["parent_run_id", "started_at"]
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    assert cli.main(["runs", "show", "1010"]) == 0
    shown = capsys.readouterr().out
    assert "Parent" not in shown and "Subflow runs:" in shown and "a" * 32 in shown


def test_revision_0007_goes_down_and_up_again(database_url):
    from alembic import command

    with SQLRunStore(database_url) as store:
        store.start_run("p", "etl", {}, [])
        store.start_run("c", "etl", {}, [], parent_run_id="p")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0006")
        assert "parent_run_id" not in columns(database_url, "runs")
        assert "runs_by_parent" not in indexes(database_url, "runs")
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
    finally:
        engine.dispose()
    assert sorted(query(database_url, "SELECT run_id, parent_run_id FROM runs")) == [("c", None), ("p", None)]


def test_a_database_at_schema_11_is_upgraded_to_12_keeping_its_runs(database_url, capsys, monkeypatch):
    """Revision 0008 adds a run's name: NULL for the runs there already, which read and
    show as before (no Name line, no NAME column in ``ferroflow runs``)."""
    from alembic import command

    from ferroflow import cli

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0007")
            conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('schema_version', '11')")
    finally:
        engine.dispose()
    assert "run_name" not in columns(database_url, "runs")
    old_id = "11110000111100001111000011110000"
    execute(database_url,
            "INSERT INTO runs (run_id, flow_name, parameters, state, started_at, ended_at, hostname, pid, executor, "
            f"parent_run_id) VALUES ('{old_id}', 'etl', '{{\"n\": 11}}', 'Success', 1.0, 2.0, 'h', 1, 'local', "
            f"'{'p' * 32}')")
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    with SQLRunStore(database_url) as store:
        assert store.schema_version() == SCHEMA_VERSION == 12
        old = store.get_run(old_id)
        assert (old.parameters, old.executor, old.parent_run_id, old.run_name) == ({"n": 11}, "local", "p" * 32,
                                                                                  None)
        assert cli.main(["runs", "show", "1111"]) == 0
        shown = capsys.readouterr().out
        assert shown.startswith(f"Run         {old_id}\nFlow        etl\n") and "Name" not in shown
        assert cli.main(["runs"]) == 0
        assert capsys.readouterr().out.splitlines()[0].split() == ["RUN", "ID", "FLOW", "STATE", "STARTED",
                                                                   "DURATION"]
        store.start_run("b" * 32, "etl", {}, [], 3.0, run_name="etl-2026-12-01")
        assert [(r.run_id, r.run_name) for r in store.list_runs()] == [("b" * 32, "etl-2026-12-01"), (old_id, None)]
    assert query(database_url, "SELECT version_num FROM alembic_version") == [(HEAD,)] == [("0008",)]
    assert "run_name" in columns(database_url, "runs")


def test_revision_0008_goes_down_and_up_again(database_url):
    from alembic import command

    with SQLRunStore(database_url) as store:
        store.start_run("r", "etl", {}, [], run_name="named")
        assert store.get_run("r").run_name == "named"
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0007")
        assert "run_name" not in columns(database_url, "runs")
        assert "parent_run_id" in columns(database_url, "runs")  # (only 0008 went down)
        assert query(database_url, "SELECT version_num FROM alembic_version") == [("0007",)]
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
    finally:
        engine.dispose()
    assert query(database_url, "SELECT run_id, run_name FROM runs") == [("r", None)]

"""The SQL run store, on SQLite and on PostgreSQL: what it records and what its queries
answer."""

from __future__ import annotations

import datetime
import logging
import sqlite3
import threading

import pytest

from ferroflow import _core
from ferroflow.store import (
    ChildState,
    NullRunStore,
    ResumeRefusedError,
    RunStore,
    SQLiteRunStore,
    SQLRunStore,
    StateStoreError,
    UnknownRunError,
    get_run_store,
    new_run_id,
    state_name,
)
from tests.support.databases import query

S, F, R, SK, TF, M = _core.SUCCESS, _core.FAILED, _core.RETRYING, _core.SKIPPED, _core.TRIGGER_FAILED, _core.MAPPED
TASKS = [(0, "extract", "extract-1", False), (1, "transform", "transform-1", True), (2, "load", "load-1", False)]


def rows(store, sql, *args):
    store.flush()
    return query(store.url, sql, *args)


def child_rows(store):
    return rows(store, "SELECT task_id, map_index, code, run_count, message, result_location FROM task_runs "
                       "WHERE map_index >= 0 ORDER BY task_id, map_index")


def counts(store, run_id, task_id=1):
    (summary,) = [t for t in store.task_states(run_id) if t.task_id == task_id]
    return summary.counts


def test_is_a_run_store(store, database_url):
    assert isinstance(store, RunStore)
    assert repr(store) == f"<SQLRunStore {store.location}>"
    if database_url.startswith("sqlite"):
        assert store.location == database_url.removeprefix("sqlite:///")
    else:
        assert store.location.startswith("postgresql://postgres@127.0.0.1")


def test_an_sqlite_store_is_named_by_its_file(tmp_path):
    with SQLiteRunStore(tmp_path / "runs.db") as store:
        assert store.location == store.path == str(tmp_path / "runs.db")
        assert repr(store) == f"<SQLiteRunStore {store.path}>"
        assert store.url == f"sqlite:///{store.path}"


def test_start_and_end_run(store):
    start = datetime.datetime(2026, 11, 22, 5, 0, 0, tzinfo=datetime.timezone.utc)
    store.start_run("r1", "etl", {"n": 3, "when": datetime.date(2026, 1, 2)}, TASKS, start)
    run = store.get_run("r1")
    assert (run.run_id, run.flow_name, run.state, run.ended_at, run.duration) == ("r1", "etl", "Running", None, None)
    assert run.parameters == {"n": 3, "when": "datetime.date(2026, 1, 2)"}  # not JSON: kept by repr
    assert run.started_at == start.timestamp()
    assert run.pid is not None and run.hostname
    store.end_run("r1", "Failed", "Some reference tasks failed.", start.timestamp() + 2.5)
    run = store.get_run("r1")
    assert (run.state, run.message, run.duration) == ("Failed", "Some reference tasks failed.", 2.5)
    assert store.get_run("nope") is None


def test_list_runs_newest_first_with_limit_and_flow(store):
    for i in range(5):
        store.start_run(f"r{i}", "etl" if i % 2 == 0 else "other", {}, [], 1000.0 + i)
    assert [r.run_id for r in store.list_runs()] == ["r4", "r3", "r2", "r1", "r0"]
    assert [r.run_id for r in store.list_runs(limit=2)] == ["r4", "r3"]
    assert [r.run_id for r in store.list_runs(limit=None, flow_name="etl")] == ["r4", "r2", "r0"]
    assert store.list_runs(flow_name="missing") == []


def test_match_run_ids(store):
    for run_id in ("abc1", "abc2", "abd", "a_c", "a%c"):
        store.start_run(run_id, "f", {}, [])
    assert sorted(store.match_run_ids("abc")) == ["abc1", "abc2"]
    assert store.match_run_ids("abd") == ["abd"]
    assert store.match_run_ids("a_") == ["a_c"]  # LIKE wildcards are escaped
    assert store.match_run_ids("a%") == ["a%c"]
    assert store.match_run_ids("zz") == []


def test_task_level_states_and_order(store):
    store.start_run("r", "etl", {}, [TASKS[2], TASKS[0], TASKS[1]])  # display order as given
    store.record_states("r", [(0, -1, S, 1, None, "file:///results/extract.pkl"),
                              (2, -1, TF, 1, "Trigger was \"all_successful\"", None)])
    tasks = store.task_states("r")
    assert [t.name for t in tasks] == ["load", "extract", "transform"]
    load, extract, transform = tasks
    assert (extract.state, extract.result_location, extract.is_mapped) == (
        "Success", "file:///results/extract.pkl", False)
    assert (load.state, load.code, load.message) == ("TriggerFailed", TF, 'Trigger was "all_successful"')
    assert (transform.state, transform.counts, transform.failed_children) == (None, {}, [])
    # The latest state of a task run replaces the earlier one.
    store.record_states("r", [(2, -1, S, 2, None, None)])
    assert store.child_state("r", 2, -1) == ChildState(2, -1, S, 2, None, None)


def test_plain_successes_are_counted_not_stored(store):
    store.start_run("r", "etl", {}, TASKS)
    store.record_states("r", [(1, i, S, 1, None, None) for i in range(100)])
    store.record_states("r", [(1, 100, F, 1, "boom", None), (1, 101, SK, 1, None, None),
                              (1, 102, S, 1, None, "mem://102")])
    assert counts(store, "r") == {"Success": 101, "Failed": 1, "Skipped": 1}
    assert child_rows(store) == [(1, 100, F, 1, "boom", None), (1, 101, SK, 1, None, None),
                                 (1, 102, S, 1, None, "mem://102")]
    assert store.child_state("r", 1, 5) == ChildState(1, 5, S, None, None, None)
    assert store.child_state("r", 1, 100) == ChildState(1, 100, F, 1, "boom", None)
    assert store.child_state("r", 1, 500) is None  # never reported


def test_report_shape_all_successful_children_cost_no_rows(store):
    store.start_run("r", "etl", {}, TASKS)
    n = 100_000
    store.record_report("r", [(0, None, S)] + [(1, range(a, min(n, a + 8192)), bytes([S]) * (min(n, a + 8192) - a))
                                               for a in range(0, n, 8192)])
    store.record_width("r", 1, n)
    assert counts(store, "r") == {"Success": n}
    assert child_rows(store) == []
    assert rows(store, "SELECT start, stop FROM child_spans") == [(0, n)]  # merged within a batch
    assert store.child_state("r", 1, n - 1).code == S
    assert store.child_state("r", 1, n) is None
    (transform,) = [t for t in store.task_states("r") if t.name == "transform"]
    assert (transform.width, transform.state) == (n, "Mapped")  # children reported, the parent not yet


def test_report_failures_details_and_retry_flag(store):
    store.start_run("r", "etl", {}, TASKS)
    codes = bytearray([S]) * 10
    codes[2] = F | _core.RETRY_OK
    codes[5] = F
    codes[7] = S
    store.record_report("r", [(1, range(10), bytes(codes), {
        2: ("Error during execution of task: ValueError(2)", None, 3),
        7: (None, "mem://7", None),
        9: (None, None, 2),
    })])
    assert child_rows(store) == [
        (1, 2, F, 3, "Error during execution of task: ValueError(2)", None),  # RETRY_OK dropped
        (1, 5, F, 1, None, None),
        (1, 7, S, 1, None, "mem://7"),  # a success with a location is stored
    ]  # 9: a plain success, its run count is not kept
    assert counts(store, "r") == {"Success": 8, "Failed": 2}
    (summary,) = [t for t in store.task_states("r") if t.name == "transform"]
    assert summary.failed_count == 2
    assert [(c.map_index, c.state, c.message) for c in summary.failed_children] == [
        (2, "Failed", "Error during execution of task: ValueError(2)"), (5, "Failed", None)]
    assert [c.map_index for c in store.task_states("r", failed_limit=1)[1].failed_children] == [2]
    assert store.task_states("r", failed_limit=0)[1].failed_children == []


def test_retry_then_success_removes_the_row_and_moves_the_count(store):
    store.start_run("r", "etl", {}, TASKS)
    codes = bytearray([S]) * 6
    codes[1] = codes[4] = R
    store.record_report("r", [(1, range(6), bytes(codes))])
    assert counts(store, "r") == {"Success": 4, "Retrying": 2}
    store.record_report("r", [(1, [1, 4], bytes([S, F]), {4: ("boom", None, 2)})])
    assert counts(store, "r") == {"Success": 5, "Failed": 1}
    assert child_rows(store) == [(1, 4, F, 2, "boom", None)]
    assert store.child_state("r", 1, 1) == ChildState(1, 1, S, None, None, None)


def test_re_reporting_the_same_codes_changes_nothing(store):
    """The engine may re-report a task's whole child_states() at the end of a run."""
    store.start_run("r", "etl", {}, TASKS)
    n = 20_000
    store.record_report("r", [(1, range(0, 10_000), bytes([S]) * 10_000, {})])
    codes = bytearray([S]) * 10_000
    codes[17] = F
    store.record_report("r", [(1, range(10_000, n), bytes(codes), {10_017: ("boom", None, None)})])
    before = (counts(store, "r"), child_rows(store))
    # End of run: the core's view, plus children it decided without Python.
    final = bytearray([S]) * n
    final[10_017] = F
    store.record_report("r", [(1, range(n), bytes(final))])
    assert (counts(store, "r"), child_rows(store)) == before  # the message is kept
    final[19_999] = SK
    final[0] = TF
    store.record_report("r", [(1, range(n), bytes(final))])
    assert counts(store, "r") == {"Success": n - 3, "Failed": 1, "Skipped": 1, "TriggerFailed": 1}
    assert [r[:4] for r in child_rows(store)] == [(1, 0, TF, 1), (1, 10_017, F, 1), (1, 19_999, SK, 1)]


def test_children_first_seen_at_the_end(store):
    """A task whose children were all decided by the core (never run) is recorded by one
    end-of-run report."""
    store.start_run("r", "etl", {}, TASKS)
    store.record_report("r", [(1, range(5), bytes([TF]) * 5), (1, None, M)])
    assert counts(store, "r") == {"TriggerFailed": 5}
    assert store.task_states("r")[1].state == "Mapped"
    assert len(child_rows(store)) == 5


def test_list_indices_and_int_codes(store):
    store.start_run("r", "etl", {}, TASKS)
    store.record_report("r", [(1, [7, 3, 4], bytes([S, F, S])), (1, [9], SK)])
    assert counts(store, "r") == {"Success": 2, "Failed": 1, "Skipped": 1}
    assert sorted(rows(store, "SELECT start, stop FROM child_spans")) == [(3, 5), (7, 8), (9, 10)]
    assert store.child_state("r", 1, 4).code == S
    assert store.child_state("r", 1, 5) is None


def test_state_survives_a_new_writer(database_url):
    """A run recorded further by another store (a new process) keeps exact counts: the
    new writer rebuilds what it knows from spans and rows."""
    path = database_url
    with SQLRunStore(path) as first:
        first.start_run("r", "etl", {}, TASKS)
        codes = bytearray([S]) * 8
        codes[3] = R
        first.record_report("r", [(1, range(8), bytes(codes))])
    with SQLRunStore(path) as second:
        second.record_report("r", [(1, range(8), bytes([S]) * 8), (1, range(8, 10), bytes([S, F]))])
        assert counts(second, "r") == {"Success": 9, "Failed": 1}
        assert child_rows(second) == [(1, 9, F, 1, None, None)]


def test_restart_run_reopens_it(store):
    store.start_run("r", "etl", {"n": 1}, TASKS, 100.0)
    store.end_run("r", "Failed", "boom", 101.0)
    store.start_run("r", "etl", {"n": 1}, TASKS, 200.0)
    run = store.get_run("r")
    assert (run.state, run.message, run.ended_at, run.started_at) == ("Running", None, None, 100.0)
    with pytest.raises(ResumeRefusedError, match=r"run r is still running \(pid \d+ on "):
        store.start_run("r2", "etl", {}, TASKS, resumed_from="r")
    assert store.get_run("r2") is None
    store.end_run("r", "Failed", "boom again")
    store.start_run("r2", "etl", {}, TASKS, resumed_from="r")
    assert store.get_run("r2").resumed_from == "r"


def test_records_after_end_run(store):
    store.start_run("r", "etl", {}, TASKS)
    store.record_report("r", [(1, range(3), bytes([S, F, S]))])
    store.end_run("r", "Failed")
    store.flush()
    store.record_report("r", [(1, [1], bytes([S]))])  # cache dropped at end_run: rebuilt
    assert counts(store, "r") == {"Success": 3}


def test_logs(store):
    store.start_run("r", "etl", {}, TASKS)
    store.start_run("other", "etl", {}, TASKS)
    store.record_logs("r", [
        (1, 3, 10.0, "ERROR", "ferroflow.task", "child three failed"),
        (None, None, 9.0, logging.INFO, "ferroflow", "flow starts"),
        (1, -1, 11.0, "WARNING", "ferroflow.task", "parent"),
        (0, -1, 12.0, "CUSTOM", "ferroflow.task", "a level logging does not know"),
        (1, 4, 13.0, 5, "ferroflow.task", "level 5"),
    ])
    store.record_logs("other", [(1, 3, 1.0, "INFO", "x", "not this run")])
    lines = store.logs("r")
    assert [line.message for line in lines] == ["flow starts", "child three failed", "parent",
                                                 "a level logging does not know", "level 5"]
    first = lines[0]
    assert (first.task_id, first.task_name, first.map_index, first.levelname, first.level) == (
        None, None, None, "INFO", 20)
    assert (lines[3].level, lines[3].levelname) == (0, "CUSTOM")
    assert (lines[4].level, lines[4].levelname) == (5, "Level 5")
    assert [x.message for x in store.logs("r", task_name="transform")] == ["child three failed", "parent", "level 5"]
    assert [x.message for x in store.logs("r", task_name="transform-1", map_index=3)] == ["child three failed"]
    assert [x.message for x in store.logs("r", task_name="transform", map_index=-1)] == ["parent"]
    assert [x.message for x in store.logs("r", limit=1)] == ["flow starts"]
    assert store.logs("r", task_name="nope") == []


def test_resume_info(store):
    store.start_run("r", "etl", {"n": 2}, TASKS)
    codes = bytearray([S]) * 10
    codes[4] = F
    store.record_report("r", [(0, None, S, {-1: (None, "file:///x/extract.pkl", None)}),
                              (1, range(10), bytes(codes), {0: (None, "file:///x/t/0.pkl", None)}),
                              (1, [20, 21], bytes([S, S]))])
    info = store.resume_info("r")
    assert info.run.parameters == {"n": 2}
    extract, transform, load = info.tasks[0], info.tasks[1], info.tasks[2]
    assert (extract.code, extract.result_location) == (S, "file:///x/extract.pkl")
    assert transform.children == {0: (S, "file:///x/t/0.pkl"), 4: (F, None)}
    assert transform.reported == [(0, 10), (20, 22)]
    assert transform.child(0) == (S, "file:///x/t/0.pkl")
    assert transform.child(1) == (S, None)
    assert transform.child(4) == (F, None)
    assert transform.child(15) is None and transform.child(21) == (S, None) and transform.child(30) is None
    assert (load.code, load.children, load.reported) == (None, {}, [])


def test_unknown_run(store):
    for read in (lambda: store.task_states("nope"), lambda: store.child_state("nope", 0, 0),
                 lambda: store.logs("nope"), lambda: store.resume_info("nope")):
        with pytest.raises(UnknownRunError, match=r"no run with id 'nope' in the run store [/p]") as info:
            read()
        assert isinstance(info.value, LookupError)


def test_records_for_a_run_never_started_fail_loudly(store):
    store.record_states("ghost", [(0, -1, S, 1, None, None)])
    with pytest.raises(StateStoreError, match="unknown run: .*'ghost', which was never started") as info:
        store.flush()
    assert info.value.lost == 1
    store.start_run("r", "etl", {}, TASKS)  # the error was raised once; the store works again
    store.flush()
    assert store.get_run("r") is not None


def test_bad_record_shape_fails_loudly(store):
    store.start_run("r", "etl", {}, TASKS)
    store.record_report("r", [(1, range(3), bytes([S]))])  # 1 code for 3 children
    with pytest.raises(StateStoreError, match="invalid record: .*1 codes for 3 children"):
        store.flush()


def test_threads_recording_at_once(store):
    store.start_run("r", "etl", {}, TASKS)

    def work(t):
        for k in range(50):
            base = (t * 50 + k) * 10
            store.record_report("r", [(1, range(base, base + 10), bytes([S] * 9 + [F]))])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert counts(store, "r") == {"Success": 1800, "Failed": 200}
    assert len(child_rows(store)) == 200


def test_two_stores_one_database_share_one_writer(database_url):
    from ferroflow.store import writer as mod

    a = SQLRunStore(database_url)
    b = SQLRunStore(database_url)
    try:
        a.start_run("ra", "f", {}, [])
        b.start_run("rb", "f", {}, [])
        assert a._writer is b._writer
        assert {r.run_id for r in b.list_runs()} == {"ra", "rb"}  # reads see the process's queued writes
        writers = [t for t in threading.enumerate() if t.name.startswith("ferroflow-run-store")]
        assert writers.count(a._writer.thread) == 1
    finally:
        a.close()
        assert a.url in mod._WRITERS  # b still uses it
        b.close()
    assert a.url not in mod._WRITERS


def test_close_is_idempotent_and_final(store):
    store.start_run("r", "f", {}, [])
    store.close()
    store.close()
    store.flush()  # nothing to do
    with pytest.raises(StateStoreError, match="closed"):
        store.start_run("r2", "f", {}, [])
    with pytest.raises(StateStoreError, match="closed"):
        store.get_run("r")


def test_state_name():
    assert state_name(S) == "Success"
    assert state_name(None) is None
    assert state_name(99) == "Unknown(99)"


def test_new_run_id():
    a, b = new_run_id(), new_run_id()
    assert a != b and len(a) == 32 and int(a, 16) >= 0


def test_null_store_records_nothing():
    null = NullRunStore()
    null.start_run("r", "f", {}, TASKS)
    null.record_states("r", [(0, -1, S, 1, None, None)])
    null.record_report("r", [(0, None, S)])
    null.record_width("r", 1, 3)
    null.record_logs("r", [(None, -1, 1.0, "INFO", "x", "y")])
    null.end_run("r", "Success")
    null.flush()
    assert null.list_runs() == [] and null.get_run("r") is None and null.match_run_ids("r") == []
    with pytest.raises(UnknownRunError):
        null.task_states("r")
    with null:
        pass


def test_get_run_store_follows_the_environment(home, monkeypatch):
    store = get_run_store()
    assert isinstance(store, SQLiteRunStore)
    assert store.path == str(home / "runs.db")
    assert get_run_store() is store  # one per process and path
    assert isinstance(get_run_store(record=False), NullRunStore)
    monkeypatch.setenv("FERROFLOW_RECORD", "0")
    assert isinstance(get_run_store(), NullRunStore)
    assert get_run_store(record=True) is store
    monkeypatch.setenv("FERROFLOW_RECORD", "off")
    from ferroflow.store import recording_enabled

    assert not recording_enabled()
    monkeypatch.setenv("FERROFLOW_RECORD", "1")
    assert recording_enabled()
    store.close()


def test_get_run_store_follows_the_environment_as_it_changes(monkeypatch, tmp_path):
    """The store's path is cached (working it out costs more than recording a small
    run), but only while the variables it is made of, and for a relative home the
    working directory, stay the same."""
    stores = []
    try:
        for home in ("a", "b", "a"):
            monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / home))
            stores.append(get_run_store(True))
        assert [s.path for s in stores] == [str(tmp_path / h / "runs.db") for h in ("a", "b", "a")]
        assert stores[0] is stores[2]
        monkeypatch.delenv("FERROFLOW_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "me"))
        stores.append(get_run_store(True))
        assert stores[-1].path == str(tmp_path / "me" / ".ferroflow" / "runs.db")
        monkeypatch.setenv("FERROFLOW_HOME", "relative")
        for where in ("x", "y"):
            (tmp_path / where).mkdir()
            monkeypatch.chdir(tmp_path / where)
            stores.append(get_run_store(True))
            assert stores[-1].path == str(tmp_path / where / "relative" / "runs.db")
    finally:
        for store in stores:
            store.close()


def test_default_home(monkeypatch, tmp_path):
    from ferroflow.store import default_store_path, ferroflow_home

    monkeypatch.delenv("FERROFLOW_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ferroflow_home() == tmp_path / ".ferroflow"
    assert default_store_path() == tmp_path / ".ferroflow" / "runs.db"
    monkeypatch.setenv("FERROFLOW_HOME", "~/elsewhere")
    assert ferroflow_home() == tmp_path / "elsewhere"


def committed_runs(url) -> set:
    """Run ids committed to the database, read without the store (which would commit first)."""
    return {r[0] for r in query(url, "SELECT run_id FROM runs")}


def committed_rows(url) -> int:
    """Task run rows committed to the database, read without the store."""
    return query(url, "SELECT count(*) FROM task_runs")[0][0]


def test_a_start_is_written_at_once_and_records_wait_for_the_interval(database_url):
    with SQLRunStore(database_url, flush_interval=3600) as store:
        store.start_run("r", "etl", {}, [(0, "t", "t", True)])
        assert committed_runs(store.url) == {"r"}  # before any task runs
        store.record_states("r", [(0, 1, F, 1, None, None)])
        assert committed_rows(store.url) == 0  # pending
        store.flush()
        assert committed_rows(store.url) == 1


def test_a_full_batch_is_written_by_the_call_that_fills_it(database_url):
    with SQLRunStore(database_url, flush_interval=3600, flush_rows=10) as store:
        store.start_run("r", "etl", {}, [(0, "t", "t", True)])
        store.record_states("r", [(0, i, F, 1, None, None) for i in range(5)])
        assert committed_rows(store.url) == 0
        store.record_states("r", [(0, i, F, 1, None, None) for i in range(5, 10)])
        assert committed_rows(store.url) == 10


def test_end_run_is_written_at_once(database_url):
    with SQLRunStore(database_url, flush_interval=3600) as store:
        store.start_run("r", "etl", {}, [])
        store.end_run("r", "Success")
        assert committed_runs(store.url) == {"r"}


def test_the_backstop_thread_writes_what_a_quiet_caller_left(database_url):
    with SQLRunStore(database_url, flush_interval=0.01) as store:
        store.start_run("r", "etl", {}, [(0, "t", "t", True)])
        store.record_states("r", [(0, 1, F, 1, None, None)])
        while not committed_rows(store.url):  # no flush, no further call: the thread writes it
            threading.Event().wait(0.01)
        while not store._writer.parked:  # nothing pending: the thread parks...
            threading.Event().wait(0.01)
        store.record_states("r", [(0, 2, F, 1, None, None)])
        while committed_rows(store.url) != 2:  # ...and is woken by the next record
            threading.Event().wait(0.01)


def test_parameters_that_json_cannot_hold(store):
    class Loud:
        def __repr__(self):
            return "x" * 5000

    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    circular: list = []
    circular.append(circular)
    store.start_run("a", "f", {"loud": Loud(), "broken": Broken(), "nan": float("nan")}, [])
    store.start_run("b", "f", {("tuple", "key"): 1, "circular": circular}, [])
    a = store.get_run("a").parameters
    assert a["loud"] == "x" * 997 + "..."
    assert a["broken"] == "<Broken object: repr() raised RuntimeError>"
    assert a["nan"] != a["nan"]
    # Each parameter on its own: the circular one does not turn the other into a string.
    assert store.get_run("b").parameters == {"('tuple', 'key')": 1, "circular": "[[...]]"}


def test_report_details_keyed_by_task_and_index(store):
    """The engine passes the core's report list as it is, and the details of the round
    keyed as its own ``record.details`` are: (task_id, index)."""
    store.start_run("r", "etl", {}, TASKS)
    store.record_report("r", [(0, None, F), (1, range(4), bytes([S, F, S, S])), (1, [9], bytes([S]))],
                        details={(0, -1): ("extract broke", None, 3), (1, 1): ("child broke", None, None),
                                 (1, 9): (None, "mem://9", None), (1, 50): ("not reported", None, None),
                                 (2, -1): ("not reported either", None, None)})
    assert store.child_state("r", 0, -1) == ChildState(0, -1, F, 3, "extract broke", None)
    assert child_rows(store) == [(1, 1, F, 1, "child broke", None), (1, 9, S, 1, None, "mem://9")]
    assert store.child_state("r", 2, -1) is None


def test_a_read_whose_commit_fails_leaves_the_store_usable(tmp_path):
    """Every transaction of the store is rolled back when its COMMIT fails (here refused
    by an authorizer on the store's own SQLite connection), so the next one can begin."""
    store = SQLiteRunStore(tmp_path / "runs.db")
    store.start_run("r1", "etl", {}, [])
    store.flush()
    conn = store._reader()

    def refuse_commit(action, arg1, *_):
        refused = action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT"
        return sqlite3.SQLITE_DENY if refused else sqlite3.SQLITE_OK

    conn.set_authorizer(refuse_commit)
    try:
        with pytest.raises(StateStoreError, match="not authorized"):
            store.list_runs()
        assert not conn.in_transaction
    finally:
        conn.set_authorizer(None)
    assert [run.run_id for run in store.list_runs()] == ["r1"]
    store.close()


def test_a_read_sees_one_snapshot(store):
    """The statements of one read (a run's tasks, counts, failed children) agree: a
    commit made meanwhile by another connection is not seen half-way."""
    from tests.support.databases import execute

    store.start_run("r1", "etl", {}, [])
    store.flush()

    def read_twice(c):
        before = c.execute("SELECT count(*) FROM runs").fetchone()[0]
        execute(store.url, "INSERT INTO runs (run_id, flow_name, parameters, state, started_at) "
                           "VALUES ('r2', 'etl', '{}', 'Running', 1.0)")
        return before, c.execute("SELECT count(*) FROM runs").fetchone()[0]

    assert store._query(read_twice) == (1, 1)
    assert len(store.list_runs()) == 2

"""Eager flows' run record (issue 14): tasks added to a running run (``add_tasks``, a
``tasks`` record) are recorded, read and shown exactly as tasks listed at its start;
subflow runs name their parent (``parent_run_id``, schema 11) and a run's subflow runs
are one indexed query (``child_runs``). On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from ferroflow import _core, cli
from ferroflow.store import NullRunStore, StateStoreError, items
from ferroflow.store.base import TaskList
from ferroflow.store.layout import read_edges
from tests.support.databases import query

S, F, R = _core.SUCCESS, _core.FAILED, _core.RETRYING
TOKEN = "0" * 32
NONE = TaskList([], [], [], b"")
#: The two rounds of tasks an eager flow meets: ids in order of first call.
FIRST = [(0, "load", None, True), (1, "check", "check-1", True)]
SECOND = TaskList([2], ["save"], ["save-2"], b"\x00")


def record_the_work(store, run_id: str) -> None:
    """The records of a run of FIRST + SECOND: children of both mapped tasks (failed ones
    with messages and tracebacks, a retried one), a width, the unmapped task's own
    state, logs of each."""
    store.record_report(run_id, [(0, range(0, 4), bytes([S, F, S, S]))],
                        {(0, 1): ("load 1 failed", None, 2, "Traceback (most recent call last):\nValueError: 1")})
    store.record_width(run_id, 0, 4)
    store.record_report(run_id, [(1, [0, 2], bytes([R, S])), (0, None, F)],
                        {(1, 2): (None, "file:///r/2", 1), (0, -1): ("Some children failed.", None, 1)})
    store.record_report(run_id, [(1, [0], bytes([S])), (1, None, S)], plain=True)
    store.record_states(run_id, [(2, -1, S, 1, "saved", "file:///r/save", None)])
    store.record_logs(run_id, [(0, 1, 10.0, "ERROR", "ferroflow.task", "child 1 of load failed"),
                               (2, -1, 11.0, 20, "ferroflow.task", "saving"),
                               (None, -1, 12.0, 20, "ferroflow.flow", "flow says hi")])


def read_back(store, run_id: str) -> dict:
    tasks = [dataclasses.replace(t) for t in store.task_states(run_id, failed_limit=None)]
    children = {(t, i): store.child_state(run_id, t, i) for t in range(3) for i in range(-1, 5)}
    logs = [(line.task_id, line.task_name, line.map_index, line.levelname, line.message)
            for line in store.logs(run_id)]
    return {"tasks": tasks, "children": children, "logs": logs,
            "by name": [(line.task_name, line.message) for line in store.logs(run_id, task_name="check-1")]}


def test_tasks_added_to_a_running_run_read_back_as_tasks_given_at_its_start(store):
    eager, listed = "e" * 32, "d" * 32
    store.start_run(eager, "flow", {}, NONE, 1.0)
    store.add_tasks(eager, FIRST)
    store.add_tasks(eager, SECOND)
    record_the_work(store, eager)
    store.end_run(eager, "Failed", "Some reference tasks failed.", 2.0)
    store.start_run(listed, "flow", {}, FIRST + list(SECOND), 1.0)
    record_the_work(store, listed)
    store.end_run(listed, "Failed", "Some reference tasks failed.", 2.0)

    got = read_back(store, eager)
    assert got == read_back(store, listed)
    assert [(t.task_id, t.name, t.slug, t.is_mapped, t.state) for t in got["tasks"]] == [
        (0, "load", None, True, "Failed"), (1, "check", "check-1", True, "Success"),
        (2, "save", "save-2", False, "Success")]
    load = got["tasks"][0]
    assert (load.width, load.counts, load.failed_count, load.message) == (
        4, {"Success": 3, "Failed": 1}, 1, "Some children failed.")
    assert got["children"][(0, 1)].traceback.endswith("ValueError: 1")
    assert got["children"][(0, 1)].run_count == 2 and got["children"][(1, 2)].result_location == "file:///r/2"
    assert got["children"][(2, -1)].message == "saved"
    assert got["by name"] == []  # (check has no logs; the filter knows the added task's slug)
    assert [line.message for line in store.logs(eager, task_name="save-2")] == ["saving"]
    run = store.get_run(eager)
    assert (run.state, run.message, run.parent_run_id) == ("Failed", "Some reference tasks failed.", None)
    assert store.resume_info(eager).tasks[2].result_location == "file:///r/save"


def test_runs_show_lists_added_tasks_in_the_order_they_were_added(store, database_url, monkeypatch, capsys):
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    store.start_run("e" * 32, "eager", {"n": 1}, NONE, 1.0)
    store.add_tasks("e" * 32, FIRST)
    store.add_tasks("e" * 32, SECOND)
    record_the_work(store, "e" * 32)
    store.end_run("e" * 32, "Failed", "Some reference tasks failed.", 2.0)
    store.flush()
    assert cli.main(["runs", "show", "eeee"]) == 0
    shown = capsys.readouterr().out
    table = shown.split("\n\n")[1].splitlines()
    assert [line.split()[:2] for line in table] == [["TASK", "STATE"], ["load", "Failed"], ["check", "Success"],
                                                    ["save", "Success"]]
    assert "4: 3 Success, 1 Failed" in table[1]
    assert "Failed children of load (1):\n  [1] Failed: load 1 failed" in shown
    assert "Subflow runs" not in shown and "Parent" not in shown


def test_the_added_tasks_and_their_records_are_written_in_one_batch_in_order(store, database_url):
    """(batched like the other records: nothing is committed before the flush, and the
    tasks are in the store before their records are applied)"""
    store.start_run("e" * 32, "eager", {}, NONE, 1.0)
    store.add_tasks("e" * 32, FIRST)
    store.record_report("e" * 32, [(0, range(0, 2), bytes([S, F]))])
    store.add_tasks("e" * 32, SECOND)
    store.record_report("e" * 32, [(2, None, S)], plain=True)
    store.flush()
    assert [(t.name, t.state, t.counts) for t in store.task_states("e" * 32)] == [
        ("load", "Mapped", {"Success": 1, "Failed": 1}), ("check", None, {}), ("save", "Success", {})]


def test_edges_given_with_added_tasks_are_added_to_the_run(store, database_url):
    store.start_run("e" * 32, "eager", {}, TaskList([], [], [], b"", edges=[]), 1.0)
    store.add_tasks("e" * 32, TaskList([0, 1], ["a", "b"], [None, None], bytes(2), edges=[(0, 1)]))
    store.add_tasks("e" * 32, [(2, "c", None, False)])  # (no edges: the run's stay)
    store.add_tasks("e" * 32, TaskList([3], ["d"], [None], b"\x00", edges=[(1, 3), (2, 3)]))
    store.flush()
    assert read_edges(query(database_url, "SELECT edges FROM run_tasks")[0][0]) == [(0, 1), (1, 3), (2, 3)]
    with pytest.raises(StateStoreError, match="an edge names a task the run does not have"):
        store.add_tasks("e" * 32, TaskList([4], ["e"], [None], b"\x00", edges=[(4, 99)]))
        store.flush()


def test_an_id_the_run_has_already_is_refused(store):
    store.start_run("e" * 32, "eager", {}, [(0, "first", None, False)], 1.0)
    store.add_tasks("e" * 32, [(1, "second", None, False)])
    store.flush()
    # within one call: at once, nothing queued
    with pytest.raises(ValueError, match="given twice"):
        store.add_tasks("e" * 32, [(2, "x", None, False), (2, "y", None, False)])
    with pytest.raises(ValueError, match="non-negative ints"):
        store.add_tasks("e" * 32, [(-1, "x", None, False)])
    # an id of the run (given at its start, or added): refused when written, once
    for taken in (0, 1):
        store.add_tasks("e" * 32, [(taken, "again", None, False)])
        with pytest.raises(StateStoreError, match=rf"invalid record: .*task ids \[{taken}\] are the run's already"):
            store.flush()
    store.add_tasks("e" * 32, [(5, "third", None, False)])  # the store goes on
    store.end_run("e" * 32, "Success")
    assert [(t.task_id, t.name) for t in store.task_states("e" * 32)] == [(0, "first"), (1, "second"), (5, "third")]


def test_an_empty_add_records_nothing_and_the_null_store_takes_it():
    assert items.added_tasks("e" * 32, []) is None
    null = NullRunStore()
    null.start_run("e" * 32, "f", {}, NONE, parent_run_id="p" * 32)
    null.add_tasks("e" * 32, FIRST)
    assert null.child_runs("p" * 32) == []


def test_reopening_a_run_gives_it_the_task_list_of_its_new_start(store):
    store.start_run("e" * 32, "eager", {}, NONE, 1.0)
    store.add_tasks("e" * 32, FIRST)
    store.end_run("e" * 32, "Crashed")
    store.start_run("e" * 32, "eager", {}, NONE, 1.0)
    store.add_tasks("e" * 32, SECOND)
    store.add_tasks("e" * 32, [(0, "load", None, True)])  # (free again: the start's list replaced the old one)
    store.end_run("e" * 32, "Success")
    assert [t.name for t in store.task_states("e" * 32)] == ["save", "load"]


def test_records_of_a_run_never_started_are_refused(store):
    store.add_tasks("f" * 32, FIRST)
    with pytest.raises(StateStoreError, match="unknown run"):
        store.flush()


# ----- what a server takes (ingest) ----------------------------------------------------


def test_ingest_takes_tasks_and_their_records_in_one_batch(store):
    run_id = "ab" * 16
    start = items.start(run_id, "eager", {}, NONE, 1.0, pid=1, token=TOKEN)
    added = items.added_tasks(run_id, FIRST)
    assert added[0] == "tasks" and added[3] == 2
    store.ingest("b1", [start, added, items.report(run_id, [(0, range(0, 2), bytes([S, F]))]),
                        items.added_tasks(run_id, SECOND), items.report(run_id, [(2, None, S)], plain=True)], {})
    assert [(t.name, t.counts, t.state) for t in store.task_states(run_id)] == [
        ("load", {"Success": 1, "Failed": 1}, "Mapped"), ("check", {}, None), ("save", {}, "Success")]
    # a later batch, under the run's lease
    store.ingest("b2", [items.added_tasks(run_id, [(3, "late", None, False)])], {run_id: TOKEN})
    assert [t.name for t in store.task_states(run_id)][-1] == "late"
    lost = store.ingest("b3", [items.added_tasks(run_id, [(4, "stolen", None, False)])], {run_id: "1" * 32})
    assert run_id in lost["lost"] and len(store.task_states(run_id)) == 4


@pytest.mark.parametrize("columns, words", [
    (("[0]", "[\"a\"]", "[null]", b"\x00"), "5 or 6 columns"),
    (("[0, 0]", "[\"a\", \"b\"]", "[null, null]", b"\x00\x00", b"\x00\x00", None), "given twice"),
    (("[-3]", "[\"a\"]", "[null]", b"\x00", b"\x00", None), "non-negative ints"),
    (("[true]", "[\"a\"]", "[null]", b"\x00", b"\x00", None), "non-negative ints"),
    (("[1.5]", "[\"a\"]", "[null]", b"\x00", b"\x00", None), "non-negative ints"),
    (("[0]", "[7]", "[null]", b"\x00", b"\x00", None), "names are strings"),
    (("[0]", "[\"a\"]", "[null]", b"\x00\x00", b"\x00", None), "one item per task"),
    (("[0]", "{\"a\": 1}", "[null]", b"\x00", b"\x00", None), "one item per task"),
    (("[0]", "[\"a\"]", "[null]", b"\x00", b"\x00", "[[0]]"), "edges are"),
    (("[0]", "[\"a\"]", "[null]", b"\x00", b"\x00", "not json"), "Expecting value"),
])
def test_ingest_refuses_a_malformed_task_list_and_applies_nothing(store, columns, words):
    run_id = "ab" * 16
    store.ingest("b1", [items.start(run_id, "eager", {}, [(5, "given", None, False)], 1.0, pid=1, token=TOKEN)], {})
    with pytest.raises(StateStoreError, match=f"invalid record: .*{words}"):
        store.ingest("b2", [("tasks", run_id, columns, 1), items.report(run_id, [(5, None, S)], plain=True)],
                     {run_id: TOKEN})
    assert [(t.name, t.state) for t in store.task_states(run_id)] == [("given", None)]


# ----- subflow runs -----------------------------------------------------------------


def test_subflow_runs_name_their_parent(store, database_url):
    parent, other = "p" * 32, "q" * 32
    store.start_run(parent, "outer", {}, NONE, 1.0)
    store.start_run("c2" * 16, "inner", {}, NONE, 3.0, parent_run_id=parent)
    store.start_run("c1" * 16, "inner", {}, NONE, 2.0, parent_run_id=parent)
    store.start_run("c3" * 16, "deeper", {}, NONE, 4.0, parent_run_id="c1" * 16)
    store.start_run(other, "outer", {}, NONE, 5.0)
    assert [(r.run_id, r.parent_run_id) for r in store.child_runs(parent)] == [("c1" * 16, parent),
                                                                                ("c2" * 16, parent)]
    assert [r.run_id for r in store.child_runs(parent, limit=1)] == ["c1" * 16]
    assert [r.run_id for r in store.child_runs("c1" * 16)] == ["c3" * 16]
    assert store.child_runs(other) == [] == store.child_runs("no such run")
    assert store.get_run("c3" * 16).parent_run_id == "c1" * 16 and store.get_run(parent).parent_run_id is None
    assert {r.run_id: r.parent_run_id for r in store.list_runs()}["c2" * 16] == parent
    assert sorted(query(database_url, "SELECT run_id FROM runs WHERE parent_run_id IS NOT NULL")) == [
        ("c1" * 16,), ("c2" * 16,), ("c3" * 16,)]


def test_a_start_item_names_its_parent_only_when_it_has_one(store):
    """A 14th field only for a subflow run: a server older than schema 11 refuses a 14th
    field, and takes every other run's start as before."""
    plain = items.start("ab" * 16, "f", {}, NONE, 1.0, pid=1, token=TOKEN, executor="local")
    sub = items.start("cd" * 16, "f", {}, NONE, 1.0, pid=1, token=TOKEN, parent_run_id="ab" * 16)
    assert len(plain) == 13 and len(sub) == 14 and sub[13] == "ab" * 16
    store.ingest("b1", [plain, sub, plain[:12]], {})  # (the last: a ferroflow before schema 10)
    assert store.get_run("cd" * 16).parent_run_id == "ab" * 16
    wrong = (*sub[:13], ["not", "an", "id"])
    with pytest.raises(StateStoreError, match="invalid record: .*parent is a run id"):
        store.ingest("b2", [(*wrong[:1], "ef" * 16, *wrong[2:])], {})
    assert store.get_run("ef" * 16) is None


def test_runs_show_names_the_parent_and_lists_subflow_runs(store, database_url, monkeypatch, capsys):
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    parent = "p" * 32
    store.start_run(parent, "outer", {}, NONE, 1.0)
    store.start_run("c1" * 16, "inner", {}, NONE, 2.0, parent_run_id=parent)
    store.end_run("c1" * 16, "Success", None, 3.0)
    store.start_run("c2" * 16, "inner <b>\x1b[2J", {}, NONE, 4.0, parent_run_id=parent)
    store.flush()
    assert cli.main(["runs", "show", parent]) == 0
    shown = capsys.readouterr().out
    assert "No tasks recorded.\n\nSubflow runs:\n" in shown
    listed = shown.split("Subflow runs:\n")[1].splitlines()
    assert listed[0].split() == ["RUN", "ID", "FLOW", "STATE", "STARTED", "DURATION"]
    assert listed[1].split()[:3] == ["c1" * 16, "inner", "Success"] and listed[1].endswith("1.00s")
    assert listed[2].split()[:2] == ["c2" * 16, "inner"] and listed[2].endswith("running")
    assert "\x1b" not in shown and "<b>\\x1b[2J" in shown
    assert cli.main(["runs", "show", "c1" * 16]) == 0
    child = capsys.readouterr().out
    assert f"\nParent      {parent}\n" in child and "Subflow runs" not in child

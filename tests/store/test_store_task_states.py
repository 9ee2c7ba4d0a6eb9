"""A task's own state in the run store (schema 5): a plain success is one byte of its
run's ``run_tasks`` row and costs no ``task_runs`` row; any other state is a row too;
what is read back is what was recorded, task run by task run (issue 9)."""

from __future__ import annotations

import sqlite3

import pytest

from ferroflow import Flow, _core, task
from ferroflow.store import SUCCEEDED, ChildState, SQLiteRunStore, StateStoreError, TaskList, get_run_store
from ferroflow.store import transaction as transaction_module
from tests.support.databases import query

S, F, R, M = _core.SUCCESS, _core.FAILED, _core.RETRYING, _core.MAPPED
TASKS = [(0, "extract", "extract-1", False), (1, "transform", "transform-1", True), (2, "load", "load-1", False)]


def task_rows(store, run_id="r"):
    store.flush()
    return query(store.url, "SELECT t.task_id, t.code, t.run_count, t.message, t.result_location FROM task_runs AS t "
                            "JOIN runs AS r ON r.id = t.run WHERE r.run_id = ? AND t.map_index = -1 "
                            "ORDER BY t.task_id", run_id)


def own(store, task_id, run_id="r"):
    return store.child_state(run_id, task_id, -1)


def test_a_plain_success_costs_no_row_and_reads_back_as_recorded(store):
    store.start_run("r", "etl", {}, TASKS)
    store.record_report("r", [(0, None, S), (2, None, S)], plain=True)
    store.record_report("r", [(1, None, S)])  # not plain: no message
    assert task_rows(store) == [(1, S, 1, None, None)]
    assert own(store, 0) == ChildState(0, -1, S, 1, SUCCEEDED, None)
    assert own(store, 1) == ChildState(1, -1, S, 1, None, None)
    extract, transform, load = store.task_states("r")
    assert (extract.state, extract.run_count, extract.message, extract.result_location) == ("Success", 1, SUCCEEDED,
                                                                                            None)
    assert (transform.state, transform.message) == ("Success", None)
    assert store.resume_info("r").tasks[2].code == S


def test_what_is_not_a_plain_success_is_a_row(store):
    store.start_run("r", "etl", {}, TASKS)
    store.record_report("r", [(0, None, S), (1, None, S), (2, None, F)],
                        {(0, -1): (SUCCEEDED, "file:///x", None), (1, -1): (SUCCEEDED, None, 2)}, plain=True)
    assert task_rows(store) == [(0, S, 1, SUCCEEDED, "file:///x"), (1, S, 2, SUCCEEDED, None), (2, F, 1, None, None)]
    assert store.resume_info("r").tasks[0].result_location == "file:///x"


def test_a_plain_success_replaces_an_earlier_state_and_its_row_goes(store):
    store.start_run("r", "etl", {}, TASKS)
    store.record_report("r", [(0, None, R | _core.RETRY_OK)], {(0, -1): ("Retrying", None, 1)})
    store.flush()
    assert task_rows(store) == [(0, R, 1, "Retrying", None)]
    store.record_report("r", [(0, None, S)], plain=True)
    assert task_rows(store) == []
    assert own(store, 0) == ChildState(0, -1, S, 1, SUCCEEDED, None)
    # Within one batch too: the row never gets written.
    store.record_report("r", [(2, None, F)], plain=True)
    store.record_report("r", [(2, None, S)], plain=True)
    assert task_rows(store) == []
    assert own(store, 2).message == SUCCEEDED


def test_consecutive_reports_in_one_batch_record_the_last_state(store):
    store.start_run("r", "etl", {}, TASKS)
    store.start_run("q", "etl", {}, TASKS)
    for run_id, code in [("r", R), ("r", F), ("q", S), ("r", S), ("q", F)]:
        store.record_report(run_id, [(0, None, code)], plain=True)
    store.record_report("r", [(2, None, F)], {(2, -1): ("boom", None, 1)}, plain=True)
    store.record_report("r", [(2, None, F)], plain=True)  # latest: no message
    assert own(store, 0, "r").message == SUCCEEDED
    assert own(store, 0, "q") == ChildState(0, -1, F, 1, None, None)
    assert own(store, 2, "r") == ChildState(2, -1, F, 1, None, None)


def test_a_batch_kept_after_a_failed_write_is_written_as_it_was(tmp_path, monkeypatch):
    store = SQLiteRunStore(tmp_path / "runs.db")
    try:
        store.start_run("r", "etl", {}, TASKS)
        first, second = [(0, None, R)], [(0, None, S), (2, None, S)]
        store.record_report("r", first, plain=True)
        store.record_report("r", second, plain=True)
        calls = []
        apply = transaction_module.Transaction.apply

        def failing(self):
            calls.append(1)
            if len(calls) == 1:
                raise sqlite3.OperationalError("disk I/O error")
            apply(self)

        monkeypatch.setattr(transaction_module.Transaction, "apply", failing)
        with pytest.raises(StateStoreError, match="I/O error"):
            store.flush()
        assert (first, second) == ([(0, None, R)], [(0, None, S), (2, None, S)])  # the caller's lists untouched
        store.flush()  # the kept batch: written now
        assert own(store, 0).message == SUCCEEDED and own(store, 2).code == S
        assert task_rows(store) == []
    finally:
        store.close()


def test_a_task_list_by_columns_is_the_tuples_it_holds(store):
    columns = TaskList([2, 0, 1], ["load", "extract", "transform"], ["load-1", "extract-1", "transform-1"],
                       b"\x00\x00\x01", b"\x01\x00\x00")
    assert list(columns) == [(2, "load", "load-1", False, True), (0, "extract", "extract-1", False, False),
                             (1, "transform", "transform-1", True, False)]
    assert TaskList.of(columns) is columns and list(TaskList.of(list(columns))) == list(columns)
    with pytest.raises(ValueError, match="one item per task"):
        TaskList([0], ["a", "b"], ["a-1"], b"\x00")
    store.start_run("r", "etl", {}, columns)
    store.start_run("t", "etl", {}, [tuple(t) for t in columns])
    for run_id in ("r", "t"):
        assert [(t.task_id, t.name, t.slug, t.is_mapped) for t in store.task_states(run_id)] == [
            (2, "load", "load-1", False), (0, "extract", "extract-1", False), (1, "transform", "transform-1", True)]
        assert [t.approved for t in store.resume_info(run_id).tasks.values()] == [True, False, False]


def test_tasks_given_in_other_types_are_recorded_as_plain_ones(store):
    class Id(int):
        pass

    store.start_run("r", "etl", {}, [[Id(0), "extract", None, 1], (5, "later", "later-1", 0, 1)])
    assert [(t.task_id, t.name, t.slug, t.is_mapped) for t in store.task_states("r")] == [
        (0, "extract", None, True), (5, "later", "later-1", False)]
    store.record_report("r", [(5, None, S)], plain=True)  # a task id past the list's length
    assert own(store, 5).message == SUCCEEDED


def test_a_run_of_plain_tasks_writes_no_task_run_rows(recording_home):
    @task
    def inc(x):
        return x + 1

    with Flow("chain") as flow:
        x = inc(0)
        for _ in range(20):
            x = inc(x)
    state = flow.run()
    assert state.is_successful() and state.recorded
    store = get_run_store(True)
    assert task_rows(store, state.flow_run_id) == []
    tasks = store.task_states(state.flow_run_id)
    assert len(tasks) == 21 and {(t.state, t.message, t.run_count) for t in tasks} == {("Success", SUCCEEDED, 1)}


def test_a_task_given_its_state_is_recorded_with_it(recording_home):
    from ferroflow import states

    @task
    def one():
        return 1

    @task
    def add(x):
        return x + 1

    with Flow("given") as flow:
        a = one()
        b = add(a)
    state = flow.run(task_states={a: states.Success("Mocked", result=41)})
    assert state.result[b].result == 42
    recorded = {t.name: (t.state, t.message) for t in get_run_store(True).task_states(state.flow_run_id)}
    assert recorded == {"one": ("Success", "Mocked"), "add": ("Success", SUCCEEDED)}

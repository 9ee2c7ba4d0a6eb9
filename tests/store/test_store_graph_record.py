"""Schema 9: a run records its flow's edges and when each task was seen, and registers
its flow, on SQLite and PostgreSQL; an item from an older ferroflow (no edges) is still
taken."""

from __future__ import annotations

from ferroflow import Flow, task
from ferroflow.store import items
from ferroflow.store.base import TaskList
from ferroflow.store.layout import read_edges, read_times


@task
def first():
    return [1, 2, 3]


@task
def double(x):
    return x * 2


@task
def total(xs):
    return sum(xs)


@task
def pair(a, b):
    return len(a) + len(b)


def _flow() -> Flow:
    with Flow("graph recorded") as flow:
        xs = first()
        ys = double.map(xs)
        total(ys)
        pair(xs, xs)  # two edges from first into pair: one pair of task ids
    return flow


def test_a_run_records_its_edges_times_and_flow(recording_home, database_url):
    from ferroflow.store import config
    from tests.support.databases import query

    state = _flow().run()
    assert state.is_successful()
    for store in list(config._STORES.values()):
        store.flush()
    where = database_url if database_url.startswith("postgresql") else f"sqlite:///{recording_home / 'runs.db'}"
    ((ids, edges, times),) = query(where, "SELECT ids, edges, times FROM run_tasks")
    pairs = read_edges(edges)
    assert pairs is not None and len(pairs) == len(set(pairs)) == 3
    seen = read_times(times)
    assert set(seen) == set(range(4))
    assert all(a <= b for a, b in seen.values())
    assert query(where, "SELECT name FROM flows") == [("graph recorded",)]


def test_a_start_item_without_edges_is_still_taken(store, database_url):
    from tests.support.databases import query

    tasks = TaskList([0, 1], ["a", "b"], [None, None], bytes(2), edges=[(0, 1)])
    item = items.start("ab" * 16, "old client", {}, tasks, pid=1, token="0" * 32)
    old = (*item[:5], item[5][:5], *item[6:12])  # what a ferroflow before schema 9 sends
    store.ingest("b1", [old], {})
    assert query(database_url, "SELECT edges FROM run_tasks") == [(None,)]
    store.ingest("b2", [item], {})
    assert read_edges(query(database_url, "SELECT edges FROM run_tasks")[0][0]) == [(0, 1)]

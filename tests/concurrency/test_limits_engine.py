"""Tag concurrency limits in a flow run recorded in a database directly (the embedded
store, SQLite and PostgreSQL): task runs carrying a limited tag never run more at once
than the limit, on the threads and processes executors; untagged tasks and unlimited
tags are not slowed; a retried task run holds no slot while it waits; the slots are
freed when the run ends; a limit of 0 holds the run until it is raised."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from ferroflow import Flow, task
from ferroflow.executors import ProcessesExecutor, ThreadsExecutor
from ferroflow.store import concurrency as cl
from ferroflow.store.database import make_engine
from ferroflow.store.migrations import migrate

SPANS = "FERROFLOW_TEST_SPANS"


def _span(kind: str, index: int, hold: float = 0.15) -> int:
    """Record when a task run started and ended (a file each, in $FERROFLOW_TEST_SPANS)."""
    start = time.time()
    time.sleep(hold)
    Path(os.environ[SPANS], f"{kind}-{index}-{os.getpid()}-{threading.get_ident()}-{start}.json").write_text(
        json.dumps([start, time.time()]))
    return index


@task(tags=["db"])
def query(i):
    return _span("db", i)


@task
def plain(i):
    return _span("plain", i)


@task(tags=["free"])
def unlimited(i):
    return _span("free", i)


def max_overlap(spans: list) -> int:
    """The most spans open at one time."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def spans_of(folder: Path, kind: str) -> list:
    return [json.loads(p.read_text()) for p in folder.glob(f"{kind}-*.json")]


@pytest.fixture
def limits_db(database_url, tmp_path, monkeypatch):
    """The database runs are recorded in (FERROFLOW_DATABASE_URL), migrated; its engine."""
    from ferroflow.store import config

    monkeypatch.setenv(config.DATABASE_ENV, database_url)
    monkeypatch.delenv(config.RECORD_ENV, raising=False) if hasattr(config, "RECORD_ENV") else None
    monkeypatch.delenv("FERROFLOW_API_URL", raising=False)
    folder = tmp_path / "spans"
    folder.mkdir()
    monkeypatch.setenv(SPANS, str(folder))
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    for key in [k for k in config._STORES if k == database_url or str(k).endswith(database_url)]:
        config._STORES.pop(key).close()
    engine.dispose()


def _held(engine) -> int:
    return sum(x.in_use for x in cl.list_limits(engine))


@pytest.mark.parametrize("executor", [lambda: ThreadsExecutor(max_workers=6), lambda: ProcessesExecutor(max_workers=4)],
                         ids=["threads", "processes"])
def test_a_limited_tag_never_runs_more_than_its_limit(limits_db, executor, tmp_path):
    cl.set_limit(limits_db, "db", 2)
    with Flow("limited") as flow:
        q = query.map(list(range(12)))
        p = plain.map(list(range(12)))
        u = unlimited.map(list(range(12)))
    state = flow.run(executor=executor())
    assert state.is_successful(), state.result
    assert sorted(state.result[q].result) == list(range(12))
    assert len(state.result[p].result) == 12 and len(state.result[u].result) == 12
    db = spans_of(tmp_path / "spans", "db")
    assert len(db) == 12
    assert max_overlap(db) <= 2
    # the untagged and unlimited task runs were not throttled (several at once)
    assert max_overlap(spans_of(tmp_path / "spans", "plain") + spans_of(tmp_path / "spans", "free")) > 2
    assert _held(limits_db) == 0


def test_without_the_limit_the_same_flow_runs_more_at_once(limits_db, tmp_path):
    # (what shows the test above can fail: the tag alone does not throttle anything)
    with Flow("unlimited") as flow:
        query.map(list(range(12)))
    assert flow.run(executor=ThreadsExecutor(max_workers=6)).is_successful()
    assert max_overlap(spans_of(tmp_path / "spans", "db")) > 2


ATTEMPTS: dict = {}


@task(tags=["db"], max_retries=1, retry_delay=__import__("datetime").timedelta(seconds=1))
def flaky(i):
    ATTEMPTS[i] = ATTEMPTS.get(i, 0) + 1
    if ATTEMPTS[i] == 1:
        raise RuntimeError("first attempt fails")
    return _span("db", i)


@task(tags=["db"])
def during_retry_wait():
    time.sleep(0.3)  # flaky's children are failing, then waiting 1 s to retry, meanwhile
    return _span("other", 0, hold=0.0)


def test_a_task_run_waiting_to_retry_holds_no_slot(limits_db, tmp_path):
    cl.set_limit(limits_db, "db", 1)
    ATTEMPTS.clear()
    with Flow("retry") as flow:
        f = flaky.map([0])
        w = during_retry_wait()
    state = flow.run(executor=ThreadsExecutor(max_workers=2))
    assert state.is_successful(), state.result
    assert state.result[f].result == [0] and ATTEMPTS[0] == 2
    other = spans_of(tmp_path / "spans", "other")
    db = spans_of(tmp_path / "spans", "db")
    # the other task ran while flaky's child waited for its retry (its slot was free)
    assert len(other) == 1 and other[0][1] <= db[0][0]
    assert state.result[w].is_successful()


def test_a_limit_of_zero_holds_its_task_until_the_limit_is_raised(limits_db, tmp_path, caplog):
    cl.set_limit(limits_db, "db", 0)
    caplog.set_level(logging.INFO)
    with Flow("zero") as flow:
        q = query.map([0, 1])

    def raise_later():
        time.sleep(1.0)
        assert not spans_of(tmp_path / "spans", "db"), "a task of a tag limited to 0 ran"
        cl.set_limit(limits_db, "db", 1)

    helper = threading.Thread(target=raise_later)
    helper.start()
    state = flow.run(executor=ThreadsExecutor(max_workers=2))
    helper.join()
    assert state.is_successful(), state.result
    assert sorted(state.result[q].result) == [0, 1]
    assert "waiting for a concurrency slot of tag 'db'" in caplog.text
    assert max_overlap(spans_of(tmp_path / "spans", "db")) == 1


def test_a_task_that_fails_frees_its_slot(limits_db):
    cl.set_limit(limits_db, "db", 1)

    @task(tags=["db"])
    def boom(i):
        raise ValueError(f"boom {i}")

    with Flow("fails") as flow:
        b = boom.map([0, 1, 2])
    state = flow.run(executor=ThreadsExecutor(max_workers=3))
    assert state.is_failed()
    assert len(state.result[b].map_states) == 3 and all(s.is_failed() for s in state.result[b].map_states)
    assert _held(limits_db) == 0

"""Tag concurrency limits in the database (ferroflow.store.concurrency), on SQLite and
PostgreSQL: limits made, listed, deleted; slots taken all or nothing, never more than the
limit under racing threads and processes; slots of ended runs freed."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest
from sqlalchemy import func, select

from ferroflow.store import concurrency as cl
from ferroflow.store.control import create_run, set_state
from ferroflow.store.schema import concurrency_slots


def _held(engine, tag=None) -> int:
    query = select(func.count()).select_from(concurrency_slots)
    if tag is not None:
        query = query.where(concurrency_slots.c.tag == tag)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def _running(engine, flow="etl") -> str:
    run, _ = create_run(engine, flow)
    set_state(engine, run.run_id, "Running")
    return run.run_id


def test_limits_are_set_listed_updated_and_deleted(engine):
    made, created = cl.set_limit(engine, "db", 2)
    assert created and made.tag == "db" and made.slots == 2 and made.in_use == 0
    again, created = cl.set_limit(engine, "db", 5)
    assert not created and again.slots == 5 and again.created_at == made.created_at
    cl.set_limit(engine, "api", 0)
    assert [(x.tag, x.slots) for x in cl.list_limits(engine)] == [("api", 0), ("db", 5)]
    assert cl.limited_tags(engine, ["db", "other", "api"]) == {"db", "api"}
    assert cl.limited_tags(engine, []) == set()
    cl.delete_limit(engine, "api")
    with pytest.raises(cl.UnknownLimitError, match="api"):
        cl.delete_limit(engine, "api")
    with pytest.raises(cl.UnknownLimitError):
        cl.get_limit(engine, "api")


@pytest.mark.parametrize("tag, slots", [("", 1), ("x" * 101, 1), ("a\x00b", 1), ("db", -1), ("db", 1.5),
                                        ("db", True), ("db", "2"), ("db", 10**7)])
def test_invalid_limits_are_refused(engine, tag, slots):
    with pytest.raises(cl.LimitError):
        cl.set_limit(engine, tag, slots)
    assert cl.list_limits(engine) == []


def test_slots_are_taken_all_or_nothing_and_released(engine):
    run_id = _running(engine)
    cl.set_limit(engine, "a", 1)
    cl.set_limit(engine, "b", 2)
    assert cl.acquire_slots(engine, run_id, "h1", ["b", "a", "free"]).acquired
    assert cl.get_limit(engine, "a").in_use == 1 and cl.get_limit(engine, "b").in_use == 1
    # a is full: h2 takes nothing, not even b's slot
    answer = cl.acquire_slots(engine, run_id, "h2", ["a", "b"])
    assert not answer.acquired and answer.blocked_by == ["a"]
    assert _held(engine, "b") == 1
    # acquiring again for a holder that holds its slots takes nothing more
    assert cl.acquire_slots(engine, run_id, "h1", ["a", "b"]).acquired
    assert _held(engine) == 2
    assert cl.acquire_slots(engine, run_id, "h3", ["b"]).acquired
    assert not cl.acquire_slots(engine, run_id, "h4", ["b"]).acquired
    assert cl.release_slots(engine, "h1") == 2
    assert cl.acquire_slots(engine, run_id, "h2", ["a", "b"]).acquired
    # tags without a limit cost nothing: no row
    assert cl.acquire_slots(engine, run_id, "h5", ["free", "other"]).acquired
    assert _held(engine) == 3
    assert cl.release_run(engine, run_id) == 3
    assert _held(engine) == 0


def test_a_limit_of_zero_never_lets_its_tag_run(engine):
    run_id = _running(engine)
    cl.set_limit(engine, "frozen", 0)
    answer = cl.acquire_slots(engine, run_id, "h", ["frozen"])
    assert not answer.acquired and answer.blocked_by == ["frozen"]
    cl.set_limit(engine, "frozen", 1)
    assert cl.acquire_slots(engine, run_id, "h", ["frozen"]).acquired


def test_a_run_that_ended_or_is_cancelling_gets_no_slot(engine):
    cl.set_limit(engine, "db", 5)
    run_id = _running(engine)
    set_state(engine, run_id, "Cancelling")
    answer = cl.acquire_slots(engine, run_id, "h", ["db"])
    assert not answer.acquired and answer.run_state == "Cancelling" and answer.blocked_by == []
    # a run the database does not know yet (its start is on its way through a server) may,
    # as may one made on the server that its process has not started yet
    assert cl.acquire_slots(engine, "f" * 32, "h", ["db"]).acquired
    scheduled, _ = create_run(engine, "etl")
    assert cl.acquire_slots(engine, scheduled.run_id, "s", ["db"]).acquired
    assert cl.free_slots(engine) == 0
    set_state(engine, scheduled.run_id, "Failed")
    assert cl.free_slots(engine) == 1


def test_slots_of_runs_that_ended_are_freed(engine):
    cl.set_limit(engine, "db", 2)
    live, ended, cancelled = _running(engine), _running(engine), _running(engine)
    for run_id in (live, ended, cancelled):
        assert cl.acquire_slots(engine, run_id, run_id + ":1", ["db"]).acquired or run_id == cancelled
    set_state(engine, ended, "Crashed")
    assert cl.free_slots(engine) == 1
    assert cl.get_limit(engine, "db").in_use == 1
    # a full tag frees the slots of ended runs when it is asked for one
    assert cl.acquire_slots(engine, cancelled, cancelled + ":1", ["db"]).acquired
    set_state(engine, cancelled, "Cancelled")
    assert cl.acquire_slots(engine, live, live + ":2", ["db"]).acquired
    assert _held(engine) == 2
    assert cl.free_slots(engine) == 0


def test_slots_of_a_run_never_recorded_are_freed_after_a_grace_period(engine, monkeypatch):
    cl.set_limit(engine, "db", 1)
    assert cl.acquire_slots(engine, "a" * 32, "h", ["db"]).acquired
    assert cl.free_slots(engine) == 0
    later = time.time() + cl.UNKNOWN_RUN_GRACE + 1
    monkeypatch.setattr(cl.time, "time", lambda: later)
    assert cl.free_slots(engine) == 1


def _hammer(url: str, run_id: str, tags: list, rounds: int, name: str, out: dict | None = None) -> int:
    """Acquire, hold, check the holders in the database, release; ``rounds`` times. The
    most holders of each tag seen while holding (returned by max over tags)."""
    from ferroflow.store.database import make_engine

    engine = make_engine(url)
    most = 0
    done = 0
    try:
        while done < rounds:
            holder = f"{name}:{done}"
            if not cl.acquire_slots(engine, run_id, holder, tags).acquired:
                time.sleep(0.002)
                continue
            for tag in tags:
                most = max(most, _held(engine, tag))
            time.sleep(0.001)
            cl.release_slots(engine, holder)
            done += 1
    finally:
        engine.dispose()
    if out is not None:
        out[name] = most
    return most


def test_racing_threads_never_exceed_the_limit(engine, database_url):
    cl.set_limit(engine, "db", 2)
    cl.set_limit(engine, "api", 3)
    run_id = _running(engine)
    seen: dict = {}
    threads = [threading.Thread(target=_hammer, args=(database_url, run_id, tags, 15, f"t{i}", seen))
               for i, tags in enumerate([["db"], ["api"], ["db", "api"], ["api", "db"]] * 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert len(seen) == 8, "a thread did not finish"
    assert max(seen.values()) <= 3
    assert max(seen[f"t{i}"] for i in (0, 4)) <= 2  # db alone
    assert _held(engine) == 0


def test_racing_processes_never_exceed_the_limit(engine, database_url):
    cl.set_limit(engine, "db", 2)
    run_id = _running(engine)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        found = pool.starmap(_hammer, [(database_url, run_id, ["db"], 15, f"p{i}") for i in range(4)], chunksize=1)
    assert len(found) == 4 and max(found) <= 2 and max(found) >= 1
    assert _held(engine) == 0

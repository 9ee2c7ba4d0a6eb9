"""Scheduler replicas on one database (SQLite and PostgreSQL): threads racing ticks with
the clock injected, and real processes (a server's scheduler thread, ``ferroflow
scheduler`` on its own) on a 1-second schedule. Each (deployment, time) is made exactly
once, and no time of the schedule is skipped."""

from __future__ import annotations

import datetime as dt
import math
import signal
import subprocess
import sys
import threading
import time

import pendulum
from sqlalchemy import select

from ferroflow.schedules import IntervalClock, Schedule
from ferroflow.schedules.spec import to_spec
from ferroflow.store import deployments as store
from ferroflow.store.database import make_engine
from ferroflow.store.migrations import migrate
from ferroflow.store.scheduling import ScheduleCache, schedule
from ferroflow.store.schema import runs
from tests.support.servers import Server, child_env, wait_for

EVERY_SECOND = to_spec(Schedule([IntervalClock(dt.timedelta(seconds=1), start_date=pendulum.datetime(2020, 1, 1))]))


def times_by_deployment(engine) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    with engine.connect() as conn:
        for d, t in conn.execute(select(runs.c.deployment_id, runs.c.scheduled_time)
                                 .where(runs.c.scheduled_time.is_not(None)).order_by(runs.c.scheduled_time)):
            out.setdefault(d, []).append(t)
    return out


def contiguous(found: list[float]) -> bool:
    """Whether ``found`` is every whole second from its first to its last, once each."""
    return found == [float(s) for s in range(int(found[0]), int(found[-1]) + 1)]


def test_racing_threads_make_each_time_exactly_once(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    made = [store.deploy(engine, f"d{i}", "f.py:f", schedule=EVERY_SECOND)[0] for i in range(20)]
    base = max(d.updated_at for d in made)
    replicas, rounds = 4, 12
    barrier = threading.Barrier(replicas)
    counts = [0] * replicas
    errors: list[BaseException] = []

    def replica(i: int) -> None:
        own = make_engine(database_url)
        cache = ScheduleCache()
        try:
            for r in range(rounds):
                barrier.wait(60)
                counts[i] += schedule(own, now=base + 7 * r + 0.25 * i, horizon=60, grace=5, cache=cache).made
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            own.dispose()

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(replicas)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    found = times_by_deployment(engine)
    assert sorted(found) == sorted(d.id for d in made)
    assert sum(counts) == sum(len(v) for v in found.values()), "a run counted as made twice"
    for d in made:
        assert contiguous(found[d.id]) and found[d.id][0] == math.floor(d.updated_at) + 1
        assert found[d.id][-1] >= base + 7 * (rounds - 1) + 60 - 1
    engine.dispose()


def _count(engine, deployment_id: int) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(runs.c.id).where(runs.c.deployment_id == deployment_id)).all())


def test_a_server_makes_runs_on_its_own_and_not_with_no_scheduler(database_url, tmp_path):
    engine = make_engine(database_url)
    migrate(engine)
    d, _ = store.deploy(engine, "tick", "f.py:f", schedule=EVERY_SECOND)
    quiet = Server(database_url, tmp_path / "quiet.log", args=("--no-scheduler",)).start()
    try:
        time.sleep(3)  # a scheduler would have made runs by now
        assert _count(engine, d.id) == 0
    finally:
        quiet.stop()
    server = Server(database_url, tmp_path / "server.log", args=("--schedule-horizon", "2")).start()
    try:
        wait_for(lambda: _count(engine, d.id) >= 5, "runs made by the server's scheduler", timeout=60)
    finally:
        server.stop()
    found = times_by_deployment(engine)[d.id]
    assert contiguous(found) and found[-1] <= time.time() + 2 + 1
    engine.dispose()


def test_standalone_schedulers_and_a_server_make_each_run_once(database_url, tmp_path):
    engine = make_engine(database_url)
    migrate(engine)
    made = [store.deploy(engine, f"d{i}", "f.py:f", schedule=EVERY_SECOND)[0] for i in range(3)]
    server = Server(database_url, tmp_path / "server.log", args=("--schedule-horizon", "3")).start()
    logs = [open(tmp_path / f"scheduler{i}.log", "wb") for i in range(2)]
    processes = [subprocess.Popen([sys.executable, "-m", "ferroflow", "scheduler", "--database", database_url,
                                   "--horizon", "3", "--interval", "0.2", "--late-after", "5"],
                                  env=child_env(), stdout=log, stderr=subprocess.STDOUT) for log in logs]
    try:
        start = time.time()
        wait_for(lambda: all(_count(engine, d.id) >= 8 for d in made), "runs of every deployment", timeout=120)
        store.pause_deployment(engine, "d0")  # while three schedulers tick
        paused_at = time.time()
        wait_for(lambda: _count(engine, made[1].id) >= 12, "more runs", timeout=120)
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(30) for p in processes]
        server.stop()
        for log in logs:
            log.close()
    outputs = [(tmp_path / f"scheduler{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], outputs
    assert all("ferroflow scheduler stopped:" in out for out in outputs), outputs
    found = times_by_deployment(engine)
    for d in made[1:]:
        assert contiguous(found[d.id]) and found[d.id][0] <= start + 1
    # the paused one: no unstarted run left after the pause, none made since
    assert all(t <= paused_at for t in found.get(made[0].id, [])), "a run of a paused deployment was made"
    with engine.connect() as conn:
        states = set(conn.execute(select(runs.c.state).where(runs.c.deployment_id == made[0].id)).scalars())
    assert not states & {"Scheduled", "Late"}
    engine.dispose()


def test_the_scheduler_thread_survives_a_database_it_cannot_use_and_goes_on_when_it_can(database_url, caplog):
    import logging

    from ferroflow.server.scheduler import Scheduler

    engine = make_engine(database_url)  # not migrated yet: no tables, every tick fails
    scheduler = Scheduler(engine, interval=0.05, horizon=5)
    with caplog.at_level(logging.WARNING, logger="ferroflow.scheduler"):
        scheduler.start()
        try:
            wait_for(lambda: scheduler.failures >= 3, "failed ticks", timeout=60)
            migrate(engine)
            d, _ = store.deploy(engine, "back", "f.py:f", schedule=EVERY_SECOND)
            wait_for(lambda: _count(engine, d.id) >= 5, "runs once the database is usable", timeout=60)
        finally:
            scheduler.stop()
    assert scheduler._thread is not None and not scheduler._thread.is_alive()
    assert "scheduler tick failed (tried again in 0.05 s)" in caplog.text
    assert scheduler.made == _count(engine, d.id) and contiguous(times_by_deployment(engine)[d.id])
    engine.dispose()


def test_pausing_and_redeploying_while_replicas_tick_leave_no_stale_run(database_url):
    import json

    engine = make_engine(database_url)
    migrate(engine)
    store.deploy(engine, "toggled", "f.py:f", schedule=EVERY_SECOND)
    d, _ = store.deploy(engine, "redeployed", "f.py:f", parameters={"n": 0}, schedule=EVERY_SECOND)
    stop = threading.Event()
    errors: list[BaseException] = []

    def replica() -> None:
        own = make_engine(database_url)
        try:
            while not stop.is_set():
                schedule(own, horizon=30, grace=5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(1, 16):
            store.pause_deployment(engine, "toggled")
            store.resume_deployment(engine, "toggled")
            last, _ = store.deploy(engine, "redeployed", "f.py:f", parameters={"n": n}, schedule=EVERY_SECOND)
        paused = store.pause_deployment(engine, "toggled")
        time.sleep(1)  # a few more ticks after the last changes
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert not errors, errors
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.deployment_id, runs.c.scheduled_time, runs.c.parameters, runs.c.state)).all()
    assert not [r for r in rows if r.deployment_id == paused.id], "a run of the paused deployment is left"
    stale = [r for r in rows if r.deployment_id == d.id and r.scheduled_time > last.updated_at
             and json.loads(r.parameters) != {"n": 15}]
    assert not stale, "a run made ahead from an old recipe is left"
    assert any(r.deployment_id == d.id and r.scheduled_time > last.updated_at for r in rows)
    engine.dispose()

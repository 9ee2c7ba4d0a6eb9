"""Claims in the database (store/claims.py), on SQLite and PostgreSQL: racing workers
get disjoint runs and never exceed a pool's or a deployment's limit; a claim's token
fences the start of its run; runs given back crashed are retried once, from their
checkpoints; stale claims are given back."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, update

from ferroflow.store import SQLRunStore, claims
from ferroflow.store import deployments as store
from ferroflow.store.errors import ResumeRefusedError
from ferroflow.store.schema import runs


def _runs(engine, name, n, **kwargs):
    return [store.create_manual_run(engine, name, kwargs or None).run_id for _ in range(n)]


def _state(engine, run_id):
    with engine.connect() as conn:
        return conn.execute(select(runs.c.state, runs.c.owner, runs.c.worker, runs.c.attempt, runs.c.resumed_from)
                            .where(runs.c.run_id == run_id)).one()


def test_a_claim_takes_due_runs_oldest_first_and_fences_them(engine):
    store.deploy(engine, "etl", "flows/etl.py:etl", parameters={"n": 1}, executor="threads",
                 executor_options={"max_workers": 2})
    first, second = _runs(engine, "etl", 2)
    with engine.begin() as conn:  # (a run not due yet is not claimed)
        conn.execute(update(runs).where(runs.c.run_id == second).values(started_at=time.time() + 3600))
    (claim,) = claims.claim_runs(engine, "default", "a" * 32, 5)
    assert claim.run_id == first and len(claim.lease) == 32 and claim.deployment == "etl"
    assert (claim.entrypoint, claim.parameters, claim.executor, claim.executor_options, claim.attempt) == (
        "flows/etl.py:etl", {"n": 1}, "threads", {"max_workers": 2}, 1)
    assert _state(engine, first)[:3] == ("Pending", claim.lease, "a" * 32)
    assert claims.claim_runs(engine, "default", "b" * 32, 5) == [], "a claimed run is claimed once"
    assert claims.claim_runs(engine, "other-pool", "b" * 32, 5) == []

    # Only the claim's token starts the run, once.
    with SQLRunStore(engine) as recorder:
        with pytest.raises(ResumeRefusedError, match="does not hold its claim"):
            recorder.start_run(first, "etl", {}, [], lease="f" * 32)
        recorder.start_run(first, "etl", {"n": 1}, [], lease=claim.lease)
        assert _state(engine, first)[0] == "Running"
        recorder.end_run(first, "Success")
        recorder.flush()
        with pytest.raises(ResumeRefusedError, match="is Success now"):
            recorder.start_run(first, "etl", {"n": 1}, [], lease=claim.lease)


def test_racing_workers_get_disjoint_runs_within_the_limits(engine):
    store.deploy(engine, "limited", "pkg.mod:flow", pool="p", concurrency_limit=3)
    store.deploy(engine, "free", "pkg.mod:other", pool="p")
    claims.set_pool(engine, "p", concurrency_limit=5)
    _runs(engine, "limited", 20)
    _runs(engine, "free", 20)
    got: list = []
    errors: list = []
    start = threading.Barrier(6)

    def worker(i):
        try:
            start.wait()
            for _ in range(5):
                got.extend(claims.claim_runs(engine, "p", f"{i:032x}", 2))
        except Exception as exc:  # (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = [c.run_id for c in got]
    assert len(ids) == len(set(ids)) == 5, "the pool's limit: 5 active at most, each claimed once"
    assert sum(c.deployment == "limited" for c in got) <= 3
    # A run ending frees a place.
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.run_id == ids[0]).values(state="Success", owner=None))
    (more,) = claims.claim_runs(engine, "p", "c" * 32, 4)
    assert more.run_id not in ids
    claims.set_pool(engine, "p", paused=True)
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.run_id == more.run_id).values(state="Success", owner=None))
    assert claims.claim_runs(engine, "p", "c" * 32, 4) == [], "a paused pool gives nothing"
    pool = claims.set_pool(engine, "p", paused=False, clear_limit=True)
    assert pool.concurrency_limit is None and not pool.paused
    claims.claim_runs(engine, "p", "c" * 32, 40)
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.deployment_id, runs.c.state)).all()
    limited = store.get_deployment(engine, "limited").id
    assert sum(d == limited and s in claims.ACTIVE for d, s in rows) == 3, "the deployment's own limit stays"
    assert not [s for d, s in rows if d != limited and s == "Scheduled"], "without the pool's limit all are claimed"


def test_the_limits_hold_when_claims_race_in_processes(database_url, tmp_path):
    import subprocess
    import sys

    from ferroflow.store.database import make_engine
    from ferroflow.store.migrations import migrate

    engine = make_engine(database_url)
    migrate(engine)
    store.deploy(engine, "d", "pkg.mod:flow", pool="p", concurrency_limit=4)
    _runs(engine, "d", 30)
    script = ("import sys; from ferroflow.store.database import make_engine; from ferroflow.store import claims\n"
              "e = make_engine(sys.argv[1])\n"
              "print(sum(len(claims.claim_runs(e, 'p', sys.argv[2] * 32, 3)) for _ in range(10)))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, database_url, "abcdef0123"[i]], stdout=subprocess.PIPE,
                              text=True) for i in range(4)]
    total = sum(int(p.communicate(timeout=120)[0]) for p in procs)
    assert total == 4
    with engine.connect() as conn:
        assert conn.execute(select(runs.c.state).where(runs.c.state == "Pending")).all() == [("Pending",)] * 4
    engine.dispose()


def test_a_crashed_run_is_retried_once_resuming_it(engine):
    store.deploy(engine, "etl", "flows/etl.py:etl", retries=1, tags=["nightly"])
    (run_id,) = _runs(engine, "etl", 1)
    (claim,) = claims.claim_runs(engine, "default", "a" * 32, 1)
    assert not claims.release_run(engine, run_id, "f" * 32, "Crashed", "wrong token")
    assert claims.release_run(engine, run_id, claim.lease, "Crashed", "Crashed: killed")
    assert _state(engine, run_id)[:2] == ("Crashed", None)
    assert claims.retry_crashed(engine) == [], "one retry per crashed run, whoever asks"
    (retry,) = claims.claim_runs(engine, "default", "b" * 32, 5)
    assert (retry.resume_from, retry.attempt, retry.parameters) == (run_id, 2, {})
    assert claims.release_run(engine, retry.run_id, retry.lease, "Crashed", "again")
    assert claims.retry_crashed(engine) == [], "retries: 1 means two attempts in all"
    assert claims.claim_runs(engine, "default", "b" * 32, 5) == []
    with engine.connect() as conn:
        tags = conn.execute(select(runs.c.tags).where(runs.c.run_id == retry.run_id)).scalar_one()
    assert tags == '["nightly"]'


def test_a_released_run_goes_back_or_ends(engine):
    store.deploy(engine, "etl", "flows/etl.py:etl")
    a, b = _runs(engine, "etl", 2)
    first, second = claims.claim_runs(engine, "default", "a" * 32, 2)
    assert claims.release_run(engine, a, first.lease, "Scheduled", "launcher busy")
    assert _state(engine, a)[:3] == ("Scheduled", None, None)
    assert claims.release_run(engine, b, second.lease, "Cancelled", "killed after a cancel")
    assert _state(engine, b)[:2] == ("Cancelled", None)
    assert not claims.release_run(engine, b, second.lease, "Crashed", "ended already")
    with pytest.raises(ValueError, match="given back as one of"):
        claims.release_run(engine, a, first.lease, "Success", "no")


def test_stale_claims_are_given_back_and_workers_listed(engine):
    store.deploy(engine, "etl", "flows/etl.py:etl")
    (run_id,) = _runs(engine, "etl", 1)
    now = time.time()
    answer = claims.worker_heartbeat(engine, "a" * 32, name="w", pool="default", hostname="elsewhere", pid=1,
                                     concurrency=2, now=now)
    assert answer == {"cancelling": [], "lost": [], "pool_known": True}
    (claim,) = claims.claim_runs(engine, "default", "a" * 32, 1, now=now, hostname="elsewhere", pid=1)
    answer = claims.worker_heartbeat(engine, "a" * 32, name="w", pool="default", hostname="elsewhere", pid=1,
                                     concurrency=2, runs_held={run_id: claim.lease, "b" * 32: "c" * 32}, now=now + 5)
    assert answer["lost"] == ["b" * 32]
    assert claims.reap_claims(engine, timeout=60, now=now + 30) == {"rescheduled": [], "cancelled": []}
    assert claims.reap_claims(engine, timeout=60, now=now + 70) == {"rescheduled": [run_id], "cancelled": []}
    assert _state(engine, run_id)[:3] == ("Scheduled", None, None)
    (worker,) = claims.list_workers(engine, timeout=60, now=now + 70)
    assert (worker.name, worker.pool, worker.healthy, worker.running) == ("w", "default", False, 0)
    answer = claims.worker_heartbeat(engine, "a" * 32, name="w", pool="nowhere", hostname="h", pid=1,
                                     concurrency=1, runs_held={run_id: claim.lease})
    assert answer == {"cancelling": [], "lost": [run_id], "pool_known": False}

"""Workers and the runs they claim: the database side of ``ferroflow worker``.

A worker serves one work pool. It heartbeats (:func:`worker_heartbeat`, which also
registers it), claims runs of its pool's deployments that are due (:func:`claim_runs`),
launches each in a process of its own, and gives a run back when that process ended
without ending the run (:func:`release_run`).

* **Claiming is atomic and fenced.** One transaction locks the pool's row (PostgreSQL
  ``SELECT ... FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` takes the database's write
  lock), counts the runs the pool and each limited deployment have active, picks the
  due runs (``Scheduled`` or ``Late``, oldest first, ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL) and makes each ``Pending`` with a new lease token in ``runs.owner``
  (checked in the same ``UPDATE``). Two workers racing get disjoint runs, and the
  limits are never exceeded: every claim of a pool waits for the one before it. The
  token is the run's *fencing token*: the launched process starts the run with it
  (:func:`ferroflow.engine.runner.run_flow` ``lease=``), every record it sends is
  checked against it, and a claim revoked (the run given back, reaped, cancelled)
  makes that process's start, or its next records, refused.
* **Crashes.** A run whose process died (:func:`release_run` by its worker, or the
  server's reaper for a worker that died too) becomes ``Crashed``; a run of a
  deployment with ``retries`` left is then retried by a new run that resumes it from
  its checkpoints (:func:`retry_crashed`: ``resumed_from`` names the crashed run,
  ``attempt`` counts; one retry per crashed run, whichever server makes it).
* **Stale claims.** :func:`reap_claims` gives back ``Pending`` runs whose worker
  stopped beating (their process never started: nothing ran) and ends ``Cancelling``
  runs whose process is gone as ``Cancelled``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, func, insert, literal, or_, select, update

from ferroflow import _core
from ferroflow.store import items
from ferroflow.store.control import _insert
from ferroflow.store.database import writing
from ferroflow.store.orphans import process_exists
from ferroflow.store.schema import child_counts, deployments, run_tags, runs, task_runs, work_pools, workers
from ferroflow.store.schema import run_tasks as run_tasks_table

__all__ = ["ACTIVE", "CLAIMABLE", "Claim", "PoolInfo", "WorkerInfo", "claim_runs", "list_pools", "list_workers",
           "reap_claims", "release_run", "retry_crashed", "set_pool", "worker_heartbeat"]

#: States of a run a worker holds (its pool's and deployment's limits count these).
ACTIVE = ("Pending", "Running", "Cancelling")
#: States of a run a worker may claim (once it is due).
CLAIMABLE = ("Scheduled", "Late")
#: States a worker may give a claimed run back in (``Scheduled``: it never started).
RELEASE_STATES = ("Crashed", "Cancelled", "Failed", "Scheduled")
#: Task and child states that had not finished (made ``Cancelled`` when a cancelled
#: run's process is killed).
_UNFINISHED = (_core.PENDING, _core.RUNNING, _core.RETRYING)
_NEVER = 0xFF  # (a task's own code byte before any report)


@dataclass(frozen=True)
class Claim:
    """A run claimed by a worker: what its process needs to start it. ``lease`` is the
    claim's fencing token; ``resume_from`` the crashed run it retries (or None)."""

    run_id: str
    lease: str
    flow_name: str
    deployment: str
    entrypoint: str
    parameters: dict
    executor: str | None
    executor_options: dict
    resume_from: str | None
    attempt: int
    scheduled_start: float

    def to_dict(self) -> dict:
        """The claim as a JSON object."""
        return asdict(self)


@dataclass(frozen=True)
class WorkerInfo:
    """A worker as it last reported itself; ``healthy``: it beat within the timeout."""

    id: str
    name: str
    pool: str
    hostname: str
    pid: int
    concurrency: int
    state: str
    started_at: float
    heartbeat_at: float
    healthy: bool
    running: int

    def to_dict(self) -> dict:
        """The worker as a JSON object."""
        return asdict(self)


@dataclass(frozen=True)
class PoolInfo:
    """A work pool: its limit on active runs (None: none), whether it is paused, and
    how many of its runs are active."""

    name: str
    concurrency_limit: int | None
    paused: bool
    active: int
    deployments: int

    def to_dict(self) -> dict:
        """The pool as a JSON object."""
        return asdict(self)


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


def worker_heartbeat(engine: Engine, worker_id: str, *, name: str, pool: str, hostname: str, pid: int,
                     concurrency: int, state: str = "online", runs_held: Mapping[str, str] | None = None,
                     now: float | None = None) -> dict:
    """Record that worker ``worker_id`` is alive (registering it, and its pool, when
    new) and stamp the heartbeat of the runs it holds (``runs_held``: run id -> lease
    token; only where that token still holds the run). Returns what the worker must
    act on: ``cancelling`` (runs of its asked to stop), ``lost`` (runs it no longer
    holds: given to another, ended or deleted: stop their processes) and
    ``pool_known`` (whether any deployment names its pool)."""
    t = _now(now)
    held = {str(k): str(v) for k, v in (runs_held or {}).items()}
    with writing(engine) as conn, conn.begin():
        changed = conn.execute(update(workers).where(workers.c.id == worker_id).values(
            name=name, pool=pool, hostname=hostname, pid=pid, concurrency=concurrency, state=state,
            heartbeat_at=t)).rowcount
        if not changed:
            conn.execute(insert(workers).values(id=worker_id, name=name, pool=pool, hostname=hostname, pid=pid,
                                                concurrency=concurrency, state=state, started_at=t, heartbeat_at=t))
        cancelling: list[str] = []
        lost: list[str] = []
        if held:
            conn.execute(update(runs).where(runs.c.state.in_(ACTIVE), or_(
                *[and_(runs.c.run_id == r, runs.c.owner == tok) for r, tok in held.items()])).values(heartbeat_at=t))
            found = {row.run_id: row for row in conn.execute(
                select(runs.c.run_id, runs.c.state, runs.c.owner).where(runs.c.run_id.in_(list(held))))}
            for run_id, token in sorted(held.items()):
                row = found.get(run_id)
                if row is None or row.owner != token:
                    lost.append(run_id)
                elif row.state == "Cancelling":
                    cancelling.append(run_id)
        known = conn.execute(select(deployments.c.id).where(deployments.c.pool == pool).limit(1)).first()
    return {"cancelling": cancelling, "lost": lost, "pool_known": known is not None}


def _active_counts(conn: Connection, pool: str) -> tuple[int, dict[int, int]]:
    """How many runs of ``pool`` are active, in all and per deployment."""
    rows = conn.execute(select(runs.c.deployment_id, func.count()).select_from(
        runs.join(deployments, runs.c.deployment_id == deployments.c.id))
        .where(deployments.c.pool == pool, runs.c.state.in_(ACTIVE)).group_by(runs.c.deployment_id)).all()
    per = {int(d): int(n) for d, n in rows}
    return sum(per.values()), per


def claim_runs(engine: Engine, pool: str, worker_id: str, count: int, now: float | None = None,
               hostname: str | None = None, pid: int | None = None) -> list[Claim]:
    """Claim at most ``count`` due runs of ``pool``'s deployments for ``worker_id``
    (oldest scheduled start first), within the pool's and each deployment's
    concurrency limit; none from a paused pool. Each comes back ``Pending`` with a
    new lease token (see the module docstring)."""
    if count <= 0:
        return []
    t = _now(now)
    with writing(engine) as conn, conn.begin():
        pool_row = conn.execute(select(work_pools.c.concurrency_limit, work_pools.c.paused)
                                .where(work_pools.c.name == pool).with_for_update()).first()
        if pool_row is None or pool_row.paused:
            return []
        active, per_deployment = _active_counts(conn, pool)
        room = count if pool_row.concurrency_limit is None else min(count, pool_row.concurrency_limit - active)
        if room <= 0:
            return []
        # (more than asked for: runs of deployments at their limit are passed over)
        due = conn.execute(
            select(runs.c.id, runs.c.run_id, runs.c.flow_name, runs.c.parameters, runs.c.resumed_from,
                   runs.c.attempt, runs.c.started_at, runs.c.deployment_id)
            .where(runs.c.state.in_(CLAIMABLE), runs.c.started_at <= t,
                   runs.c.deployment_id.in_(select(deployments.c.id).where(deployments.c.pool == pool)))
            .order_by(runs.c.started_at, runs.c.id).limit(max(4 * room, 100))
            .with_for_update(skip_locked=True, of=runs)).all()
        if not due:
            return []
        recipes = {row.id: row for row in conn.execute(select(deployments).where(
            deployments.c.id.in_({row.deployment_id for row in due})))}
        host = socket.gethostname() if hostname is None else hostname
        claimed: list[Claim] = []
        for row in due:
            if len(claimed) >= room:
                break
            recipe = recipes.get(row.deployment_id)
            if recipe is None:
                continue
            if recipe.concurrency_limit is not None and \
                    per_deployment.get(row.deployment_id, 0) >= recipe.concurrency_limit:
                continue
            token = items.new_token()
            if not conn.execute(update(runs).where(runs.c.id == row.id, runs.c.state.in_(CLAIMABLE)).values(
                    state="Pending", owner=token, worker=worker_id, hostname=host, pid=pid, heartbeat_at=t,
                    message=f"Claimed by worker {worker_id}.",
                    state_version=runs.c.state_version + 1)).rowcount:
                continue
            per_deployment[row.deployment_id] = per_deployment.get(row.deployment_id, 0) + 1
            claimed.append(Claim(
                run_id=row.run_id, lease=token, flow_name=row.flow_name, deployment=recipe.name,
                entrypoint=recipe.entrypoint, parameters=json.loads(row.parameters), executor=recipe.executor,
                executor_options=json.loads(recipe.executor_options), resume_from=row.resumed_from,
                attempt=int(row.attempt), scheduled_start=float(row.started_at)))
        return claimed


def _cancel_unfinished(conn: Connection, key: int) -> None:
    """Make the tasks and children of run ``key`` that had not finished ``Cancelled``
    (its process was killed before it could record that itself)."""
    row = conn.execute(select(run_tasks_table.c.ids, run_tasks_table.c.codes).where(run_tasks_table.c.run == key)
                       ).first()
    if row is not None:
        ids = json.loads(row.ids)
        # (indexed by task id; a run reopened at its start has them all unreported)
        codes = bytearray(row.codes).ljust(max(ids) + 1 if ids else 0, bytes([_NEVER]))
        for i, code in enumerate(codes):
            if code == _NEVER or code in _UNFINISHED:
                codes[i] = _core.CANCELLED
        conn.execute(update(run_tasks_table).where(run_tasks_table.c.run == key).values(codes=bytes(codes)))
    conn.execute(update(task_runs).where(task_runs.c.run == key, task_runs.c.code.in_(_UNFINISHED))
                 .values(code=_core.CANCELLED, message="Cancelled: the run's process was stopped."))
    moved = conn.execute(select(child_counts.c.task_id, func.sum(child_counts.c.n)).where(
        child_counts.c.run == key, child_counts.c.code.in_(_UNFINISHED)).group_by(child_counts.c.task_id)).all()
    if moved:
        conn.execute(delete(child_counts).where(child_counts.c.run == key, child_counts.c.code.in_(_UNFINISHED)))
        for task_id, n in moved:
            upsert = _insert(conn, child_counts).values(run=key, task_id=task_id, code=_core.CANCELLED, n=int(n))
            conn.execute(upsert.on_conflict_do_update(
                index_elements=[child_counts.c.run, child_counts.c.task_id, child_counts.c.code],
                set_={"n": child_counts.c.n + upsert.excluded.n}))


def release_run(engine: Engine, run_id: str, lease: str, state: str, message: str,
                now: float | None = None) -> bool:
    """Give back run ``run_id`` claimed under ``lease``, in ``state``: ``Crashed`` (its
    process died without ending it; retried where its deployment allows),
    ``Cancelled`` (killed after a cancel: its unfinished task runs become
    ``Cancelled``), ``Failed``, or ``Scheduled`` (never started: claimable again).
    Only while ``lease`` still holds it and it has not ended; returns whether it did."""
    if state not in RELEASE_STATES:
        raise ValueError(f"a claimed run is given back as one of {', '.join(RELEASE_STATES)}, not {state!r}")
    t = _now(now)
    with writing(engine) as conn, conn.begin():
        row = conn.execute(select(runs.c.id, runs.c.state).where(runs.c.run_id == run_id, runs.c.owner == lease)
                           .with_for_update()).first()
        if row is None or row.state not in ACTIVE:
            return False
        if state == "Scheduled":
            if row.state != "Pending":
                return False
            values: dict[str, Any] = {"state": "Scheduled", "owner": None, "worker": None, "pid": None,
                                      "heartbeat_at": None, "message": message}
        else:
            values = {"state": state, "owner": None, "ended_at": t, "message": message}
            if state == "Cancelled":
                _cancel_unfinished(conn, row.id)
        conn.execute(update(runs).where(runs.c.id == row.id).values(
            **values, state_version=runs.c.state_version + 1))
    if state == "Crashed":
        retry_crashed(engine, now=t)
    return True


def retry_crashed(engine: Engine, now: float | None = None) -> list[str]:
    """Make a retry of every ``Crashed`` run of a deployment with retries left (its
    ``attempt`` at most the deployment's ``retries``) that has none yet: a new
    ``Scheduled`` run, due now, resuming it (``resumed_from``) from its checkpoints.
    The retry's idempotency key (``retry:<crashed run id>``) makes it one per crashed
    run, whichever process makes it. Returns the new runs' ids."""
    t = _now(now)
    retries = runs.alias("retries")
    with engine.connect() as conn:
        crashed = conn.execute(
            select(runs.c.run_id, runs.c.flow_name, runs.c.tags, runs.c.attempt, runs.c.deployment_id)
            .select_from(runs.join(deployments, runs.c.deployment_id == deployments.c.id))
            .where(runs.c.state == "Crashed", runs.c.attempt <= deployments.c.retries,
                   ~exists().where(retries.c.idempotency_key == literal("retry:") + runs.c.run_id))).all()
    made = []
    for row in crashed:
        key = f"retry:{row.run_id}"
        new_id = items.new_token()
        tags = json.loads(row.tags)
        with writing(engine) as conn, conn.begin():
            inserted = conn.execute(_insert(conn, runs).values(
                run_id=new_id, flow_name=row.flow_name, parameters="{}", state="Scheduled", started_at=t,
                tags=row.tags, idempotency_key=key, state_version=0, created_at=t, deployment_id=row.deployment_id,
                resumed_from=row.run_id, attempt=int(row.attempt) + 1,
                message=f"Retry {int(row.attempt)} of crashed run {row.run_id}.")
                .on_conflict_do_nothing(index_elements=[runs.c.idempotency_key]).returning(runs.c.id)).first()
            if inserted is None:
                continue
            if tags:
                conn.execute(run_tags.insert(), [{"run": inserted[0], "tag": tag} for tag in tags])
        made.append(new_id)
    return made


def reap_claims(engine: Engine, timeout: float, now: float | None = None) -> dict:
    """Give back ``Pending`` runs whose worker stopped beating for ``timeout`` seconds
    (or, on this machine, whose worker process is gone): they never started, so they
    become ``Scheduled`` again and their lease is revoked. End ``Cancelling`` runs whose
    process is gone the same way as ``Cancelled``. Returns the run ids of each."""
    t = _now(now)
    host = socket.gethostname()
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.run_id, runs.c.state, runs.c.owner, runs.c.hostname, runs.c.pid,
                                   runs.c.heartbeat_at).where(runs.c.state.in_(("Pending", "Cancelling")))).all()
    gone = [row for row in rows if row.owner is not None and (
        (row.heartbeat_at or 0) < t - timeout
        or (row.hostname == host and row.pid is not None and not process_exists(int(row.pid))))]
    given_back, cancelled = [], []
    for row in gone:
        if row.state == "Pending":
            if release_run(engine, row.run_id, row.owner, "Scheduled",
                           "Given back: the worker that claimed it stopped beating.", now=t):
                given_back.append(row.run_id)
        elif release_run(engine, row.run_id, row.owner, "Cancelled",
                         "Cancelled: its process stopped before it ended the run.", now=t):
            cancelled.append(row.run_id)
    return {"rescheduled": given_back, "cancelled": cancelled}


def list_workers(engine: Engine, pool: str | None = None, timeout: float = 60.0,
                 now: float | None = None) -> list[WorkerInfo]:
    """Every worker (of ``pool``), most recently seen first; ``healthy`` when it beat
    within ``timeout`` seconds and has not stopped; ``running``: runs it holds."""
    t = _now(now)
    query = select(workers).order_by(workers.c.heartbeat_at.desc())
    if pool is not None:
        query = query.where(workers.c.pool == pool)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        held: dict[str, int] = {w: int(n) for w, n in conn.execute(select(runs.c.worker, func.count()).where(
            runs.c.state.in_(ACTIVE), runs.c.worker.isnot(None)).group_by(runs.c.worker))}
    return [WorkerInfo(id=r.id, name=r.name, pool=r.pool, hostname=r.hostname, pid=int(r.pid),
                       concurrency=int(r.concurrency), state=r.state, started_at=r.started_at,
                       heartbeat_at=r.heartbeat_at,
                       healthy=r.state != "stopped" and r.heartbeat_at >= t - timeout, running=int(held.get(r.id, 0)))
            for r in rows]


def set_pool(engine: Engine, name: str, *, concurrency_limit: int | None = None, paused: bool | None = None,
             clear_limit: bool = False) -> PoolInfo:
    """Create work pool ``name`` or change it: its limit on active runs
    (``concurrency_limit``; ``clear_limit`` removes it) and whether it is paused."""
    from ferroflow.store.deployments import _check_count, _check_name

    _check_name(name, "a work pool's name")
    limit = _check_count(concurrency_limit, "concurrency_limit", 1, True)
    t = time.time()
    with writing(engine) as conn, conn.begin():
        conn.execute(_insert(conn, work_pools).values(name=name, paused=False, created_at=t)
                     .on_conflict_do_nothing(index_elements=[work_pools.c.name]))
        values: dict[str, Any] = {}
        if limit is not None or clear_limit:
            values["concurrency_limit"] = limit
        if paused is not None:
            values["paused"] = bool(paused)
        if values:
            conn.execute(update(work_pools).where(work_pools.c.name == name).values(**values))
    (found,) = [p for p in list_pools(engine) if p.name == name]
    return found


def list_pools(engine: Engine, names: Iterable[str] | None = None) -> list[PoolInfo]:
    """Every work pool, by name, with its active runs and deployments."""
    with engine.connect() as conn:
        pools = conn.execute(select(work_pools).order_by(work_pools.c.name)).all()
        active: dict[str, int] = {p: int(n) for p, n in conn.execute(select(deployments.c.pool, func.count())
            .select_from(runs.join(deployments, runs.c.deployment_id == deployments.c.id))
            .where(runs.c.state.in_(ACTIVE)).group_by(deployments.c.pool))}
        counts: dict[str, int] = {p: int(n) for p, n in conn.execute(
            select(deployments.c.pool, func.count()).group_by(deployments.c.pool))}
    wanted = None if names is None else set(names)
    return [PoolInfo(name=p.name, concurrency_limit=p.concurrency_limit, paused=bool(p.paused),
                     active=int(active.get(p.name, 0)), deployments=int(counts.get(p.name, 0)))
            for p in pools if wanted is None or p.name in wanted]

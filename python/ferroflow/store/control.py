"""What the server changes in the run record on request: runs created (idempotently),
their state set (compare-and-set), cancelled, paused tasks approved, and runs of
deployments resumed (a new run, picked up by a worker, that resumes the ended one).

Every state change bumps ``runs.state_version`` in the same ``UPDATE`` that checks it
(``... WHERE id = :run AND state_version = :seen``): of two clients changing one run
at once, exactly one succeeds and the other gets :class:`StateConflictError` with the
state it lost to. Each write transaction starts with its write (never a read first), so
on SQLite it waits for another writer's lock (busy timeout) rather than failing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from ferroflow import _core
from ferroflow.store.database import writing
from ferroflow.store.errors import UnknownRunError
from ferroflow.store.queries import RunInfo, TaskInfo, find_task, get_run, location, run_key, run_tasks
from ferroflow.store.schema import deployments, flows, run_tags, runs
from ferroflow.store.schema import run_tasks as run_tasks_table

__all__ = [
    "CANCELLABLE",
    "ENDED_STATES",
    "RESUMABLE",
    "RUN_STATES",
    "ApprovalError",
    "IdempotencyConflictError",
    "StateConflictError",
    "approve_task",
    "cancel_run",
    "create_run",
    "resume_run",
    "set_state",
]

#: Every state a flow run can be in (see docs/server.md, "A run's states").
RUN_STATES = ("Scheduled", "Late", "Pending", "Running", "Cancelling", "Paused", "Success", "Failed", "Cancelled",
              "Crashed", "Unknown")
#: States in which a run is not running and has an end time.
ENDED_STATES = frozenset({"Paused", "Success", "Failed", "Cancelled", "Crashed", "Unknown"})
#: States a run has not started from yet (cancelling one makes it ``Cancelled`` at once).
NOT_STARTED = frozenset({"Scheduled", "Late", "Pending"})
#: States a run can be cancelled from.
CANCELLABLE = NOT_STARTED | {"Running", "Cancelling", "Paused"}
#: States a run of a deployment can be resumed from (:func:`resume_run`).
RESUMABLE = frozenset({"Paused", "Failed", "Cancelled", "Crashed"})
#: States of a resuming run still to start or running (another resume waits for it).
_UNDERWAY = ("Scheduled", "Late", "Pending", "Running", "Cancelling")


class StateConflictError(Exception):
    """A run's state changed since the client saw it (or the change asked for does not
    apply to the state it is in). ``run`` is the run as it is now."""

    def __init__(self, message: str, run: RunInfo):
        self.run = run
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class IdempotencyConflictError(Exception):
    """An idempotency key was used before for a run of other values."""

    def __init__(self, message: str, run: RunInfo):
        self.run = run
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class ApprovalError(Exception):
    """A task cannot be approved: it did not pause or wait in that run, or the run has
    no tasks recorded."""

    def __str__(self) -> str:
        return str(self.args[0])


def _insert(conn: Connection, table: Any) -> Any:
    """``INSERT`` with the database's ``ON CONFLICT`` clause available."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


def _same(run: RunInfo, flow_name: str, parameters: Mapping[str, Any], tags: tuple) -> bool:
    return run.flow_name == flow_name and run.parameters == json.loads(json.dumps(parameters)) and \
        tuple(run.tags) == tags


def create_run(engine: Engine, flow_name: str, parameters: Mapping[str, Any] | None = None,
               tags: Iterable[str] = (), idempotency_key: str | None = None,
               scheduled_start: float | None = None, deployment_id: int | None = None,
               scheduled_time: float | None = None) -> tuple[RunInfo, bool]:
    """A new run of ``flow_name`` in state ``Scheduled`` (``started_at``: when it is to
    start, default now), with ``parameters`` (JSON values) and ``tags``; the flow is
    registered if new. Returns ``(run, created)``: with an ``idempotency_key`` used
    before, the run made then and False (:class:`IdempotencyConflictError` when that run
    was asked for with other values); two requests racing with one key get one run.
    ``deployment_id`` and ``scheduled_time`` mark a run of a deployment (and the time its
    schedule set for it: unique per deployment)."""
    parameters = dict(parameters or {})
    tags = tuple(dict.fromkeys(tags))
    if idempotency_key is not None:
        with engine.connect() as conn:
            earlier = _by_key(conn, idempotency_key)
        if earlier is not None:
            return _replayed(earlier, flow_name, parameters, tags, idempotency_key), False
    now = time.time()
    run_id = uuid.uuid4().hex
    try:
        with engine.begin() as conn:
            key = conn.execute(runs.insert().values(
                run_id=run_id, flow_name=flow_name, parameters=json.dumps(parameters), state="Scheduled",
                started_at=now if scheduled_start is None else float(scheduled_start), tags=json.dumps(list(tags)),
                idempotency_key=idempotency_key, state_version=0, created_at=now, deployment_id=deployment_id,
                scheduled_time=scheduled_time).returning(runs.c.id)).scalar_one()
            if tags:
                conn.execute(run_tags.insert(), [{"run": key, "tag": tag} for tag in tags])
            upsert = _insert(conn, flows).values(name=flow_name, created_at=now, updated_at=now, parameters="{}")
            conn.execute(upsert.on_conflict_do_update(index_elements=[flows.c.name],
                                                      set_={"updated_at": upsert.excluded.updated_at}))
    except IntegrityError:
        if idempotency_key is None:
            raise
        with engine.connect() as conn:
            earlier = _by_key(conn, idempotency_key)
        if earlier is None:
            raise
        return _replayed(earlier, flow_name, parameters, tags, idempotency_key), False
    with engine.connect() as conn:
        made = get_run(conn, run_id)
    assert made is not None
    return made, True


def _by_key(conn: Connection, idempotency_key: str) -> RunInfo | None:
    found = conn.execute(select(runs.c.run_id).where(runs.c.idempotency_key == idempotency_key)).scalar()
    return None if found is None else get_run(conn, found)


def _replayed(run: RunInfo, flow_name: str, parameters: dict, tags: tuple, key: str) -> RunInfo:
    if not _same(run, flow_name, parameters, tags):
        raise IdempotencyConflictError(
            f"idempotency key {key!r} was used for run {run.run_id} of flow {run.flow_name!r} with other "
            f"parameters or tags: use a new key for a new run", run)
    return run


def _current(engine: Engine, run_id: str) -> tuple[int, RunInfo]:
    with engine.connect() as conn:
        key = run_key(conn, run_id)
        run = None if key is None else get_run(conn, run_id)
        if key is None or run is None:
            raise UnknownRunError(run_id, location(conn))
    return key, run


def _change(engine: Engine, key: int, run: RunInfo, state: str, message: str | None, seen: int) -> RunInfo:
    """Set the state of run ``key`` if its version is still ``seen``."""
    now = time.time()
    values: dict = {"state": state, "message": message, "state_version": seen + 1}
    if state in ENDED_STATES:
        values["ended_at"] = now
    elif state in NOT_STARTED or state == "Running":
        values["ended_at"] = None
    if state == "Running" and run.state in NOT_STARTED:
        values["started_at"] = now
    with engine.begin() as conn:
        # (the state read too: a run's end recorded by its process does not bump the version)
        changed = conn.execute(update(runs).where(runs.c.id == key, runs.c.state_version == seen,
                                                  runs.c.state == run.state).values(**values)).rowcount
    _, now_run = _current(engine, run.run_id)
    if not changed:
        raise StateConflictError(
            f"run {run.run_id} changed since version {seen}: it is now {now_run.state} (version "
            f"{now_run.state_version}); read it again and retry with expected_version={now_run.state_version}",
            now_run)
    return now_run


def set_state(engine: Engine, run_id: str, state: str, message: str | None = None,
              expected_version: int | None = None) -> RunInfo:
    """Set a run's state (one of :data:`RUN_STATES`) and message. With
    ``expected_version``, only if the run is still at that version; else at the version
    read just before. Raises :class:`UnknownRunError`, :class:`StateConflictError`,
    ValueError for an unknown state."""
    if state not in RUN_STATES:
        raise ValueError(f"unknown run state {state!r} (states: {', '.join(RUN_STATES)})")
    key, run = _current(engine, run_id)
    seen = run.state_version if expected_version is None else expected_version
    if seen != run.state_version:
        raise StateConflictError(
            f"run {run_id} is at version {run.state_version} ({run.state}), not {seen}: read it again and retry "
            f"with expected_version={run.state_version}", run)
    return _change(engine, key, run, state, message, seen)


def cancel_run(engine: Engine, run_id: str, expected_version: int | None = None) -> RunInfo:
    """Cancel a run: a ``Running`` one becomes ``Cancelling`` (its worker makes it
    ``Cancelled``), one not started yet (``Scheduled``, ``Late``, ``Pending``) or
    ``Paused`` becomes ``Cancelled``; a ``Cancelling`` run stays so. Raises
    :class:`StateConflictError` for a run that ended otherwise or changed meanwhile."""
    key, run = _current(engine, run_id)
    seen = run.state_version if expected_version is None else expected_version
    if seen != run.state_version:
        raise StateConflictError(
            f"run {run_id} is at version {run.state_version} ({run.state}), not {seen}: read it again", run)
    if run.state == "Cancelling":
        return run
    if run.state not in CANCELLABLE:
        raise StateConflictError(f"run {run_id} is {run.state}: only a run that is Scheduled, Late, Pending, "
                                 f"Running or Paused can be cancelled", run)
    new = "Cancelling" if run.state == "Running" else "Cancelled"
    return _change(engine, key, run, new, "Cancelled on request." if new == "Cancelled" else
                   "Cancellation requested.", seen)


def _waiting(task: TaskInfo) -> bool:
    """Whether a task paused or waited behind a pause (what resuming may approve):
    it never finished, or some of its children paused."""
    return task.code in (None, _core.PENDING, _core.PAUSED) or bool(task.counts.get("Paused"))


def approve_task(engine: Engine, run_id: str, task: str) -> tuple[TaskInfo, list[TaskInfo]]:
    """Approve the task named (or slugged) ``task`` of a run to go on past its pause
    when the run is resumed (``run_tasks.approved``, as ``flow.run(resume=...,
    approve=...)`` records it; a resume of this run then approves it without being
    told). Returns the task and every approved task of the run. Approving it again
    changes nothing. Raises :class:`UnknownRunError`,
    :class:`~ferroflow.store.queries.UnknownTaskError`, :class:`ApprovalError` (the task
    neither paused nor waited) and :class:`StateConflictError` (the run is running)."""
    run: RunInfo | None = None
    for _ in range(20):
        with engine.connect() as conn:
            tasks = run_tasks(conn, run_id)
            key = run_key(conn, run_id)
            row = conn.execute(select(run_tasks_table.c.ids, run_tasks_table.c.approved)
                               .where(run_tasks_table.c.run == key)).first()
            run = get_run(conn, run_id)
        assert run is not None and key is not None
        if run.state in ("Running", "Cancelling"):
            raise StateConflictError(f"run {run_id} is {run.state}: approve its tasks once it has paused", run)
        if row is None or not tasks:
            raise ApprovalError(f"run {run_id} has no tasks recorded: nothing to approve")
        found = find_task(tasks, task, run_id)
        assert isinstance(found, TaskInfo)
        if not found.approved and not _waiting(found):
            waiting = ", ".join(repr(t.name) for t in tasks if _waiting(t)) or "none"
            raise ApprovalError(f"cannot approve {task!r}: it is not a task that paused or waited in run {run_id} "
                                f"(those are: {waiting})")
        if not found.approved:
            old = bytes(row.approved)
            position = json.loads(row.ids).index(found.task_id)
            new = bytearray(old.ljust(len(tasks), b"\x00"))
            new[position] = 1
            with engine.begin() as conn:
                changed = conn.execute(update(run_tasks_table).where(
                    run_tasks_table.c.run == key, run_tasks_table.c.approved == old).values(approved=bytes(new))
                ).rowcount
            if not changed:
                continue  # another approval of this run landed first: read it again
            with engine.connect() as conn:
                tasks = run_tasks(conn, run_id)
            found = find_task(tasks, task, run_id)
            assert isinstance(found, TaskInfo)
        return found, [t for t in tasks if t.approved]
    assert run is not None
    raise StateConflictError(f"run {run_id}: its approvals kept changing while this one was recorded; try again",
                             run)


def resume_run(engine: Engine, run_id: str) -> RunInfo:
    """Resume a run of a deployment that ended ``Failed``, ``Crashed``, ``Cancelled``
    or ``Paused``: a new ``Scheduled`` run of that deployment, due now, with
    ``resumed_from`` naming it, as :func:`ferroflow.store.claims.retry_crashed` makes a
    crashed run's retry. A worker of the deployment's pool claims it and runs the flow
    resuming from the earlier run's checkpoints (its recorded parameters; approved
    tasks go on past their pause). Returns the new run.

    One resume at a time: while a run resuming this one is still to start or running,
    :class:`StateConflictError` names it (two requests at once get one new run: the
    second gets the first's, by its idempotency key ``resume:<run id>:<n>``). Also
    :class:`StateConflictError` for a run in another state, and for a run of no
    deployment (resume it where it ran: ``ferroflow run FILE --resume RUN_ID``), or
    whose deployment was deleted. Raises :class:`UnknownRunError`."""
    key, run = _current(engine, run_id)
    with engine.connect() as conn:
        row = conn.execute(select(runs.c.deployment_id, runs.c.tags, deployments.c.name).select_from(
            runs.outerjoin(deployments, runs.c.deployment_id == deployments.c.id)).where(runs.c.id == key)).one()
    if row.deployment_id is None:
        raise StateConflictError(f"run {run_id} is not a run of a deployment, so no worker can resume it: resume "
                                 f"it where it ran with `ferroflow run FLOW_FILE --resume {run_id}`", run)
    if row.name is None:
        raise StateConflictError(f"run {run_id}: its deployment was deleted, so no worker can resume it", run)
    if run.state not in RESUMABLE:
        raise StateConflictError(f"run {run_id} is {run.state}: only a run that ended Failed, Crashed, Cancelled "
                                 f"or Paused can be resumed", run)
    now = time.time()
    with writing(engine) as conn, conn.begin():
        earlier = conn.execute(select(runs.c.run_id, runs.c.state).where(runs.c.resumed_from == run_id)
                               .order_by(runs.c.id)).all()
        underway = [r for r in earlier if r.state in _UNDERWAY]
        if underway:
            raise StateConflictError(f"run {run_id} is being resumed already: run {underway[-1].run_id} is "
                                     f"{underway[-1].state}; resume it again once that one ended", run)
        idempotency_key = f"resume:{run_id}:{len(earlier) + 1}"
        made = conn.execute(_insert(conn, runs).values(
            run_id=uuid.uuid4().hex, flow_name=run.flow_name, parameters="{}", state="Scheduled", started_at=now,
            tags=row.tags, idempotency_key=idempotency_key, state_version=0, created_at=now,
            deployment_id=row.deployment_id, resumed_from=run_id, attempt=1,
            message=f"Resumes run {run_id} ({run.state}), on request.")
            .on_conflict_do_nothing(index_elements=[runs.c.idempotency_key]).returning(runs.c.id, runs.c.run_id)
            ).first()
        if made is not None:
            tags = json.loads(row.tags or "[]")
            if tags:
                conn.execute(run_tags.insert(), [{"run": made.id, "tag": tag} for tag in dict.fromkeys(tags)])
            new_id = made.run_id
        else:  # (the same request, made at the same moment, won: its run)
            new_id = conn.execute(select(runs.c.run_id).where(runs.c.idempotency_key == idempotency_key)).scalar_one()
    with engine.connect() as conn:
        resumed = get_run(conn, new_id)
    assert resumed is not None
    return resumed

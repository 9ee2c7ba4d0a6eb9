"""The scheduler's work on the database: make the runs of deployments' schedules ahead
of time, once each, and mark runs that did not start in time ``Late``.

:func:`schedule` is one tick; the server calls it every second or so
(:mod:`ferroflow.server.scheduler`), and any number of processes may call it on one
database at once. For each deployment with a schedule and not paused it makes, as
``Scheduled`` runs, the schedule's events up to ``now + horizon``:

* **Windows.** ``deployments.scheduled_until`` is the time up to which the deployment's
  clock events were turned into runs (a deployment not yet scheduled starts from its
  ``updated_at``). A tick looks at the events strictly after it and up to
  ``now + horizon`` (events are the schedule's clock events, after its filters; the run
  gets the adjusted time), at most ``max_ahead`` of them, then moves ``scheduled_until``
  forward (never back).
* **Exactly once.** The tick moves ``scheduled_until`` with a conditional update (only
  if it is still what the tick read, the deployment unchanged and not paused; one
  statement for up to 200 deployments, about 2,000 runs a transaction) and
  inserts the runs in the same transaction, with ``ON CONFLICT (deployment_id,
  scheduled_time) DO NOTHING``: of replicas racing on one window one wins, and the
  unique index would stop a duplicate anyway. Pausing, redeploying and deleting lock the
  same deployment row, so no run is inserted for a deployment that was just paused.
* **Missed runs** (catchup). An event at or before ``now - grace`` that is after
  ``scheduled_until`` was never made: the scheduler was not running when it was due.
  ``catchup="latest"`` (the default) makes only the most recent missed one; ``"all"``
  makes every missed one, oldest first, at most :data:`MAX_CATCHUP` (the most recent;
  a warning names how many older ones were left). Runs already made and not started are
  not missed: they become ``Late`` and still start.
* **Late.** A ``Scheduled`` run whose start time is more than ``grace`` seconds past
  becomes ``Late`` (its ``state_version`` bumped), still to be started by a worker.
* **Same instant, other parameters.** Two clock events at one instant with different
  parameter defaults make two runs; the database keeps one run per (deployment, time),
  so the second's ``scheduled_time`` is one microsecond later (its start time is the
  event's).

A :class:`ScheduleCache` kept between ticks makes idle ticks cheap: a deployment whose
next event is past the horizon and that did not change is not read again.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, delete, or_, select, update

from ferroflow.store.control import _insert
from ferroflow.store.schema import deployments, flows, run_tags, runs

__all__ = ["MAX_CATCHUP", "MAX_SCAN", "ScheduleCache", "ScheduleSummary", "remove_unstarted_runs", "schedule"]

log = logging.getLogger("ferroflow.scheduler")

#: Most missed runs one deployment's ``catchup="all"`` makes after downtime.
MAX_CATCHUP = 10_000
#: Most clock events looked at for one deployment in one tick (a filter that rejects
#: nearly every event cannot make a tick endless; the next tick goes on from there).
MAX_SCAN = 100_000
#: Deployments written per transaction (short transactions: SQLite has one writer).
_CHUNK = 200
#: Runs written per transaction, about (a deployment's runs are never split).
_RUNS_PER_TRANSACTION = 2000
#: Rows per multi-row statement.
_BATCH = 500
#: States of runs that did not start yet and that a pause or a new recipe removes.
_UNSTARTED = ("Scheduled", "Late")
_UTC = _dt.timezone.utc


@dataclass
class ScheduleSummary:
    """What one tick did: ``due`` deployments looked at closely, runs ``made``, runs
    marked ``late``, missed runs ``skipped`` by the catchup policy, and ``conflicts``
    (deployments another replica or a change of recipe got to first)."""

    due: int = 0
    made: int = 0
    late: int = 0
    skipped: int = 0
    conflicts: int = 0
    made_ids: list[str] = field(default_factory=list)


@dataclass
class _Known:
    updated_at: float
    until: float | None
    schedule: Any
    next_raw: float | None  # first clock event after ``until``; None: the clocks ran out


class ScheduleCache:
    """What a scheduler remembers between ticks: each deployment's parsed schedule and
    its next event after ``scheduled_until`` (valid while the deployment's
    ``updated_at`` and ``scheduled_until`` stay as they were)."""

    def __init__(self) -> None:
        self._known: dict[int, _Known] = {}

    def _not_due(self, row: Any, until_at: float) -> bool:
        known = self._known.get(row.id)
        if known is None or known.updated_at != row.updated_at or known.until != row.scheduled_until:
            return False
        return known.next_raw is None or known.next_raw > until_at

    def _schedule(self, row: Any) -> Any:
        known = self._known.get(row.id)
        if known is not None and known.updated_at == row.updated_at:
            return known.schedule
        from ferroflow.schedules.spec import from_spec

        return from_spec(json.loads(row.schedule))

    def _remember(self, id: int, updated_at: float, until: float | None, schedule: Any, next_raw: float | None) -> None:
        self._known[id] = _Known(updated_at, until, schedule, next_raw)

    def _forget(self, id: int) -> None:
        self._known.pop(id, None)

    def _keep_only(self, ids: Iterable[int]) -> None:
        alive = set(ids)
        for id in [i for i in self._known if i not in alive]:
            del self._known[id]


def _ts(value: _dt.datetime) -> float:
    return value.astimezone(_UTC).timestamp()


def _events(sched: Any, after: float, up_to: float, limit: int, scan: int) -> tuple[list[tuple], float, int]:
    """Events of ``sched`` whose clock time is in ``(after, up_to]``, after filters and
    adjustments: ``[(raw, adjusted, parameter_defaults)]`` in order, at most ``limit``
    (more only to finish an instant), looking at ``scan`` clock events at most. Also the
    clock time up to which the list is complete (``up_to``, or less when cut short), and
    how many clock events were looked at."""
    found: list[tuple] = []
    seen: dict[float, list] = {}
    scanned = 0
    stream: Iterator = sched.events(after=_dt.datetime.fromtimestamp(after, _UTC))
    for event in stream:
        raw = _ts(event.start_time)
        if raw > up_to:
            return found, up_to, scanned
        if len(found) >= limit and raw != found[-1][0]:
            return found, found[-1][0], scanned
        scanned += 1
        if sched.passes_filters(event.start_time):
            adjusted = _ts(sched.adjust(event.start_time))
            same = seen.setdefault(adjusted, [])
            mark = (event.parameter_defaults, event.labels)
            if mark not in same:
                same.append(mark)
                found.append((raw, adjusted, event.parameter_defaults))
        if scanned >= scan:
            return found, raw, scanned
    return found, up_to, scanned


def _next_raw(sched: Any, after: float) -> float | None:
    """The clock time of the first event of ``sched`` strictly after ``after`` that
    passes its filters (None: none within :data:`MAX_SCAN` events)."""
    for scanned, event in enumerate(sched.events(after=_dt.datetime.fromtimestamp(after, _UTC)), 1):
        if sched.passes_filters(event.start_time):
            return _ts(event.start_time)
        if scanned >= MAX_SCAN:
            return after + 1.0  # look again next tick
    return None


def _missed(sched: Any, lo: float, cutoff: float, wanted: int, name: str) -> tuple[list[tuple], int]:
    """The last ``wanted`` events in ``(lo, cutoff]`` and how many older ones there are
    at least, found by looking back over windows growing four times each time."""
    width = 60.0
    budget = MAX_SCAN
    while True:
        start = max(lo, cutoff - width)
        found, complete_to, scanned = _events(sched, start, cutoff, 1 << 62, budget)
        budget -= scanned
        if complete_to < cutoff:  # a filter rejects nearly every clock event: give the missed runs up
            log.warning("deployment %s: gave up looking for missed runs after %d clock events", name, MAX_SCAN)
            return [], len(found)
        if len(found) >= wanted or start <= lo or budget <= 0:
            return found[-wanted:], max(0, len(found) - wanted)
        width *= 4


def _plan(sched: Any, row: Any, now: float, horizon: float, grace: float, max_ahead: int) -> tuple[list, float, int]:
    """The events to make runs of for deployment ``row``, the new ``scheduled_until``
    and how many missed events the catchup policy skipped."""
    lo = row.scheduled_until if row.scheduled_until is not None else row.updated_at
    cutoff, hi = now - grace, now + horizon
    made: list = []
    skipped = 0
    if lo < cutoff:
        wanted = 1 if row.catchup == "latest" else MAX_CATCHUP
        made, skipped = _missed(sched, lo, cutoff, wanted, row.name)
        if skipped and row.catchup == "all":
            log.warning("deployment %s: at least %d runs were missed; only the latest %d are made (catchup=all)",
                        row.name, skipped, MAX_CATCHUP)
    start = max(lo, cutoff)
    until = lo
    if start < hi:
        ahead, until, _ = _events(sched, start, hi, max_ahead, MAX_SCAN)
        made.extend(ahead)
    return made, max(lo, until), skipped


def _run_rows(row: Any, events: list[tuple], now: float) -> list[dict]:
    base = json.loads(row.parameters)
    tags = row.tags
    out = []
    last: float | None = None
    offset = 0
    for _, adjusted, defaults in sorted(events, key=lambda e: e[1]):
        offset = offset + 1 if adjusted == last else 0
        last = adjusted
        out.append({"run_id": uuid.uuid4().hex, "flow_name": row.flow_name,
                    "parameters": json.dumps({**base, **defaults}), "state": "Scheduled", "started_at": adjusted,
                    "tags": tags, "state_version": 0, "created_at": now, "deployment_id": row.id,
                    "scheduled_time": adjusted + offset * 1e-6})
    return out


def _write(engine: Engine, chunk: list[tuple[Any, list, float]], now: float, summary: ScheduleSummary,
           cache: ScheduleCache) -> None:
    """In one transaction: move the ``scheduled_until`` of each deployment of ``chunk``
    still as read (one statement), and insert the runs of those moved."""
    def as_read(row: Any) -> Any:
        until = deployments.c.scheduled_until.is_(None) if row.scheduled_until is None else \
            deployments.c.scheduled_until == row.scheduled_until
        return and_(deployments.c.id == row.id, deployments.c.updated_at == row.updated_at, until)

    with engine.connect().execution_options(ferroflow_write=True) as conn, conn.begin():
        moved = set(conn.execute(
            update(deployments).where(or_(*(as_read(row) for row, _, _ in chunk)), deployments.c.paused.is_(False))
            .values(scheduled_until=case({row.id: until for row, _, until in chunk}, value=deployments.c.id))
            .returning(deployments.c.id)).scalars())
        rows: list[dict] = []
        for row, events, _ in chunk:
            if row.id in moved:
                rows.extend(_run_rows(row, events, now))
            else:  # another replica, or a change of the recipe, came first
                summary.conflicts += 1
                cache._forget(row.id)
        if rows:
            _insert_runs(conn, rows, now, summary)


def _insert_runs(conn: Connection, rows: list[dict], now: float, summary: ScheduleSummary) -> None:
    for i in range(0, len(rows), _BATCH):
        batch = rows[i:i + _BATCH]
        # executemany with RETURNING: SQLAlchemy sends multi-row INSERTs ("insertmanyvalues"),
        # and only the rows inserted come back (ON CONFLICT DO NOTHING skips the others)
        made = conn.execute(_insert(conn, runs).on_conflict_do_nothing(
            index_elements=[runs.c.deployment_id, runs.c.scheduled_time]).returning(runs.c.id, runs.c.run_id),
            batch).all()
        wanted = {r["run_id"]: r for r in batch}
        tags = [{"run": key, "tag": tag} for key, run_id in made for tag in json.loads(wanted[run_id]["tags"])]
        if tags:
            conn.execute(run_tags.insert().returning(run_tags.c.run), tags).all()
        summary.made += len(made)
        summary.made_ids.extend(run_id for _, run_id in made)
    names = sorted({r["flow_name"] for r in rows})
    upsert = _insert(conn, flows)
    conn.execute(upsert.on_conflict_do_update(index_elements=[flows.c.name],
                                              set_={"updated_at": upsert.excluded.updated_at}),
                 [{"name": n, "created_at": now, "updated_at": now, "parameters": "{}"} for n in names])


def mark_late(engine: Engine, cutoff: float) -> int:
    """Make ``Late`` every ``Scheduled`` run whose start time is before ``cutoff``
    (bumping its ``state_version``); how many."""
    late = and_(runs.c.state == "Scheduled", runs.c.started_at < cutoff)
    with engine.connect() as conn:  # a read first: an idle tick takes no write lock
        if conn.execute(select(runs.c.id).where(late).limit(1)).first() is None:
            return 0
    with engine.connect().execution_options(ferroflow_write=True) as conn, conn.begin():
        return int(conn.execute(update(runs).where(late).values(
            state="Late", state_version=runs.c.state_version + 1,
            message="Not started within the grace period.")).rowcount)


def schedule(engine: Engine, now: float | None = None, horizon: float = 3600.0, max_ahead: int = 1000,
             grace: float = 60.0, cache: ScheduleCache | None = None) -> ScheduleSummary:
    """One tick of the scheduler on ``engine`` at time ``now`` (default: the clock):
    make the runs of every deployment with a schedule and not paused up to ``now +
    horizon`` (at most ``max_ahead`` per deployment per tick; missed ones by its
    ``catchup``), and mark ``Late`` the ``Scheduled`` runs more than ``grace`` seconds
    past their start. Safe to call from any number of processes at once. ``cache``
    (kept between ticks) spares reading deployments that are not due. Returns a
    :class:`ScheduleSummary`."""
    if horizon < 0 or grace < 0 or max_ahead < 1:
        raise ValueError("horizon and grace must be >= 0 and max_ahead >= 1")
    now = time.time() if now is None else float(now)
    cache = cache if cache is not None else ScheduleCache()
    summary = ScheduleSummary()
    summary.late = mark_late(engine, now - grace)
    with engine.connect() as conn:
        heads = conn.execute(select(deployments.c.id, deployments.c.updated_at, deployments.c.scheduled_until)
                             .where(deployments.c.schedule.is_not(None), deployments.c.paused.is_(False))
                             .order_by(deployments.c.id)).all()
    cache._keep_only(h.id for h in heads)
    due = [h.id for h in heads if not cache._not_due(h, now + horizon)]
    summary.due = len(due)
    for i in range(0, len(due), _CHUNK):
        with engine.connect() as conn:
            full = conn.execute(select(deployments).where(deployments.c.id.in_(due[i:i + _CHUNK]),
                                                          deployments.c.paused.is_(False))
                                .order_by(deployments.c.id)).all()
        chunk: list[tuple[Any, list, float]] = []
        pending = 0
        for row in full:
            try:
                sched = cache._schedule(row)
                events, until, skipped = _plan(sched, row, now, horizon, grace, max_ahead)
            except Exception as exc:  # a stored spec this version cannot read: the others go on
                log.warning("deployment %s: its schedule cannot be used: %s", row.name, exc)
                cache._forget(row.id)
                continue
            summary.skipped += skipped
            chunk.append((row, events, until))
            pending += len(events)
            cache._remember(row.id, row.updated_at, until, sched, _next_raw(sched, until))
            if pending >= _RUNS_PER_TRANSACTION:
                _write(engine, chunk, now, summary, cache)
                chunk, pending = [], 0
        if chunk:
            _write(engine, chunk, now, summary, cache)
    return summary


def remove_unstarted_runs(conn: Connection, deployment_id: int, after: float | None = None) -> int:
    """Delete the runs of deployment ``deployment_id`` that its schedule made and that
    did not start (``Scheduled`` or ``Late``), only those scheduled after ``after`` if
    given, with their tags; how many. Runs made on request stay."""
    which = [runs.c.deployment_id == deployment_id, runs.c.scheduled_time.is_not(None),
             runs.c.state.in_(_UNSTARTED)]
    if after is not None:
        which.append(runs.c.scheduled_time > after)
    keys = [k for (k,) in conn.execute(delete(runs).where(*which).returning(runs.c.id))]
    for i in range(0, len(keys), _BATCH):  # (PostgreSQL cascades; SQLite may not enforce the key)
        conn.execute(delete(run_tags).where(run_tags.c.run.in_(keys[i:i + _BATCH])))
    return len(keys)

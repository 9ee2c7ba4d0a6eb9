"""Reading the run record: the one copy of "list runs", "a run's tasks", "a task's
children" and "a run's logs", for the server's API, the command line and the UI.

Every function takes an open SQLAlchemy :class:`~sqlalchemy.Connection` to a database
of :mod:`ferroflow.store.schema` (SQLite or PostgreSQL) and answers with the store's
own types (:class:`~ferroflow.store.RunSummary`, :class:`~ferroflow.store.TaskSummary`,
:class:`~ferroflow.store.ChildState`, :class:`~ferroflow.store.LogLine`), extended
with what the server adds (tags, state versions, approvals, tracebacks).

Lists are read a page at a time: a :class:`Page` holds the items and an opaque
``next_cursor`` (None on the last page) to give back for the next page. Runs are
newest first (the cursor encodes ``(started_at, id)``), children in index order (the
cursor is a map index) and logs in the order they arrived (the cursor is ``logs.id``).
Every page is read from an index in the order it is served, so the first page costs
the same whether a run has ten children or a million (see ``benches/server_queries.py``):

* runs: ``runs_by_flow`` / ``runs_by_state`` / ``runs_by_start``; several states are
  one ordered index scan each, merged;
* a task's children of a state other than ``Success``: ``task_runs_by_code`` (one scan
  per state that has children, merged by index);
* plain successes have no row (see ``docs/run-store.md``): they are the indices inside
  ``child_spans`` that have no ``task_runs`` row; a page of them walks the spans from
  the cursor and reads the rows of each window of indices by the primary key, skipping
  indices whose row says another state. Its cost grows with the children it steps
  over, so a page of successes far into a task whose children nearly all failed reads
  those failures' keys once.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Integer, Select, cast, exists, func, or_, select

from ferroflow import _core
from ferroflow.state_codes import CODES, FAILED_CODES, NAMES
from ferroflow.store.base import ChildState, LogLine, RunSummary, TaskSummary
from ferroflow.store.errors import UnknownRunError
from ferroflow.store.layout import (
    RUN_COLUMNS,
    RUN_TASKS_COLUMNS,
    UNREPORTED,
    merge_spans,
    own_state,
    read_edges,
    read_run,
    read_run_tasks,
    read_times,
    task_state,
)
from ferroflow.store.schema import child_counts, child_spans, deployments, flows, logs, run_tags, runs, task_runs
from ferroflow.store.schema import run_tasks as tasks_table

__all__ = [
    "BadCursorError",
    "ChildInfo",
    "FlowInfo",
    "Page",
    "RunInfo",
    "RunOrigin",
    "TaskInfo",
    "UnknownTaskError",
    "child",
    "decode_cursor",
    "encode_cursor",
    "failed_children",
    "find_task",
    "get_flow",
    "get_run",
    "list_flows",
    "list_runs",
    "location",
    "RUN_SELECT",
    "run_info",
    "run_key",
    "run_logs",
    "run_origin",
    "run_tasks",
    "run_timing",
    "runs_over_time",
    "task_children",
]

T = TypeVar("T")

_SUCCESS = _core.SUCCESS
#: Most items one page may hold.
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its ``items`` and the cursor of the next page (None: this
    was the last)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class RunInfo(RunSummary):
    """A run as the database has it: :class:`RunSummary` (``message`` starts with
    ``record_error`` when the record is incomplete, as the store reads it) plus its
    ``tags``, ``state_version`` (bumped by every state change made through the
    server: compare-and-set), when it was created and its idempotency key."""

    tags: tuple[str, ...] = ()
    state_version: int = 0
    created_at: float | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class TaskInfo(TaskSummary):
    """A task of a run (:class:`TaskSummary`) and whether it is ``approved`` to go on
    past a pause when the run is resumed. ``failed_children`` is left empty: page
    through :func:`failed_children`."""

    approved: bool = False


@dataclass(frozen=True)
class ChildInfo(ChildState):
    """A task run (:class:`ChildState`) with the traceback of the exception that
    failed it, where one was recorded and asked for."""

    traceback: str | None = None


@dataclass(frozen=True)
class FlowInfo:
    """A flow the database has seen runs of: the parameters of its latest run (name ->
    value or null), when it was first and last seen (seconds since the epoch)."""

    name: str
    parameters: dict = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class RunOrigin:
    """Where a run came from: the ``deployment`` it is a run of (its name; None: none,
    or deleted since: ``deployment_id`` says which), the ``worker`` that claimed it,
    its ``attempt`` (1, or one more than the crashed run it retries) and the time its
    schedule set for it (``scheduled_time``)."""

    deployment: str | None
    deployment_id: int | None
    worker: str | None
    attempt: int
    scheduled_time: float | None


class BadCursorError(ValueError):
    """A cursor this list did not give out (malformed, or another list's)."""


class UnknownTaskError(LookupError):
    """A run has no task of that name or slug, or several tasks have that name."""

    def __init__(self, message: str, task: str):
        self.task = task
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


# ----- cursors ----------------------------------------------------------------------


def encode_cursor(kind: str, *values: Any) -> str:
    """An opaque cursor: ``kind`` (which list gave it) and the values to go on after."""
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, types: Sequence[type]) -> list:
    """The values of a cursor made by :func:`encode_cursor` for ``kind``, each checked
    against ``types``; :class:`BadCursorError` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (ValueError, TypeError):
        decoded = None
    if (not isinstance(decoded, list) or len(decoded) != len(types) + 1 or decoded[0] != kind
            or not all(_is(v, t) for v, t in zip(decoded[1:], types, strict=True))):
        raise BadCursorError(f"cursor {cursor[:40]!r} was not given by this list: pass the next_cursor of the "
                             f"previous page, unchanged")
    return decoded[1:]


def _is(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) if kind is float else isinstance(value, kind)


def _first(conn: Connection, query: Select, limit: int) -> tuple[list, bool]:
    """The first ``limit`` rows of ``query`` (ordered already), and whether there are more."""
    rows = list(conn.execute(query.limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


def _merged(queries: Iterable[Iterable[Any]], key: Any, limit: int, reverse: bool = False) -> list:
    """The first ``limit`` items of several lists each already in ``key`` order."""
    out = []
    for item in heapq.merge(*queries, key=key, reverse=reverse):
        out.append(item)
        if len(out) >= limit:
            break
    return out


# ----- runs -------------------------------------------------------------------------


def location(conn: Connection) -> str:
    """The database, for messages (its URL without a password)."""
    return conn.engine.url.render_as_string(hide_password=True)


#: The columns a :class:`RunInfo` is read from (:func:`run_info`), for queries of runs.
RUN_SELECT = (runs.c.id, *(runs.c[name] for name in RUN_COLUMNS), runs.c.tags, runs.c.state_version,
                runs.c.created_at, runs.c.idempotency_key)


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def run_info(row: Any) -> RunInfo:
    """The :class:`RunInfo` of a row of :data:`RUN_SELECT`."""
    tags = _json(row.tags, [])
    return read_run(tuple(row)[1:1 + len(RUN_COLUMNS)], RunInfo,
                    tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
                    state_version=int(row.state_version or 0), created_at=row.created_at,
                    idempotency_key=row.idempotency_key)


def run_key(conn: Connection, run_id: str) -> int | None:
    """The integer key (``runs.id``) of the run ``run_id``, or None."""
    return conn.execute(select(runs.c.id).where(runs.c.run_id == run_id)).scalar()


def _key_or_raise(conn: Connection, run_id: str) -> int:
    key = run_key(conn, run_id)
    if key is None:
        raise UnknownRunError(run_id, location(conn))
    return key


def get_run(conn: Connection, run_id: str) -> RunInfo | None:
    """The run ``run_id`` (its full id), or None."""
    row = conn.execute(select(*RUN_SELECT).where(runs.c.run_id == run_id)).first()
    return None if row is None else run_info(row)


def _hex_successor(prefix: str) -> str | None:
    """The smallest hex string greater than every string starting with ``prefix`` (a
    lowercase hex string), or None when there is none (``fff``)."""
    digits = "0123456789abcdef"
    text = prefix.rstrip("f")
    if not text:
        return None
    return text[:-1] + digits[digits.index(text[-1]) + 1]


def list_runs(conn: Connection, *, flow_name: str | None = None, states: Iterable[str] | None = None,
              started_after: float | None = None, started_before: float | None = None,
              tags: Iterable[str] = (), id_prefix: str | None = None, limit: int = 50,
              cursor: str | None = None, resumed_from: str | None = None,
              parent_run_id: str | None = None) -> Page[RunInfo]:
    """Runs, newest first (by ``started_at``, then by key), a page at a time.

    Filters (all given must hold): ``flow_name``; ``states`` (any of them); started at
    or after ``started_after`` and before ``started_before`` (seconds since the epoch);
    every one of ``tags``; ``id_prefix`` (lowercase hex: the runs whose id starts with
    it, to resolve an abbreviated id); ``resumed_from`` (the runs resuming that run: a
    crashed run's retries); ``parent_run_id`` (the subflow runs of that run, by the
    index ``runs_by_parent``). A run not started yet (``Scheduled``) is listed
    at its scheduled start.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    base = select(*RUN_SELECT)
    if flow_name is not None:
        base = base.where(runs.c.flow_name == flow_name)
    if started_after is not None:
        base = base.where(runs.c.started_at >= started_after)
    if started_before is not None:
        base = base.where(runs.c.started_at < started_before)
    for tag in dict.fromkeys(tags):
        base = base.where(exists().where(run_tags.c.run == runs.c.id, run_tags.c.tag == tag))
    if id_prefix:
        base = base.where(runs.c.run_id >= id_prefix)
        upper = _hex_successor(id_prefix)
        if upper is not None:
            base = base.where(runs.c.run_id < upper)
    if resumed_from is not None:
        base = base.where(runs.c.resumed_from == resumed_from)
    if parent_run_id is not None:
        base = base.where(runs.c.parent_run_id == parent_run_id)
    if cursor is not None:
        at, key = decode_cursor(cursor, "runs", (float, int))
        base = base.where(runs.c.started_at <= at, or_(runs.c.started_at < at, runs.c.id < key))
    order = (runs.c.started_at.desc(), runs.c.id.desc())
    wanted = sorted(set(states)) if states is not None else None
    if wanted is not None and len(wanted) == 0:
        return Page([], None)
    if wanted is None or len(wanted) == 1:
        query = base if wanted is None else base.where(runs.c.state == wanted[0])
        rows, more = _first(conn, query.order_by(*order), limit)
    else:
        # One ordered index scan per state, merged: an IN list would be read whole and sorted.
        per_state = [conn.execute(base.where(runs.c.state == s).order_by(*order).limit(limit + 1)).all()
                     for s in wanted]
        rows = _merged(per_state, key=lambda r: (r.started_at, r.id), limit=limit + 1, reverse=True)
        rows, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor("runs", rows[-1].started_at, rows[-1].id) if more else None
    return Page([run_info(r) for r in rows], next_cursor)


def run_origin(conn: Connection, run_id: str) -> RunOrigin | None:
    """The deployment, worker, attempt and scheduled time of run ``run_id``, or None
    for an unknown run (one query, by the run id's index)."""
    row = conn.execute(select(runs.c.deployment_id, runs.c.worker, runs.c.attempt, runs.c.scheduled_time,
                              deployments.c.name).select_from(
        runs.outerjoin(deployments, runs.c.deployment_id == deployments.c.id)).where(runs.c.run_id == run_id)).first()
    if row is None:
        return None
    return RunOrigin(row.name, row.deployment_id, row.worker, int(row.attempt or 1), row.scheduled_time)


# ----- flows ------------------------------------------------------------------------


def _flow_info(row: Any) -> FlowInfo:
    params = _json(row.parameters, {})
    return FlowInfo(row.name, params if isinstance(params, dict) else {}, row.created_at, row.updated_at)


def list_flows(conn: Connection, *, limit: int = 100, cursor: str | None = None) -> Page[FlowInfo]:
    """Flows by name, a page at a time."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    query = select(flows.c.name, flows.c.parameters, flows.c.created_at, flows.c.updated_at)
    if cursor is not None:
        (after,) = decode_cursor(cursor, "flows", (str,))
        query = query.where(flows.c.name > after)
    rows, more = _first(conn, query.order_by(flows.c.name), limit)
    return Page([_flow_info(r) for r in rows], encode_cursor("flows", rows[-1].name) if more else None)


def get_flow(conn: Connection, name: str) -> FlowInfo | None:
    """The flow named ``name``, or None."""
    row = conn.execute(select(flows.c.name, flows.c.parameters, flows.c.created_at, flows.c.updated_at)
                       .where(flows.c.name == name)).first()
    return None if row is None else _flow_info(row)


# ----- a run's tasks ----------------------------------------------------------------


def _task_list(conn: Connection, key: int) -> tuple[list, bytes, dict]:
    """A run's ``run_tasks`` row: ``[(task_id, name, slug, is_mapped, approved)]`` in
    display order, each task's own code byte, the widths of mapped tasks."""
    return read_run_tasks(conn.execute(select(*(tasks_table.c[name] for name in RUN_TASKS_COLUMNS))
                                       .where(tasks_table.c.run == key)).first())


def _own_states(conn: Connection, key: int, task_ids: list) -> dict:
    """task id -> ``(code, run_count, message, result_location)`` of the tasks' own
    ``task_runs`` rows (tasks whose own state was not a plain success), read by primary
    key (a task's own row is ``map_index = -1``)."""
    found: dict = {}
    for at in range(0, len(task_ids), 500):
        chunk = task_ids[at:at + 500]
        for row in conn.execute(select(task_runs.c.task_id, task_runs.c.code, task_runs.c.run_count,
                                       task_runs.c.message, task_runs.c.result_location)
                                .where(task_runs.c.run == key, task_runs.c.task_id.in_(chunk),
                                       task_runs.c.map_index == -1)):
            found[row[0]] = tuple(row[1:])
    return found


def _counts(conn: Connection, key: int, task_id: int | None = None) -> dict:
    """task id -> {code: number of children} (codes with children only)."""
    query = select(child_counts.c.task_id, child_counts.c.code, child_counts.c.n).where(
        child_counts.c.run == key, child_counts.c.n != 0)
    if task_id is not None:
        query = query.where(child_counts.c.task_id == task_id)
    counts: dict = {}
    for tid, code, n in conn.execute(query.order_by(child_counts.c.code)):
        counts.setdefault(tid, {})[code] = int(n)
    return counts


def run_tasks(conn: Connection, run_id: str) -> list[TaskInfo]:
    """Every task of a run in display order: its own latest state (None: it never
    reported; ``Mapped`` for a mapped task whose children reported before it did), its
    children counted by state, how many failed, its width and whether it is approved.
    Raises :class:`UnknownRunError`."""
    key = _key_or_raise(conn, run_id)
    listed, codes, widths = _task_list(conn, key)
    reported = [t[0] for t in listed if t[0] < len(codes) and codes[t[0]] != UNREPORTED]
    own = _own_states(conn, key, reported)
    counts = _counts(conn, key)
    return [TaskInfo(task_id=task_id, name=name, slug=slug, is_mapped=is_mapped, width=widths.get(task_id),
                     approved=approved, **task_state(own_state(own, codes, task_id), counts.get(task_id, {})))
            for task_id, name, slug, is_mapped, approved in listed]


def run_timing(conn: Connection, run_id: str) -> tuple[list[tuple[int, int]] | None, dict[int, list[float]]]:
    """A run's task graph and task times as the engine recorded them at run start and
    as reports came: ``(edges, times)``, ``edges`` the ``(upstream, downstream)`` task
    id pairs (None: not recorded, a run older than schema 9, or no tasks yet) and
    ``times`` task id -> ``[first, last]`` (seconds since the epoch: when the task's
    reports were first and last seen). Raises :class:`UnknownRunError`."""
    key = _key_or_raise(conn, run_id)
    row = conn.execute(select(tasks_table.c.edges, tasks_table.c.times).where(tasks_table.c.run == key)).first()
    if row is None:
        return None, {}
    return read_edges(row.edges), read_times(row.times)


def find_task(tasks: Sequence[TaskSummary], name: str, run_id: str = "") -> TaskSummary:
    """The task of ``tasks`` whose slug is ``name``, else the one task whose name is
    ``name``. Raises :class:`UnknownTaskError` naming the run's tasks (or, for a name
    several tasks share, their slugs)."""
    for task in tasks:
        if task.slug == name:
            return task
    named = [t for t in tasks if t.name == name]
    if len(named) == 1:
        return named[0]
    if named:
        slugs = ", ".join(repr(t.slug) for t in named)
        raise UnknownTaskError(f"several tasks of run {run_id} are named {name!r}: name one by its slug ({slugs})",
                               name)
    shown = ", ".join(repr(t.name) for t in tasks[:20]) or "none recorded"
    more = f" and {len(tasks) - 20} more" if len(tasks) > 20 else ""
    raise UnknownTaskError(f"run {run_id} has no task named {name!r} (tasks: {shown}{more})", name)


def _find_listed(listed: list, task: str, run_id: str) -> TaskSummary:
    """:func:`find_task` in a run's task list (see :func:`_task_list`): the task without
    its state."""
    tasks = [TaskSummary(task_id=t[0], name=t[1], slug=t[2], is_mapped=t[3], width=None, code=None, run_count=None,
                         message=None, result_location=None) for t in listed]
    return find_task(tasks, task, run_id)


def _task_key(conn: Connection, run_id: str, task: str) -> tuple[int, TaskSummary]:
    key = _key_or_raise(conn, run_id)
    return key, _find_listed(_task_list(conn, key)[0], task, run_id)


# ----- a task's children ------------------------------------------------------------


def state_codes_of(names: Iterable[str]) -> set[int]:
    """The codes of state names; ValueError naming an unknown one and the known ones."""
    out = set()
    for name in names:
        if name not in CODES:
            raise ValueError(f"unknown state {name!r} (states: {', '.join(NAMES)})")
        out.add(CODES[name])
    return out


def _child_columns(with_traceback: bool) -> list:
    cols = [task_runs.c.map_index, task_runs.c.code, task_runs.c.run_count, task_runs.c.message,
            task_runs.c.result_location]
    return cols + [task_runs.c.traceback] if with_traceback else cols


def _child(task_id: int, row: Any, with_traceback: bool) -> ChildInfo:
    return ChildInfo(task_id, row.map_index, row.code, row.run_count, row.message, row.result_location,
                     row.traceback if with_traceback else None)


def _rows_of_code(conn: Connection, key: int, task_id: int, code: int, after: int, limit: int,
                  with_traceback: bool) -> list:
    """Children of one state in index order after ``after`` (``task_runs_by_code``)."""
    return list(conn.execute(select(*_child_columns(with_traceback)).where(
        task_runs.c.run == key, task_runs.c.task_id == task_id, task_runs.c.code == code,
        task_runs.c.map_index > after).order_by(task_runs.c.map_index).limit(limit)).all())


def _spans(conn: Connection, key: int, task_id: int, after: int) -> Iterator[tuple[int, int]]:
    """The merged ranges of children of a task that reported, from index ``after + 1``."""
    rows = conn.execute(select(child_spans.c.start, child_spans.c.stop).where(
        child_spans.c.run == key, child_spans.c.task_id == task_id, child_spans.c.stop > after + 1)).all()
    return iter(merge_spans((max(int(start), after + 1), int(stop)) for start, stop in rows))


def _successes(conn: Connection, key: int, task_id: int, after: int, limit: int, with_traceback: bool,
               only_success: bool) -> list:
    """Reported children in index order after ``after``: those that succeeded (the plain
    ones have no row), or with ``only_success`` False every reported child."""
    out: list = []
    window = max(64, 2 * limit)
    for start, stop in _spans(conn, key, task_id, after):
        at = start
        while at < stop and len(out) < limit:
            end = min(stop, at + window)
            rows = {r.map_index: r for r in conn.execute(select(*_child_columns(with_traceback)).where(
                task_runs.c.run == key, task_runs.c.task_id == task_id, task_runs.c.map_index >= at,
                task_runs.c.map_index < end))}
            for index in range(at, end):
                row = rows.get(index)
                if row is None:
                    out.append(ChildInfo(task_id, index, _SUCCESS, None, None, None, None))
                elif row.code == _SUCCESS or not only_success:
                    out.append(_child(task_id, row, with_traceback))
                else:
                    continue
                if len(out) >= limit:
                    break
            at = end
            window = min(window * 2, 65_536)
        if len(out) >= limit:
            break
    return out


def task_children(conn: Connection, run_id: str, task: str, *, states: Iterable[str] | None = None,
                  limit: int = 50, cursor: str | None = None, with_traceback: bool = False) -> Page[ChildInfo]:
    """A mapped task's children in index order, a page at a time, of the given
    ``states`` only (None: every child that reported; children that never reported
    are not listed). ``task`` is a slug or a name (see :func:`find_task`). A plain
    success has ``run_count`` None. Raises :class:`UnknownRunError`,
    :class:`UnknownTaskError`, ValueError for an unknown state name."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    wanted = None if states is None else state_codes_of(states)
    key, found = _task_key(conn, run_id, task)
    after = -1
    if cursor is not None:
        (after,) = decode_cursor(cursor, "children", (int,))
    have = _counts(conn, key, found.task_id).get(found.task_id, {})
    fetch = limit + 1
    if wanted is None:
        items = _successes(conn, key, found.task_id, after, fetch, with_traceback, only_success=False)
    else:
        lists = [_rows_of_code(conn, key, found.task_id, code, after, fetch, with_traceback)
                 for code in sorted(wanted) if code != _SUCCESS and have.get(code)]
        parts: list[list] = [[_child(found.task_id, r, with_traceback) for r in rows] for rows in lists]
        if _SUCCESS in wanted and have.get(_SUCCESS):
            parts.append(_successes(conn, key, found.task_id, after, fetch, with_traceback, only_success=True))
        items = _merged(parts, key=lambda c: c.map_index, limit=fetch)
    more = len(items) > limit
    items = items[:limit]
    return Page(items, encode_cursor("children", items[-1].map_index) if more else None)


def failed_children(conn: Connection, run_id: str, task: str, *, limit: int = 50,
                    cursor: str | None = None) -> Page[ChildInfo]:
    """A task's failed children (``Failed``, ``TriggerFailed``, ``TimedOut``) in index
    order with their messages and tracebacks, a page at a time."""
    return task_children(conn, run_id, task, states=[NAMES[c] for c in sorted(FAILED_CODES)], limit=limit,
                         cursor=cursor, with_traceback=True)


def child(conn: Connection, run_id: str, task: str, index: int) -> ChildInfo | None:
    """Child ``index`` of a task (-1: the task itself) with its traceback, or None when
    it never reported."""
    key, found = _task_key(conn, run_id, task)
    row = conn.execute(select(*_child_columns(True)).where(
        task_runs.c.run == key, task_runs.c.task_id == found.task_id, task_runs.c.map_index == index)).first()
    if row is not None:
        return _child(found.task_id, row, True)
    if index < 0:
        codes = conn.execute(select(tasks_table.c.codes).where(tasks_table.c.run == key)).scalar() or b""
        state = own_state({}, bytes(codes), found.task_id)
        if state is None:
            return None
        code, run_count, message, location_ = state
        return ChildInfo(found.task_id, -1, code, run_count, message, location_, None)
    inside = conn.execute(select(func.count()).select_from(child_spans).where(
        child_spans.c.run == key, child_spans.c.task_id == found.task_id, child_spans.c.start <= index,
        child_spans.c.stop > index)).scalar()
    return ChildInfo(found.task_id, index, _SUCCESS, None, None, None, None) if inside else None


# ----- logs -------------------------------------------------------------------------


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def run_logs(conn: Connection, run_id: str, *, task: str | None = None, map_index: int | None = None,
             min_level: int | None = None, text: str | None = None, limit: int = 100,
             cursor: str | None = None, follow: bool = False) -> Page[LogLine]:
    """A run's log records in the order they arrived, a page at a time: of one task
    (slug or name) and of one of its children (``map_index``; -1 the task itself), at
    ``min_level`` or above, whose message contains ``text`` (ignoring case; ``%`` and
    ``_`` are themselves). With ``follow``, ``next_cursor`` is given on the last page
    too (after its last record, or ``cursor`` again when none came; None only when
    there is neither): the cursor to ask with later for records that came since.
    Raises :class:`UnknownRunError`, :class:`UnknownTaskError`."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    key = _key_or_raise(conn, run_id)
    listed = _task_list(conn, key)[0]
    names = {t[0]: t[1] for t in listed}
    query: Select = select(logs.c.id, logs.c.task_id, logs.c.map_index, logs.c.created_at, logs.c.level,
                           logs.c.levelname, logs.c.logger, logs.c.message).where(logs.c.run == key)
    if task is not None:
        query = query.where(logs.c.task_id == _find_listed(listed, task, run_id).task_id)
    if map_index is not None:
        query = query.where(logs.c.map_index == map_index)
    if min_level is not None:
        query = query.where(logs.c.level >= min_level)
    if text:
        query = query.where(logs.c.message.ilike(f"%{_like_escape(text)}%", escape="\\"))
    if cursor is not None:
        (after,) = decode_cursor(cursor, "logs", (int,))
        query = query.where(logs.c.id > after)
    rows, more = _first(conn, query.order_by(logs.c.id), limit)
    items = [LogLine(r.task_id, names.get(r.task_id) if r.task_id is not None else None,
                     None if r.map_index < 0 else r.map_index, r.created_at, r.level, r.levelname, r.logger,
                     r.message) for r in rows]
    if more or (follow and rows):
        return Page(items, encode_cursor("logs", rows[-1].id))
    return Page(items, cursor if follow else None)


# ----- aggregates (the UI's dashboard) ----------------------------------------------------


def runs_over_time(conn: Connection, since: float, bucket: float, buckets: int) -> dict[str, list[int]]:
    """How many runs started in each of ``buckets`` consecutive windows of ``bucket``
    seconds from ``since``, by state: ``{state: [n per window]}`` (one aggregate query;
    runs not started yet are left out)."""
    until = since + bucket * buckets
    offset = (runs.c.started_at - since) / bucket
    # (PostgreSQL's cast rounds and SQLite's truncates: floor where there is one)
    index = cast(offset, Integer) if conn.dialect.name == "sqlite" else func.floor(offset)
    rows = conn.execute(select(index.label("i"), runs.c.state, func.count()).where(
        runs.c.started_at >= since, runs.c.started_at < until, runs.c.state.notin_(("Scheduled", "Late")))
        .group_by(index, runs.c.state)).all()
    out: dict[str, list[int]] = {}
    for i, state, n in rows:
        i = int(i)
        if 0 <= i < buckets:
            out.setdefault(state, [0] * buckets)[i] += int(n)
    return out

"""The records a run store's writer applies, one tuple each: made here, by one function
per kind, so that every store builds the very same items (the SQL store's writer
applies them; a store that sends them elsewhere, to a server that applies them with
:meth:`ferroflow.store.sql.SQLRunStore.ingest`, sends the same).

Every item is a tuple whose first element names its kind and whose second is the run
id (``"beat"`` alone has none). Times are seconds since the epoch.

``("start", run_id, flow, params, pickles, columns, count, started, resumed, host, pid, token, exe[, parent[, name]])``
    A run started (or reopened). ``flow``: the flow's name; ``started``: when;
    ``host``: the hostname; ``params``: the parameters' readable JSON text
    (:func:`ferroflow.store.parameters.readable`); ``pickles``: ``[(name, bytes or None,
    problem or None), ...]`` (:func:`ferroflow.store.parameters.pickled`);
    ``columns``: the task list as ``run_tasks`` columns (:func:`task_columns`; the
    sixth, the edges, is missing from the items of a ferroflow older than schema 9);
    ``count``: one more than the highest task id; ``resumed``: the run it resumes
    or None; ``token``: the lease token of the process that records it (32 hex digits);
    ``exe``: the executor that ran it (:func:`ferroflow.descriptions.describe_executor`) or
    None (missing from the items of a ferroflow older than schema 10);
    ``parent``: the run id of the run it is a subflow run of; missing when it has none (so that
    a server older than schema 11, which refuses a 14th field, takes the other runs);
    ``name``: the run's name (:func:`bound_run_name`), missing when it has none (a server
    older than schema 12 refuses a 15th field; ``parent`` is then None when the run has
    no parent).
``("tasks", run_id, columns, count)``
    Tasks of a running run that its start did not list, to display after those it has
    (:meth:`~ferroflow.store.RunStore.add_tasks`): ``columns`` as in ``start`` (their
    ``edges`` are added to the run's), ``count`` one more than their highest task id.
    A server that predates schema 11 refuses the kind.
``("end", run_id, state, message, ended_at)``
    A run's final state name and message.
``("states", run_id, rows, now)``
    Task run states: ``rows`` of ``(task_id, map_index or -1, code, run_count, message,
    result_location)`` (see :meth:`~ferroflow.store.RunStore.record_states`).
``("report", run_id, reports, now, details, plain)``
    One round of the engine's reports (see :meth:`~ferroflow.store.RunStore.record_report`):
    ``reports`` a list of ``(task_id, indices or None, codes[, details by index])``;
    ``details`` None or ``{(task_id, index or -1): (message, location, run_count[,
    traceback])}``; ``plain``: a task's own ``SUCCESS`` without details is a plain
    success.
``("width", run_id, task_id, width)``
    The number of children of a mapped task.
``("logs", run_id, rows)``
    Log records, ``(task_id or None, map_index or -1, created_at, level, logger,
    message)`` each.
``("beat",)``
    Stamp the heartbeat of every run the writer holds the lease of (the writer's own
    item; never sent).
"""

from __future__ import annotations

import abc
import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ferroflow import _core
from ferroflow.descriptions import printable
from ferroflow.store.base import RunStore, TaskList, TaskSpec, Timestamp, to_epoch
from ferroflow.store.parameters import pickled, readable

__all__ = ["ItemStore", "KINDS", "BEAT", "start", "added_tasks", "end", "states", "report", "width", "logs",
           "task_columns",
           "new_token", "weight", "records", "coalesced", "read_columns",
           "TRACEBACK_LIMIT", "bound_traceback", "to_detail", "MAX_RUN_NAME_CHARS", "bound_run_name"]

#: Every kind of item.
KINDS = frozenset({"start", "tasks", "end", "states", "report", "width", "logs", "beat"})
#: The heartbeat item.
BEAT = ("beat",)

_SUCCESS = _core.SUCCESS


#: The most of a failed task run's traceback kept (characters): its last 64 KiB, where
#: the exception and the innermost frames are.
TRACEBACK_LIMIT = 64 * 1024


def bound_traceback(text: str | None) -> str | None:
    """``text`` (a formatted traceback), its last :data:`TRACEBACK_LIMIT` characters
    when it is longer, after a line saying how much was cut."""
    if text is None or len(text) <= TRACEBACK_LIMIT:
        return text
    text = str(text)
    return f"[... {len(text) - TRACEBACK_LIMIT:,} earlier characters cut ...]\n" + text[-TRACEBACK_LIMIT:]


#: The longest run name kept (characters, after escaping): a longer one is cut, ending
#: ``...``.
MAX_RUN_NAME_CHARS = 200


def bound_run_name(name: str | None) -> str | None:
    """A run's name as the store keeps it: one line (a character that is not printable,
    a newline or an escape sequence, escaped as :func:`ferroflow.descriptions.printable`
    does), cut to :data:`MAX_RUN_NAME_CHARS` characters; None for None or a name that is
    empty or blank. A name that is not a string raises TypeError (what a server's client
    sent is not trusted)."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"a run's name is a string, got {type(name).__name__}")
    if not name.strip():
        return None
    return printable(name, MAX_RUN_NAME_CHARS)


def to_detail(detail: tuple) -> tuple:
    """A task run's details as ``(message, location, run_count, traceback)``: details
    may come as 3-tuples (no traceback) or 4-tuples."""
    return detail if len(detail) == 4 else (*detail[:3], None)


def new_token() -> str:
    """A new lease token: 32 random hex digits."""
    return os.urandom(16).hex()


def task_columns(tasks: TaskList) -> tuple:
    """The task list columns of ``run_tasks``: ``ids``, ``names`` and ``slugs`` as JSON
    arrays, ``mapped`` and ``approved`` as one byte per task, in display order, and
    ``edges`` as a JSON array of ``[upstream, downstream]`` (None when not known)."""
    edges = None if tasks.edges is None else json.dumps([[int(a), int(b)] for a, b in tasks.edges])
    return (json.dumps(tasks.ids), json.dumps(tasks.names), json.dumps(tasks.slugs), bytes(tasks.mapped),
            bytes(tasks.approved), edges)


def start(run_id: str, flow_name: str, parameters: Mapping[str, Any] | None, tasks: Iterable[TaskSpec] | TaskList,
          started_at: Timestamp = None, resumed_from: str | None = None, *, pid: int, token: str,
          hostname: str | None = None, executor: str | None = None, parent_run_id: str | None = None,
          run_name: str | None = None) -> tuple:
    """A ``start`` item: the run, its parameters in both forms, its task list, its
    executor, its parent run, its name (:func:`bound_run_name`; fields a run does not
    have are left off the end)."""
    tasks = TaskList.of(tasks)
    columns = _columns(tasks)
    name = bound_run_name(None if run_name is None else str(run_name))
    tail: tuple = ()
    if name is not None:
        tail = (None if parent_run_id is None else str(parent_run_id), name)
    elif parent_run_id is not None:
        tail = (str(parent_run_id),)
    return ("start", str(run_id), str(flow_name), readable(parameters), pickled(parameters), columns,
            max(tasks.ids) + 1 if len(tasks) else 0, to_epoch(started_at), resumed_from,
            socket.gethostname() if hostname is None else hostname, pid, token,
            None if executor is None else str(executor)) + tail


def _columns(tasks: TaskList) -> tuple:
    """:func:`task_columns` of ``tasks``, made of plain types first when they are not."""
    try:
        return task_columns(tasks)
    except (TypeError, ValueError):  # not plain types (a numpy integer id, say)
        plain = TaskList.of(list(tasks))
        plain.edges = tasks.edges
        return task_columns(plain)


def read_columns(columns: Any) -> tuple[list, list, list, bytes, bytes, list | None]:
    """The ``columns`` of a ``tasks`` (or ``start``) item, checked, as ``(ids, names,
    slugs, mapped, approved, edges)``: ids distinct non-negative ints, names strings,
    slugs strings or None, one flag byte per task (made 0 or 1), edges None or
    ``[upstream, downstream]`` int pairs. Raises ValueError or TypeError otherwise
    (what a server's client sent is not trusted)."""
    if not isinstance(columns, (tuple, list)) or len(columns) not in (5, 6):
        raise ValueError("a task list is 5 or 6 columns")
    ids, names, slugs = (json.loads(text) if isinstance(text, str) else None for text in columns[:3])
    mapped, approved = columns[3], columns[4]
    if not (isinstance(ids, list) and isinstance(names, list) and isinstance(slugs, list)
            and isinstance(mapped, (bytes, bytearray)) and isinstance(approved, (bytes, bytearray))
            and len(ids) == len(names) == len(slugs) == len(mapped) == len(approved)):
        raise ValueError("a task list's columns are JSON arrays of ids, names and slugs and a flag byte per task for "
                         "mapped and approved, one item per task each")
    if not all(type(i) is int and i >= 0 for i in ids):
        raise ValueError("task ids are non-negative ints")
    if len(set(ids)) != len(ids):
        raise ValueError("a task id is given twice")
    if not all(type(n) is str for n in names) or not all(s is None or type(s) is str for s in slugs):
        raise ValueError("task names are strings, slugs strings or null")
    edges = json.loads(columns[5]) if len(columns) > 5 and columns[5] is not None else None
    if edges is not None and not (isinstance(edges, list) and all(
            isinstance(e, list) and len(e) == 2 and all(type(x) is int for x in e) for e in edges)):
        raise ValueError("edges are [upstream, downstream] task id pairs")
    return (ids, names, slugs, bytes(bool(b) for b in mapped), bytes(bool(b) for b in approved),
            None if edges is None else [(a, b) for a, b in edges])


def added_tasks(run_id: str, tasks: Iterable[TaskSpec] | TaskList) -> tuple | None:
    """A ``tasks`` item (:meth:`~ferroflow.store.RunStore.add_tasks`), or None when
    there are no tasks (and no edges). Raises ValueError for a task id that is not a
    non-negative int or that is given twice."""
    tasks = TaskList.of(tasks)
    if not len(tasks) and not tasks.edges:
        return None
    columns = _columns(tasks)
    ids = json.loads(columns[0])
    if not all(type(i) is int and i >= 0 for i in ids):
        raise ValueError(f"run {run_id}: task ids are non-negative ints, got {ids[:20]!r}")
    if len(set(ids)) != len(ids):
        raise ValueError(f"run {run_id}: a task id is given twice in {ids[:20]!r}")
    return ("tasks", str(run_id), columns, max(ids) + 1 if ids else 0)


def end(run_id: str, state_name: str, message: str | None = None, ended_at: Timestamp = None) -> tuple:
    """An ``end`` item."""
    return ("end", str(run_id), str(state_name), message, to_epoch(ended_at))


def states(run_id: str, rows: list, now: float | None = None) -> tuple:
    """A ``states`` item."""
    return ("states", str(run_id), rows, time.time() if now is None else now)


def report(run_id: str, reports: list, details: Mapping | None = None, plain: bool = False,
           now: float | None = None) -> tuple:
    """A ``report`` item (``reports`` is kept, not copied)."""
    return ("report", str(run_id), reports, time.time() if now is None else now, details or None, plain)


def width(run_id: str, task_id: int, width: int) -> tuple:
    """A ``width`` item."""
    return ("width", str(run_id), int(task_id), int(width))


def logs(run_id: str, rows: list) -> tuple:
    """A ``logs`` item."""
    return ("logs", str(run_id), rows)


def weight(item: tuple) -> int:
    """About how many rows an item writes (what batches are sized by)."""
    kind = item[0]
    if kind == "report":
        reports = item[2]
        rows = len(reports)
        for one in reports:
            if one[1] is not None:
                codes = one[2]
                if not isinstance(codes, int):
                    rows += len(codes) - codes.count(_SUCCESS)
        return rows
    if kind in ("states", "logs"):
        return len(item[2])
    if kind == "start":
        return 1 + item[6]
    if kind == "tasks":
        return 1 + len(item[2][3])
    return 1


def records(item: tuple) -> int:
    """How many records an item holds (what errors count)."""
    kind = item[0]
    if kind == "beat":
        return 0
    if kind == "report":
        return sum(1 if isinstance(r[2], int) else len(r[2]) for r in item[2])
    if kind in ("states", "logs"):
        return len(item[2])
    return 1


def coalesced(items: list) -> list:
    """The items of a batch, consecutive reports of one run without details made one
    (a round of reports each, a chain of tasks: one call and lease check per batch
    instead of per round). Their lists are copied, never extended: the batch is kept
    as it was if it cannot be written. Their rows are stamped with the time of the
    last of them."""
    out: list = []
    group: list = []  # consecutive reports without details of one run, not in out yet
    for item in items:
        if item[0] == "report" and item[4] is None:
            if group and (group[0][1] != item[1] or group[0][5] != item[5]):
                out.append(_merged(group))
                group = []
            group.append(item)
            continue
        if group:
            out.append(_merged(group))
            group = []
        out.append(item)
    if group:
        out.append(_merged(group))
    return out


def _merged(group: list) -> tuple:
    if len(group) == 1:
        return group[0]
    reports: list = []
    for item in group:
        reports += item[2]
    last = group[-1]
    return ("report", last[1], reports, last[3], None, last[5])


_width = width  # (for ItemStore.record_width, whose argument has the name)


class ItemStore(RunStore):
    """A run store that turns recording calls into the items of this module and hands
    each to :meth:`_put` (the SQL store's writer applies them; the remote store sends
    them to a server): the recording calls that only make an item, made once."""

    @abc.abstractmethod
    def _put(self, item: tuple) -> None:
        """Take one item to record (raises when the store is closed, or with an earlier
        failure to report)."""

    def record_states(self, run_id, rows):
        rows = rows if isinstance(rows, list) else list(rows)
        if rows:
            self._put(states(run_id, rows))

    def add_tasks(self, run_id, tasks):
        item = added_tasks(run_id, tasks)
        if item is not None:
            self._put(item)

    def record_width(self, run_id, task_id, width):
        self._put(_width(run_id, task_id, width))

    def record_logs(self, run_id, rows):
        rows = rows if isinstance(rows, list) else list(rows)
        if rows:
            self._put(logs(run_id, rows))

"""The run record's layout, read: the one copy of how rows of the store's tables
become the store's types, shared by the store's own reads (:class:`SQLRunStore
<ferroflow.store.sql.SQLRunStore>`, plain DBAPI) and the server's queries
(:mod:`ferroflow.store.queries`, SQLAlchemy Core), so that both answer alike.

Pure functions of column values: no database, no SQLAlchemy (an up-to-date SQLite
store reads without importing it). What they decode (see ``docs/run-store.md``):

* ``runs``: ``record_error`` is put at the start of ``message``; ``parameters`` is a
  JSON object; ``executor`` (schema 10), ``parent_run_id`` (schema 11) and
  ``run_name`` (schema 12) are NULL for a run recorded before.
* ``run_tasks``: the task list by columns (JSON arrays of ids, names and slugs, a
  byte per task for each flag), one byte per task with its own latest code
  (:data:`UNREPORTED` while it never reported) and the widths of mapped tasks (a JSON
  object, task id -> width).
* A task's own state: its ``task_runs`` row (``map_index = -1``) if it has one, else
  its byte (a task run that simply succeeded has no row).
* ``child_spans``: ranges of children that reported, merged.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar, overload

from ferroflow import _core
from ferroflow.state_codes import FAILED_CODES, state_name
from ferroflow.store.base import SUCCEEDED, RunSummary

__all__ = ["RUN_COLUMNS", "RUN_TASKS_COLUMNS", "UNREPORTED", "merge_spans", "own_state", "read_run",
           "read_edges", "read_run_tasks", "read_task_list", "read_times", "read_widths", "task_state"]

_SUCCESS = _core.SUCCESS
#: A task's byte in ``run_tasks.codes`` (and a child's in the writer's cache) while it
#: never reported.
UNREPORTED = 0xFF

R = TypeVar("R", bound=RunSummary)

#: The ``runs`` columns :func:`read_run` reads, in its order.
RUN_COLUMNS = ("run_id", "flow_name", "state", "message", "parameters", "started_at", "ended_at", "resumed_from",
               "hostname", "pid", "record_error", "executor", "parent_run_id", "run_name")
#: The ``run_tasks`` columns :func:`read_run_tasks` reads, in its order.
RUN_TASKS_COLUMNS = ("ids", "names", "slugs", "mapped", "approved", "codes", "widths")


@overload
def read_run(row: Any) -> RunSummary: ...


@overload
def read_run(row: Any, cls: type[R], **extra: Any) -> R: ...


def read_run(row: Any, cls: type = RunSummary, **extra: Any) -> Any:
    """A run from the ``runs`` columns :data:`RUN_COLUMNS` (in that order): a ``cls``
    (a :class:`RunSummary`, or a subclass given its own fields in ``extra``) whose
    ``message`` starts with ``record_error`` when there is one."""
    (run_id, flow_name, state, message, parameters, started_at, ended_at, resumed_from, hostname, pid, note,
     executor, parent_run_id, run_name) = row
    if note:
        message = f"{note} {message}" if message else note
    try:
        params = json.loads(parameters) if parameters else {}
    except ValueError:
        params = {}
    return cls(run_id, flow_name, state, message, params if isinstance(params, dict) else {}, started_at, ended_at,
               resumed_from, hostname, pid, note, executor, parent_run_id, run_name, **extra)


def read_task_list(ids: str, names: str, slugs: str, mapped: bytes, approved: bytes) -> list:
    """``run_tasks``' task list as ``(task_id, name, slug, is_mapped, approved)`` tuples."""
    return list(zip(json.loads(ids), json.loads(names), json.loads(slugs), map(bool, mapped), map(bool, approved),
                    strict=True))


def read_run_tasks(row: Any) -> tuple[list, bytes, dict]:
    """A run's ``run_tasks`` row (the columns :data:`RUN_TASKS_COLUMNS`; None: the run
    has none) as its task list (see
    :func:`read_task_list`, in display order), each task's own code byte and the widths
    of mapped tasks (task id -> width)."""
    if row is None:
        return [], b"", {}
    return read_task_list(*row[:5]), bytes(row[5] or b""), read_widths(row[6])


def read_times(text: str | None) -> dict:
    """``run_tasks.times`` (a JSON object or NULL) as task id -> ``[first, last]``."""
    return {int(k): v for k, v in json.loads(text).items()} if text else {}


def read_edges(text: str | None) -> list[tuple[int, int]] | None:
    """``run_tasks.edges`` (a JSON array of pairs, or NULL: not recorded) as
    ``[(upstream, downstream), ...]`` or None."""
    return None if text is None else [(int(a), int(b)) for a, b in json.loads(text)]


def read_widths(text: str | None) -> dict:
    """``run_tasks.widths`` (a JSON object or NULL) as mapped task id -> width."""
    return {int(k): v for k, v in json.loads(text).items()} if text else {}


def own_state(rows: dict, codes: bytes, task_id: int) -> tuple | None:
    """A task's own recorded ``(code, run_count, message, result_location)``: its
    ``task_runs`` row (in ``rows``, by task id) if it has one, else what its byte in
    ``run_tasks.codes`` says (a plain success, or a bare code), or None if it never
    reported."""
    found = rows.get(task_id)
    if found is not None:
        return found
    code = codes[task_id] if task_id < len(codes) else UNREPORTED
    if code == UNREPORTED:
        return None
    return (code, 1, SUCCEEDED, None) if code == _SUCCESS else (code, 1, None, None)


def task_state(own: tuple | None, by_code: dict) -> dict:
    """The state fields of a :class:`~ferroflow.store.TaskSummary` from the task's
    :func:`own_state` and its children counted by code (codes with children only):
    ``code`` (``Mapped`` when its children reported and it did not yet), ``run_count``,
    ``message``, ``result_location``, ``counts`` (by state name) and ``failed_count``."""
    code, run_count, message, location = own or (None, None, None, None)
    if code is None and by_code:
        code = _core.MAPPED  # children reported, the parent not (yet)
    return {"code": code, "run_count": run_count, "message": message, "result_location": location,
            "counts": {state_name(c): n for c, n in by_code.items()},
            "failed_count": sum(n for c, n in by_code.items() if c in FAILED_CODES)}


def merge_spans(spans: Any) -> list:
    """Sort and merge overlapping or adjacent ``(start, stop)`` ranges."""
    merged: list = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            if stop > merged[-1][1]:
                merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged

"""Runs written straight into a database in the run store's layout, for tests and
benchmarks of what reads it (the server's queries), without running flows.

::

    from ferroflow.testing.records import TaskRecord, write_run

    with engine.begin() as conn:
        write_run(conn, run_id, "etl", tasks=[
            TaskRecord(0, "extract", code=_core.SUCCESS),
            TaskRecord(1, "work", mapped=True, code=_core.MAPPED, children=codes,     # one code per child
                       details={3: ("ValueError(3)", None, 1, "Traceback ...")}),
        ])

The layout is the store's (``docs/run-store.md``): one ``run_tasks`` row per run (the
task list, one code byte per task), a ``task_runs`` row only for a task run that is
not a plain success (or carries a message, a location or a traceback), children
counted by state in ``child_counts`` and their reported ranges in ``child_spans``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert

from ferroflow import _core
from ferroflow.store.base import SUCCEEDED
from ferroflow.store.schema import child_counts, child_spans, flows, logs, run_tags, run_tasks, runs, task_runs

__all__ = ["NOT_REPORTED", "TaskRecord", "write_run"]

#: A child's code meaning "never reported" in :attr:`TaskRecord.children`.
NOT_REPORTED = 0xFF
_CHUNK = 20_000


@dataclass
class TaskRecord:
    """One task of a run to write.

    ``code`` is the task's own latest state code (None: never reported); ``own``
    optionally ``(message, result_location, run_count, traceback)`` of the task's own
    run (default: a plain success's for ``SUCCESS``). ``children`` is one code per
    child (:data:`NOT_REPORTED` for one that never reported) and ``details`` maps
    child indices to ``(message, result_location, run_count, traceback)``.
    ``span`` is how many children one ``child_spans`` row covers at most (the store
    writes one per reported range per transaction)."""

    task_id: int
    name: str
    slug: str | None = None
    mapped: bool = False
    code: int | None = None
    own: tuple | None = None
    children: bytes | None = None
    details: Mapping[int, tuple] = field(default_factory=dict)
    approved: bool = False
    span: int = 8192


def _many(conn: Connection, table: Any, rows: list) -> None:
    for at in range(0, len(rows), _CHUNK):
        conn.execute(insert(table), rows[at:at + _CHUNK])


def write_run(conn: Connection, run_id: str, flow_name: str, *, state: str = "Success", message: str | None = None,
              parameters: Mapping[str, Any] | None = None, tags: Sequence[str] = (), started_at: float | None = None,
              ended_at: float | None = None, tasks: Iterable[TaskRecord] = (),
              log_rows: Iterable[tuple] = (), now: float | None = None) -> int:
    """Write a run and its records; return its key (``runs.id``). ``log_rows`` are
    ``(task_id or None, map_index or -1, created_at, level, levelname, logger, message)``."""
    now = time.time() if now is None else now
    started_at = now if started_at is None else started_at
    tasks = list(tasks)
    key = conn.execute(insert(runs).values(
        run_id=run_id, flow_name=flow_name, parameters=json.dumps(dict(parameters or {})), state=state,
        message=message, started_at=started_at, ended_at=ended_at, tags=json.dumps(list(tags)), state_version=0,
        created_at=started_at).returning(runs.c.id)).scalar_one()
    if tags:
        _many(conn, run_tags, [{"run": key, "tag": t} for t in dict.fromkeys(tags)])
    if tasks:
        size = max(t.task_id for t in tasks) + 1
        codes = bytearray([NOT_REPORTED]) * size
        for t in tasks:
            if t.code is not None:
                codes[t.task_id] = t.code
        widths = {str(t.task_id): len(t.children) for t in tasks if t.children is not None}
        conn.execute(insert(run_tasks).values(
            run=key, ids=json.dumps([t.task_id for t in tasks]), names=json.dumps([t.name for t in tasks]),
            slugs=json.dumps([t.slug for t in tasks]), mapped=bytes(t.mapped for t in tasks),
            approved=bytes(t.approved for t in tasks), codes=bytes(codes),
            widths=json.dumps(widths) if widths else None))
    rows: list = []
    counts: list = []
    spans: list = []
    for t in tasks:
        if t.code is not None:
            message_, location, run_count, traceback = t.own or (
                (SUCCEEDED, None, 1, None) if t.code == _core.SUCCESS else (None, None, 1, None))
            if not (t.code == _core.SUCCESS and message_ == SUCCEEDED and run_count == 1 and location is None
                    and traceback is None):
                rows.append({"run": key, "task_id": t.task_id, "map_index": -1, "code": t.code,
                             "run_count": run_count, "message": message_, "result_location": location,
                             "updated_at": now, "traceback": traceback})
        if t.children is None:
            continue
        children = bytes(t.children)
        for code in set(children) - {NOT_REPORTED}:
            counts.append({"run": key, "task_id": t.task_id, "code": code, "n": children.count(code)})
        at = 0
        while at < len(children):
            if children[at] == NOT_REPORTED:
                at += 1
                continue
            stop = children.find(NOT_REPORTED, at)
            stop = len(children) if stop < 0 else stop
            for start in range(at, stop, t.span):
                spans.append({"run": key, "task_id": t.task_id, "start": start, "stop": min(stop, start + t.span)})
            at = stop
        rowed = set(t.details)
        for code in set(children) - {NOT_REPORTED, _core.SUCCESS}:
            found = children.find(code)
            while found >= 0:
                rowed.add(found)
                found = children.find(code, found + 1)
        for index in sorted(rowed):
            code = children[index]
            message_, location, run_count, traceback = t.details.get(index, (None, None, 1, None))
            rows.append({"run": key, "task_id": t.task_id, "map_index": index, "code": code,
                         "run_count": run_count or 1, "message": message_, "result_location": location,
                         "updated_at": now, "traceback": traceback})
    _many(conn, task_runs, rows)
    _many(conn, child_counts, counts)
    _many(conn, child_spans, spans)
    _many(conn, logs, [{"run": key, "task_id": r[0], "map_index": r[1], "created_at": r[2], "level": r[3],
                        "levelname": r[4], "logger": r[5], "message": r[6]} for r in log_rows])
    existing = conn.execute(flows.select().where(flows.c.name == flow_name)).first()
    if existing is None:
        conn.execute(insert(flows).values(name=flow_name, created_at=started_at, updated_at=started_at,
                                          parameters=json.dumps({k: None for k in (parameters or {})})))
    return int(key)

"""A task of a run and its mapped children: ``/runs/{run_id}/tasks/{task_id}`` (the task,
its children counted by state, a page of its children filtered by state and index) and
``/runs/{run_id}/tasks/{task_id}/children/{index}`` (one child: state, traceback, logs).

Counts come from ``child_counts`` (one row per task and state, however many children),
the list from :func:`ferroflow.store.queries.task_children` with its cursor: a page
costs the same for a task of ten children or of a million. Nothing here counts or reads
the children beyond the page shown.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from ferroflow.server.deps import Reading
from ferroflow.server.ui.web import PageError, Viewer, page, redirect, render
from ferroflow.state_codes import DISPLAY_ORDER, FAILED_NAMES, NAMES
from ferroflow.store import queries
from ferroflow.store.errors import UnknownRunError

__all__ = ["PAGE_SIZE", "ordered_counts", "router"]

router = APIRouter()

#: Children shown per page.
PAGE_SIZE = 50
#: The quick filter "failed children": its states, in display order.
FAILED = tuple(s for s in DISPLAY_ORDER if s in FAILED_NAMES)
_MAX_INDEX = 2**31 - 1


def ordered_counts(counts: dict[str, int]) -> dict[str, int]:
    """``counts`` (state -> n) in the order displays list states (others after, by name)."""
    known = [s for s in DISPLAY_ORDER if counts.get(s)]
    return {s: counts[s] for s in known + sorted(s for s in counts if s not in DISPLAY_ORDER and counts[s])}


def _whole(text: str | None, what: str, status: int = 404) -> int | None:
    """``text`` as a whole number from 0 (None for none given); otherwise an error page
    with ``status`` (404 for a part of the path, 400 for a query's value)."""
    if text is None or text.strip() == "":
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise PageError(status, f"{what} must be a whole number, got {text[:40]!r}") from None
    if not 0 <= value <= _MAX_INDEX:
        raise PageError(status, f"{what} {value:,} is out of range")
    return value


def _task(conn: Connection, run_id: str, task_id: str) -> tuple[queries.RunInfo, queries.TaskInfo]:
    """The run and its task ``task_id``; a 404 page when either is unknown."""
    run_id = run_id.lower()
    run = queries.get_run(conn, run_id) if len(run_id) == 32 else None
    if run is None:
        raise PageError(404, f"there is no run {run_id[:40]!r}")
    number = _whole(task_id, "a task id")
    try:
        found = next((t for t in queries.run_tasks(conn, run_id) if t.task_id == number), None)
    except UnknownRunError:
        found = None
    if found is None:
        raise PageError(404, f"run {run_id} has no task {number}")
    return run, found


def _task_ref(task: queries.TaskInfo) -> str:
    """How the store's queries name a task: its slug (else its name)."""
    return task.slug or task.name


@router.get("/runs/{run_id}/tasks/{task_id}", summary="A task and its children")
def task_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading, run_id: str, task_id: str,
              state: Annotated[list[str] | None, Query()] = None, cursor: str | None = None,
              start: Annotated[str | None, Query(alias="from")] = None, index: str | None = None,
              limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE) -> Response:
    """The task's state and, for a mapped task, its children counted by state and a
    page of ``limit`` of them: of the states ``state`` (any of them; none: every child
    that reported), from index ``from`` on, after ``cursor`` (the next page's);
    ``index`` opens that child's page."""
    run, task = _task(conn, run_id, task_id)
    base = f"/runs/{run.run_id}/tasks/{task.task_id}"
    wanted = [s for s in dict.fromkeys(state or []) if s]
    unknown = [s for s in wanted if s not in NAMES]
    if unknown:
        raise PageError(400, f"unknown state {unknown[0][:40]!r} (states: {', '.join(NAMES)})")
    children = next_url = None
    if task.is_mapped:
        jump = _whole(index, "index", 400)
        if jump is not None:
            return redirect(request, f"{base}/children/{jump}")
        first = _whole(start, "from index", 400)
        if cursor is None and first:
            cursor = queries.encode_cursor("children", first - 1)
        try:
            children = queries.task_children(conn, run.run_id, _task_ref(task), states=wanted or None,
                                             limit=limit, cursor=cursor)
        except queries.BadCursorError:
            raise PageError(400, "this page's cursor is not one this list gave out: start from the first page") \
                from None
        if children.next_cursor:
            sized = [("limit", str(limit))] if limit != PAGE_SIZE else []
            next_url = base + "?" + urllib.parse.urlencode([*(("state", s) for s in wanted), *sized,
                                                             ("cursor", children.next_cursor)])
    counts = ordered_counts(task.counts)
    reported = sum(counts.values())
    shown_states = list(dict.fromkeys([*counts, *wanted]))
    return render(request, "children.html", nav="runs", run=run, task=task, counts=counts, reported=reported,
                  unreported=max(0, (task.width or 0) - reported), children=children, next_url=next_url,
                  wanted=wanted, shown_states=shown_states, failed_states=FAILED, start=start or "",
                  base=base, paged=cursor is not None)


@router.get("/runs/{run_id}/tasks/{task_id}/children/{index}", summary="One child of a mapped task")
def child_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading, run_id: str, task_id: str,
               index: str) -> Response:
    """Child ``index`` of a mapped task: its state, message, run count, result location,
    traceback and first log records ("not reported yet" when it never reported; 404
    past the task's width)."""
    run, task = _task(conn, run_id, task_id)
    number = _whole(index, "a child's index")
    assert number is not None
    if not task.is_mapped or task.width is None:
        raise PageError(404, f"task {task.name!r} of run {run.run_id} is not mapped: it has no children")
    if number >= task.width:
        raise PageError(404, f"task {task.name!r} has {task.width:,} children (indices 0 to {task.width - 1:,}): "
                             f"there is no child {number:,}")
    found = queries.child(conn, run.run_id, _task_ref(task), number)
    logs = queries.run_logs(conn, run.run_id, task=_task_ref(task), map_index=number, limit=PAGE_SIZE)
    logs_url = f"/runs/{run.run_id}/logs?" + urllib.parse.urlencode({"task": _task_ref(task), "map_index": number})
    return render(request, "child.html", nav="runs", run=run, task=task, index=number, child=found, logs=logs,
                  logs_url=logs_url, base=f"/runs/{run.run_id}/tasks/{task.task_id}")

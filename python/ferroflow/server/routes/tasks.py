"""A run's tasks, a task's children (paged, by state), its failed children with
their tracebacks, and one child; and a run with its tasks in one answer (what
``ferroflow run --deployment NAME --wait`` polls)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ferroflow.server.auth import requires
from ferroflow.server.deps import Reading, RunId
from ferroflow.server.errors import Problem
from ferroflow.server.models import (
    MAX_INT32,
    NO_NUL,
    ChildOut,
    ChildPage,
    ChildQuery,
    PageQuery,
    RunOut,
    TaskOut,
    _Out,
)
from ferroflow.store import queries
from ferroflow.store.errors import UnknownRunError

__all__ = ["router"]

router = APIRouter(tags=["tasks"])

#: A task in a path: its slug, or its name when no other task has it (URL-encoded).
TaskName = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL,
                               description="The task's slug, or its name")]


def _page(found: queries.Page) -> ChildPage:
    return ChildPage(items=[ChildOut.model_validate(c) for c in found.items], next_cursor=found.next_cursor)


@router.get("/runs/{run_id}/tasks", response_model=list[TaskOut], dependencies=[requires("read")],
            summary="A run's tasks")
def list_tasks(run_id: RunId, conn: Reading) -> list[TaskOut]:
    """Every task of a run, in display order: its own state, its mapped children counted
    by state (``counts``), how many failed, its width and whether it is approved. The
    children themselves: ``.../tasks/{task}/children``."""
    return [TaskOut.model_validate(t) for t in queries.run_tasks(conn, run_id.lower())]


class ProgressOut(_Out):
    """A run and its tasks, read together."""

    run: RunOut
    tasks: list[TaskOut]


@router.get("/runs/{run_id}/progress", response_model=ProgressOut, dependencies=[requires("read")],
            summary="A run with its tasks")
def run_progress(run_id: RunId, conn: Reading) -> ProgressOut:
    """The run (as ``GET /runs/{run_id}``) and every task of it (as ``.../tasks``; none
    before it starts), read together: one request per look at a run being followed."""
    run_id = run_id.lower()
    found = queries.get_run(conn, run_id)
    if found is None:
        raise UnknownRunError(run_id, queries.location(conn))
    tasks = queries.run_tasks(conn, run_id)
    return ProgressOut(run=RunOut.model_validate(found), tasks=[TaskOut.model_validate(t) for t in tasks])


@router.get("/runs/{run_id}/tasks/{task:path}/children", response_model=ChildPage, dependencies=[requires("read")],
            summary="A task's children")
def list_children(run_id: RunId, task: TaskName, q: Annotated[ChildQuery, Query()],
                  conn: Reading) -> ChildPage:
    """A mapped task's children that reported, in index order, a page at a time,
    optionally of some states only (``state=Success``: the children that succeeded,
    though a plain success keeps no row of its own)."""
    try:
        found = queries.task_children(conn, run_id.lower(), task, states=q.state or None, limit=q.limit,
                                      cursor=q.cursor)
    except ValueError as exc:
        if isinstance(exc, queries.BadCursorError):
            raise
        raise Problem(422, str(exc), errors=[{"field": "query.state", "message": str(exc)}]) from exc
    return _page(found)


@router.get("/runs/{run_id}/tasks/{task:path}/failed", response_model=ChildPage, dependencies=[requires("read")],
            summary="A task's failed children, with tracebacks")
def list_failed(run_id: RunId, task: TaskName, q: Annotated[PageQuery, Query()],
                conn: Reading) -> ChildPage:
    """The children of a task that failed (``Failed``, ``TriggerFailed``,
    ``TimedOut``), in index order, with their messages and tracebacks."""
    return _page(queries.failed_children(conn, run_id.lower(), task, limit=min(q.limit, 200), cursor=q.cursor))


@router.get("/runs/{run_id}/tasks/{task:path}/children/{index}", response_model=ChildOut,
            dependencies=[requires("read")], summary="One child of a task")
def get_child(run_id: RunId, task: TaskName, index: Annotated[int, Path(ge=-1, le=MAX_INT32)],
              conn: Reading) -> ChildOut:
    """Child ``index`` of a task (-1: the task's own state), with its traceback."""
    found = queries.child(conn, run_id.lower(), task, index)
    if found is None:
        raise Problem(404, f"child {index} of task {task!r} of run {run_id.lower()} never reported")
    return ChildOut.model_validate(found)

"""The runs list (``/runs``), a run's page (``/runs/{run_id}``, live while the run is
not over) and its actions (cancel, resume, approve a paused task).

Every page is read with a few indexed queries whose cost does not grow with the number
of runs or of a mapped task's children: the list is one page of
:func:`ferroflow.store.queries.list_runs`; a run's page reads the run, its origin,
its tasks (children counted by state: one row per task and state) and its task times.
Nothing on a run's page is per child: a mapped task is a bar of its children's counts
and a link to its own page.

While a run has not ended, parts of its page are live (``ui.js`` polls them):
``/runs/{id}/live?part=head`` (state, timing, actions) and ``?part=tasks`` (the
timeline and the task table; ``run.js`` copies the task states into the graph's nodes,
so the graph is drawn once: ``?part=graph`` is polled only until the run's tasks are
recorded). A part answered once the run ended no longer asks to be polled.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from ferroflow.server.deps import Reading
from ferroflow.server.ui.graph import GraphTask, Picture, picture
from ferroflow.server.ui.pages.children import ordered_counts
from ferroflow.server.ui.web import PageError, Viewer, action, duration, page, redirect, render, state_class
from ferroflow.store import control, queries
from ferroflow.store.control import ApprovalError, StateConflictError
from ferroflow.store.errors import UnknownRunError
from ferroflow.store.queries import BadCursorError, RunInfo, TaskInfo, UnknownTaskError

__all__ = ["PAGE_SIZE", "TIMELINE_ROWS", "RunFilters", "Timeline", "TimelineRow", "read_filters",
           "router", "the_run", "timeline"]

router = APIRouter()

#: Runs on one page of the list.
PAGE_SIZE = 50
#: Most tasks the timeline draws (the first by start time; a note says how many more).
TIMELINE_ROWS = 500
#: Longest parameter value shown (its pretty JSON), in characters.
PARAMETER_CHARS = 20_000

_FULL_ID = re.compile(r"^[0-9a-f]{32}$")
_PREFIX = re.compile(r"^[0-9a-f]{8,31}$")


# ----- the runs list -----------------------------------------------------------------


@dataclass(frozen=True)
class RunFilters:
    """The list's filters as given (strings, for the form) and what they mean for
    :func:`~ferroflow.store.queries.list_runs` (``query``), with ``errors`` for those
    that mean nothing (left out of the query, named on the page)."""

    states: tuple[str, ...]
    flow: str
    tag: str
    id_prefix: str
    after: str
    before: str
    query: dict
    errors: tuple[str, ...]

    def url(self, cursor: str | None = None) -> str:
        """The list's URL with these filters (and ``cursor``)."""
        pairs: list[tuple[str, str]] = [("state", s) for s in self.states]
        pairs += [(k, v) for k, v in (("flow", self.flow), ("tag", self.tag), ("id", self.id_prefix),
                                      ("after", self.after), ("before", self.before)) if v]
        if cursor:
            pairs.append(("cursor", cursor))
        return "/runs" + ("?" + urlencode(pairs) if pairs else "")


def _day(text: str, name: str, errors: list[str]) -> float | None:
    """The start (UTC) of the day ``text`` (``YYYY-MM-DD``), or None (an error noted)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors.append(f"{name} {text!r} is not a date (YYYY-MM-DD): ignored")
        return None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def read_filters(request: Request) -> RunFilters:
    """The filters of the list's query string (see :class:`RunFilters`)."""
    params = request.query_params
    errors: list[str] = []
    query: dict[str, Any] = {}
    states = tuple(dict.fromkeys(s for s in params.getlist("state") if s))
    unknown = [s for s in states if s not in control.RUN_STATES]
    if unknown:
        errors.append(f"unknown state {', '.join(map(repr, unknown))} (states: {', '.join(control.RUN_STATES)}): "
                      f"ignored")
    known = [s for s in states if s in control.RUN_STATES]
    if known:
        query["states"] = known
    flow = params.get("flow", "").strip()[:200]
    if flow:
        query["flow_name"] = flow
    tag = params.get("tag", "").strip()[:200]
    if tag:
        query["tags"] = [tag]
    id_prefix = params.get("id", "").strip().lower()[:64]
    if id_prefix:
        if re.fullmatch(r"[0-9a-f]{1,32}", id_prefix):
            query["id_prefix"] = id_prefix
        else:
            errors.append(f"run id {id_prefix!r} is not the start of a run id (hex digits 0-9, a-f): ignored")
    after, before = params.get("after", "").strip()[:40], params.get("before", "").strip()[:40]
    if after and (at := _day(after, "started on or after", errors)) is not None:
        query["started_after"] = at
    if before and (at := _day(before, "started on or before", errors)) is not None:
        query["started_before"] = at + 86400.0  # (the whole day)
    return RunFilters(states, flow, tag, id_prefix, after, before, query, tuple(errors))


@router.get("/runs", summary="Runs")
def runs_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading,
              cursor: Annotated[str | None, Query(max_length=400)] = None) -> Response:
    """Runs newest first, filtered, a page at a time (one indexed query a page)."""
    filters = read_filters(request)
    errors = list(filters.errors)
    try:
        found = queries.list_runs(conn, limit=PAGE_SIZE, cursor=cursor or None, **filters.query)
    except BadCursorError:
        errors.append("that page link is out of date or was changed: showing the first page")
        found = queries.list_runs(conn, limit=PAGE_SIZE, **filters.query)
    next_url = filters.url(found.next_cursor) if found.next_cursor else None
    return render(request, "runs.html", nav="runs", runs=found.items, filters=filters, errors=errors,
                  states=control.RUN_STATES, next_url=next_url, first_url=filters.url() if cursor else None,
                  now=time.time())


# ----- a run's page ------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    task_id: int
    name: str
    state: str | None
    y: float
    x: float
    w: float
    title: str

    @property
    def css(self) -> str:
        return state_class(self.state)


@dataclass(frozen=True)
class Timeline:
    """When each task ran, laid out for the template: ``rows`` (a bar per task from
    its first report to its last, relative to the run's start), ``ticks`` (x, label),
    the picture's size and how many tasks had times (``total``) and are drawn."""

    width: float
    height: float
    left: float
    rows: list[TimelineRow]
    ticks: list[tuple[float, str]]
    total: int


_PLOT, _LABEL, _ROW, _AXIS = 760.0, 190.0, 18.0, 22.0


def timeline(tasks: list[TaskInfo], times: dict, start: float, end: float,
             limit: int = TIMELINE_ROWS, edges: list[tuple[int, int]] | None = None) -> Timeline | None:
    """The timeline of ``tasks`` from their ``times`` (task id -> ``[first, last]``
    report) between the run's ``start`` and ``end`` (now, for a run not over): the first
    ``limit`` tasks by start time. None when no task has times.

    The engine reports a task run when it ends (not when it starts), so a task's bar
    starts when it could start: when the last of its upstream tasks (``edges``) was last
    reported, or the run started (a root task), unless it was reported earlier than
    that; it ends at its last report. The bar is the window within which it ran. Without
    ``edges`` (a run recorded before schema 9) a bar starts at the task's first report."""
    named = {t.task_id: t for t in tasks}
    seen = {task_id: (float(v[0]), float(v[1])) for task_id, v in times.items()
            if task_id in named and isinstance(v, list) and len(v) == 2}
    if not seen:
        return None
    upstream: dict[int, list[int]] = {}
    for up, down in edges or ():
        upstream.setdefault(down, []).append(up)
    origin = min(start, min(first for first, _ in seen.values()))
    spans = []
    for task_id, (first, last) in seen.items():
        if edges is None:  # (not recorded: the first report is all there is)
            spans.append((first, last, task_id))
            continue
        ready = max((seen[u][1] for u in upstream.get(task_id, ()) if u in seen), default=origin)
        spans.append((min(first, ready), last, task_id))
    spans.sort()
    span = max(end - origin, max(s[1] for s in spans) - origin, 1e-3)
    scale = _PLOT / span
    rows = []
    for i, (first, last, task_id) in enumerate(spans[:limit]):
        task = named[task_id]
        x = _LABEL + (first - origin) * scale
        w = max(2.0, (last - first) * scale)
        title = f"{task.name}: {task.state or 'not reported'}, from +{duration(first - origin)} for " \
                f"{duration(last - first)}"
        rows.append(TimelineRow(task_id, task.name, task.state, round(_AXIS + i * _ROW, 1), round(x, 1),
                                round(min(w, _LABEL + _PLOT - x + 2), 1), title))
    ticks = [(round(_LABEL + _PLOT * i / 5, 1), "+" + duration(span * i / 5) if i else "0") for i in range(6)]
    return Timeline(_LABEL + _PLOT + 60, _AXIS + len(rows) * _ROW + 4, _LABEL, rows, ticks, len(spans))


def _full_id(run_id: str) -> str:
    """A run id of a path, lower-cased: a full id, else a 404 page."""
    found = run_id.strip().lower()
    if not _FULL_ID.match(found):
        raise PageError(404, f"{run_id[:80]!r} is not a run id (32 hex digits)")
    return found


def the_run(conn: Connection, run_id: str) -> RunInfo:
    """The run of a path's full id, or a 404 page."""
    run = queries.get_run(conn, _full_id(run_id))
    if run is None:
        raise PageError(404, f"no run has the id {run_id[:80]}")
    return run


def _pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= PARAMETER_CHARS else text[:PARAMETER_CHARS] + f"\n… ({len(text):,} characters)"


#: The most subflow runs the run page's header lists (newest first).
SUBFLOWS_SHOWN = 20


def _head(conn: Connection, run: RunInfo, now: float) -> dict:
    """What the run page's header shows (the ``head`` part)."""
    origin = queries.run_origin(conn, run.run_id)
    resumed_by = queries.list_runs(conn, resumed_from=run.run_id, limit=10).items
    # (schema 11) the run it is a subflow run of, and its own subflow runs, newest first
    parent = queries.get_run(conn, run.parent_run_id) if run.parent_run_id else None
    subflows = queries.list_runs(conn, parent_run_id=run.run_id, limit=SUBFLOWS_SHOWN + 1).items
    not_started = run.state in control.NOT_STARTED
    if run.ended_at is not None and not not_started:
        took: float | None = run.ended_at - run.started_at
    elif run.state in ("Running", "Cancelling"):
        took = now - run.started_at
    else:
        took = None
    return {"run": run, "origin": origin, "resumed_by": resumed_by, "not_started": not_started, "took": took,
            "parent": parent, "subflows": subflows[:SUBFLOWS_SHOWN], "more_subflows": len(subflows) > SUBFLOWS_SHOWN,
            "live": run.state not in control.ENDED_STATES,
            "can_cancel": run.state in control.CANCELLABLE and run.state != "Cancelling",
            "can_resume": run.state in control.RESUMABLE and origin is not None and origin.deployment is not None,
            "resume_command": run.state in control.RESUMABLE and (origin is None or origin.deployment_id is None)}


def _tasks(conn: Connection, run: RunInfo, now: float) -> dict:
    """What the run page's task parts show (the ``tasks`` part): the task table, the
    timeline, the graph's edges."""
    tasks = queries.run_tasks(conn, run.run_id)
    edges, times = queries.run_timing(conn, run.run_id)
    end = run.ended_at if run.ended_at is not None and run.state in control.ENDED_STATES else now
    return {"tasks": tasks, "ordered": ordered_counts, "edges": edges,
            "timeline": timeline(tasks, times, run.started_at, end, edges=edges),
            "live": run.state not in control.ENDED_STATES,
            "can_approve": run.state not in ("Running", "Cancelling", "Pending")}


def _graph(run: RunInfo, tasks: list[TaskInfo], edges: list[tuple[int, int]] | None) -> Picture | None:
    """The run's graph (None: its edges were not recorded, or it has no tasks yet)."""
    if edges is None or not tasks:
        return None
    return picture([GraphTask(t.task_id, t.name, t.state, mapped=t.is_mapped, counts=t.counts, width=t.width)
                    for t in tasks], edges, run_id=run.run_id)


def _waiting(task: TaskInfo) -> bool:
    """Whether a task paused (or some of its children did): what may be approved."""
    return task.state == "Paused" or bool(task.counts.get("Paused"))


@router.get("/runs/{run_id}", summary="A run")
def run_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading, run_id: str) -> Response:
    """A run: header, parameters, graph, timeline, tasks, actions. An abbreviated id
    (8 hex digits or more) of exactly one run redirects to its full id."""
    wanted = run_id.strip().lower()
    if _PREFIX.match(wanted):
        found = queries.list_runs(conn, id_prefix=wanted, limit=2).items
        if len(found) == 1:
            return redirect(request, f"/runs/{found[0].run_id}")
        if found:
            raise PageError(404, f"several runs have ids starting with {wanted}: give more of the id")
        raise PageError(404, f"no run has an id starting with {wanted}")
    run = the_run(conn, run_id)
    now = time.time()
    parameters = [(name, _pretty(value)) for name, value in sorted(run.parameters.items())]
    tasks = _tasks(conn, run, now)
    return render(request, "run.html", nav="runs", now=now, parameters=parameters, waiting=_waiting,
                  graph=_graph(run, tasks["tasks"], tasks["edges"]), **{**_head(conn, run, now), **tasks})


@router.get("/runs/{run_id}/live", summary="A live part of a run's page")
def run_live(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading, run_id: str,
             part: Annotated[str, Query(pattern="^(head|tasks|graph)$")] = "head") -> Response:
    """The run page's ``head``, ``tasks`` or ``graph`` part, as HTML, for ``ui.js`` to
    put in place (polled every 2 s while the run is not over; the graph only until the
    run's tasks are recorded: it is drawn once, ``run.js`` colors it)."""
    run = the_run(conn, run_id)
    now = time.time()
    if part == "head":
        return render(request, "partials/run_head.html", now=now, **_head(conn, run, now))
    tasks = _tasks(conn, run, now)
    if part == "tasks":
        return render(request, "partials/run_tasks.html", now=now, run=run, waiting=_waiting, **tasks)
    return render(request, "partials/run_graph.html", run=run, graph=_graph(run, tasks["tasks"], tasks["edges"]),
                  **tasks)


# ----- actions -----------------------------------------------------------------------


def _back(run_id: str) -> str:
    return f"/runs/{run_id}"


@router.post("/runs/{run_id}/cancel", summary="Cancel a run")
def cancel(request: Request, viewer: Annotated[Viewer, action("run")], run_id: str) -> Response:
    """Cancel the run (a running one is asked to stop: ``Cancelling``). The form's
    ``version`` is the run's state version the page showed: if it changed since,
    nothing is done and the note says what it is now."""
    run_id = _full_id(run_id)
    version = request.state.form.get("version")
    expected = int(version) if isinstance(version, str) and version.isdigit() else None
    try:
        run = control.cancel_run(request.app.state.engine, run_id, expected)
    except UnknownRunError:
        raise PageError(404, f"no run has the id {run_id}") from None
    except StateConflictError as exc:
        return redirect(request, _back(run_id), note=f"Not cancelled: {exc}")
    note = "Cancelled." if run.state == "Cancelled" else "Cancellation requested: the run is being stopped."
    return redirect(request, _back(run_id), note=note)


@router.post("/runs/{run_id}/resume", summary="Resume a run of a deployment")
def resume(request: Request, viewer: Annotated[Viewer, action("run")], run_id: str) -> Response:
    """Make a new run of the deployment that resumes this one
    (:func:`ferroflow.store.control.resume_run`); a worker picks it up."""
    run_id = _full_id(run_id)
    try:
        made = control.resume_run(request.app.state.engine, run_id)
    except UnknownRunError:
        raise PageError(404, f"no run has the id {run_id}") from None
    except StateConflictError as exc:
        return redirect(request, _back(run_id), note=f"Not resumed: {exc}")
    return redirect(request, _back(run_id), note=f"Resumed: run {made.run_id} resumes this one; a worker of the "
                                                   f"deployment's pool will pick it up.")


@router.post("/runs/{run_id}/approve", summary="Approve a paused task")
def approve(request: Request, viewer: Annotated[Viewer, action("run")], run_id: str) -> Response:
    """Approve the form's ``task`` (its slug or name) to go on past its pause when the
    run is resumed."""
    run_id = _full_id(run_id)
    task = request.state.form.get("task")
    if not isinstance(task, str) or not task:
        return redirect(request, _back(run_id), note="Not approved: no task was named.")
    try:
        found, _ = control.approve_task(request.app.state.engine, run_id, task)
    except UnknownRunError:
        raise PageError(404, f"no run has the id {run_id}") from None
    except (StateConflictError, ApprovalError, UnknownTaskError) as exc:
        return redirect(request, _back(run_id), note=f"Not approved: {exc}")
    return redirect(request, _back(run_id), note=f"Approved {found.name!r}: resume the run to let it go on past "
                                                   f"its pause.")


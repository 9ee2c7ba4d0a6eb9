"""A run's logs (``/runs/{run_id}/logs``): filtered by minimum level, text, task and
map index, a page at a time (:func:`ferroflow.store.queries.run_logs`), and followed
live: ``static/logs.js`` asks ``/runs/{run_id}/logs/tail`` for the lines after the
last one shown and appends them, until the run ended and nothing new came."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from ferroflow.server.deps import Reading
from ferroflow.server.ui.pages.runs import the_run
from ferroflow.server.ui.web import Viewer, page, render
from ferroflow.store import control, queries
from ferroflow.store.queries import BadCursorError, Page, UnknownTaskError

__all__ = ["LEVELS", "LogFilters", "PAGE_LINES", "TAIL_LINES", "read_log_filters", "router"]

router = APIRouter()

#: The levels a page can start from (the minimum shown).
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
#: Lines on one page.
PAGE_LINES = 200
#: Most lines one poll of the tail brings.
TAIL_LINES = 500


@dataclass(frozen=True)
class LogFilters:
    """The filters as given (strings, for the form), the arguments they make for
    :func:`~ferroflow.store.queries.run_logs` (``query``) and ``errors`` for those
    that mean nothing (left out, named on the page)."""

    level: str
    text: str
    task: str
    index: str
    query: dict
    errors: tuple[str, ...]

    def pairs(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in (("level", self.level), ("q", self.text), ("task", self.task),
                                    ("index", self.index)) if v]

    def url(self, run_id: str, cursor: str | None = None, tail: bool = False) -> str:
        """The logs page's URL (or, with ``tail``, its tail's) with these filters."""
        pairs = self.pairs() + ([("cursor", cursor)] if cursor and not tail else [])
        path = f"/runs/{run_id}/logs" + ("/tail" if tail else "")
        return path + ("?" + urlencode(pairs) if pairs else "")


def read_log_filters(request: Request) -> LogFilters:
    """The filters of the query string (see :class:`LogFilters`)."""
    params = request.query_params
    errors: list[str] = []
    query: dict[str, Any] = {}
    level = params.get("level", "").strip().upper()
    if level in LEVELS:
        query["min_level"] = LEVELS[level]
    elif level:
        errors.append(f"unknown level {level[:40]!r} (levels: {', '.join(LEVELS)}): showing every level")
        level = ""
    text = params.get("q", "")[:200]
    if text.strip():
        query["text"] = text
    task = params.get("task", "").strip()[:200]
    if task:
        query["task"] = task
    index = params.get("index", "").strip()[:20]
    if index:
        try:
            number = int(index)
            if number < -1:
                raise ValueError
        except ValueError:
            errors.append(f"map index {index!r} is not a child's index (0, 1, ...; -1: the task itself): ignored")
            index = ""
        else:
            query["map_index"] = number
    return LogFilters(level, text, task, index, query, tuple(errors))


def _lines(conn: Connection, run_id: str, filters: LogFilters, errors: list[str], cursor: str | None,
           limit: int, follow: bool = False) -> Page:
    """A page of the run's lines; the filters and cursor that mean nothing are dropped
    (and said so in ``errors``)."""
    query = dict(filters.query)
    for _ in range(3):
        try:
            return queries.run_logs(conn, run_id, limit=limit, cursor=cursor, follow=follow, **query)
        except UnknownTaskError as exc:
            errors.append(f"{exc}: showing every task")
            query.pop("task", None)
        except BadCursorError:
            errors.append("that page link is out of date or was changed: showing the first page")
            cursor = None
    return Page([], None)


@router.get("/runs/{run_id}/logs", summary="A run's logs")
def logs_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading, run_id: str,
              cursor: Annotated[str | None, Query(max_length=400)] = None) -> Response:
    """The run's log lines in the order they came, filtered, a page at a time."""
    run = the_run(conn, run_id)
    filters = read_log_filters(request)
    errors = list(filters.errors)
    found = _lines(conn, run.run_id, filters, errors, cursor or None, PAGE_LINES)
    after = found.next_cursor
    if after is None and found.items:  # the last page: where the tail goes on from
        after = _lines(conn, run.run_id, filters, [], cursor or None, PAGE_LINES, follow=True).next_cursor
    elif after is None:
        after = cursor or ""
    tasks = queries.run_tasks(conn, run.run_id)
    return render(request, "logs.html", nav="runs", run=run, lines=found.items, filters=filters, errors=errors,
                  levels=list(LEVELS), tasks=tasks, after=after or "",
                  next_url=filters.url(run.run_id, found.next_cursor) if found.next_cursor else None,
                  first_url=filters.url(run.run_id) if cursor else None,
                  tail_url=filters.url(run.run_id, tail=True), ended=run.state in control.ENDED_STATES)


@router.get("/runs/{run_id}/logs/tail", summary="A run's newest log lines (for following)")
def logs_tail(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading, run_id: str,
              after: Annotated[str | None, Query(max_length=400)] = None) -> Response:
    """The lines after the cursor ``after`` (none: from the first), as table rows for
    ``logs.js`` to append; the root element says where to go on from
    (``data-after``), whether more are waiting (``data-more``) and whether the run
    ended (``data-ended``)."""
    run = the_run(conn, run_id)
    ended = run.state in control.ENDED_STATES  # (read before the lines: none may come after "ended")
    filters = read_log_filters(request)
    found = _lines(conn, run.run_id, filters, [], after or None, TAIL_LINES, follow=True)
    return render(request, "partials/log_lines.html", run=run, lines=found.items, after=found.next_cursor or "",
                  more=len(found.items) >= TAIL_LINES, ended=ended)

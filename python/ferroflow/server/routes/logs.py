"""``/runs/{run_id}/logs``: a run's log records, filtered, a page at a time."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query

from ferroflow.server.auth import requires
from ferroflow.server.deps import Reading, RunId
from ferroflow.server.errors import Problem
from ferroflow.server.models import LogPage, LogQuery
from ferroflow.store import queries

__all__ = ["router", "parse_level"]

router = APIRouter(tags=["logs"])

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "WARN": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


def parse_level(text: str) -> int:
    """A log level given as a number (0-100) or a name; ValueError otherwise."""
    if text.strip().lstrip("-").isdigit():
        value = int(text)
        if 0 <= value <= 100:
            return value
    elif text.strip().upper() in _LEVELS:
        return _LEVELS[text.strip().upper()]
    raise ValueError(f"min_level {text!r} is not a level: a number from 0 to 100, or DEBUG, INFO, WARNING, ERROR, "
                     f"CRITICAL")


@router.get("/runs/{run_id}/logs", response_model=LogPage, dependencies=[requires("read")], summary="A run's logs")
def run_logs(run_id: RunId, q: Annotated[LogQuery, Query()], conn: Reading) -> LogPage:
    """A run's log records in the order they arrived, a page at a time: of one task
    (slug or name) and one of its children, at a level or above, containing a text
    (ignoring case)."""
    if q.map_index is not None and q.task is None:
        raise Problem(422, "map_index needs task: name the mapped task whose child it is",
                      errors=[{"field": "query.map_index", "message": "needs query.task"}])
    try:
        level = None if q.min_level is None else parse_level(q.min_level)
    except ValueError as exc:
        raise Problem(422, str(exc), errors=[{"field": "query.min_level", "message": str(exc)}]) from exc
    page = queries.run_logs(conn, run_id.lower(), task=q.task, map_index=q.map_index, min_level=level, text=q.text,
                            limit=q.limit, cursor=q.cursor)
    return LogPage(items=page.items, next_cursor=page.next_cursor)

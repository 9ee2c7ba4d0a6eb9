"""Flows: ``/flows`` (every flow the server has seen, by name, a page at a time, each with
its latest run, its runs of the last 7 days by state and its deployments) and
``/flows/{name}`` (one flow: its deployments, recent runs, its parameters as last
seen with their defaults, and the values its latest run was given).

The list reads a page of :func:`ferroflow.store.queries.list_flows` and then, for the
flows of that page only, one grouped count (:mod:`ferroflow.store.overview`).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ferroflow.server.deps import Reading
from ferroflow.server.ui.pages.children import ordered_counts
from ferroflow.server.ui.web import PageError, Viewer, page, render
from ferroflow.store import overview, queries

__all__ = ["WEEK", "json_text", "router"]

router = APIRouter()

#: The window of the run counts the flows list shows.
WEEK = 7 * 86400.0
_PAGE = 50


def json_text(value: Any) -> str:
    """A JSON value as text to show (escaped by the template like any text)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@router.get("/flows", summary="Flows")
def flows_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading,
               cursor: str | None = None) -> Response:
    """Flows by name, with their latest run, runs of the last 7 days by state and
    deployments."""
    now = time.time()
    try:
        found = queries.list_flows(conn, limit=_PAGE, cursor=cursor)
    except queries.BadCursorError:
        raise PageError(400, "this page's cursor is not one this list gave out: start from the first page") from None
    names = [f.name for f in found.items]
    counts = overview.run_counts_since(conn, names, now - WEEK, now + 1)
    latest = overview.latest_runs(conn, names, now)
    deployed = overview.deployments_of_flows(conn, names)
    rows = [{"flow": f, "latest": latest.get(f.name), "counts": ordered_counts(counts.get(f.name, {})),
             "deployments": deployed.get(f.name, [])} for f in found.items]
    next_url = "/flows?" + urllib.parse.urlencode({"cursor": found.next_cursor}) if found.next_cursor else None
    return render(request, "flows.html", nav="flows", rows=rows, next_url=next_url, now=now)


@router.get("/flows/{name:path}", summary="A flow")
def flow_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading, name: str) -> Response:
    """One flow: its deployments, runs of the last 7 days by state, recent runs and its
    parameters (default as last seen; value in the latest run)."""
    found = queries.get_flow(conn, name)
    if found is None:
        raise PageError(404, f"there is no flow {name[:200]!r} (flows appear when they first run)")
    now = time.time()
    recent = queries.list_runs(conn, flow_name=name, started_before=now + 1, limit=20).items
    counts = ordered_counts(overview.run_counts_since(conn, [name], now - WEEK, now + 1).get(name, {}))
    deployed = overview.deployments_of_flows(conn, [name]).get(name, [])
    given = recent[0].parameters if recent else {}
    parameters = [(k, "—" if found.parameters.get(k) is None else json_text(found.parameters[k]),
                   json_text(given[k]) if k in given else "—")
                  for k in sorted(set(found.parameters) | set(given))]
    return render(request, "flow.html", nav="flows", flow=found, recent=recent, counts=counts, deployed=deployed,
                  parameters=parameters, now=now)

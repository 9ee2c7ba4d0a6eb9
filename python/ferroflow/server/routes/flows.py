"""``/flows``: the flows the server has seen runs of."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ferroflow.server.auth import requires
from ferroflow.server.deps import Reading
from ferroflow.server.errors import Problem
from ferroflow.server.models import NO_NUL, FlowOut, FlowPage, PageQuery
from ferroflow.store import queries

__all__ = ["router"]

router = APIRouter(tags=["flows"])


@router.get("/flows", response_model=FlowPage, dependencies=[requires("read")], summary="List flows")
def list_flows(page: Annotated[PageQuery, Query()], conn: Reading) -> FlowPage:
    """Flows by name, a page at a time (give ``next_cursor`` back as ``cursor``)."""
    found = queries.list_flows(conn, limit=page.limit, cursor=page.cursor)
    return FlowPage(items=[FlowOut.model_validate(f) for f in found.items], next_cursor=found.next_cursor)


@router.get("/flows/{name:path}", response_model=FlowOut, dependencies=[requires("read")], summary="Get a flow")
def get_flow(name: Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL, description="The flow's name")],
             conn: Reading) -> FlowOut:
    """One flow, by name (URL-encoded)."""
    found = queries.get_flow(conn, name)
    if found is None:
        raise Problem(404, f"no flow named {name[:200]!r} (see GET /api/v1/flows)")
    return FlowOut.model_validate(found)

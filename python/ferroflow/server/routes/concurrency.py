"""``/api/v1/concurrency-limits``: tag concurrency limits (at most N task runs carrying
a tag run at once, across every run), and the slots task runs take and free.

| Method and path | Role | Answer |
|---|---|---|
| ``GET /concurrency-limits`` | read | every limit, by tag, with its slots in use |
| ``GET /concurrency-limits/{tag}`` | read | one limit |
| ``PUT /concurrency-limits/{tag}`` | admin | the limit; 201 when new, 200 when changed |
| ``DELETE /concurrency-limits/{tag}`` | admin | 204 |
| ``POST /concurrency-limits/acquire`` | run | ``{acquired, blocked_by, run_state}`` |
| ``POST /concurrency-limits/release`` | run | ``{released}``: slots freed (a task run's or a flow run's) |

Setting or deleting a limit changes how every team's runs are throttled (a limit of 0
stops a tag altogether), so it needs ``admin``; taking and freeing slots is what a
running flow does, so ``run`` (the role that records runs). The rules are
:mod:`ferroflow.store.concurrency`'s.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import Field

from ferroflow.server.auth import requires
from ferroflow.server.deps import DB
from ferroflow.server.errors import Problem
from ferroflow.server.models import Tag, _In, _Out
from ferroflow.store import concurrency as store

__all__ = ["router"]

router = APIRouter(prefix="/concurrency-limits", tags=["concurrency limits"])

TagPath = Annotated[str, Path(min_length=1, max_length=store.MAX_TAG, pattern=r"^[^\x00/]+$",
                              description="The tag")]
Holder = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00]+$",
                              description="The task run taking the slots (unique per acquisition)")]


class LimitIn(_In):
    """A tag's limit."""

    slots: int = Field(ge=0, le=1_000_000, strict=True, description="Task runs of the tag at once (0: none runs)")


class LimitOut(_Out):
    """A tag's limit and the slots held now."""

    tag: str
    slots: int
    in_use: int
    created_at: float
    updated_at: float


class AcquireIn(_In):
    """Slots to take for one task run: one of each limited tag of ``tags``, or none."""

    run_id: str = Field(pattern=r"^[0-9a-fA-F]{32}$", description="The flow run's id")
    holder: Holder
    tags: Annotated[list[Tag], Field(max_length=100)]


class AcquireOut(_Out):
    """Whether the slots were taken; else the tags at their limit (``blocked_by``), or
    the state of a flow run that may take no slot (``run_state``: it ended or is being
    cancelled)."""

    acquired: bool
    blocked_by: list[str]
    run_state: str | None = None


class ReleaseIn(_In):
    """Whose slots to free: a task run's (``holder``) or every task run's of a flow run
    (``run_id``, once it ended); exactly one of them."""

    holder: Holder | None = None
    run_id: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$", description="The flow run's id")


class ReleaseOut(_Out):
    """How many slots were freed."""

    released: int


@router.get("", response_model=list[LimitOut], dependencies=[requires("read")], summary="List concurrency limits")
def list_limits(db: DB) -> list[LimitOut]:
    """Every tag concurrency limit, by tag, with its slots in use."""
    return [LimitOut.model_validate(x) for x in store.list_limits(db)]


@router.post("/acquire", response_model=AcquireOut, dependencies=[requires("run")], summary="Take slots")
def acquire(body: AcquireIn, db: DB) -> AcquireOut:
    """Take one slot of each limited tag for a task run, all or none (tags with no limit
    are ignored; a holder's slots already held count as taken)."""
    try:
        found = store.acquire_slots(db, body.run_id.lower(), body.holder, body.tags)
    except store.LimitError as exc:
        raise Problem(422, str(exc)) from None
    return AcquireOut(acquired=found.acquired, blocked_by=found.blocked_by, run_state=found.run_state)


@router.post("/release", response_model=ReleaseOut, dependencies=[requires("run")], summary="Free slots")
def release(body: ReleaseIn, db: DB) -> ReleaseOut:
    """Free every slot a task run holds (``holder``), or every task run of a flow run
    (``run_id``)."""
    if (body.holder is None) == (body.run_id is None):
        raise Problem(422, "give exactly one of holder (a task run's slots) and run_id (a flow run's)")
    if body.holder is not None:
        return ReleaseOut(released=store.release_slots(db, body.holder))
    return ReleaseOut(released=store.release_run(db, str(body.run_id).lower()))


@router.get("/{tag}", response_model=LimitOut, dependencies=[requires("read")], summary="Get a concurrency limit")
def get_limit(tag: TagPath, db: DB) -> LimitOut:
    """One tag's limit and its slots in use."""
    try:
        return LimitOut.model_validate(store.get_limit(db, tag))
    except store.UnknownLimitError as exc:
        raise Problem(404, str(exc)) from None


@router.put("/{tag}", response_model=LimitOut, dependencies=[requires("admin")], status_code=200,
            summary="Set a concurrency limit", responses={201: {"description": "A new limit", "model": LimitOut}})
def put_limit(tag: TagPath, body: LimitIn, response: Response, db: DB) -> LimitOut:
    """Set tag ``tag``'s limit (201 when new). Lowering it takes no slot back."""
    try:
        found, created = store.set_limit(db, tag, body.slots)
    except store.LimitError as exc:
        raise Problem(422, str(exc)) from None
    if created:
        response.status_code = 201
    return LimitOut.model_validate(found)


@router.delete("/{tag}", status_code=204, dependencies=[requires("admin")], summary="Delete a concurrency limit")
def delete_limit(tag: TagPath, db: DB) -> Response:
    """Delete tag ``tag``'s limit: its task runs are no longer limited."""
    try:
        store.delete_limit(db, tag)
    except store.UnknownLimitError as exc:
        raise Problem(404, str(exc)) from None
    return Response(status_code=204)

"""``/runs``: create, list, get, set state, cancel, approve."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from sqlalchemy import Connection

from ferroflow.server.auth import requires
from ferroflow.server.deps import DB, Reading, RunId
from ferroflow.server.models import (
    ApprovalIn,
    ApprovalOut,
    CancelIn,
    RunIn,
    RunOut,
    RunPage,
    RunQuery,
    StateIn,
    TaskOut,
)
from ferroflow.store import control, queries
from ferroflow.store.errors import UnknownRunError

__all__ = ["router"]

router = APIRouter(tags=["runs"])

_CONFLICT: dict[int | str, dict[str, Any]] = {409: {
    "description": "The run changed since the client saw it, or is in a state the change does not apply to (the "
                   "problem's `state` and `state_version` say how it is now)"}}


@router.post("/runs", response_model=RunOut, status_code=201, dependencies=[requires("run")],
             summary="Create a run", responses={200: {"description": "The run made earlier with this idempotency key",
                                                      "model": RunOut}, **_CONFLICT})
def create_run(body: RunIn, response: Response, db: DB) -> RunOut:
    """A new run of a flow in state ``Scheduled`` (201). With an ``idempotency_key``
    used before, the run made then (200); with other values than then, 409."""
    run, created = control.create_run(db, body.flow_name, body.parameters, body.tags, body.idempotency_key,
                                      body.scheduled_start)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/runs/{run.run_id}"
    return RunOut.model_validate(run)


@router.get("/runs", response_model=RunPage, dependencies=[requires("read")], summary="List runs")
def list_runs(q: Annotated[RunQuery, Query()], conn: Reading) -> RunPage:
    """Runs newest first, filtered, a page at a time (give ``next_cursor`` back as
    ``cursor``, with the same filters)."""
    page = queries.list_runs(conn, flow_name=q.flow, states=q.state or None, started_after=q.started_after,
                             started_before=q.started_before, tags=q.tag,
                             id_prefix=q.id_prefix.lower() if q.id_prefix else None, limit=q.limit, cursor=q.cursor,
                             resumed_from=q.resumed_from.lower() if q.resumed_from else None,
                             parent_run_id=q.parent_run_id.lower() if q.parent_run_id else None)
    return RunPage(items=[RunOut.model_validate(r) for r in page.items], next_cursor=page.next_cursor)


def _run(conn: Connection, run_id: str) -> queries.RunInfo:
    found = queries.get_run(conn, run_id.lower())
    if found is None:
        raise UnknownRunError(run_id, queries.location(conn))
    return found


@router.get("/runs/{run_id}", response_model=RunOut, dependencies=[requires("read")], summary="Get a run")
def get_run(run_id: RunId, conn: Reading) -> RunOut:
    """One run, by its full id."""
    return RunOut.model_validate(_run(conn, run_id))


@router.post("/runs/{run_id}/state", response_model=RunOut, dependencies=[requires("run")],
             summary="Set a run's state", responses=_CONFLICT)
def set_state(run_id: RunId, body: StateIn, db: DB) -> RunOut:
    """Set the state (and message) of a run. Send ``expected_version`` (the run's
    ``state_version`` as you read it): if the run changed since, nothing is changed and
    the answer is 409. Entering an ended state sets ``ended_at``; ``Running`` from a
    state not started yet sets ``started_at``."""
    return RunOut.model_validate(control.set_state(db, run_id.lower(), body.state, body.message,
                                                   body.expected_version))


@router.post("/runs/{run_id}/cancel", response_model=RunOut, dependencies=[requires("run")],
             summary="Cancel a run", responses=_CONFLICT)
def cancel_run(run_id: RunId, db: DB,
               body: Annotated[CancelIn | None, Body()] = None) -> RunOut:
    """A ``Running`` run becomes ``Cancelling`` (its worker stops it and makes it
    ``Cancelled``); one not started yet (``Scheduled``, ``Late``, ``Pending``) or
    ``Paused`` becomes ``Cancelled``; a ``Cancelling`` one stays so. A run that ended
    otherwise: 409."""
    return RunOut.model_validate(control.cancel_run(db, run_id.lower(), body.expected_version if body else None))


@router.post("/runs/{run_id}/approvals", response_model=ApprovalOut, dependencies=[requires("run")],
             summary="Approve a paused task", responses=_CONFLICT)
def approve(run_id: RunId, body: ApprovalIn, db: DB) -> ApprovalOut:
    """Approve a task (by name or slug) that paused (``pause_task``, ``manual_only``)
    or waited behind a pause in this run, as ``flow.run(resume=RUN_ID,
    approve=TASK)`` would: resuming the run then lets it go on (``ferroflow run FLOW.py
    --resume RUN_ID`` needs no ``--approve``). A task that neither paused nor waited,
    or a run still running: 409."""
    run_id = run_id.lower()
    task, approved = control.approve_task(db, run_id, body.task)
    return ApprovalOut(run_id=run_id, task=TaskOut.model_validate(task), approved=[t.name for t in approved],
                       next_step=f"resume the run: `ferroflow run FLOW_FILE --resume {run_id}` or "
                                 f"flow.run(resume={run_id!r}); approved tasks go on past their pause")

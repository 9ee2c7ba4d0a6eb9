"""``/api/v1/runs/{run_id}/resume``: resuming a run.

``POST``: resume a run of a deployment that ended (``Failed``, ``Crashed``,
``Cancelled``, ``Paused``): a new ``Scheduled`` run of the deployment, resuming it, that a
worker picks up (:func:`ferroflow.store.control.resume_run`; role ``run``).

``GET``: what resuming a run elsewhere needs.

A run resumed through a server (``flow.run(resume=RUN_ID, server=URL)``, ``ferroflow run
--resume RUN_ID`` with ``FERROFLOW_API_URL``) reads the earlier run's record here: per
task and child, the recorded codes and result locations (never values: results stay
where the run kept them), and the parameters the run used, pickled, so that a
parameter that JSON cannot hold comes back as it was. Both travel in the wire form of
:mod:`ferroflow.store.wire`; role ``run`` (whoever may run flows may resume them).
"""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ferroflow.server.auth import requires
from ferroflow.server.deps import DB, RunId
from ferroflow.server.errors import Problem
from ferroflow.server.models import RunOut
from ferroflow.server.routes.ingest import run_store
from ferroflow.store import control
from ferroflow.store.errors import UnknownRunError
from ferroflow.store.wire import dumps

router = APIRouter(tags=["runs"])


@router.get("/runs/{run_id}/resume", dependencies=[requires("run")],
            summary="What resuming a run needs (wire form)",
            responses={200: {"content": {"application/json": {}},
                             "description": "{\"info\": ResumeInfo, \"parameters\": {name: [pickle, problem]} or "
                                            "null}, in the wire form of ferroflow.store.wire"}})
async def resume_record(run_id: RunId, request: Request) -> Response:
    store = await run_in_threadpool(run_store, request.app)
    try:
        info, parameters = await run_in_threadpool(_read, store, run_id.lower())
    except UnknownRunError:
        raise Problem(404, f"no run has the id {run_id}") from None
    return Response(dumps({"info": info, "parameters": parameters}), media_type="application/json")


@router.post("/runs/{run_id}/resume", response_model=RunOut, status_code=201, dependencies=[requires("run")],
             summary="Resume a run of a deployment",
             responses={409: {"description": "The run is not of a deployment, has not ended Failed, Crashed, "
                                             "Cancelled or Paused, or a resume of it is still to start or running"}})
def resume_run(run_id: RunId, response: Response, db: DB) -> RunOut:
    """A new run of the run's deployment, ``Scheduled`` now, that resumes it
    (``resumed_from``): a worker of the deployment's pool claims it and runs the flow
    from the earlier run's checkpoints, with its parameters; tasks approved
    (``POST /runs/{run_id}/approvals``) go on past their pause. The run must have ended
    ``Failed``, ``Crashed``, ``Cancelled`` or ``Paused``; while a resume of it is still
    to start or running, 409 names that run. A run of no deployment: 409 (resume it
    where it ran: ``ferroflow run FLOW_FILE --resume RUN_ID``)."""
    made = control.resume_run(db, run_id.lower())
    response.headers["Location"] = f"/api/v1/runs/{made.run_id}"
    return RunOut.model_validate(made)


#: How many of a run's fields the resume record sends: those a ferroflow before schema 10
#: knows (its client builds a RunSummary of them all; resuming needs no more).
RUN_FIELDS = 11


def _read(store, run_id: str) -> tuple:
    info = store.resume_info(run_id)
    tasks = {task_id: dataclasses.astuple(task) for task_id, task in info.tasks.items()}
    return (dataclasses.astuple(info.run)[:RUN_FIELDS], tasks), store.recorded_parameters(run_id)

"""``GET /api/v1/runs/{run_id}/resume``: what resuming a run elsewhere needs.

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
from ferroflow.server.deps import RunId
from ferroflow.server.errors import Problem
from ferroflow.server.routes.ingest import run_store
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


def _read(store, run_id: str) -> tuple:
    info = store.resume_info(run_id)
    tasks = {task_id: dataclasses.astuple(task) for task_id, task in info.tasks.items()}
    return (dataclasses.astuple(info.run), tasks), store.recorded_parameters(run_id)

"""``/api/v1/deployments``: deployments (named, stored recipes of flow runs) made,
updated, listed, paused, resumed and deleted, and runs of one made on request.

| Method and path | Role | Answer |
|---|---|---|
| ``PUT /deployments/{name}`` | run | the deployment; 201 when new, 200 when updated |
| ``GET /deployments`` | read | every deployment, by name |
| ``GET /deployments/{name}`` | read | one deployment |
| ``POST /deployments/{name}/pause`` | run | the deployment, paused |
| ``POST /deployments/{name}/resume`` | run | the deployment, not paused |
| ``DELETE /deployments/{name}`` | admin | 204 (its runs stay) |
| ``POST /deployments/{name}/runs`` | run | a new ``Scheduled`` run (201) |

Deploying is what developers do, so it needs the ``run`` role (as starting a run
does); deleting a deployment, which removes what others may rely on, needs ``admin``.
The recipe is checked by :mod:`ferroflow.store.deployments` (422 with its message).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import AfterValidator, Field

from ferroflow.server.auth import requires
from ferroflow.server.deps import DB
from ferroflow.server.errors import Problem
from ferroflow.server.models import Name, RunOut, Tag, _In, _Out, _parameters
from ferroflow.store import deployments as store

__all__ = ["router"]

router = APIRouter(prefix="/deployments", tags=["deployments"])

DeploymentName = Annotated[str, Path(min_length=1, max_length=store.MAX_NAME, pattern=r"^[^\x00/]+$",
                                     description="The deployment's name")]
Parameters = Annotated[dict[str, Any], AfterValidator(_parameters)]


class DeploymentIn(_In):
    """A deployment's recipe (``PUT`` replaces the whole recipe; a pause stays)."""

    entrypoint: Name = Field(description="`path/to/file.py:flow_name` or `package.module:flow`")
    flow_name: Name | None = Field(default=None, description="The flow's name (default: the entrypoint's flow part)")
    parameters: Parameters = Field(default_factory=dict)
    schedule: dict[str, Any] | None = Field(
        default=None, description="A schedule's JSON spec (`ferroflow.schedules.spec.to_spec`), or none")
    pool: Name = "default"
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    executor: Name | None = None
    executor_options: dict[str, Any] = Field(default_factory=dict)
    retries: int = Field(default=0, ge=0, description="How often a crashed run is resumed")
    concurrency_limit: int | None = Field(default=None, ge=1)
    description: Annotated[str, Field(max_length=10_000)] = ""
    catchup: str = Field(default="latest", description="`latest` or `all`: which missed runs start after downtime")
    parameter_schema: dict[str, Any] | None = Field(
        default=None, description="The flow's parameters, for the web UI's Run form: name -> "
                                  "`{\"default\", \"required\", \"type\"}` (`ferroflow deploy` sends it)")


class DeploymentOut(_Out):
    """A deployment as stored."""

    id: int
    name: str
    flow_name: str
    entrypoint: str
    parameters: dict[str, Any]
    schedule: dict[str, Any] | None
    pool: str
    tags: list[str]
    executor: str | None
    executor_options: dict[str, Any]
    retries: int
    concurrency_limit: int | None
    description: str
    paused: bool
    catchup: str
    created_at: float
    updated_at: float
    parameter_schema: dict[str, Any] = Field(default_factory=dict)


class ManualRunIn(_In):
    """A run of a deployment made on request: parameters given here replace the
    deployment's of the same name."""

    parameters: Parameters = Field(default_factory=dict)


def _unknown(exc: store.UnknownDeploymentError) -> Problem:
    return Problem(404, str(exc))


@router.put("/{name}", response_model=DeploymentOut, dependencies=[requires("run")],
            summary="Create or update a deployment", status_code=200,
            responses={201: {"description": "A new deployment", "model": DeploymentOut}})
def put_deployment(name: DeploymentName, body: DeploymentIn, response: Response, db: DB) -> DeploymentOut:
    """Deploy: make deployment ``name`` (201) or update it with this recipe (200)."""
    try:
        found, created = store.deploy(db, name, **body.model_dump())
    except store.DeploymentError as exc:
        raise Problem(422, str(exc)) from None
    if created:
        response.status_code = 201
    response.headers["Location"] = f"/api/v1/deployments/{name}"
    return DeploymentOut.model_validate(found)


@router.get("", response_model=list[DeploymentOut], dependencies=[requires("read")], summary="List deployments")
def list_deployments(db: DB, pool: Name | None = None) -> list[DeploymentOut]:
    """Every deployment (of work pool ``pool``, if given), by name."""
    return [DeploymentOut.model_validate(d) for d in store.list_deployments(db, pool=pool)]


@router.get("/{name}", response_model=DeploymentOut, dependencies=[requires("read")], summary="Get a deployment")
def get_deployment(name: DeploymentName, db: DB) -> DeploymentOut:
    """One deployment, by name."""
    try:
        return DeploymentOut.model_validate(store.get_deployment(db, name))
    except store.UnknownDeploymentError as exc:
        raise _unknown(exc) from None


@router.post("/{name}/pause", response_model=DeploymentOut, dependencies=[requires("run")],
             summary="Pause a deployment")
def pause_deployment(name: DeploymentName, db: DB) -> DeploymentOut:
    """Pause a deployment: its schedule makes no runs (runs on request still can)."""
    try:
        return DeploymentOut.model_validate(store.pause_deployment(db, name))
    except store.UnknownDeploymentError as exc:
        raise _unknown(exc) from None


@router.post("/{name}/resume", response_model=DeploymentOut, dependencies=[requires("run")],
             summary="Resume a deployment")
def resume_deployment(name: DeploymentName, db: DB) -> DeploymentOut:
    """Resume a paused deployment."""
    try:
        return DeploymentOut.model_validate(store.resume_deployment(db, name))
    except store.UnknownDeploymentError as exc:
        raise _unknown(exc) from None


@router.delete("/{name}", status_code=204, dependencies=[requires("admin")], summary="Delete a deployment")
def delete_deployment(name: DeploymentName, db: DB) -> Response:
    """Delete a deployment (its runs and their records stay)."""
    try:
        store.delete_deployment(db, name)
    except store.UnknownDeploymentError as exc:
        raise _unknown(exc) from None
    return Response(status_code=204)


@router.post("/{name}/runs", response_model=RunOut, status_code=201, dependencies=[requires("run")],
             summary="Run a deployment now")
def create_manual_run(name: DeploymentName, response: Response, db: DB,
                      body: ManualRunIn | None = None) -> RunOut:
    """A new ``Scheduled`` run of the deployment, to start now, with its parameters
    updated by the ones given."""
    try:
        run = store.create_manual_run(db, name, (body or ManualRunIn()).parameters)
    except store.UnknownDeploymentError as exc:
        raise _unknown(exc) from None
    except store.DeploymentError as exc:
        raise Problem(422, str(exc)) from None
    response.headers["Location"] = f"/api/v1/runs/{run.run_id}"
    return RunOut.model_validate(run)

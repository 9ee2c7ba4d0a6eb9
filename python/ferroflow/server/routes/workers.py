"""``/api/v1/workers`` and ``/api/v1/pools``: workers heartbeat, claim runs of their
pool and give back the runs their processes left unended; pools are listed and set.

| Method and path | Role | Answer |
|---|---|---|
| ``POST /workers/{id}/heartbeat`` | run | runs of the worker to cancel or stop; registers it |
| ``GET /workers`` | read | every worker, most recently seen first, with its health |
| ``POST /pools/{name}/claim`` | run | the runs claimed (``Pending``, each with its lease token) |
| ``POST /runs/{run_id}/release`` | run | whether the claimed run was given back |
| ``GET /pools`` | read | every work pool |
| ``PUT /pools/{name}`` | admin | the pool, with its limit and pause set |

Workers need the ``run`` role (they start runs); changing a pool, which every worker of
it obeys, needs ``admin``. How claims are made atomic, fenced and limited:
:mod:`ferroflow.store.claims`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field

from ferroflow.server.auth import requires
from ferroflow.server.deps import DB, RunId
from ferroflow.server.errors import Problem
from ferroflow.server.models import Message, Name, _In, _Out
from ferroflow.store import claims
from ferroflow.store.deployments import MAX_NAME, DeploymentError
from ferroflow.store.orphans import HEARTBEAT_TIMEOUT

__all__ = ["router"]

router = APIRouter(tags=["workers"])

WorkerId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The worker's id: 32 hex digits")]
PoolName = Annotated[str, Path(min_length=1, max_length=MAX_NAME, pattern=r"^[^\x00/]+$",
                               description="The work pool's name")]
Token = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="A lease token: 32 hex digits")]


class HeartbeatIn(_In):
    """A worker's heartbeat: who it is, and the runs it holds (run id -> lease token)."""

    name: Name
    pool: Name
    hostname: Name
    pid: int = Field(ge=0)
    concurrency: int = Field(ge=1, le=10_000)
    state: Literal["online", "stopping", "stopped"] = "online"
    runs: Annotated[dict[Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")], Token], Field(max_length=10_000)] = \
        Field(default_factory=dict)


class HeartbeatOut(_Out):
    """What the worker must act on."""

    cancelling: list[str] = Field(description="Runs of its asked to stop: interrupt them, then kill them")
    lost: list[str] = Field(description="Runs it no longer holds (given to another, ended): stop their processes")
    pool_known: bool = Field(description="Whether a deployment names the worker's pool")


class WorkerOut(_Out):
    """A worker as it last reported itself."""

    id: str
    name: str
    pool: str
    hostname: str
    pid: int
    concurrency: int
    state: str
    started_at: float
    heartbeat_at: float
    healthy: bool
    running: int


class ClaimIn(_In):
    """A claim: which worker asks, and for how many runs at most."""

    worker_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    count: int = Field(ge=1, le=1000)
    hostname: Name | None = None
    pid: int | None = Field(default=None, ge=0)


class ClaimOut(_Out):
    """A claimed run: what its process needs to start it."""

    run_id: str
    lease: str
    flow_name: str
    deployment: str
    entrypoint: str
    parameters: dict[str, Any]
    executor: str | None
    executor_options: dict[str, Any]
    resume_from: str | None
    attempt: int
    scheduled_start: float


class ReleaseIn(_In):
    """A claimed run given back by its worker."""

    lease: Token
    state: Literal[claims.RELEASE_STATES]  # type: ignore[valid-type]
    message: Message = ""


class ReleaseOut(_Out):
    """Whether the run was given back (False: the lease no longer held it, or it ended)."""

    released: bool


class PoolIn(_In):
    """A pool's settings: ``concurrency_limit`` null removes the limit."""

    concurrency_limit: int | None = Field(default=None, ge=1)
    paused: bool | None = None


class PoolOut(_Out):
    """A work pool."""

    name: str
    concurrency_limit: int | None
    paused: bool
    active: int
    deployments: int


@router.post("/workers/{worker_id}/heartbeat", response_model=HeartbeatOut, dependencies=[requires("run")],
             summary="A worker's heartbeat")
def heartbeat(worker_id: WorkerId, body: HeartbeatIn, db: DB) -> HeartbeatOut:
    """Register the worker or stamp its heartbeat, and the heartbeat of the runs it
    holds; answer the runs it must cancel or stop."""
    answer = claims.worker_heartbeat(db, worker_id, name=body.name, pool=body.pool, hostname=body.hostname,
                                     pid=body.pid, concurrency=body.concurrency, state=body.state,
                                     runs_held=body.runs)
    return HeartbeatOut(**answer)


@router.get("/workers", response_model=list[WorkerOut], dependencies=[requires("read")], summary="List workers")
def list_workers(db: DB, pool: Name | None = None) -> list[WorkerOut]:
    """Every worker (of ``pool``), most recently seen first."""
    return [WorkerOut.model_validate(w) for w in claims.list_workers(db, pool, timeout=HEARTBEAT_TIMEOUT)]


@router.post("/pools/{name}/claim", response_model=list[ClaimOut], dependencies=[requires("run")],
             summary="Claim due runs of a pool")
def claim(name: PoolName, body: ClaimIn, db: DB) -> list[ClaimOut]:
    """Claim at most ``count`` due runs of the pool for the worker (see
    :func:`ferroflow.store.claims.claim_runs`)."""
    found = claims.claim_runs(db, name, body.worker_id, body.count, hostname=body.hostname, pid=body.pid)
    return [ClaimOut.model_validate(c) for c in found]


@router.post("/runs/{run_id}/release", response_model=ReleaseOut, dependencies=[requires("run")],
             summary="Give back a claimed run")
def release(run_id: RunId, body: ReleaseIn, db: DB) -> ReleaseOut:
    """Give back a claimed run whose process ended without ending it (``Crashed``),
    was killed after a cancel (``Cancelled``), or never started (``Scheduled``)."""
    return ReleaseOut(released=claims.release_run(db, run_id.lower(), body.lease, body.state, body.message))


@router.get("/pools", response_model=list[PoolOut], dependencies=[requires("read")], summary="List work pools")
def list_pools(db: DB) -> list[PoolOut]:
    """Every work pool, by name."""
    return [PoolOut.model_validate(p) for p in claims.list_pools(db)]


@router.put("/pools/{name}", response_model=PoolOut, dependencies=[requires("admin")], summary="Set a work pool")
def set_pool(name: PoolName, body: PoolIn, db: DB) -> PoolOut:
    """Create a pool or set its limit on active runs and its pause."""
    try:
        found = claims.set_pool(db, name, concurrency_limit=body.concurrency_limit, paused=body.paused,
                                clear_limit="concurrency_limit" in body.model_fields_set
                                and body.concurrency_limit is None)
    except DeploymentError as exc:
        raise Problem(422, str(exc)) from None
    return PoolOut.model_validate(found)

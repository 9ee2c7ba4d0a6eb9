"""``/health`` (public: 200 once the server can serve) and ``/version``."""

from __future__ import annotations

from fastapi import APIRouter

from ferroflow.server.auth import requires
from ferroflow.server.deps import DB
from ferroflow.server.errors import Problem
from ferroflow.server.models import HealthOut, VersionOut
from ferroflow.store.migrations import schema_version
from ferroflow.store.schema import SCHEMA_VERSION

__all__ = ["router"]

router = APIRouter(tags=["server"])


@router.get("/health", response_model=HealthOut, dependencies=[requires(None)],
            summary="Whether the server can serve",
            responses={503: {"description": "The database cannot be reached or is not migrated"}})
def health(db: DB) -> HealthOut:
    """200 when the database answers and is at the schema this server writes; 503 (a
    problem saying which) otherwise. Needs no key."""
    try:
        found = schema_version(db)
    except Exception as exc:  # any failure to reach the database is "not healthy"
        raise Problem(503, f"the database cannot be reached ({type(exc).__name__}); the server's log says why",
                      headers={"Retry-After": "5"}) from exc
    if found != SCHEMA_VERSION:
        raise Problem(503, f"the database is at schema {found}, not {SCHEMA_VERSION}: run `ferroflow server migrate`",
                      headers={"Retry-After": "5"})
    return HealthOut(database=db.dialect.name, schema_version=found)


@router.get("/version", response_model=VersionOut, dependencies=[requires("read")], summary="The server's versions")
def version() -> VersionOut:
    """ferroflow's version, the API's and the database schema's."""
    from ferroflow.server.app import server_version

    return VersionOut(ferroflow=server_version(), schema_version=SCHEMA_VERSION)

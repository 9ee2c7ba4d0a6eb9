"""The ferroflow server's ASGI application.

::

    from ferroflow.server.app import create_app

    app = create_app("sqlite:////srv/ferroflow/runs.db", auth=True)   # serve with uvicorn

The API is under ``/api/v1`` (OpenAPI document ``/api/v1/openapi.json``, browsable at
``/api/v1/docs``). Each topic's routes are a module of :mod:`ferroflow.server.routes`
exposing ``router``; :data:`ROUTERS` lists them. Errors are problems
(:mod:`ferroflow.server.errors`), roles are declared per route
(:mod:`ferroflow.server.auth`), request bodies are bounded
(:mod:`ferroflow.server.middleware`). ``docs/server.md`` is the user's guide.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from ferroflow.server import errors
from ferroflow.server.auth import Authenticator
from ferroflow.server.maintenance import Maintenance
from ferroflow.server.middleware import BodyLimit, ServerTiming
from ferroflow.server.routes import (
    deployments,
    flows,
    health,
    ingest,
    keys,
    logs,
    resume,
    runs,
    secrets,
    tasks,
    workers,
)
from ferroflow.server.routes.concurrency import router as concurrency_router
from ferroflow.server.routes.ingest import run_store
from ferroflow.server.scheduler import Scheduler
from ferroflow.store.database import make_engine

__all__ = ["API_PREFIX", "DEFAULT_MAX_BODY", "DEFAULT_MAX_RECORDS_BODY", "RECORDS_PREFIX", "ROUTERS", "api_routes",
           "create_app", "server_version"]

API_PREFIX = "/api/v1"
#: Where clients send batches of records (the larger body limit applies under it).
RECORDS_PREFIX = API_PREFIX + "/records"
#: Largest request body, but for record batches.
DEFAULT_MAX_BODY = 1 << 20
#: Largest batch of records a client may send in one request.
DEFAULT_MAX_RECORDS_BODY = 16 << 20

#: The routers of the API, included in this order under :data:`API_PREFIX`.
ROUTERS = [health.router, flows.router, runs.router, tasks.router, logs.router, keys.router, secrets.router,
           ingest.router, resume.router, deployments.router, workers.router,
           concurrency_router]


def server_version() -> str:
    """ferroflow's version."""
    from ferroflow.cli import get_version

    return get_version()


def create_app(database_url: str | os.PathLike | Engine, *, auth: bool, max_body_bytes: int = DEFAULT_MAX_BODY,
               max_records_body_bytes: int = DEFAULT_MAX_RECORDS_BODY, scheduler: bool = True,
               scheduler_options: dict | None = None) -> FastAPI:
    """The server's application on the database at ``database_url`` (a URL, an SQLite
    file's path, or an engine), which must be migrated already (``ferroflow server
    migrate``; ``/api/v1/health`` says 503 until it is).

    Args:
        auth: whether requests need an API key (False: every request acts as admin).
        max_body_bytes: largest request body (413 above it).
        max_records_body_bytes: largest body under ``/api/v1/records`` (record batches).
        scheduler: whether the app runs a scheduler thread while it serves
            (:class:`ferroflow.server.scheduler.Scheduler`, with ``scheduler_options``:
            ``interval``, ``horizon``, ``grace``).
    """
    engine = database_url if isinstance(database_url, Engine) else make_engine(database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        chores = Maintenance(lambda: run_store(app))  # crashed runs marked, old batch ids forgotten
        chores.start()
        app.state.maintenance = chores
        app.state.scheduler = Scheduler(engine, **(scheduler_options or {})) if scheduler else None
        if app.state.scheduler is not None:
            app.state.scheduler.start()  # deployments' runs made ahead, Late runs marked
        try:
            yield
        finally:
            if app.state.scheduler is not None:
                app.state.scheduler.stop()
            chores.stop()
            store = getattr(app.state, "store", None)
            if store is not None:
                app.state.store = None
                store.close()

    app = FastAPI(
        lifespan=lifespan,
        title="ferroflow server", version=server_version(),
        description="Every flow run in one database: runs, tasks, children, logs, approvals and API keys. "
                    "Errors are application/problem+json; send `Authorization: Bearer KEY` when the server "
                    "needs keys (see docs/server.md).",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None)
    app.state.engine = engine
    app.state.store = None  # the run store, made by the first batch of records (routes.ingest.run_store)
    app.state.authenticator = Authenticator(engine, enabled=auth)
    app.state.limits = {"default": int(max_body_bytes), RECORDS_PREFIX: int(max_records_body_bytes)}
    errors.install(app)
    schema = {"schema": {"$ref": "#/components/schemas/ProblemOut"}}
    problem: dict[int | str, dict[str, Any]] = {
        code: {"description": text, "content": {errors.MEDIA_TYPE: schema}}
        for code, text in ((401, "No valid API key"), (403, "The key's role is too weak"),
                           (404, "Unknown id (the detail names it)"),
                           (422, "Invalid input (the problem's `errors` name the fields)"))}
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=problem)
    app.add_middleware(BodyLimit, limit=max_body_bytes, limits={RECORDS_PREFIX: max_records_body_bytes})
    app.add_middleware(ServerTiming)
    _register_problem_schema(app)
    from ferroflow.server.ui import install as install_ui

    install_ui(app)  # the web UI at / (its pages are not part of the API's document)
    return app


def api_routes(app: FastAPI) -> list[tuple[str, str, Any]]:
    """``(method, path, route)`` of every endpoint under :data:`API_PREFIX` (the
    routers' routes, included with their prefix; not the OpenAPI document and its
    browsable page, public by design); ``route`` is the route as declared (its
    ``dependencies`` are what it declared)."""
    from fastapi.routing import APIRoute

    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.130: included routers stay routers
    except ImportError:  # older FastAPI: app.routes lists every route
        contexts: list[Any] = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    out: list[tuple[str, str, Any]] = []
    for context in contexts:
        path, methods = getattr(context, "path", None), getattr(context, "methods", None)
        if not path or not methods or not path.startswith(API_PREFIX):
            continue
        route = getattr(context, "original_route", context)
        if not isinstance(route, APIRoute):
            continue
        out.extend((method, path, route) for method in sorted(set(methods) - {"HEAD"}))
    return out


def _register_problem_schema(app: FastAPI) -> None:
    """Put the problem model in the OpenAPI document's components (the responses above
    refer to it)."""
    from fastapi.openapi.utils import get_openapi

    from ferroflow.server.models import ProblemOut

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["ProblemOut"] = \
                ProblemOut.model_json_schema(ref_template="#/components/schemas/{model}")
            for path, item in schema.get("paths", {}).items():
                for operation in item.values():
                    answers = operation.get("responses", {})
                    if not operation.get("security"):  # public: no key asked for
                        answers.pop("401", None)
                        answers.pop("403", None)
                    if "{" not in path:  # nothing named in the path to be unknown
                        answers.pop("404", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

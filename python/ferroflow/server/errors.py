"""Every error the API answers is ``application/problem+json`` (RFC 9457): ``type``,
``title``, ``status`` and a ``detail`` a person can act on, plus, for invalid input,
``errors``: one ``{"field", "message"}`` per problem (``field`` like ``body.tags.3`` or
``query.limit``).

Routes raise :class:`Problem` (or let the store's errors through: an unknown run or
task is a 404, a state conflict a 409, a cursor this list did not give a 422); the
handlers :func:`install` adds turn everything else (FastAPI's validation errors,
Starlette's 404 and 405, a database that cannot be reached, a bug) into problems too.
No handler echoes the request's values back: they may be large, or secret.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ferroflow.store.control import ApprovalError, IdempotencyConflictError, StateConflictError
from ferroflow.store.errors import StateStoreError, UnknownRunError
from ferroflow.store.keys import UnknownKeyError
from ferroflow.store.queries import BadCursorError, UnknownTaskError

__all__ = ["PROBLEM_TYPE", "MEDIA_TYPE", "Problem", "install", "problem_response"]

log = logging.getLogger("ferroflow.server")

MEDIA_TYPE = "application/problem+json"
#: Problem types are URNs under this prefix (``urn:ferroflow:problem:not-found``).
PROBLEM_TYPE = "urn:ferroflow:problem:"

_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           409: "Conflict", 413: "Request body too large", 415: "Unsupported media type",
           422: "Invalid request", 500: "Internal server error", 503: "Service unavailable"}
_TYPES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
          409: "conflict", 413: "body-too-large", 415: "unsupported-media-type", 422: "invalid-request",
          500: "internal-error", 503: "unavailable"}


class Problem(Exception):
    """An error answered as ``application/problem+json``: ``status``, ``detail`` (what
    went wrong and what to do), and optionally a ``kind`` (the last part of the type
    URN; default from the status), a ``title``, response ``headers`` and ``extra``
    members (``run``: the run as it is now, for a conflict)."""

    def __init__(self, status: int, detail: str, *, kind: str | None = None, title: str | None = None,
                 headers: Mapping[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or _TYPES.get(status, "error")
        self.title = title or _TITLES.get(status, "Error")
        self.headers = dict(headers or {})
        self.extra = extra


def problem_response(status: int, detail: str, *, kind: str | None = None, title: str | None = None,
                     headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    """The ``application/problem+json`` response of a problem."""
    body = {"type": PROBLEM_TYPE + (kind or _TYPES.get(status, "error")),
            "title": title or _TITLES.get(status, "Error"), "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=MEDIA_TYPE)


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "unknown field (not part of this request: check its spelling)"
    if kind == "missing":
        return "required"
    return str(error.get("msg", "invalid"))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") == "json_invalid":
            ctx = error.get("ctx") or {}
            at = error.get("loc", ("body", "?"))[-1]
            return problem_response(400, f"the request body is not valid JSON: {ctx.get('error', 'malformed')} "
                                         f"(at character {at})", kind="malformed-json")
    listed = [{"field": _field(e.get("loc", ())), "message": _message(e)} for e in errors]
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in listed[:10])
    if len(listed) > 10:
        detail += f"; and {len(listed) - 10} more"
    return problem_response(422, detail or "the request is invalid", errors=listed)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        detail = f"no such endpoint: {request.url.path} (the API is under /api/v1; see /api/v1/docs)"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    else:
        detail = str(exc.detail)
    return problem_response(status, detail, headers=getattr(exc, "headers", None))


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.detail, kind=exc.kind, title=exc.title, headers=exc.headers,
                            **exc.extra)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, UnknownRunError):
        detail = f"no run with id {exc.run_id!r} (see GET /api/v1/runs)"
    else:
        detail = str(exc)
    return problem_response(404, detail)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    run = getattr(exc, "run", None)
    extra = {} if run is None else {"state": run.state, "state_version": run.state_version}
    return problem_response(409, str(exc), **extra)


async def _unprocessable(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(422, str(exc), errors=[{"field": "query.cursor", "message": str(exc)}])


async def _database(request: Request, exc: Exception) -> JSONResponse:
    log.error("database error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem_response(503, "the server cannot reach its database right now; retry in a moment (the "
                                 "server's log says why)", headers={"Retry-After": "5"})


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "the server failed to answer this request; its log has the details")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem (see the module docstring)."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Problem, _problem)
    missing: tuple[type[Exception], ...] = (UnknownRunError, UnknownTaskError, UnknownKeyError)
    conflicts: tuple[type[Exception], ...] = (StateConflictError, IdempotencyConflictError, ApprovalError)
    for kind in missing:
        app.add_exception_handler(kind, _not_found)
    for kind in conflicts:
        app.add_exception_handler(kind, _conflict)
    app.add_exception_handler(BadCursorError, _unprocessable)
    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(StateStoreError, _database)
    app.add_exception_handler(DBAPIError, _internal)
    app.add_exception_handler(Exception, _internal)

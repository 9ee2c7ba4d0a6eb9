"""``/api/v1/secrets``: set, list, read and delete secrets.

| Method and path | Role | Answer |
|---|---|---|
| ``PUT /secrets/{name}`` (body ``{"value": ...}``) | admin | the secret's name and times |
| ``GET /secrets`` | read | every secret's name and times, never a value |
| ``GET /secrets/{name}/value`` | run | ``{"name", "value"}``; each read is audit-logged (never the value) |
| ``DELETE /secrets/{name}`` | admin | 204 |

The router's paths are under ``/secrets``; the application mounts it under
``/api/v1`` and keeps the database engine in ``app.state.engine``. Values are
encrypted with the server's ``FERROFLOW_SECRET_KEY`` (``store/secret_store.py``); the
server refuses to start without it once secrets exist (``check_secret_key``, called at
start).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict

from ferroflow.errors import SecretError, SecretKeyError, UnknownSecretError
from ferroflow.server.auth import requires
from ferroflow.store import secret_store
from ferroflow.store.secret_store import check_secret_key

__all__ = ["router", "check_secret_key"]

#: Who read which secret, when, from where (never a value).
audit = logging.getLogger("ferroflow.server.audit")

router = APIRouter(prefix="/secrets", tags=["secrets"])


class SecretValueIn(BaseModel):
    """The body of ``PUT /secrets/{name}`` (its length is checked as ``ferroflow
    secret set`` checks it: 4 to 65,536 characters)."""

    model_config = ConfigDict(extra="forbid")
    value: str


class SecretOut(BaseModel):
    """A secret as listed: its name and times (seconds since the epoch)."""

    name: str
    created_at: float
    updated_at: float


class SecretValueOut(BaseModel):
    """A secret's value, for a run."""

    name: str
    value: str


def _engine(request: Request) -> Any:
    return request.app.state.engine


def _error(exc: SecretError) -> HTTPException:
    """The HTTP error of a secret error (its message never holds a value)."""
    if isinstance(exc, UnknownSecretError):
        return HTTPException(404, detail=str(exc))
    if isinstance(exc, SecretKeyError):
        return HTTPException(500, detail=f"the server cannot decrypt its secrets: {exc}")
    return HTTPException(422, detail=str(exc))


@router.put("/{name}", response_model=SecretOut, dependencies=[requires("admin")])
def put_secret(name: str, body: SecretValueIn, request: Request) -> SecretOut:
    """Set secret ``name`` (a new one or a new value)."""
    try:
        info = secret_store.set_secret(_engine(request), name, body.value)
    except SecretError as exc:
        raise _error(exc) from None
    return SecretOut(name=info.name, created_at=info.created_at, updated_at=info.updated_at)


@router.get("", response_model=list[SecretOut], dependencies=[requires("read")])
def list_secrets(request: Request) -> list[SecretOut]:
    """Every secret's name and times (never a value)."""
    return [SecretOut(name=i.name, created_at=i.created_at, updated_at=i.updated_at)
            for i in secret_store.list_secrets(_engine(request))]


@router.get("/{name}/value", response_model=SecretValueOut, dependencies=[requires("run")])
def read_secret(name: str, request: Request) -> SecretValueOut:
    """The value of secret ``name`` (audit-logged without it)."""
    principal = getattr(request.state, "principal", None)
    who = f"key {principal.name!r}" if principal is not None else "an unauthenticated client"
    client = request.client.host if request.client is not None else "?"
    try:
        value = secret_store.get_secret(_engine(request), name)
    except SecretError as exc:
        audit.warning("secret %r: read by %s from %s refused: %s", name, who, client, type(exc).__name__)
        raise _error(exc) from None
    audit.info("secret %r: read by %s from %s", name, who, client)
    return SecretValueOut(name=name, value=value)


@router.delete("/{name}", status_code=204, dependencies=[requires("admin")])
def delete_secret(name: str, request: Request) -> Response:
    """Delete secret ``name`` (404 when there is none)."""
    try:
        deleted = secret_store.delete_secret(_engine(request), name)
    except SecretError as exc:
        raise _error(exc) from None
    if not deleted:
        raise HTTPException(404, detail=f"there is no secret {name!r}")
    return Response(status_code=204)

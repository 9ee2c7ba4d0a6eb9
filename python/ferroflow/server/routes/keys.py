"""``/keys``: the server's API keys (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ferroflow.server.auth import requires
from ferroflow.server.deps import DB
from ferroflow.server.models import KeyCreated, KeyIn
from ferroflow.store import keys
from ferroflow.store.keys import ApiKey

__all__ = ["router"]

router = APIRouter(tags=["keys"])


@router.get("/keys", response_model=list[ApiKey], dependencies=[requires("admin")], summary="List API keys")
def list_keys(db: DB) -> list[ApiKey]:
    """Every key, revoked ones too (never the keys themselves)."""
    with db.connect() as conn:
        return keys.list_keys(conn)


@router.post("/keys", response_model=KeyCreated, status_code=201, dependencies=[requires("admin")],
             summary="Make an API key")
def create_key(body: KeyIn, db: DB) -> KeyCreated:
    """A new key: ``key`` is in this answer only (the server keeps its hash)."""
    with db.begin() as conn:
        key, made = keys.create_key(conn, body.name, body.role)
    return KeyCreated(**vars(made), key=key)


@router.delete("/keys/{key_id}", response_model=ApiKey, dependencies=[requires("admin")], summary="Revoke an API key")
def revoke_key(key_id: Annotated[int, Path(ge=1, le=2**63 - 1)], db: DB) -> ApiKey:
    """Revoke a key: requests with it get 401 from now on. Revoking it again changes
    nothing."""
    with db.begin() as conn:
        return keys.revoke_key(conn, key_id)

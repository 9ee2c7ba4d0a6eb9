"""``POST /api/v1/records``: batches of records from runs that report to this server.

A batch is what :class:`ferroflow.store.remote.RemoteRunStore` sends: ``{"batch_id":
..., "tokens": {run_id: lease token}, "items": [...]}``, the items in the wire form of
:mod:`ferroflow.store.wire`. The store applies it in one transaction
(:meth:`ferroflow.store.sql.SQLRunStore.ingest`): once per batch id, only for runs whose
lease the tokens still hold. The answer names the runs whose lease was lost.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ferroflow.server.auth import requires
from ferroflow.store import items as store_items
from ferroflow.store.errors import StateStoreError
from ferroflow.store.wire import decode

router = APIRouter(tags=["records"])
log = logging.getLogger("ferroflow.server")

_HEX = re.compile(r"[0-9a-f]{8,64}")


class LostRun(BaseModel):
    """Why a run's lease is no longer the client's."""

    state: str | None = Field(None, description="the run's state now (None: the run is not in the database)")
    message: str | None = None
    resumed_by: str | None = Field(None, description="the run that resumed it, if one did")
    error: str = Field(description="what the client raises (RunLostError)")


class RecordsAnswer(BaseModel):
    applied: bool = Field(description="false when this batch id was applied before (sent again): nothing was "
                                      "applied again")
    lost: dict[str, LostRun] = Field(default_factory=dict, description="runs whose lease the client lost")
    refused: dict[str, str] = Field(default_factory=dict, description="runs whose start (a resume) was refused, "
                                                                      "and why")


class RecordsBatch(BaseModel):
    """The request body (documentation: the route parses it itself, for speed)."""

    batch_id: str = Field(description="hex id the client gave the batch (8-64 digits)")
    tokens: dict[str, str] = Field(description="run id -> the lease token the client holds")
    items: list[Any] = Field(description="store items in the wire form (ferroflow.store.wire)")


@router.post("/records", response_model=RecordsAnswer, dependencies=[requires("run")],
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": RecordsBatch.model_json_schema()}}}},
             summary="Record a batch of a run's records (states, children, logs)")
async def post_records(request: Request) -> RecordsAnswer:
    raw = await request.body()
    batch_id, tokens, items = _parse(raw)
    try:
        store = await run_in_threadpool(run_store, request.app)
        outcome = await run_in_threadpool(store.ingest, batch_id, items, tokens)
    except StateStoreError as exc:
        # (the reason and detail only: where the database is is not the client's business)
        why = f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason
        if exc.reason in _WRONG:
            raise HTTPException(422, detail=f"the batch cannot be recorded: {why}") from exc
        log.warning("a batch of records could not be written (the client sends it again): %s", exc)
        raise HTTPException(503, detail=f"the database cannot take records now (send the batch again): "
                                        f"{why}") from exc
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:  # an item's shape (rolled back)
        raise HTTPException(422, detail=f"a record of the batch is malformed: {type(exc).__name__}: {exc}") from exc
    return RecordsAnswer(applied=not outcome["duplicate"], lost=outcome["lost"], refused=outcome["refused"])


#: The reasons a batch is refused for what it is (anything else: the database could not
#: take it now, and the client sends it again).
_WRONG = frozenset({"invalid record", "unknown run", "no lease"})
_STORES_LOCK = threading.Lock()


def run_store(app: Any) -> Any:
    """The server's run store (made on the first batch, on the server's engine: its
    database is migrated by then)."""
    store = getattr(app.state, "store", None)
    if store is None:
        with _STORES_LOCK:
            store = getattr(app.state, "store", None)
            if store is None:
                from ferroflow.store.sql import SQLRunStore

                store = app.state.store = SQLRunStore(app.state.engine)
    return store


def _parse(raw: bytes) -> tuple[str, dict, list]:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise HTTPException(400, detail=f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise HTTPException(422, detail="the body must be an object with batch_id, tokens and items")
    unknown = sorted(set(body) - {"batch_id", "tokens", "items"})
    if unknown:
        raise HTTPException(422, detail=f"unknown field {unknown[0]!r}: a batch has batch_id, tokens and items")
    batch_id, tokens, raw_items = body.get("batch_id"), body.get("tokens"), body.get("items")
    if not isinstance(batch_id, str) or not _HEX.fullmatch(batch_id):
        raise HTTPException(422, detail="batch_id: 8 to 64 lowercase hex digits")
    if not isinstance(tokens, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tokens.items()):
        raise HTTPException(422, detail="tokens: an object of run id -> token strings")
    if not isinstance(raw_items, list):
        raise HTTPException(422, detail="items: a list of records")
    try:
        items = [decode(item) for item in raw_items]
    except (ValueError, TypeError) as exc:
        raise HTTPException(422, detail=f"items: {exc}") from exc
    for i, item in enumerate(items):
        if not isinstance(item, tuple) or not item or item[0] not in store_items.KINDS or item[0] == "beat":
            raise HTTPException(422, detail=f"items[{i}]: not a record (a tagged tuple whose first element is one "
                                            f"of {sorted(store_items.KINDS - {'beat'})})")
        if not isinstance(item[1], str) if len(item) > 1 else True:
            raise HTTPException(422, detail=f"items[{i}]: its second element is the run id")
    return batch_id, tokens, items

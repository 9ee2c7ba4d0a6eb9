"""``POST /api/v1/records``: batches of records from runs that report to this server.

A batch is what :class:`ferroflow.store.remote.RemoteRunStore` sends: ``{"batch_id":
..., "tokens": {run_id: lease token}, "items": [...]}``, the items in the wire form of
:mod:`ferroflow.store.wire`. The store applies it in one transaction
(:meth:`ferroflow.store.sql.SQLRunStore.ingest`): once per batch id, only for runs whose
lease the tokens still hold. The answer names the runs whose lease was lost, and those
whose cancellation was asked for (``Cancelling``: the client stops them).
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
_RUN_ID = re.compile(r"[0-9a-f]{32}")


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
    cancelling: list[str] = Field(default_factory=list, description="runs of the batch's tokens whose "
                                  "cancellation was asked for (state Cancelling): the client stops them and ends "
                                  "them Cancelled (their lease holds: their records and end are still taken)")


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
    return RecordsAnswer(applied=not outcome["duplicate"], lost=outcome["lost"], refused=outcome["refused"],
                         cancelling=outcome.get("cancelling", []))


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
        if not (len(item) > 1 and isinstance(item[1], str) and _RUN_ID.fullmatch(item[1])):
            raise HTTPException(422, detail=f"items[{i}]: its second element is the run id (32 hex digits)")
        problem = _out_of_bounds(item)
        if problem:
            raise HTTPException(422, detail=f"items[{i}] ({item[0]}): {problem}")
    return batch_id, tokens, items


#: The most tasks a flow recorded through a server may have, and children a mapped
#: task: a run's records are kept as a byte per task and per child while a batch is
#: applied, so a number past these in a batch would make the server allocate memory
#: without bound.
MAX_TASKS = 10_000_000
MAX_CHILDREN = 100_000_000
#: The longest executor description a start item may carry (a client makes them at most
#: ferroflow.descriptions.MAX_CHARS long; the store cuts what it takes to that).
MAX_EXECUTOR_CHARS = 1000
#: The longest run name a start item may carry (a client cuts them to
#: ferroflow.store.items.MAX_RUN_NAME_CHARS; the store cuts what it takes to that).
MAX_RUN_NAME_CHARS = 1000
#: The longest name or slug of a task added to a running run (``tasks`` records).
MAX_TASK_NAME_CHARS = 1000


def _index(value: Any, bound: int, allow_none: bool = False) -> bool:
    if value is None:
        return allow_none
    return type(value) is int and -1 <= value < bound


def _tasks_out_of_bounds(item: tuple) -> str | None:
    """Why a ``tasks`` record (tasks added to a running run) is malformed or past the
    limits, or None."""
    if len(item) != 4 or not (type(item[3]) is int and 0 <= item[3] <= MAX_TASKS):
        return f"4 fields, the last one more than the highest task id (at most {MAX_TASKS:,})"
    try:
        ids, names, slugs, *_ = store_items.read_columns(item[2])
    except (ValueError, TypeError) as exc:
        return f"a task list: {exc}"
    if ids and max(ids) >= item[3]:
        return "task ids below the record's count"
    if any(len(text) > MAX_TASK_NAME_CHARS for text in names) or \
            any(len(text) > MAX_TASK_NAME_CHARS for text in slugs if text is not None):
        return f"task names and slugs of at most {MAX_TASK_NAME_CHARS:,} characters"
    return None


def _out_of_bounds(item: tuple) -> str | None:
    """Why an item names a task or child past the limits, or None."""
    kind = item[0]
    try:
        if kind == "start" and not (type(item[6]) is int and 0 <= item[6] <= MAX_TASKS):
            return f"a flow of at most {MAX_TASKS:,} tasks"
        # (a start item of a ferroflow older than schema 10 has no executor)
        if kind == "start" and len(item) > 12 and not (
                item[12] is None or (type(item[12]) is str and len(item[12]) <= MAX_EXECUTOR_CHARS)):
            return f"the executor is null or a description of at most {MAX_EXECUTOR_CHARS:,} characters"
        # (schema 11: a subflow run's start names its parent run; schema 12: a named
        # run's start, its name; others have 13 fields, an older ferroflow's fewer)
        if kind == "start" and len(item) > 13 and not (
                len(item) <= 15 and (item[13] is None or (type(item[13]) is str and _RUN_ID.fullmatch(item[13])))):
            return "the parent run is null or a run id (32 hex digits), the 14th of at most 15 fields"
        if kind == "start" and len(item) > 14 and not (
                item[14] is None or (type(item[14]) is str and len(item[14]) <= MAX_RUN_NAME_CHARS)):
            return f"the run's name is null or a string of at most {MAX_RUN_NAME_CHARS:,} characters"
        if kind == "tasks":
            return _tasks_out_of_bounds(item)
        if kind == "width" and not (_index(item[2], MAX_TASKS) and type(item[3]) is int
                                    and 0 <= item[3] <= MAX_CHILDREN):
            return f"a task id below {MAX_TASKS:,} and at most {MAX_CHILDREN:,} children"
        if kind == "states" and not all(_index(row[0], MAX_TASKS) and _index(row[1], MAX_CHILDREN, True)
                                        for row in item[2]):
            return f"task ids below {MAX_TASKS:,}, child indices below {MAX_CHILDREN:,}"
        if kind == "logs" and not all(_index(row[0], MAX_TASKS, True) and _index(row[1], MAX_CHILDREN, True)
                                      for row in item[2]):
            return f"task ids below {MAX_TASKS:,}, child indices below {MAX_CHILDREN:,}"
        if kind == "report":
            for report in item[2]:
                indices = report[1]
                if not _index(report[0], MAX_TASKS):
                    return f"task ids below {MAX_TASKS:,}"
                if type(indices) is range:
                    if not (0 <= indices.start and indices.stop <= MAX_CHILDREN):
                        return f"child indices from 0 to {MAX_CHILDREN - 1:,}"
                elif indices is not None and not all(_index(i, MAX_CHILDREN) and i >= 0 for i in indices):
                    return f"child indices from 0 to {MAX_CHILDREN - 1:,}"
    except (TypeError, IndexError, AttributeError):
        return "not a record of this kind (wrong shape)"
    return None

"""Workers and work pools (``/workers``): every pool with its limit, pause, active runs
and deployments; every worker with its health (healthy, silent since when, stopped),
the runs it holds and its last heartbeat. The workers' table is a live region
(``/workers/live``, polled by ``ui.js``). Admins pause and resume pools and set or clear
their limit on active runs (:func:`ferroflow.store.claims.set_pool`, as ``PUT
/api/v1/pools/{name}`` does, with the same role)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ferroflow.server.ui.web import PageError, Viewer, action, page, redirect, render
from ferroflow.store import claims
from ferroflow.store.claims import PoolInfo, WorkerInfo
from ferroflow.store.deployments import DeploymentError
from ferroflow.store.orphans import HEARTBEAT_TIMEOUT

__all__ = ["LIVE_EVERY_MS", "Health", "health", "pools_shown", "router"]

router = APIRouter()

#: How often the workers' table is refreshed (milliseconds).
LIVE_EVERY_MS = 3000
#: What a pool form may do.
_DOING = ("pause", "resume", "limit", "clear")
#: The largest limit the form takes (the column is a 32-bit integer everywhere).
_MAX_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class Health:
    """A worker's health for people: ``label`` (``healthy``, ``stopping``, ``silent``,
    ``stopped``), the CSS class that colors it, and ``since`` (the last heartbeat, for a
    silent worker)."""

    label: str
    css: str
    since: float | None = None


def health(worker: WorkerInfo) -> Health:
    """The health of ``worker`` (:func:`ferroflow.store.claims.list_workers` says whether
    it beat within the heartbeat timeout)."""
    if worker.state == "stopped":
        return Health("stopped", "st-cancelled")
    if not worker.healthy:
        return Health("silent", "st-failed", worker.heartbeat_at)
    if worker.state == "stopping":
        return Health("stopping", "st-retrying")
    return Health("healthy", "st-success")


def pools_shown(pools: list[PoolInfo], workers: list[WorkerInfo]) -> list[PoolInfo]:
    """The pools set so far (``work_pools``), and, not paused and without a limit, the
    pools workers serve that nobody set yet (a worker's heartbeat does not make its
    pool's row); by name."""
    known = {p.name for p in pools}
    extra = sorted({w.pool for w in workers} - known)
    return sorted([*pools, *(PoolInfo(name, None, False, 0, 0) for name in extra)], key=lambda p: p.name)


def _workers(request: Request) -> list[tuple[WorkerInfo, Health]]:
    found = claims.list_workers(request.app.state.engine, timeout=HEARTBEAT_TIMEOUT)
    return [(w, health(w)) for w in found]


@router.get("/workers", summary="Workers and work pools")
def workers_page(request: Request, viewer: Annotated[Viewer, page("read")]) -> Response:
    """Pools (with their settings, and forms for admins) and workers (live)."""
    engine = request.app.state.engine
    workers = _workers(request)
    pools = pools_shown(claims.list_pools(engine), [w for w, _ in workers])
    return render(request, "workers.html", nav="workers", pools=pools, workers=workers, now=time.time(),
                  every=LIVE_EVERY_MS)


@router.get("/workers/live", summary="The workers' table (a live fragment)")
def workers_live(request: Request, viewer: Annotated[Viewer, page("read")]) -> Response:
    """The workers' table alone, for ``ui.js`` to swap in."""
    return render(request, "workers_live.html", workers=_workers(request), now=time.time(), every=LIVE_EVERY_MS)


@router.post("/workers/pool", summary="Pause, resume or limit a work pool")
def set_pool(request: Request, viewer: Annotated[Viewer, action("admin")]) -> Response:
    """Form fields ``pool``, ``do`` (``pause``, ``resume``, ``limit``: set it to
    ``limit``, ``clear``: remove it). A bad value comes back as a note on the page."""
    form = request.state.form
    name, doing, given = form.get("pool"), form.get("do"), form.get("limit")
    if not isinstance(name, str) or doing not in _DOING:
        raise PageError(400, "this form needs a pool and what to do (pause, resume, limit or clear)")
    engine = request.app.state.engine
    try:
        if doing in ("pause", "resume"):
            claims.set_pool(engine, name, paused=doing == "pause")
            note = f"Pool {name!r} {'paused: its workers claim no new runs' if doing == 'pause' else 'resumed'}."
        elif doing == "clear":
            claims.set_pool(engine, name, clear_limit=True)
            note = f"Pool {name!r} has no limit on active runs now."
        else:
            text = given.strip() if isinstance(given, str) else ""
            if not text.isdigit() or not 1 <= int(text) <= _MAX_LIMIT:
                return redirect(request, "/workers", note=f"A limit is a whole number from 1 to {_MAX_LIMIT:,}, "
                                                          f"got {text!r} (pool {name!r} not changed).")
            claims.set_pool(engine, name, concurrency_limit=int(text))
            note = f"Pool {name!r} runs at most {int(text):,} runs at a time now."
    except DeploymentError as exc:
        return redirect(request, "/workers", note=f"Not changed: {exc}")
    return redirect(request, "/workers", note=note)

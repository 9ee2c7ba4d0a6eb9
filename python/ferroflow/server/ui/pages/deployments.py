"""Deployments: ``/deployments`` (each with its flow, schedule, pause, pool, next run and
last run's state) and ``/deployments/{name}`` (its recipe; its schedule with a pause
toggle; its next scheduled runs; the Run form; its recent runs).

Actions (role ``run``): ``POST /deployments/{name}/pause`` and ``/resume``
(:func:`ferroflow.store.deployments.pause_deployment`: pausing deletes the runs its
schedule made that did not start) and ``POST /deployments/{name}/run``: the Run form
(:mod:`ferroflow.server.ui.run_form`), checked field by field on the server; a bad value
shows the form again (422) with the message by its field, a good form makes the run
(:func:`ferroflow.store.deployments.create_manual_run`) and opens its page.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from ferroflow.server.deps import Reading
from ferroflow.server.models import MAX_PARAMETERS_BYTES
from ferroflow.server.ui.pages.flows import json_text
from ferroflow.server.ui.run_form import Field, fields_of, parse
from ferroflow.server.ui.web import PageError, Viewer, action, duration, page, redirect, render
from ferroflow.store import deployments as store
from ferroflow.store import overview

__all__ = ["describe_schedule", "router"]

router = APIRouter()

Name = Annotated[str, Path(min_length=1, max_length=store.MAX_NAME)]


def _every(seconds: float) -> str:
    """``every 1 h 30 min`` (whole units, largest first)."""
    left, parts = float(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if left >= size:
            parts.append(f"{int(left // size)} {unit}")
            left %= size
    if left or not parts:
        parts.append(duration(left) if left < 1 else f"{left:g} s")
    return "every " + " ".join(parts)


def describe_schedule(spec: dict | None) -> str:
    """A schedule's JSON spec for people: ``cron 0 3 * * *``, ``every 1 h``, ``on 3
    dates``, clocks joined with "and"; ``(filtered)`` when filters or adjustments apply;
    ``none (runs on request)`` without a schedule."""
    if spec is None:
        return "none (runs on request)"
    parts = []
    for clock in spec.get("clocks", []) or []:
        kind = clock.get("kind") if isinstance(clock, dict) else None
        if kind == "cron":
            parts.append(f"cron {clock.get('cron')}")
        elif kind == "interval":
            parts.append(_every(float(clock.get("interval") or 0)))
        elif kind == "dates":
            dates = clock.get("dates") or []
            parts.append(f"on {len(dates)} date{'s' if len(dates) != 1 else ''}")
        else:
            parts.append(str(kind))
    text = " and ".join(parts) or "a schedule with no clock"
    if any(spec.get(k) for k in ("filters", "or_filters", "not_filters", "adjustments")):
        text += " (filtered)"
    return text


def _deployment(request: Request, name: str) -> store.Deployment:
    try:
        return store.get_deployment(request.app.state.engine, name)
    except store.UnknownDeploymentError:
        raise PageError(404, f"there is no deployment {name[:200]!r}") from None


@router.get("/deployments", summary="Deployments")
def deployments_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading) -> Response:
    """Every deployment: flow, schedule, paused or active, pool, next run, last run."""
    found = store.list_deployments(request.app.state.engine)
    upcoming = overview.next_run_times(conn, [d.id for d in found])
    rows = []
    for d in found:
        last = overview.recent_runs(conn, d.id, d.flow_name, limit=1)
        rows.append({"d": d, "schedule": describe_schedule(d.schedule), "next": upcoming.get(d.id),
                     "last": last[0] if last else None})
    return render(request, "deployments.html", nav="deployments", rows=rows, now=time.time())


def _page(request: Request, viewer: Viewer, conn: Any, d: store.Deployment, fields: list[Field] | None = None,
          error: str | None = None, status: int = 200) -> Response:
    return render(request, "deployment.html", status=status, nav="deployments", d=d,
                  schedule=describe_schedule(d.schedule), upcoming=overview.upcoming_runs(conn, d.id, 10),
                  recent=overview.recent_runs(conn, d.id, d.flow_name, 10),
                  fields=fields if fields is not None else fields_of(d), form_error=error,
                  options=json_text(d.executor_options) if d.executor_options else None, now=time.time(),
                  path="/deployments/" + urllib.parse.quote(d.name, safe=""))


@router.get("/deployments/{name}", summary="A deployment")
def deployment_page(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading,
                    name: Name) -> Response:
    """A deployment's recipe, schedule (with its pause toggle), next scheduled runs, Run
    form (role ``run``) and recent runs."""
    return _page(request, viewer, conn, _deployment(request, name))


@router.post("/deployments/{name}/pause", summary="Pause a deployment's schedule")
def pause(request: Request, viewer: Annotated[Viewer, action("run")], name: Name) -> Response:
    """Pause the schedule (the runs it made that did not start are deleted)."""
    return _toggle(request, name, store.pause_deployment,
                   "Paused: its schedule makes no runs until resumed; the runs it had made ahead are gone.")


@router.post("/deployments/{name}/resume", summary="Resume a deployment's schedule")
def resume(request: Request, viewer: Annotated[Viewer, action("run")], name: Name) -> Response:
    """Resume the schedule (from now: the time paused is not caught up)."""
    return _toggle(request, name, store.resume_deployment, "Resumed: its schedule makes runs from now on.")


def _toggle(request: Request, name: str, change: Any, note: str) -> Response:
    """Pause or resume (``change``) the schedule of deployment ``name``, back to its page."""
    try:
        change(request.app.state.engine, name)
    except store.UnknownDeploymentError:
        raise PageError(404, f"there is no deployment {name[:200]!r}") from None
    return redirect(request, "/deployments/" + urllib.parse.quote(name, safe=""), note=note)


@router.post("/deployments/{name}/run", summary="Run a deployment now")
def run(request: Request, viewer: Annotated[Viewer, action("run")], conn: Reading, name: Name) -> Response:
    """The Run form: each field parsed to its parameter's type; errors show the form
    again (422), else a new run of the deployment and its page."""
    d = _deployment(request, name)
    values, fields = parse(fields_of(d), request.state.form)
    if any(f.error for f in fields):
        return _page(request, viewer, conn, d, fields, "Some values are not right: see the fields marked.", 422)
    if len(json.dumps(values)) > MAX_PARAMETERS_BYTES:
        return _page(request, viewer, conn, d, fields, f"The parameters are longer than "
                     f"{MAX_PARAMETERS_BYTES // 1024} KiB as JSON: pass large values by reference.", 422)
    try:
        made = store.create_manual_run(request.app.state.engine, d.name, values)
    except store.UnknownDeploymentError:
        raise PageError(404, f"there is no deployment {name[:200]!r}") from None
    except store.DeploymentError as exc:
        return _page(request, viewer, conn, d, fields, str(exc), 422)
    return redirect(request, f"/runs/{made.run_id}", note=f"Run {made.run_id[:8]} of {d.name} created.")

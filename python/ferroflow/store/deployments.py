"""Deployments: named, stored recipes of flow runs (the ``deployments`` table), made,
updated, listed, paused, resumed and deleted; and runs of one made on request.

A deployment names its flow by an entrypoint (``path/to/file.py:flow`` or
``package.module:flow``) and keeps the parameters its runs get, a schedule (the JSON
spec of :mod:`ferroflow.schedules.spec`, or none), the work pool its runs go to, tags,
an executor and its options, how often a crashed run is retried, a concurrency limit,
a description, and which missed runs start after downtime (``catchup``: ``latest`` or
``all``); and the flow's parameters as deploying found them (``parameter_schema``: name ->
``{"default", "required", "type"}``, see :func:`ferroflow.core.parameter.parameter_schema`),
from which the web UI builds its Run form. Deploying again under the same name updates it, never duplicates it
(:func:`deploy`). The scheduler (:mod:`ferroflow.store.scheduling`) makes the runs of
a schedule; here a run is made on request (:func:`create_manual_run`), ``Scheduled``
to start now. Pausing, redeploying with another recipe and deleting remove the runs
the schedule made that did not start yet.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from ferroflow.store.control import _insert, create_run
from ferroflow.store.queries import RunInfo
from ferroflow.store.scheduling import remove_unstarted_runs
from ferroflow.store.schema import deployments, work_pools

__all__ = ["CATCHUP", "MAX_NAME", "MAX_SCHEMA_BYTES", "PARAMETER_TYPES", "Deployment", "DeploymentError",
           "UnknownDeploymentError", "check_entrypoint", "check_parameter_schema", "create_manual_run",
           "delete_deployment", "deploy", "get_deployment", "list_deployments",
           "pause_deployment", "resume_deployment"]

#: Which missed runs start after downtime: the most recent only, or every one in order.
CATCHUP = ("latest", "all")
#: Longest name of a deployment or a work pool.
MAX_NAME = 200
#: The types a parameter schema names (``any``: whatever JSON holds; ``null`` too).
PARAMETER_TYPES = ("integer", "number", "boolean", "string", "array", "object", "null", "any")
#: Longest parameter schema, as JSON.
MAX_SCHEMA_BYTES = 256 * 1024
#: The keys of one parameter's entry in a parameter schema.
_SCHEMA_KEYS = ("default", "required", "type")

#: The fields of a recipe its runs are made of: changing one replaces the runs made ahead.
_RECIPE_OF_RUNS = ("schedule", "parameters", "tags", "flow_name")

_MODULE_ENTRYPOINT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


class DeploymentError(ValueError):
    """A deployment's recipe is invalid (the message says which field and why)."""


class UnknownDeploymentError(LookupError):
    """No deployment has this name."""

    def __init__(self, name: str):
        super().__init__(f"there is no deployment {name!r} (see `ferroflow deployments ls`)")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Deployment:
    """A deployment as stored. ``schedule`` is a schedule's JSON spec or None; times are
    seconds since the epoch."""

    id: int
    name: str
    flow_name: str
    entrypoint: str
    parameters: dict
    schedule: dict | None
    pool: str
    tags: list
    executor: str | None
    executor_options: dict
    retries: int
    concurrency_limit: int | None
    description: str
    paused: bool
    catchup: str
    created_at: float
    updated_at: float
    parameter_schema: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The deployment as a JSON object."""
        return asdict(self)


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.isprintable() or "/" in name \
            or name != name.strip():
        raise DeploymentError(f"{what} is 1 to {MAX_NAME} printable characters without '/' or surrounding "
                              f"spaces, got {name!r}")
    return name


def check_entrypoint(entrypoint: Any) -> str:
    """``entrypoint`` if it is ``path/to/file.py:flow`` or ``package.module:flow``, and
    the flow part of it; DeploymentError otherwise."""
    if isinstance(entrypoint, str):
        path, sep, flow = entrypoint.rpartition(":")
        if sep and path.endswith(".py") and len(path) > 3 and flow.strip() and "/" not in flow \
                and "\\" not in flow:
            return flow
        if _MODULE_ENTRYPOINT.fullmatch(entrypoint):
            return flow
    raise DeploymentError(f"entrypoint {entrypoint!r}: expected path/to/file.py:flow_name or "
                          f"package.module:flow_name")


def _json_object(value: Any, what: str) -> str:
    if value is None:
        value = {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise DeploymentError(f"{what} must be a JSON object with string keys, got {type(value).__name__}")
    try:
        return json.dumps(dict(value), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DeploymentError(f"{what} must hold JSON values only: {exc}") from None


def _check_schedule(schedule: Any) -> str | None:
    if schedule is None:
        return None
    from ferroflow.schedules.spec import from_spec

    try:
        from_spec(schedule)
    except ValueError as exc:
        raise DeploymentError(f"schedule: {exc}") from None
    return json.dumps(schedule, sort_keys=True)


def _check_count(value: Any, what: str, least: int, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise DeploymentError(f"{what} must be a whole number of at least {least}, got {value!r}")
    return value


def check_parameter_schema(schema: Any) -> str:
    """``schema`` (None: none) as the JSON text stored: an object of parameter names,
    each an object with the keys ``default`` (a JSON value), ``required`` (a boolean)
    and ``type`` (one of :data:`PARAMETER_TYPES`), at most :data:`MAX_SCHEMA_BYTES`
    long; DeploymentError saying what is wrong otherwise."""
    if schema is None:
        return "{}"
    text = _json_object(schema, "parameter_schema")
    if len(text) > MAX_SCHEMA_BYTES:
        raise DeploymentError(f"parameter_schema is longer than {MAX_SCHEMA_BYTES // 1024} KiB as JSON")
    for name, entry in schema.items():
        if not name or not isinstance(entry, Mapping):
            raise DeploymentError(f"parameter_schema: each parameter (by non-empty name) needs an object, "
                                  f"got {name!r}: {entry!r}"[:300])
        unknown = sorted(set(entry) - set(_SCHEMA_KEYS))
        if unknown:
            raise DeploymentError(f"parameter_schema: parameter {name!r}: unknown key(s) {', '.join(unknown)} "
                                  f"(keys: {', '.join(_SCHEMA_KEYS)})")
        if not isinstance(entry.get("required", False), bool):
            raise DeploymentError(f"parameter_schema: parameter {name!r}: required must be true or false")
        if entry.get("type", "any") not in PARAMETER_TYPES:
            raise DeploymentError(f"parameter_schema: parameter {name!r}: type must be one of "
                                  f"{', '.join(PARAMETER_TYPES)}, got {entry.get('type')!r}"[:300])
    return text


def _values(name: str, entrypoint: str, flow_name: str | None, parameters: Any, schedule: Any, pool: str,
            tags: Iterable[str], executor: str | None, executor_options: Any, retries: int,
            concurrency_limit: int | None, description: str, catchup: str, parameter_schema: Any = None) -> dict:
    """The row of a recipe, every field checked."""
    _check_name(name, "a deployment's name")
    flow_part = check_entrypoint(entrypoint)
    tags = [tags] if isinstance(tags, str) else list(tags)
    if not all(isinstance(t, str) and t for t in tags):
        raise DeploymentError(f"tags must be non-empty strings, got {tags!r}")
    if catchup not in CATCHUP:
        raise DeploymentError(f"catchup must be one of {', '.join(CATCHUP)}, got {catchup!r}")
    if executor is not None and (not isinstance(executor, str) or not executor):
        raise DeploymentError(f"executor must be a non-empty name, got {executor!r}")
    if not isinstance(description, str):
        raise DeploymentError("description must be text")
    if flow_name is not None and (not isinstance(flow_name, str) or not flow_name.strip()):
        raise DeploymentError(f"flow_name must be a non-empty name, got {flow_name!r}")
    return {
        "name": name, "entrypoint": entrypoint, "flow_name": flow_name or flow_part,
        "parameters": _json_object(parameters, "parameters"), "schedule": _check_schedule(schedule),
        "pool": _check_name(pool, "a work pool's name"), "tags": json.dumps(list(dict.fromkeys(tags))),
        "executor": executor, "executor_options": _json_object(executor_options, "executor_options"),
        "retries": _check_count(retries, "retries", 0, False),
        "concurrency_limit": _check_count(concurrency_limit, "concurrency_limit", 1, True),
        "description": description, "catchup": catchup,
        "parameter_schema": check_parameter_schema(parameter_schema),
    }


def _from_row(row: Any) -> Deployment:
    return Deployment(
        id=int(row.id), name=row.name, flow_name=row.flow_name, entrypoint=row.entrypoint,
        parameters=json.loads(row.parameters), schedule=None if row.schedule is None else json.loads(row.schedule),
        pool=row.pool, tags=json.loads(row.tags), executor=row.executor,
        executor_options=json.loads(row.executor_options), retries=int(row.retries),
        concurrency_limit=row.concurrency_limit, description=row.description, paused=bool(row.paused),
        catchup=row.catchup, created_at=row.created_at, updated_at=row.updated_at,
        parameter_schema=json.loads(row.parameter_schema or "{}"))


def deploy(engine: Engine, name: str, entrypoint: str, *, flow_name: str | None = None,
           parameters: Mapping[str, Any] | None = None, schedule: Mapping[str, Any] | None = None,
           pool: str = "default", tags: Iterable[str] = (), executor: str | None = None,
           executor_options: Mapping[str, Any] | None = None, retries: int = 0,
           concurrency_limit: int | None = None, description: str = "",
           catchup: str = "latest", parameter_schema: Mapping[str, Any] | None = None) -> tuple[Deployment, bool]:
    """Create deployment ``name``, or update the one of that name with this recipe (its
    pause stays as it was); return ``(deployment, created)``. ``flow_name`` defaults to
    the entrypoint's part after ``:``; ``schedule`` is a spec of
    :func:`ferroflow.schedules.spec.to_spec`. The work pool is made when first named.
    When the schedule, parameters, tags or flow name change, the runs the schedule made
    ahead (after now, not started) are deleted and the scheduler makes them again from
    the new recipe. ``parameter_schema`` describes the flow's parameters for the web UI's
    Run form (see :func:`check_parameter_schema`; None: none known). Raises
    :class:`DeploymentError` for an invalid recipe (bad name, entrypoint, schedule spec,
    parameters that are not a JSON object, ...)."""
    values = _values(name, entrypoint, flow_name, parameters, schedule, pool, tags, executor, executor_options,
                     retries, concurrency_limit, description, catchup, parameter_schema)
    now = time.time()
    with engine.connect().execution_options(ferroflow_write=True) as conn, conn.begin():
        made = conn.execute(_insert(conn, deployments).values(**values, paused=False, created_at=now, updated_at=now)
                            .on_conflict_do_nothing(index_elements=[deployments.c.name])
                            .returning(deployments.c.id)).first()
        if made is None:
            before = conn.execute(select(deployments.c.id, *(deployments.c[k] for k in _RECIPE_OF_RUNS))
                                  .where(deployments.c.name == name).with_for_update()).first()
            changes: dict = {}
            if before is not None and any(before._mapping[k] != values[k] for k in _RECIPE_OF_RUNS):
                # (the row locked above) runs made ahead from the old recipe go; the
                # scheduler's next tick makes them anew
                remove_unstarted_runs(conn, before.id, after=now)
                changes["scheduled_until"] = now
            conn.execute(update(deployments).where(deployments.c.name == name)
                         .values(**values, **changes, updated_at=now))
        conn.execute(_insert(conn, work_pools).values(name=values["pool"], paused=False, created_at=now)
                     .on_conflict_do_nothing(index_elements=[work_pools.c.name]))
        return _get(conn, name), made is not None


def _get(conn: Connection, name: str) -> Deployment:
    row = conn.execute(select(deployments).where(deployments.c.name == name)).first()
    if row is None:
        raise UnknownDeploymentError(name)
    return _from_row(row)


def get_deployment(engine: Engine, name: str) -> Deployment:
    """Deployment ``name``; :class:`UnknownDeploymentError` when there is none."""
    with engine.connect() as conn:
        return _get(conn, name)


def list_deployments(engine: Engine, pool: str | None = None) -> list[Deployment]:
    """Every deployment (of work pool ``pool``, if given), by name."""
    query = select(deployments).order_by(deployments.c.name)
    if pool is not None:
        query = query.where(deployments.c.pool == pool)
    with engine.connect() as conn:
        return [_from_row(row) for row in conn.execute(query)]


def _set_paused(engine: Engine, name: str, paused: bool) -> Deployment:
    now = time.time()
    with engine.connect().execution_options(ferroflow_write=True) as conn, conn.begin():
        was = conn.execute(select(deployments.c.id, deployments.c.paused).where(deployments.c.name == name)
                           .with_for_update()).first()
        if was is None:
            raise UnknownDeploymentError(name)
        changes: dict = {"paused": paused, "updated_at": now}
        if not paused and was.paused:
            changes["scheduled_until"] = now  # the time paused is not downtime: nothing to catch up
        # the row is locked first (FOR UPDATE; SQLite: the write transaction), as the
        # scheduler locks it before inserting runs: no run of a paused deployment slips in
        conn.execute(update(deployments).where(deployments.c.id == was.id).values(**changes))
        if paused:
            remove_unstarted_runs(conn, was.id)
        return _get(conn, name)


def pause_deployment(engine: Engine, name: str) -> Deployment:
    """Pause deployment ``name``: its schedule makes no runs until it is resumed, and the
    runs its schedule made that did not start (``Scheduled``, ``Late``) are deleted (runs
    made on request stay, and still can be made). :class:`UnknownDeploymentError` when
    there is none."""
    return _set_paused(engine, name, True)


def resume_deployment(engine: Engine, name: str) -> Deployment:
    """Resume a paused deployment: its schedule makes runs from now on (the time it was
    paused is not downtime: nothing is caught up). Resuming one not paused changes
    nothing but its update time. :class:`UnknownDeploymentError` when there is none."""
    return _set_paused(engine, name, False)


def delete_deployment(engine: Engine, name: str) -> None:
    """Delete deployment ``name``: its runs stay, with their records, except those its
    schedule made that did not start, deleted. :class:`UnknownDeploymentError` when
    there is none."""
    with engine.connect().execution_options(ferroflow_write=True) as conn, conn.begin():
        gone = conn.execute(delete(deployments).where(deployments.c.name == name).returning(deployments.c.id)).first()
        if gone is None:
            raise UnknownDeploymentError(name)
        remove_unstarted_runs(conn, gone.id)


def create_manual_run(engine: Engine, name: str, parameters: Mapping[str, Any] | None = None) -> RunInfo:
    """A new ``Scheduled`` run of deployment ``name``, to start now, with the
    deployment's parameters updated by ``parameters`` and its tags. Paused deployments
    accept runs made on request. Raises :class:`UnknownDeploymentError`,
    :class:`DeploymentError` (``parameters`` not a JSON object)."""
    given = json.loads(_json_object(parameters, "parameters"))
    found = get_deployment(engine, name)
    merged = {**found.parameters, **given}
    run, _ = create_run(engine, found.flow_name, merged, tags=found.tags, deployment_id=found.id)
    return run


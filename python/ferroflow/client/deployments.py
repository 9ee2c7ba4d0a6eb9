"""Deployments where they live: on a ferroflow server (through its API) or in a
database directly (:mod:`ferroflow.store.deployments`), behind one interface, so that
``ferroflow deploy``, ``ferroflow deployments`` and ``Flow.deploy`` take one code path.

:func:`open_deployments` picks the place: the server at ``server`` (or
``FERROFLOW_API_URL``) when there is one, else the database at ``database`` (or
``FERROFLOW_DATABASE_URL``, else the embedded SQLite store). Errors are the store's
either way: :class:`~ferroflow.store.deployments.DeploymentError` for an invalid recipe
and :class:`~ferroflow.store.deployments.UnknownDeploymentError` for a name no
deployment has (a server's other errors are :class:`~ferroflow.client.http.ClientError`
and :class:`~ferroflow.client.http.Unreachable`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ferroflow.client.http import Client, ClientError, _segment, configured_url, run_from_json
from ferroflow.store import deployments as store
from ferroflow.store.deployments import Deployment, DeploymentError, UnknownDeploymentError
from ferroflow.store.queries import RunInfo

__all__ = ["MAX_SCHEMA_DEFAULT_BYTES", "LocalDeployments", "ServerDeployments", "deploy_flow", "json_type",
           "open_deployments", "parameter_schema", "schedule_spec"]

#: A default longer than this as JSON is left out of a flow's parameter schema (the Run
#: form leaves its field empty, and the flow's own default applies).
MAX_SCHEMA_DEFAULT_BYTES = 16 * 1024


class LocalDeployments:
    """Deployments in a database (a migrated SQLAlchemy engine)."""

    def __init__(self, engine: Any):
        self.engine = engine
        self.where = engine.url.render_as_string(hide_password=True)

    def deploy(self, name: str, **recipe: Any) -> tuple[Deployment, bool]:
        """Create or update deployment ``name`` (see :func:`ferroflow.store.deployments.deploy`)."""
        return store.deploy(self.engine, name, **recipe)

    def list(self) -> list[Deployment]:
        """Every deployment, by name."""
        return store.list_deployments(self.engine)

    def get(self, name: str) -> Deployment:
        """One deployment."""
        return store.get_deployment(self.engine, name)

    def pause(self, name: str) -> Deployment:
        """Pause a deployment's schedule."""
        return store.pause_deployment(self.engine, name)

    def resume(self, name: str) -> Deployment:
        """Resume a deployment's schedule."""
        return store.resume_deployment(self.engine, name)

    def delete(self, name: str) -> None:
        """Delete a deployment (its runs stay)."""
        store.delete_deployment(self.engine, name)

    def run(self, name: str, parameters: Mapping[str, Any] | None = None) -> RunInfo:
        """A new ``Scheduled`` run of a deployment."""
        return store.create_manual_run(self.engine, name, parameters)


class ServerDeployments:
    """Deployments on a ferroflow server."""

    def __init__(self, client: Client):
        self.client = client
        self.where = client.url

    def _call(self, name: str, method: str, path: str = "", body: Any = None) -> Any:
        url = f"/api/v1/deployments/{_segment(name)}{path}"
        try:
            if method == "DELETE":
                return self.client.delete(url)
            if method == "POST":
                return self.client.post(url, body)
            return self.client.get(url)
        except ClientError as exc:
            if exc.status == 404:
                raise UnknownDeploymentError(name) from None
            if exc.status == 422:
                raise DeploymentError(exc.detail) from None
            raise

    def deploy(self, name: str, **recipe: Any) -> tuple[Deployment, bool]:
        """Create or update deployment ``name`` (``PUT /deployments/{name}``)."""
        try:
            response = self.client._send("PUT", f"/api/v1/deployments/{_segment(name)}", json=recipe)
        except ClientError as exc:
            if exc.status == 422:
                raise DeploymentError(exc.detail) from None
            raise
        return Deployment(**response.json()), response.status_code == 201

    def list(self) -> list[Deployment]:
        """Every deployment, by name."""
        return [Deployment(**d) for d in self.client.get("/api/v1/deployments")]

    def get(self, name: str) -> Deployment:
        """One deployment."""
        return Deployment(**self._call(name, "GET"))

    def pause(self, name: str) -> Deployment:
        """Pause a deployment's schedule."""
        return Deployment(**self._call(name, "POST", "/pause"))

    def resume(self, name: str) -> Deployment:
        """Resume a deployment's schedule."""
        return Deployment(**self._call(name, "POST", "/resume"))

    def delete(self, name: str) -> None:
        """Delete a deployment (its runs stay)."""
        self._call(name, "DELETE")

    def run(self, name: str, parameters: Mapping[str, Any] | None = None) -> RunInfo:
        """A new ``Scheduled`` run of a deployment."""
        return run_from_json(self._call(name, "POST", "/runs", {"parameters": dict(parameters or {})}))


@contextmanager
def open_deployments(server: str | None = None, database: str | None = None) -> Iterator[Any]:
    """The deployments of the server at ``server`` (default ``FERROFLOW_API_URL``), or,
    with no server or with ``database`` given, of that database (default
    ``FERROFLOW_DATABASE_URL``, else the embedded SQLite store), migrated to the current
    schema. Closed after the block."""
    url = None if database else (server or configured_url())
    if url:
        with Client(url) as client:
            yield ServerDeployments(client)
        return
    from ferroflow.store.database import default_database_url, make_engine
    from ferroflow.store.migrations import migrate

    engine = make_engine(database or default_database_url())
    try:
        migrate(engine)
        yield LocalDeployments(engine)
    finally:
        engine.dispose()


def schedule_spec(schedule: Any) -> dict | None:
    """A schedule as a deployment keeps it: None, a :class:`~ferroflow.schedules.Schedule`
    (or one clock) as its JSON spec, or a spec as given (checked when stored)."""
    if schedule is None or isinstance(schedule, dict):
        return schedule
    from ferroflow.schedules import Clock, Schedule, to_spec

    if isinstance(schedule, Clock):
        schedule = Schedule([schedule])
    try:
        return to_spec(schedule)
    except ValueError as exc:
        raise DeploymentError(f"schedule: {exc}") from None


def deploy_flow(flow: Any, name: str, entrypoint: str, *, parameters: Mapping[str, Any] | None = None,
                schedule: Any = None, server: str | None = None, database: str | None = None,
                **recipe: Any) -> tuple[Deployment, bool]:
    """Deploy ``flow`` (loaded from ``entrypoint``) as ``name`` where
    :func:`open_deployments` says: its parameters checked against the flow's (an
    unknown name is refused, listing the flow's), ``schedule`` a Schedule, a clock or
    a spec, the flow's name kept, its parameters described
    (:func:`ferroflow.core.parameter.parameter_schema`, for the web UI's Run form).
    ``recipe``: the other fields of :func:`ferroflow.store.deployments.deploy`. Returns
    ``(deployment, created)``."""

    parameters = dict(parameters or {})
    eager = not hasattr(flow, "parameters")  # an @flow function: its parameters are its arguments
    if eager:
        signature = flow.binder.signature
        known = sorted(n for n, p in signature.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            known = sorted(set(known) | set(parameters))
    else:
        known = sorted(p.name for p in flow.parameters())
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise DeploymentError(f"flow {flow.name!r} has no parameter {', '.join(map(repr, unknown))} (its parameters: "
                              f"{', '.join(known) or 'none'})")
    with open_deployments(server, database) as place:
        return place.deploy(name, entrypoint=entrypoint, flow_name=flow.name, parameters=parameters,
                            schedule=schedule_spec(schedule),
                            parameter_schema=eager_parameter_schema(flow) if eager else parameter_schema(flow),
                            **recipe)


def json_type(value: Any) -> str:
    """The type of ``value`` as a parameter schema names it (one of
    :data:`ferroflow.store.deployments.PARAMETER_TYPES`): ``boolean``, ``integer``,
    ``number``, ``string``, ``array``, ``object``, or ``any`` (None, or a value JSON
    cannot hold). ``bool`` is tested before ``int``: ``True`` is an int too."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number" if math.isfinite(value) else "any"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "any"


def _json_default(value: Any) -> Any:
    """``value`` as JSON holds it, or None when JSON cannot (or it is too long to show)."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return None if len(text) > MAX_SCHEMA_DEFAULT_BYTES else json.loads(text)


#: Type hints -> the type a parameter schema names.
_HINT_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", tuple: "array",
               set: "array", frozenset: "array", dict: "object"}


def eager_parameter_schema(flow: Any) -> dict[str, dict[str, Any]]:
    """:func:`parameter_schema` of an ``@flow`` function: one entry per argument of its
    function (``*args``/``**kwargs`` excepted), required when it has no default, its
    type from its type hint (``int`` -> ``integer``, ``list[str]`` -> ``array``,
    ``Optional[int]`` -> ``integer``...), else from its default."""
    import inspect
    import typing

    signature = flow.binder.signature
    try:
        hints = typing.get_type_hints(flow.fn)
    except Exception:  # a hint naming what cannot be found
        hints = {}
    out: dict[str, dict[str, Any]] = {}
    for name, p in sorted(signature.parameters.items()):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        required = p.default is inspect.Parameter.empty
        default = None if required else _json_default(p.default)
        kind = _hint_type(hints.get(name))
        if kind == "any" and default is not None:
            kind = json_type(default)
        out[name] = {"default": default, "required": required, "type": kind}
    return out


def _hint_type(hint: Any) -> str:
    import typing

    if hint is None:
        return "any"
    origin = typing.get_origin(hint)
    if origin is typing.Union or type(hint).__name__ == "UnionType":
        kinds = {_hint_type(a) for a in typing.get_args(hint) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else "any"
    found = _HINT_TYPES.get(origin if origin is not None else hint)
    return found or "any"


def parameter_schema(flow: Any) -> dict[str, dict[str, Any]]:
    """What a form needs to ask for ``flow``'s parameters (its
    :class:`~ferroflow.core.parameter.Parameter` tasks): name -> ``{"default",
    "required", "type"}``. ``default`` is the parameter's default as JSON (None when it
    has none, or one JSON cannot hold, or one longer than
    :data:`MAX_SCHEMA_DEFAULT_BYTES`); ``type`` is inferred from it (:func:`json_type`;
    ``any`` without a usable default). Deploying stores it with the deployment for the
    web UI's Run form."""
    out: dict[str, dict[str, Any]] = {}
    for p in sorted(flow.parameters(), key=lambda p: p.name):
        default = _json_default(p.default)
        out[p.name] = {"default": default, "required": bool(p.required),
                       "type": "any" if default is None else json_type(default)}
    return out

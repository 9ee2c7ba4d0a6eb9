"""The HTTP client of the ferroflow server's API.

::

    from ferroflow.client.http import Client

    with Client("http://127.0.0.1:4300") as client:      # or FERROFLOW_API_URL
        page = client.list_runs(flow="etl", states=["Failed"])
        for run in page.items:
            print(run.run_id, run.state)
        tasks = client.run_tasks(page.items[0].run_id)

``FERROFLOW_API_URL`` names the server, ``FERROFLOW_API_KEY`` the key sent as
``Authorization: Bearer``. Every request has a timeout. A server that cannot be
reached raises :class:`Unreachable`; an error answer (``application/problem+json``)
raises :class:`ClientError` with its status, title and detail. The read methods
answer with the run store's types (:mod:`ferroflow.store.queries`), so what reads the
local store reads a server alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from ferroflow.state_codes import CODES
from ferroflow.store.base import LogLine
from ferroflow.store.config import API_URL_ENV
from ferroflow.store.queries import ChildInfo, FlowInfo, Page, RunInfo, TaskInfo

__all__ = ["API_KEY_ENV", "API_URL_ENV", "Client", "ClientError", "Unreachable", "configured_url"]

API_KEY_ENV = "FERROFLOW_API_KEY"
#: Seconds a request may take (connecting, sending, waiting, reading) by default.
DEFAULT_TIMEOUT = 10.0


def configured_url() -> str | None:
    """``FERROFLOW_API_URL``, or None when no server is configured."""
    url = os.environ.get(API_URL_ENV, "").strip()
    return url or None


class Unreachable(Exception):
    """The server could not be reached, or did not answer in time."""


class ClientError(Exception):
    """The server answered with an error: ``status``, the problem's ``title`` and
    ``detail`` (``problem``: the whole problem document)."""

    def __init__(self, status: int, title: str, detail: str, problem: dict | None = None):
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.problem = problem or {}


def _code(name: str | None) -> int | None:
    """A state's code from its name (``Unknown(N)``: N)."""
    if name is None:
        return None
    if name in CODES:
        return CODES[name]
    if name.startswith("Unknown(") and name.endswith(")") and name[8:-1].isdigit():
        return int(name[8:-1])
    return None


def run_from_json(data: dict) -> RunInfo:
    """A :class:`RunInfo` from the API's run."""
    return RunInfo(data["run_id"], data["flow_name"], data["state"], data.get("message"), data.get("parameters") or {},
                   data["started_at"], data.get("ended_at"), data.get("resumed_from"), data.get("hostname"),
                   data.get("pid"), data.get("record_error"), data.get("executor"), data.get("parent_run_id"),
                   data.get("run_name"), tuple(data.get("tags") or ()),
                   int(data.get("state_version") or 0), data.get("created_at"), data.get("idempotency_key"))


def task_from_json(data: dict) -> TaskInfo:
    """A :class:`TaskInfo` from the API's task."""
    return TaskInfo(task_id=data["task_id"], name=data["name"], slug=data.get("slug"), is_mapped=data["is_mapped"],
                    width=data.get("width"), code=_code(data.get("state")), run_count=data.get("run_count"),
                    message=data.get("message"), result_location=data.get("result_location"),
                    counts=dict(data.get("counts") or {}), failed_count=int(data.get("failed_count") or 0),
                    approved=bool(data.get("approved")))


def child_from_json(data: dict) -> ChildInfo:
    """A :class:`ChildInfo` from the API's child."""
    code = _code(data.get("state"))
    return ChildInfo(data["task_id"], data["map_index"], -1 if code is None else code, data.get("run_count"),
                     data.get("message"), data.get("result_location"), data.get("traceback"))


def log_from_json(data: dict) -> LogLine:
    """A :class:`LogLine` from the API's log record."""
    return LogLine(data.get("task_id"), data.get("task_name"), data.get("map_index"), data["created_at"],
                   data["level"], data["levelname"], data["logger"], data["message"])


def _segment(text: str) -> str:
    return quote(str(text), safe="")


class Client:
    """A connection to one server (keep-alive; close it, or use it as a context
    manager).

    Args:
        url: the server's base URL (default ``FERROFLOW_API_URL``).
        api_key: the key to send (default ``FERROFLOW_API_KEY``; none: no header).
        timeout: seconds each request may take.
    """

    def __init__(self, url: str | None = None, *, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT):
        url = url or configured_url()
        if not url:
            raise ValueError(f"no server: pass its URL or set {API_URL_ENV}")
        self.url = url.rstrip("/")
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        self.api_key = key  # (never shown: not in repr, nor in errors)
        headers = {"User-Agent": "ferroflow"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"<Client {self.url}>"  # never the key

    # ----- transport ----------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # connect, read, write, timeouts, protocol
            raise Unreachable(f"cannot reach the ferroflow server at {self.url} ({type(exc).__name__}"
                              f"{': ' + str(exc) if str(exc) else ''})") from exc
        if response.status_code >= 400:
            problem: dict = {}
            try:
                found = response.json()
                problem = found if isinstance(found, dict) else {}
                title, detail = str(problem.get("title", "")), str(problem.get("detail", ""))
            except ValueError:
                title, detail = response.reason_phrase, response.text[:500]
            raise ClientError(response.status_code, title or response.reason_phrase, detail, problem)
        return response

    def get(self, path: str, **params: Any) -> Any:
        """``GET path`` with query ``params`` (None values and empty lists left out);
        the JSON answer."""
        query = {k: v for k, v in params.items() if v is not None and v != []}
        return self._send("GET", path, params=query).json()

    def post(self, path: str, body: Any = None) -> Any:
        """``POST path`` with a JSON body; the JSON answer (None for an empty one)."""
        response = self._send("POST", path, json=body)
        return response.json() if response.content else None

    def put(self, path: str, body: Any = None) -> Any:
        """``PUT path`` with a JSON body; the JSON answer (None for an empty one)."""
        response = self._send("PUT", path, json=body)
        return response.json() if response.content else None

    def delete(self, path: str) -> Any:
        """``DELETE path``; the JSON answer (None for an empty one)."""
        response = self._send("DELETE", path)
        return response.json() if response.content else None

    def post_raw(self, path: str, body: bytes) -> Any:
        """``POST path`` with ``body``, JSON already; the JSON answer."""
        response = self._send("POST", path, content=body, headers={"Content-Type": "application/json"})
        return response.json() if response.content else None

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ----- server -------------------------------------------------------------------

    def health(self) -> dict:
        """``GET /api/v1/health``: raises :class:`ClientError` (503) when it cannot serve."""
        return self.get("/api/v1/health")

    def version(self) -> dict:
        """The server's versions (ferroflow, API, schema)."""
        return self.get("/api/v1/version")

    # ----- flows --------------------------------------------------------------------

    def list_flows(self, limit: int = 100, cursor: str | None = None) -> Page[FlowInfo]:
        """A page of flows, by name."""
        data = self.get("/api/v1/flows", limit=limit, cursor=cursor)
        return Page([FlowInfo(**f) for f in data["items"]], data["next_cursor"])

    def get_flow(self, name: str) -> FlowInfo | None:
        """The flow named ``name``, or None."""
        try:
            return FlowInfo(**self.get(f"/api/v1/flows/{_segment(name)}"))
        except ClientError as exc:
            if exc.status == 404:
                return None
            raise

    # ----- runs ---------------------------------------------------------------------

    def list_runs(self, *, flow: str | None = None, states: Iterable[str] | None = None,
                  started_after: float | None = None, started_before: float | None = None,
                  tags: Iterable[str] | None = None, id_prefix: str | None = None, limit: int = 50,
                  cursor: str | None = None, resumed_from: str | None = None,
                  parent_run_id: str | None = None) -> Page[RunInfo]:
        """A page of runs, newest first (see :func:`ferroflow.store.queries.list_runs`)."""
        data = self.get("/api/v1/runs", flow=flow, state=list(states or []), started_after=started_after,
                        started_before=started_before, tag=list(tags or []), id_prefix=id_prefix, limit=limit,
                        cursor=cursor, resumed_from=resumed_from, parent_run_id=parent_run_id)
        return Page([run_from_json(r) for r in data["items"]], data["next_cursor"])

    def iter_runs(self, *, limit: int | None = None, page_size: int = 200, **filters: Any) -> Iterator[RunInfo]:
        """Runs newest first, page after page, at most ``limit`` (None: all)."""
        cursor = None
        count = 0
        while True:
            size = page_size if limit is None else max(1, min(page_size, limit - count))
            page = self.list_runs(limit=size, cursor=cursor, **filters)
            for run in page.items:
                yield run
                count += 1
                if limit is not None and count >= limit:
                    return
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get_run(self, run_id: str) -> RunInfo | None:
        """The run with this full id, or None."""
        try:
            return run_from_json(self.get(f"/api/v1/runs/{_segment(run_id)}"))
        except ClientError as exc:
            if exc.status in (404, 422):  # unknown, or not a full id
                return None
            raise

    def match_run_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids of runs whose id starts with ``prefix`` (newest first)."""
        text = prefix.lower()
        if not text or len(text) > 32 or any(c not in "0123456789abcdef" for c in text):
            return []
        return [r.run_id for r in self.list_runs(id_prefix=text, limit=limit).items]

    def create_run(self, flow_name: str, parameters: dict | None = None, tags: Iterable[str] = (),
                   idempotency_key: str | None = None, scheduled_start: float | None = None) -> tuple[RunInfo, bool]:
        """Create a run (``Scheduled``); ``(run, created)``: False when the
        idempotency key was used before (that run)."""
        body: dict = {"flow_name": flow_name, "parameters": parameters or {}, "tags": list(tags)}
        if idempotency_key is not None:
            body["idempotency_key"] = idempotency_key
        if scheduled_start is not None:
            body["scheduled_start"] = scheduled_start
        response = self._send("POST", "/api/v1/runs", json=body)
        return run_from_json(response.json()), response.status_code == 201

    def set_state(self, run_id: str, state: str, message: str | None = None,
                  expected_version: int | None = None) -> RunInfo:
        """Set a run's state (409 :class:`ClientError` when it changed since
        ``expected_version``)."""
        body: dict = {"state": state}
        if message is not None:
            body["message"] = message
        if expected_version is not None:
            body["expected_version"] = expected_version
        return run_from_json(self.post(f"/api/v1/runs/{_segment(run_id)}/state", body))

    def cancel_run(self, run_id: str, expected_version: int | None = None) -> RunInfo:
        """Cancel a run (``Cancelling`` while it runs, else ``Cancelled``)."""
        body = None if expected_version is None else {"expected_version": expected_version}
        return run_from_json(self.post(f"/api/v1/runs/{_segment(run_id)}/cancel", body))

    def approve(self, run_id: str, task: str) -> dict:
        """Approve a paused task of a run (by name or slug): the API's answer."""
        return self.post(f"/api/v1/runs/{_segment(run_id)}/approvals", {"task": task})

    # ----- tasks, children, logs ----------------------------------------------------

    def run_tasks(self, run_id: str) -> list[TaskInfo]:
        """Every task of a run with its state and children counted by state."""
        return [task_from_json(t) for t in self.get(f"/api/v1/runs/{_segment(run_id)}/tasks")]

    def run_progress(self, run_id: str) -> tuple[RunInfo, list[TaskInfo]]:
        """A run (by its full id) and every task of it, in one request."""
        data = self.get(f"/api/v1/runs/{_segment(run_id)}/progress")
        return run_from_json(data["run"]), [task_from_json(t) for t in data["tasks"]]

    def children(self, run_id: str, task: str, *, states: Iterable[str] | None = None, limit: int = 50,
                 cursor: str | None = None) -> Page[ChildInfo]:
        """A page of a task's children in index order, of ``states`` only."""
        data = self.get(f"/api/v1/runs/{_segment(run_id)}/tasks/{_segment(task)}/children",
                        state=list(states or []), limit=limit, cursor=cursor)
        return Page([child_from_json(c) for c in data["items"]], data["next_cursor"])

    def failed_children(self, run_id: str, task: str, *, limit: int = 50,
                        cursor: str | None = None) -> Page[ChildInfo]:
        """A page of a task's failed children with messages and tracebacks."""
        data = self.get(f"/api/v1/runs/{_segment(run_id)}/tasks/{_segment(task)}/failed", limit=limit,
                        cursor=cursor)
        return Page([child_from_json(c) for c in data["items"]], data["next_cursor"])

    def child(self, run_id: str, task: str, index: int) -> ChildInfo | None:
        """Child ``index`` of a task (-1: the task itself), or None if it never reported."""
        try:
            return child_from_json(self.get(f"/api/v1/runs/{_segment(run_id)}/tasks/{_segment(task)}/children/"
                                            f"{int(index)}"))
        except ClientError as exc:
            if exc.status == 404 and "never reported" in exc.detail:
                return None
            raise

    def logs(self, run_id: str, *, task: str | None = None, map_index: int | None = None,
             min_level: int | str | None = None, text: str | None = None, limit: int = 100,
             cursor: str | None = None) -> Page[LogLine]:
        """A page of a run's log records, in the order they arrived."""
        data = self.get(f"/api/v1/runs/{_segment(run_id)}/logs", task=task, map_index=map_index,
                        min_level=None if min_level is None else str(min_level), text=text, limit=limit,
                        cursor=cursor)
        return Page([log_from_json(line) for line in data["items"]], data["next_cursor"])

    def iter_logs(self, run_id: str, *, page_size: int = 500, **filters: Any) -> Iterator[LogLine]:
        """Every log record of a run (filtered as :meth:`logs`), page after page."""
        cursor = None
        while True:
            page = self.logs(run_id, limit=page_size, cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

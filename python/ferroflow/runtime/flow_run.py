"""``ferroflow.runtime.flow_run``: facts about the flow run the calling code is part of,
read at each access (Prefect 3's ``prefect.runtime.flow_run``)::

    from ferroflow.runtime import flow_run

    flow_run.name         # the run's name (flow_run_name=...), else its id
    flow_run.parameters   # {"day": "mon", "n": 2}

Attributes: ``id``, ``name``, ``flow_name``, ``flow_version``, ``parameters``,
``scheduled_start_time``, ``run_count`` (the attempt running, with flow retries),
``parent_flow_run_id`` (the run this is a subflow run of), ``root_flow_run_id``,
``tags``, ``api_url`` and ``ui_url`` (on the server named by ``FERROFLOW_API_URL``),
``parent_deployment_id`` and ``job_variables`` (None). Outside any run: None, ``{}``
and ``0`` (``scheduled_start_time``: now), as in Prefect 3.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import Any

from ferroflow.runtime.context import RunInfo, current_frame, live_attributes


def current_run() -> RunInfo | None:
    """The facts of the flow run the calling code is part of, or None."""
    frame = current_frame()
    run = frame.run if frame is not None else None
    return run if run is not None and run.flow_run_id else None


def _server_url(path: str) -> str | None:
    run = current_run()
    base = os.environ.get("FERROFLOW_API_URL", "").rstrip("/")
    return f"{base}{path}{run.flow_run_id}" if run is not None and base else None


def _scheduled_start_time() -> datetime.datetime:
    run = current_run()
    return run.scheduled_start_time if run is not None else datetime.datetime.now(datetime.timezone.utc)


def _of_run(read: Callable[[RunInfo], Any], outside: Any = None) -> Callable[[], Any]:
    def get() -> Any:
        run = current_run()
        return read(run) if run is not None else outside
    return get


_FIELDS: dict[str, Callable[[], Any]] = {
    "id": _of_run(lambda run: run.flow_run_id),
    "name": _of_run(lambda run: run.run_name or run.flow_run_id),
    "flow_name": _of_run(lambda run: run.flow_name),
    "flow_version": _of_run(lambda run: run.flow_version),
    "parameters": _of_run(lambda run: dict(run.parameters), {}),
    "scheduled_start_time": _scheduled_start_time,
    "run_count": _of_run(lambda run: run.attempt, 0),
    "parent_flow_run_id": _of_run(lambda run: run.parent_run_id),
    "root_flow_run_id": _of_run(lambda run: run.root_run_id),
    "tags": lambda: [],
    "api_url": lambda: _server_url("/api/v1/runs/"),
    "ui_url": lambda: _server_url("/runs/"),
    "parent_deployment_id": lambda: None,
    "job_variables": lambda: None,
}


#: The attributes (read at each access by ``__getattr__``; ``get_<name>()`` reads one).
__all__ = sorted(_FIELDS)
__getattr__, __dir__ = live_attributes(__name__, _FIELDS)

"""Prefect 3's run contexts: :func:`get_run_context` inside a flow or task run, and
the ``context`` a ``cache_key_fn(context, parameters)`` gets in an eager flow.

``get_run_context()`` gives a :class:`TaskRunContext` inside a task run and a
:class:`FlowRunContext` in a flow's own code (a snapshot, read from the current frame as
:mod:`ferroflow.runtime.flow_run` and :mod:`ferroflow.runtime.task_run` are), and raises
:class:`~ferroflow.errors.MissingContextError` outside any run::

    from ferroflow.runtime import get_run_context

    def within_this_run(context, parameters):  # a cache_key_fn
        return f"{context.task_run.flow_run_id}-{parameters['x']}"
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from ferroflow.errors import MissingContextError
from ferroflow.runtime import flow_run as _flow_run
from ferroflow.runtime import task_run as _task_run
from ferroflow.runtime.context import CURRENT_EAGER_RUN, current_frame

__all__ = ["FlowRunContext", "FlowRunView", "KeyContext", "TaskRunContext", "TaskRunView", "get_run_context"]


@dataclasses.dataclass(frozen=True)
class FlowRunView:
    """A flow run, as Prefect 3's ``FlowRun`` shows what code reads of it."""

    id: str
    name: str
    flow_name: str
    parameters: dict
    run_count: int
    parent_flow_run_id: str | None
    expected_start_time: datetime.datetime
    tags: list


@dataclasses.dataclass(frozen=True)
class TaskRunView:
    """A task run, as Prefect 3's ``TaskRun`` shows what code reads of it."""

    id: str
    name: str
    task_key: str
    flow_run_id: str
    run_count: int
    tags: list


@dataclasses.dataclass(frozen=True)
class FlowRunContext:
    """The run context of a flow's own code: ``flow_run``, ``flow`` (None when the
    code runs in another process), ``parameters``."""

    flow_run: FlowRunView
    flow: Any
    parameters: dict


@dataclasses.dataclass(frozen=True)
class TaskRunContext:
    """The run context of a task run: ``task_run``, ``task``, ``parameters`` (its
    arguments by name)."""

    task_run: TaskRunView
    task: Any
    parameters: dict


def get_run_context() -> FlowRunContext | TaskRunContext:
    """The context of the run the calling code is part of (see the module docstring)."""
    run = _flow_run.current_run()
    frame = current_frame()
    if run is None or frame is None:
        raise MissingContextError("No run context available. You are not in a flow or task run context.")
    if frame.task_name is None:
        eager = CURRENT_EAGER_RUN.get()
        view = FlowRunView(run.flow_run_id, run.run_name or run.flow_run_id, run.flow_name, dict(run.parameters),
                           run.attempt, run.parent_run_id, run.scheduled_start_time, [])
        return FlowRunContext(view, eager.flow if eager is not None else None, dict(run.parameters))
    task = frame.call[0] if frame.call is not None else getattr(frame.unit, "owner", None)
    view_ = TaskRunView(_task_run.get_id(), _task_run.get_name(), str(frame.task_name), run.flow_run_id,
                        frame.run_count, sorted(frame.task_tags))
    return TaskRunContext(view_, task, _task_run.get_parameters())


class KeyContext(dict):
    """The ``context`` of a ``cache_key_fn`` in an eager flow: Prefect 1's context keys
    (a dict, as deferred flows give it) and Prefect 3's ``TaskRunContext`` attributes
    (``context.task_run.flow_run_id``, ``context.task``, ``context.parameters``), read
    when asked for."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(get_run_context(), name)

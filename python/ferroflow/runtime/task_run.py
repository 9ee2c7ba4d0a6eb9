"""``ferroflow.runtime.task_run``: facts about the task run the calling code is part
of, read at each access (Prefect 3's ``prefect.runtime.task_run``)::

    from ferroflow.runtime import task_run

    task_run.name         # its task_run_name, else "<task>-<call index>"
    task_run.parameters   # the call's arguments by name

Attributes: ``id`` (one per call), ``name``, ``task_name``, ``parameters``,
``run_count`` (the attempt running), ``tags``, ``api_url`` and ``ui_url`` (None).
Outside any task run: None, ``{}``, ``0`` and ``[]``, as in Prefect 3.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ferroflow.runtime.context import Frame, call_parameters, current_frame, live_attributes, run_name, task_run_context


def _frame() -> Frame | None:
    frame = current_frame()
    return frame if frame is not None and frame.task_name is not None else None


def _id(frame: Frame) -> str:
    namespace = uuid.UUID(frame.run.task_run_id(frame.task_slug)) if frame.run is not None else uuid.NAMESPACE_OID
    return str(uuid.uuid5(namespace, str(frame.map_index)))


def _name(frame: Frame) -> str:
    if frame.run_name is not None:
        return run_name(frame, task_run_context(frame))
    return f"{frame.task_name}-{frame.map_index}" if frame.map_index is not None else str(frame.task_name)


def _of_task_run(read: Callable[[Frame], Any], outside: Any = None) -> Callable[[], Any]:
    def get() -> Any:
        frame = _frame()
        return read(frame) if frame is not None else outside
    return get


_FIELDS: dict[str, Callable[[], Any]] = {
    "id": _of_task_run(_id),
    "name": _of_task_run(_name),
    "task_name": _of_task_run(lambda frame: frame.task_name),
    "parameters": _of_task_run(call_parameters, {}),
    "run_count": _of_task_run(lambda frame: frame.run_count, 0),
    "tags": _of_task_run(lambda frame: sorted(frame.task_tags), []),
    "api_url": lambda: None,
    "ui_url": lambda: None,
}


#: The attributes (read at each access by ``__getattr__``; ``get_<name>()`` reads one).
__all__ = sorted(_FIELDS)
__getattr__, __dir__ = live_attributes(__name__, _FIELDS)

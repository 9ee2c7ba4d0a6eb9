"""The engine's runtime (context, work units, caching, logging, timeouts...), and
Prefect 3's ``prefect.runtime`` for the code of a run:

    from ferroflow.runtime import flow_run, task_run

    @task
    def export(rows):
        path = f"out/{flow_run.name}/{task_run.name}.csv"

:mod:`ferroflow.runtime.flow_run` and :mod:`ferroflow.runtime.task_run` read, at each
attribute access, the run the calling code is part of (``None``, ``{}`` or ``0``
outside any); ``get_run_context()`` (:mod:`ferroflow.runtime.run_context`) gives a
snapshot of it as Prefect 3's ``prefect.context.get_run_context()`` does.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["flow_run", "get_run_context", "task_run"]


def __getattr__(name: str) -> Any:
    # (imported when first read: the engine's own imports stay light)
    if name in ("flow_run", "task_run"):
        return importlib.import_module(f"{__name__}.{name}")
    if name == "get_run_context":
        return importlib.import_module(f"{__name__}.run_context").get_run_context
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

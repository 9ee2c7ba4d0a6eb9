"""The engine's runtime (context, work units, caching, logging, timeouts...), and
Prefect 3's ``prefect.runtime`` for the code of a run:

    from ferroflow.runtime import flow_run, task_run

    @task
    def export(rows):
        path = f"out/{flow_run.name}/{task_run.name}.csv"

:mod:`ferroflow.runtime.flow_run` and :mod:`ferroflow.runtime.task_run` read, at each
attribute access, the run the calling code is part of (``None``, ``{}`` or ``0``
outside any).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["flow_run", "task_run"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # (imported when first read: the engine's own imports stay light)
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Executors run the engine's work units. See :mod:`ferroflow.executors.base` for the
contract and :mod:`ferroflow.executors.local` for the built-in in-process executor.
``LocalDaskExecutor`` and ``DaskExecutor`` build executors from Prefect 1's arguments
(:mod:`ferroflow.executors.dask_names`)."""

from ferroflow.executors.base import Executor, UnitResult, WorkUnit

__all__ = ["Executor", "UnitResult", "WorkUnit", "LocalExecutor", "ThreadsExecutor", "ProcessesExecutor",
           "LocalDaskExecutor", "DaskExecutor"]

_BUILTIN = {
    "LocalExecutor": "ferroflow.executors.local",
    "ThreadsExecutor": "ferroflow.executors.threads",
    "ProcessesExecutor": "ferroflow.executors.processes",
    "LocalDaskExecutor": "ferroflow.executors.dask_names",
    "DaskExecutor": "ferroflow.executors.dask_names",
}


def __getattr__(name: str):  # the built-in executors, imported when first asked for
    if name in _BUILTIN:
        import importlib

        return getattr(importlib.import_module(_BUILTIN[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

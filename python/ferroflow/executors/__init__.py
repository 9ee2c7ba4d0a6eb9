"""Executors run the engine's work units. See :mod:`ferroflow.executors.base` for the
contract and :mod:`ferroflow.executors.local` for the built-in in-process executor."""

from ferroflow.executors.base import Executor, UnitResult, WorkUnit

__all__ = ["Executor", "UnitResult", "WorkUnit", "LocalExecutor", "ThreadsExecutor", "ProcessesExecutor"]

_BUILTIN = {
    "LocalExecutor": "ferroflow.executors.local",
    "ThreadsExecutor": "ferroflow.executors.threads",
    "ProcessesExecutor": "ferroflow.executors.processes",
}


def __getattr__(name: str):  # the built-in executors, imported when first asked for
    if name in _BUILTIN:
        import importlib

        return getattr(importlib.import_module(_BUILTIN[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

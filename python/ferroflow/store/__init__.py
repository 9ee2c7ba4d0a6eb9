"""The run store: every flow run recorded, for history, logs and resume.

::

    from ferroflow.store import get_run_store

    store = get_run_store()              # $FERROFLOW_HOME/runs.db, or a no-op store
    for run in store.list_runs(limit=5):
        print(run.run_id, run.flow_name, run.state, run.duration)

:class:`RunStore` is the interface; :class:`SQLRunStore` the implementation on SQLite
or PostgreSQL (``FERROFLOW_DATABASE_URL``), :class:`SQLiteRunStore` the default one
on an SQLite file; :class:`NullRunStore` records nothing (``FERROFLOW_RECORD=0``). See
``docs/run-store.md``.
"""

from ferroflow.store.base import (
    FAILED_CODES,
    SUCCEEDED,
    ChildState,
    LogLine,
    NullRunStore,
    ResumeInfo,
    RunStore,
    RunSummary,
    TaskList,
    TaskResume,
    TaskSummary,
    state_name,
)
from ferroflow.store.config import (
    HOME_ENV,
    RECORD_ENV,
    default_store_path,
    ferroflow_home,
    get_run_store,
    make_home,
    new_run_id,
    recording_enabled,
)
from ferroflow.store.errors import (
    AmbiguousRunIdError,
    ResumeRefusedError,
    RunCancelledError,
    RunLostError,
    StateStoreError,
    UnknownRunError,
)

#: Loaded on first use (they import SQLAlchemy, which ``import ferroflow`` does not).
_LAZY = {
    "SCHEMA_VERSION": "ferroflow.store.schema",
    "SQLRunStore": "ferroflow.store.sql",
    "SQLiteRunStore": "ferroflow.store.sqlite",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ferroflow.store' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AmbiguousRunIdError",
    "ChildState",
    "FAILED_CODES",
    "HOME_ENV",
    "LogLine",
    "NullRunStore",
    "RECORD_ENV",
    "ResumeInfo",
    "ResumeRefusedError",
    "RunCancelledError",
    "RunLostError",
    "RunStore",
    "RunSummary",
    "SCHEMA_VERSION",
    "SQLRunStore",
    "SQLiteRunStore",
    "SUCCEEDED",
    "StateStoreError",
    "TaskList",
    "TaskResume",
    "TaskSummary",
    "UnknownRunError",
    "default_store_path",
    "ferroflow_home",
    "get_run_store",
    "make_home",
    "new_run_id",
    "recording_enabled",
    "state_name",
]

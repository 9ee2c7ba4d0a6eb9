"""The run store: every flow run recorded, for history, logs and resume.

::

    from ferroflow.store import get_run_store

    store = get_run_store()              # $FERROFLOW_HOME/runs.db, or a no-op store
    for run in store.list_runs(limit=5):
        print(run.run_id, run.flow_name, run.state, run.duration)

:class:`RunStore` is the interface; :class:`SQLiteRunStore` the default implementation;
:class:`NullRunStore` records nothing (``FERROFLOW_RECORD=0``). See ``docs/run-store.md``.
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
    RunLostError,
    StateStoreError,
    UnknownRunError,
)
from ferroflow.store.sqlite import SCHEMA_VERSION, SQLiteRunStore

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
    "RunLostError",
    "RunStore",
    "RunSummary",
    "SCHEMA_VERSION",
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

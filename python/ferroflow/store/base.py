"""The run store interface, and what its queries return.

A run store records every flow run: flow, parameters, start and end, final state, the
state of every task and of every mapped child that did not simply succeed, result
locations and logs. :class:`RunStore` is the interface the engine and the CLI use;
:class:`ferroflow.store.SQLRunStore` implements it on SQLite (the default,
:class:`ferroflow.store.SQLiteRunStore`) and PostgreSQL.

Writes are batched: ``record_*`` add their records to a pending batch, written every
few tens of milliseconds; ``start_run``, ``end_run`` and ``flush()`` write at once.
Reads see everything this process recorded before them.

State codes are the core's (``ferroflow._core.SUCCESS``, ...); :mod:`ferroflow.state_codes`
names and classifies them.
"""

from __future__ import annotations

import abc
import datetime
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ferroflow import _core

# FAILED_CODES (codes of the states that count as failed) and state_name(code) are
# re-exported from the one place the state tables are derived from the core.
from ferroflow.state_codes import FAILED_CODES, state_name
from ferroflow.store.errors import AmbiguousRunIdError, UnknownRunError

__all__ = [
    "ChildState",
    "LogLine",
    "NullRunStore",
    "Report",
    "ResumeInfo",
    "RunStore",
    "RunSummary",
    "StateRow",
    "TaskResume",
    "TaskList",
    "TaskSummary",
    "TaskSpec",
    "LogRow",
    "FAILED_CODES",
    "SUCCEEDED",
    "state_name",
]

#: The message of a task run that simply succeeded. A task's own state ``Success``
#: with this message, run count 1 and no result location is a *plain success*: the
#: SQLite store keeps it as one byte, and reads it back as that state.
SUCCEEDED = "Task run succeeded."

#: ``(task_id, name, slug, is_mapped[, approved])``: one task of a flow, given to
#: ``start_run`` (``approved``: the run may go on past this task's pause).
TaskSpec = tuple
#: ``(task_id, map_index or -1, code, run_count, message or None, result_location or None)``.
StateRow = tuple
#: ``(task_id, indices or None, codes[, details])``: the engine's report of one batch
#: (see :meth:`RunStore.record_report`).
Report = tuple
#: ``(task_id or None, map_index or -1, created_at, level, logger, message)``.
LogRow = tuple
#: A time: seconds since the epoch, or a datetime (naive means local time).
Timestamp = float | int | datetime.datetime | None



class TaskList:
    """A flow run's tasks for :meth:`RunStore.start_run`, given by columns, each in the
    order to display the tasks: ``ids`` (task ids), ``names``, ``slugs`` (None for a
    task without one) and ``mapped`` and ``approved`` (one byte each per task, 0 or 1;
    ``approved`` None: none is), and the flow's ``edges`` as ``(upstream, downstream)``
    task id pairs (None: not known; the web UI draws the graph from them).

    Iterating it gives the ``(task_id, name, slug, is_mapped, approved)`` tuples, so
    any store may take it as the iterable of tasks it is; the SQLite store writes its
    columns as they are. The engine gives its tasks in this form because building a
    tuple per task cost more than recording the task did (a flow of 10,000 tasks).
    """

    __slots__ = ("ids", "names", "slugs", "mapped", "approved", "edges")

    def __init__(self, ids: list, names: list, slugs: list, mapped: bytes, approved: bytes | None = None,
                 edges: list | None = None):
        approved = bytes(len(ids)) if approved is None else approved
        if not len(ids) == len(names) == len(slugs) == len(mapped) == len(approved):
            raise ValueError("the columns of a TaskList must have one item per task")
        self.ids = ids
        self.names = names
        self.slugs = slugs
        self.mapped = mapped
        self.approved = approved
        self.edges = edges

    @classmethod
    def of(cls, tasks: Iterable[TaskSpec]) -> TaskList:
        """The columns of ``(task_id, name, slug, is_mapped[, approved])`` tuples (each
        item made of plain types: ``int``, ``str``)."""
        if isinstance(tasks, TaskList):
            return tasks
        rows = [tuple(t) for t in tasks]
        return cls([int(t[0]) for t in rows], [str(t[1]) for t in rows],
                   [None if t[2] is None else str(t[2]) for t in rows], bytes(bool(t[3]) for t in rows),
                   bytes(len(t) > 4 and bool(t[4]) for t in rows))

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[tuple]:
        return zip(self.ids, self.names, self.slugs, map(bool, self.mapped), map(bool, self.approved), strict=True)


@dataclass(frozen=True)
class RunSummary:
    """One recorded flow run.

    ``state`` is ``"Running"`` until the run ends; a run whose process died without
    ending it is ``"Crashed"`` once :meth:`RunStore.reap` found it (``"Unknown"`` if
    its record was incomplete already: the store could not take its records, so its
    missing end tells nothing). Times are seconds since the epoch.

    ``record_error`` says why the run's record is incomplete (records its process could
    not write, or had to drop, while the store could not be written), or is None;
    ``message`` then starts with it.

    ``executor`` describes the executor the run ran on, its options included
    (``local``, ``ferroflow-dask:dask(address='tcp://10.0.0.5:8786')``; secret-looking
    options masked, see :mod:`ferroflow.descriptions`), or is None for a run recorded
    before schema 10 (or not started yet).

    ``parent_run_id`` is the id of the run this one is a subflow run of (an eager flow
    called inside another flow run), or None (schema 11; None for every run recorded
    before).

    ``run_name`` is the run's human name (an eager flow's ``flow_run_name``,
    ``etl-2026-12-01``): one printable line of at most
    :data:`~ferroflow.store.items.MAX_RUN_NAME_CHARS` characters, or None (a run without
    one: every deferred run, and every run recorded before schema 12).
    """

    run_id: str
    flow_name: str
    state: str
    message: str | None
    parameters: dict
    started_at: float
    ended_at: float | None
    resumed_from: str | None = None
    hostname: str | None = None
    pid: int | None = None
    record_error: str | None = None
    executor: str | None = None
    parent_run_id: str | None = None
    run_name: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while the run has not ended."""
        return None if self.ended_at is None else max(0.0, self.ended_at - self.started_at)


@dataclass(frozen=True)
class ChildState:
    """The recorded state of one task run: a mapped child (``map_index >= 0``) or a
    task itself (``map_index == -1``).

    ``run_count`` is None for a child recorded only as part of a batch of plain
    successes (their run counts are not kept). ``traceback`` is the formatted traceback
    of the exception that failed the task run (its last 64 KiB), or None.
    """

    task_id: int
    map_index: int
    code: int
    run_count: int | None
    message: str | None
    result_location: str | None
    traceback: str | None = None

    @property
    def state(self) -> str:
        """The state's name (``"Failed"``)."""
        return state_name(self.code)  # type: ignore[return-value]  # None only for a None code


@dataclass(frozen=True)
class TaskSummary:
    """A task of a recorded run: its own final state and, for a mapped task, its
    children counted by state, with the failed ones listed.

    ``state`` is None for a task that never reported (it never ran, or the run died
    first). ``counts`` maps state names to numbers of children (empty for an unmapped
    task); ``failed_children`` lists children whose state is failed (``Failed``,
    ``TriggerFailed``, ``TimedOut``) in index order, up to the limit the query was
    given, and ``failed_count`` counts all of them. ``traceback``: that of the exception
    that failed the task itself, or None.
    """

    task_id: int
    name: str
    slug: str | None
    is_mapped: bool
    width: int | None
    code: int | None
    run_count: int | None
    message: str | None
    result_location: str | None
    counts: dict = field(default_factory=dict)
    failed_children: list = field(default_factory=list)
    failed_count: int = 0
    traceback: str | None = None

    @property
    def state(self) -> str | None:
        """The task's state name, or None when it never reported."""
        return state_name(self.code)


@dataclass(frozen=True)
class LogLine:
    """One recorded log record. ``map_index`` is None for a record of a task itself
    and ``task_id``/``task_name`` are None for a record of the flow run."""

    task_id: int | None
    task_name: str | None
    map_index: int | None
    created_at: float
    level: int
    levelname: str
    logger: str
    message: str


@dataclass(frozen=True)
class TaskResume:
    """What resuming needs to know about one task of an earlier run.

    ``code``/``result_location`` are the task's own (None when it never reported).
    ``children`` maps the index of every child recorded individually (any child that
    is not a plain success, and every child with a result location) to
    ``(code, result_location)``. ``reported`` lists ``(start, stop)`` index ranges,
    merged and sorted, of every child that reported at all: a child inside them and
    absent from ``children`` succeeded without a result location. ``approved``: the
    task was approved to go on past a pause in that run (and stays approved when it
    is resumed again).
    """

    task_id: int
    name: str
    slug: str | None
    is_mapped: bool
    width: int | None
    code: int | None
    result_location: str | None
    children: dict
    reported: list
    approved: bool = False

    def child(self, index: int) -> tuple | None:
        """``(code, result_location)`` of child ``index``, or None if it never reported."""
        found = self.children.get(index)
        if found is not None:
            return found
        for start, stop in self.reported:
            if start <= index < stop:
                return (_core.SUCCESS, None)
            if start > index:
                break
        return None


@dataclass(frozen=True)
class ResumeInfo:
    """An earlier run as resume sees it: the run and each task by task id."""

    run: RunSummary
    tasks: dict


class RunStore(abc.ABC):
    """Where flow runs are recorded. See the module docstring for the write model.

    Every method may raise :class:`ferroflow.store.StateStoreError` when the store
    cannot be used. A batch that cannot be written raises from the call that wrote it
    and from every later writing call until ``flush()`` or ``close()`` has raised it;
    records are never dropped silently (the error counts them).
    """

    #: Where the store lives (a path or URL), for messages.
    location: str = ""

    # ----- writing -----------------------------------------------------------------

    @abc.abstractmethod
    def start_run(self, run_id: str, flow_name: str, parameters: Mapping[str, Any],
                  tasks: Iterable[TaskSpec], started_at: Timestamp = None, *,
                  resumed_from: str | None = None, lease: str | None = None,
                  executor: str | None = None, parent_run_id: str | None = None,
                  run_name: str | None = None) -> None:
        """Record that a run started: its flow, parameters (kept twice: as JSON for
        display, a value JSON cannot hold by its ``repr``; and each value pickled, for
        :meth:`recorded_parameters`) and tasks as ``(task_id, name, slug, is_mapped)``
        (optionally a fifth item: approved to go on past a pause) in the order to
        display them, or as a :class:`TaskList` of the same. Calling it again for the same ``run_id`` reopens
        the run (its state becomes ``Running`` again).

        The start is committed before this returns, and this process takes the run's
        lease (see :meth:`check_lease`). With ``resumed_from``, the earlier run is
        checked and claimed in the same transaction: :class:`ResumeRefusedError` when it
        is running again or another run resuming it still runs. ``lease`` is the token a
        worker's claim of the run gave (its fencing token, see
        :mod:`ferroflow.store.claims`): the start is then committed before this returns
        and refused (:class:`ResumeRefusedError`) unless the run is still ``Pending``
        under that claim. ``executor`` describes the executor the run runs on (see
        :func:`ferroflow.descriptions.describe_executor`; None: not known).
        ``parent_run_id``: the run this one is a subflow run of (see
        :meth:`child_runs`), or None. ``run_name``: the run's human name (an eager
        flow's ``flow_run_name``), or None; kept as one printable line (a character
        that is not printable escaped), cut to
        :data:`~ferroflow.store.items.MAX_RUN_NAME_CHARS` characters (ending ``...``),
        an empty (or blank) name kept as None."""

    @abc.abstractmethod
    def add_tasks(self, run_id: str, tasks: Iterable[TaskSpec]) -> None:
        """Record tasks of a running run that its ``start_run`` did not list (an eager
        flow meets its tasks as it calls them), given as for ``start_run`` (tuples or a
        :class:`TaskList`; its ``edges``, when given, are added to the run's). They are
        displayed after the tasks the run has already, in the order given; records of
        them (``record_report``, ``record_width``, ``record_states``, ``record_logs``)
        made after this call are taken as for tasks listed at the start.

        Batched like the other records, and written before any record made after it.
        Task ids must be non-negative ints, distinct, and new to the run: ids repeated
        within the call (or not ints, or negative) raise ``ValueError`` here; an id the
        run has already is refused when the batch is written (the batch is dropped and
        :class:`StateStoreError` ``invalid record`` raised once, by the next writing
        call, as for any record wrong in itself). An empty list records nothing."""

    @abc.abstractmethod
    def end_run(self, run_id: str, state_name: str, message: str | None = None,
                ended_at: Timestamp = None) -> None:
        """Record a run's final state (``"Success"``, ``"Failed"``, ``"Cancelled"``...)."""

    @abc.abstractmethod
    def record_states(self, run_id: str, rows: Iterable[StateRow]) -> None:
        """Record task run states, one ``(task_id, map_index or -1, code, run_count,
        message or None, result_location or None[, traceback or None])`` tuple each; the
        latest state of a task run replaces the earlier one.

        A mapped child (``map_index >= 0``) that is a plain success (``SUCCESS`` with
        no message and no location) is only counted, not stored as a row."""

    @abc.abstractmethod
    def record_report(self, run_id: str, reports: Iterable[Report],
                      details: Mapping[tuple, tuple] | None = None, *, plain: bool = False) -> None:
        """Record a batch of outcomes in the shape the engine hands to the core's
        ``Run.report``: ``(task_id, indices, codes)`` with ``indices`` None (the task
        itself, ``codes`` an int) or a ``range``/list of child indices (``codes`` a
        bytes-like of one code per child).

        The task runs that carry more than a code are described by ``details``, a
        mapping ``{(task_id, map_index or -1): (message, result_location, run_count[,
        traceback])}`` (each item may be None; ``traceback`` is the formatted traceback of
        the exception that failed the task run, kept to its last 64 KiB; entries for task
        runs not in ``reports`` are ignored), or by an optional fourth item of a report, the same mapping keyed by
        map index alone. With ``plain``, a task's own ``SUCCESS`` that has no details
        is a plain success (``SUCCEEDED``, run count 1, no result location): how the
        engine reports the task runs that simply succeeded, without an entry each.

        Codes may carry the core's ``RETRY_OK`` flag; the store records the state
        without it. Reporting a child again with the same code and no details costs
        nothing and changes nothing, so the engine may re-report a whole task's
        ``child_states()`` at the end of a run to record what the core decided
        without Python (skips, trigger failures, cancellations).

        The store keeps references to ``reports`` until it is written: do not mutate
        the lists afterwards."""

    @abc.abstractmethod
    def record_width(self, run_id: str, task_id: int, width: int) -> None:
        """Record the number of children of a mapped task."""

    @abc.abstractmethod
    def record_logs(self, run_id: str, rows: Iterable[LogRow]) -> None:
        """Record log records, one ``(task_id or None, map_index or -1, created_at,
        level, logger, message)`` tuple each; ``level`` is a number or a name
        (``"INFO"``)."""

    @abc.abstractmethod
    def flush(self) -> None:
        """Write every pending record now; raise :class:`StateStoreError` if this or an
        earlier write failed (once: the store is usable again afterwards)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush, then release the store. Raises :class:`StateStoreError` if a write
        failed (after releasing)."""

    # ----- reading -----------------------------------------------------------------

    @abc.abstractmethod
    def list_runs(self, limit: int | None = 20, flow_name: str | None = None) -> list[RunSummary]:
        """The most recent runs first, at most ``limit`` (None: all), optionally of
        one flow only."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunSummary | None:
        """The run with this id, or None."""

    @abc.abstractmethod
    def match_run_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Run ids that start with ``prefix`` (most recent first), for abbreviations."""

    def resolve_run(self, run_id: str) -> RunSummary:
        """The run whose id is ``run_id``, or else the one run whose id starts with it
        (an abbreviation, as with git): how ``ferroflow runs show``, ``ferroflow logs``,
        ``ferroflow run --resume`` and ``flow.run(resume=...)`` find a run.

        Raises:
            UnknownRunError: no run's id is or starts with ``run_id`` (an empty
                ``run_id`` abbreviates nothing).
            AmbiguousRunIdError: several runs' ids start with ``run_id``; the error
                names them.
        """
        run = self.get_run(run_id)
        if run is not None:
            return run
        matches = self.match_run_ids(run_id, limit=AmbiguousRunIdError.SHOWN + 1) if run_id else []
        if len(matches) > 1:
            raise AmbiguousRunIdError(run_id, matches, self.location)
        run = self.get_run(matches[0]) if matches else None
        if run is None:
            raise UnknownRunError(run_id, self.location)
        return run

    def child_runs(self, run_id: str, limit: int | None = None) -> list[RunSummary]:
        """The subflow runs of run ``run_id`` (those started with ``parent_run_id=run_id``),
        oldest first, at most ``limit`` (None: all); ``[]`` for a run without any (or an
        unknown one). (This default reads every run; the SQL and remote stores ask one
        indexed query.)"""
        found = sorted((run for run in self.list_runs(limit=None) if run.parent_run_id == run_id),
                       key=lambda run: run.started_at)
        return found if limit is None else found[:limit]

    @abc.abstractmethod
    def task_states(self, run_id: str, failed_limit: int | None = 100) -> list[TaskSummary]:
        """Every task of a run in the order given to ``start_run``, with its final
        state, mapped children counted by state, and up to ``failed_limit`` failed
        children per task (None: all). Raises :class:`UnknownRunError`."""

    @abc.abstractmethod
    def child_state(self, run_id: str, task_id: int, index: int) -> ChildState | None:
        """The recorded state of child ``index`` of a task (``index == -1``: the task
        itself), or None when it never reported. Raises :class:`UnknownRunError`."""

    @abc.abstractmethod
    def logs(self, run_id: str, task_name: str | None = None, map_index: int | None = None,
             limit: int | None = None) -> list[LogLine]:
        """A run's log records in time order, optionally of the tasks named (or
        slugged) ``task_name`` only and of one child only (``map_index``; -1 for the
        task itself). Raises :class:`UnknownRunError`."""

    @abc.abstractmethod
    def resume_info(self, run_id: str) -> ResumeInfo:
        """Per task and per child, the recorded code and result location of a run, to
        resume it. Raises :class:`UnknownRunError`."""

    def check_lease(self, run_id: str) -> None:
        """Raise :class:`ferroflow.store.RunLostError` when this process no longer holds
        the lease of ``run_id``, a run it started: another process reaped it (its
        heartbeat was silent too long) or resumed it. Cheap when the lease was confirmed
        less than a heartbeat period ago (every commit and heartbeat confirms it);
        otherwise it is confirmed now with one commit. A store that cannot be written
        cannot tell, and does not raise. The engine calls it before handing out work.

        A store on a server (:class:`~ferroflow.store.remote.RemoteRunStore`) also
        raises :class:`ferroflow.store.RunCancelledError` once the server says the run's
        cancellation was asked for: the engine then ends the run ``Cancelled`` (and
        records that end)."""
        return None

    def recorded_parameters(self, run_id: str) -> dict | None:
        """The faithful record of a run's parameters, for resuming it: ``{name: (value
        pickled with cloudpickle or None, why it could not be pickled or None)}`` (see
        :mod:`ferroflow.store.parameters`). None when the run was recorded without it (by
        a ferroflow before schema 4, or a store that keeps only the JSON form): then
        only ``RunSummary.parameters`` is known. Raises :class:`UnknownRunError`."""
        return None

    def concurrency_slots(self) -> Any:
        """Where the runs recorded here take tag concurrency slots: a picklable
        :class:`ferroflow.store.slots.SlotAccess` (the database, or the server the store
        records through), or None when no limit applies (recording is off). See
        ``docs/concurrency-limits.md``."""
        return None

    # ----- conveniences ------------------------------------------------------------

    def reap(self, timeout: float | None = None) -> list[str]:
        """Mark ``Crashed`` the runs still ``Running`` whose process is gone (see
        :mod:`ferroflow.store.orphans`; ``timeout``: seconds without a heartbeat, at
        least two heartbeat periods, default six), and revoke their leases; return their
        ids. A store that cannot tell returns ``[]``."""
        return []

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class NullRunStore(RunStore):
    """A store that records nothing (recording turned off): every write is a no-op
    and every run is unknown."""

    location = "(recording off)"

    def start_run(self, run_id, flow_name, parameters, tasks, started_at=None, *, resumed_from=None, lease=None,
                  executor=None, parent_run_id=None, run_name=None):
        pass

    def add_tasks(self, run_id, tasks):
        pass

    def end_run(self, run_id, state_name, message=None, ended_at=None):
        pass

    def record_states(self, run_id, rows):
        pass

    def record_report(self, run_id, reports, details=None, *, plain=False):
        pass

    def record_width(self, run_id, task_id, width):
        pass

    def record_logs(self, run_id, rows):
        pass

    def flush(self):
        pass

    def close(self):
        pass

    def list_runs(self, limit=20, flow_name=None):
        return []

    def get_run(self, run_id):
        return None

    def match_run_ids(self, prefix, limit=10):
        return []

    def child_runs(self, run_id, limit=None):
        return []

    def _unknown(self, run_id: str):
        raise UnknownRunError(run_id, self.location)

    def task_states(self, run_id, failed_limit=100):
        self._unknown(run_id)

    def child_state(self, run_id, task_id, index):
        self._unknown(run_id)

    def logs(self, run_id, task_name=None, map_index=None, limit=None):
        self._unknown(run_id)

    def resume_info(self, run_id):
        self._unknown(run_id)

    def recorded_parameters(self, run_id):
        self._unknown(run_id)


def to_epoch(value: Timestamp) -> float:
    """Seconds since the epoch of a time given as a number, a datetime or None (now)."""
    if value is None:
        import time

        return time.time()
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return float(value)

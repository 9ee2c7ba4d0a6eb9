"""Recording a flow run into the run store as it goes.

The engine hands the recorder what it hands the core: each round of reports (task id,
indices, codes), plus the few task runs that carry a message or a result location.
The store batches and writes them on its own thread, so recording costs the engine
one call per round. At the end the recorder re-reports every task's final codes,
which records what the core decided without Python (skips, trigger failures,
cancellations) at the cost of a byte comparison per child.

The run's start is committed before any task runs, and the recorder holds the run's
lease in the store: :meth:`Recorder.check`, called by the engine before it hands out
work, raises :class:`~ferroflow.store.RunLostError` once another process reaped or
resumed the run (this process was stopped, say); from then on nothing of the run is
recorded here. A store on a server also raises
:class:`~ferroflow.store.RunCancelledError` there once someone asked the server to
cancel the run (``ferroflow cancel``): the engine ends the run ``Cancelled`` as a
Ctrl-C does, and that end is recorded (the run keeps its lease).

Every text the recorder hands to the store (messages, result locations, log rows,
the run's final message, and whatever else a record carries) is scrubbed of registered
secret values first (:meth:`Recorder._write`, :mod:`ferroflow.redaction`): this is the
one way records reach a store, whichever store it is. The run's parameters are the
store's to scrub (``store/parameters.py``), which keeps a secret out of both forms.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from ferroflow import redaction
from ferroflow._core import SUCCESS
from ferroflow.engine.record import TASK_LEVEL, RunRecord
from ferroflow.store import NullRunStore, ResumeRefusedError, RunLostError, RunStore, StateStoreError, TaskList

__all__ = ["Recorder"]

_CODE = 0x7F  # a code without RETRY_OK
_NOT_SUCCESS = re.compile(b"[^" + re.escape(bytes([SUCCESS])) + b"]")  # a byte of another code
_MANY = re.compile(rb"[\x02-\xff]")  # a run count above 1
_SET = re.compile(rb"[^\x00]")  # a true flag
_NONE = 0xFF  # no code recorded with its final message
#: Seconds between two questions to the store about the run's lease (the store itself
#: confirms it with a commit only once a heartbeat period passed).
CHECK_SECONDS = 0.05

log = logging.getLogger("ferroflow.store")


class StoreWriter:
    """What every recording of a run into a run store shares (a deferred run's
    :class:`Recorder`, an eager run's ``ferroflow.eager.record.EagerRecorder``):
    guarded writes, every text scrubbed of secrets, the lease checked, logs handed over,
    the end recorded and flushed.

    A store that cannot be written for a while (disk full, locked) keeps the records
    and retries them itself, and says so (see :mod:`ferroflow.store.sql`): recording
    goes on. A store that fails otherwise (a record it refuses) is reported once as a
    warning and then left alone: the run goes on and its outcome does not change (the
    warning names the store and what was lost).
    A run lost to another process (:class:`~ferroflow.store.RunLostError`) is not a
    store failure: the error propagates, to end the flow run, and nothing more is
    written.
    """

    def __init__(self, store: RunStore, run_id: str, lease: str | None = None):
        self.store = store
        self.run_id = run_id
        self.lease = lease
        self.failed: StateStoreError | None = None
        self.lost: RunLostError | None = None
        self.unstored = False  # the store could not take even the run's start (yet)
        self.checked_at = 0.0  # when the lease was last asked about
        self.unrecorded = isinstance(store, NullRunStore)  # nothing to write

    def _guard(self, write, *args: Any, **kwargs: Any) -> None:
        if self.failed is not None or self.lost is not None:
            return
        try:
            write(*args, **kwargs)
        except StateStoreError as exc:
            self._stop_recording(exc)
        except RunLostError as exc:
            self.lost = exc
            raise

    def _write(self, write, *args: Any, **kwargs: Any) -> None:
        """:meth:`_guard`, every ``str`` in the arguments scrubbed of registered secret
        values (nothing done when there are none)."""
        if redaction.active():
            args = redaction.scrub_nested(args)
            kwargs = redaction.scrub_nested(kwargs)
        self._guard(write, *args, **kwargs)

    def _stop_recording(self, exc: StateStoreError) -> None:
        self.failed = exc
        log.warning("the run store failed; this run is no longer recorded: %s", exc)

    def _start(self, flow_name: str, parameters: dict, tasks: TaskList, **options: Any) -> None:
        """Record the run's start (under its lease, when a worker claimed it); a resume
        the store refuses raises :class:`~ferroflow.engine.resume.ResumeError`.
        ``options`` go to :meth:`~ferroflow.store.RunStore.start_run` (``resumed_from``,
        ``executor``, ``parent_run_id``, ``run_name``); a ``run_name`` (made from the
        run's parameters, which may hold a secret) is scrubbed of registered secret
        values."""
        if options.get("run_name") is not None and redaction.active():
            options["run_name"] = redaction.scrub(str(options["run_name"]))
        try:
            # (a worker's claim: its fencing token, see ferroflow.store.claims)
            leased = {} if self.lease is None else {"lease": self.lease}
            self._guard(self.store.start_run, self.run_id, flow_name, parameters, tasks, **options, **leased)
        except ResumeRefusedError as exc:
            from ferroflow.engine.resume import ResumeError

            raise ResumeError(str(exc)) from exc

    def check(self) -> None:
        """Raise :class:`~ferroflow.store.RunLostError` when this process no longer holds
        the run's lease (cheap: the store asks only once a heartbeat period passed
        without a commit confirming it)."""
        if self.failed is None and self.lost is None:
            now = time.monotonic()
            if now - self.checked_at >= CHECK_SECONDS:
                self.checked_at = now
                self._guard(self.store.check_lease, self.run_id)

    def _logs(self, logs: Any) -> None:
        if logs is not None and logs.pending:
            rows, logs.pending = logs.pending, []
            self._write(self.store.record_logs, self.run_id, rows)

    @property
    def recorded(self) -> bool:
        """Whether the run is in the run store (recording on, and the store worked, or
        at least took the run's start)."""
        return not isinstance(self.store, NullRunStore) and self.failed is None and not self.unstored

    def _end(self, state_name: str, message: Any) -> None:
        """Record the run's final state and flush."""
        self._write(self.store.end_run, self.run_id, state_name, None if message is None else str(message))
        if self.failed is not None:
            return
        try:
            self.store.flush()
        except StateStoreError as exc:
            if not exc.pending:
                self._stop_recording(exc)  # a batch wrong in itself
            elif self.store.get_run(self.run_id) is None:
                # Not even its start could be written yet (the store said so when it
                # happened); the records wait, and are written if it comes back.
                self.unstored = True


class Recorder(StoreWriter):
    """Writes one deferred flow run's states and logs to a
    :class:`~ferroflow.store.RunStore` (see :class:`StoreWriter`)."""

    def __init__(self, store: RunStore, run_id: str, record: RunRecord, lease: str | None = None):
        super().__init__(store, run_id, lease)
        self.record = record
        self.round: dict = {}  # (task id, index) -> (message, location, run count)
        # The task-level code last recorded for each task with its final message (255:
        # none yet): at the end only the tasks whose code changed since are recorded again.
        self.reported = bytearray(b"\xff") * len(record.frozen.tasks)
        # Whether each task may map (it has a mapped input): the others have no children.
        self.mappable = record.frozen.may_map

    def start(self, parameters: dict, resumed_from: str | None = None, approved: frozenset = frozenset(),
              executor: str | None = None) -> None:
        if self.unrecorded:
            return
        frozen = self.record.frozen
        mappable = self.mappable
        order = frozen.graph.order()
        ordered = [frozen.tasks[i] for i in order]
        slugs = getattr(frozen.flow, "slugs", {})
        try:
            slug_list = [slugs[t] for t in ordered]
        except KeyError:  # (a flow that does not keep every task's slug)
            slug_list = [slugs.get(t, t.slug) for t in ordered]
        tasks = TaskList(order, [t.name for t in ordered], slug_list, bytes([mappable[i] for i in order]),
                         bytes([i in approved for i in order]) if approved else None, frozen.edge_pairs())
        self._start(frozen.flow.name, parameters, tasks, resumed_from=resumed_from, executor=executor)

    def note(self, task_id: int, index: int, message: str | None, location: str | None = None,
             traceback: str | None = None) -> None:
        """Remember a message, location or traceback (of the exception that failed it) of
        a task run reported in this round."""
        self.round[(task_id, index)] = (None if message is None else str(message), location, None,
                                        None if traceback is None else str(traceback))

    def report(self, reports: list, logs: Any) -> None:
        """Record one round of reports (as given to the core) and the new log records.

        A task run that simply succeeded is recorded with its final message at once,
        as a plain success (the end of the run then records again only what changed
        since)."""
        if self.unrecorded:
            return
        details, self.round = self.round, {}
        reported = self.reported
        if details:
            for task_id, indices, code in reports:
                if indices is None:
                    if (task_id, TASK_LEVEL) in details:
                        reported[task_id] = code & _CODE
                    else:
                        reported[task_id] = SUCCESS if code == SUCCESS else _NONE
        else:
            for task_id, indices, code in reports:
                if indices is None:
                    # (not a success: its message is worked out at the end)
                    reported[task_id] = SUCCESS if code == SUCCESS else _NONE
        # Every round goes to the store at once (it batches the writes): a record left
        # here while a long task runs would be lost with the process.
        self._write(self.store.record_report, self.run_id, reports, details, plain=True)
        if logs is not None and logs.pending:
            self._logs(logs)

    def finish(self, state: Any, logs: Any) -> None:
        """Record every task's final codes, the run's final state, and flush (nothing
        for a run lost to another process)."""
        if self.lost is not None or self.unrecorded:
            return
        record, core = self.record, self.record.core
        reports: list = []
        details: dict = {}
        codes, counts, reported = core.task_states(), core.task_run_counts(), self.reported
        mappable = self.mappable
        # Only tasks that may map, or whose code or run count is not a plain success's
        # in the core or in what was recorded, can need recording again (found in C).
        maybe: set = set()
        for pattern, data in ((_NOT_SUCCESS, codes), (_NOT_SUCCESS, reported), (_MANY, counts),
                              (_SET, bytes(mappable))):
            maybe.update(m.start() for m in pattern.finditer(data))
        for task_id in sorted(maybe):
            code = codes[task_id]
            width = core.width(task_id) if mappable[task_id] else None
            if width:
                self._guard(self.store.record_width, self.run_id, task_id, width)
                reports.append((task_id, range(width), core.child_states(task_id)))
            elif code == reported[task_id] and counts[task_id] <= 1:
                continue  # recorded with its final code and message during the run
            run_count = max(1, counts[task_id])
            message = record.message(task_id, TASK_LEVEL, code, run_count)
            detail = record.details.get((task_id, TASK_LEVEL))
            traceback = detail[1] if detail is not None and code != SUCCESS else None
            details[(task_id, TASK_LEVEL)] = (None if message is None else str(message),
                                              record.location(task_id, TASK_LEVEL), run_count,
                                              None if traceback is None else str(traceback))
            reports.append((task_id, None, code))
        self._write(self.store.record_report, self.run_id, reports, details)
        self._logs(logs)
        self._end(type(state).__name__, state.message)

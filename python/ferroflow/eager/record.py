"""Recording an eager flow run into the run store, in the shape of a deferred run's
record, so that ``ferroflow runs``, ``runs show``, the server and the web UI show it
as they show any run.

Each task the run meets is a task of the run (``RunStore.add_tasks``), each call of
it one of its children, numbered in call order. What the ledger (the Rust core's
``_core.Ledger``) says changed goes to the store in batches, at most every
``FLUSH_SECONDS`` or ``FLUSH_CALLS`` calls, never a store call per task call; the store
batches again on its own writer thread.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ferroflow.engine.recorder import StoreWriter
from ferroflow.store import TaskList

__all__ = ["EagerRecorder", "FLUSH_CALLS", "FLUSH_SECONDS"]

#: Seconds, and task calls, between two batches handed to the store (at most).
FLUSH_SECONDS = 0.05
FLUSH_CALLS = 8192


class EagerRecorder(StoreWriter):
    """Writes one eager flow run's tasks, calls and logs to a run store."""

    def __init__(self, store: Any, run_id: str, ledger: Any, lease: str | None = None):
        super().__init__(store, run_id, lease)
        self.ledger = ledger
        self.touched: set = set()  # tasks with calls the store has not heard of
        self.details: dict = {}  # (task id, call) -> (message, location, run count, traceback)
        self.flushed_at = time.monotonic()
        self.calls = 0  # calls since the last batch
        # (calls may end in several threads: a task calling a task on the executor)
        self.lock = threading.RLock()

    def start(self, flow_name: str, parameters: dict, **options: Any) -> None:
        if not self.unrecorded:
            self._start(flow_name, parameters, TaskList([], [], [], b"", edges=[]), **options)

    def add_task(self, task_id: int, name: str, slug: str | None) -> None:
        if not self.unrecorded:
            self._write(self.store.add_tasks, self.run_id, TaskList([task_id], [name], [slug], b"\x01"))

    def note(self, task_id: int, index: int, message: Any, location: str | None = None, run_count: int = 1,
             traceback: str | None = None) -> None:
        """Remember what a call carries besides its state (a message, where its value
        was kept, its attempts, the traceback of its exception)."""
        with self.lock:
            self.details[(task_id, index)] = (None if message is None else str(message), location, run_count,
                                              None if traceback is None else str(traceback))

    def ended(self, task_id: int, logs: Any) -> None:
        """A call of ``task_id`` ended (its state is in the ledger): hand over a batch
        when one is due."""
        with self.lock:
            self.touched.add(task_id)
            self.calls += 1
            # (the clock is read at every call, ~50 ns: a run of slow calls is recorded as
            # it goes, not 64 calls late)
            if self.calls >= FLUSH_CALLS or time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
                self.flush(logs)

    def flush(self, logs: Any = None) -> None:
        """Hand the store what changed since the last batch (and check the lease)."""
        with self.lock:
            self._flush(logs)

    def _flush(self, logs: Any) -> None:
        self.calls = 0
        self.flushed_at = time.monotonic()
        if self.unrecorded:
            self.touched.clear()
            self.details.clear()
            return
        touched, self.touched = self.touched, set()
        reports: list = []
        for task_id in sorted(touched):
            width, segments = self.ledger.unreported(task_id)
            if width is not None:
                self._guard(self.store.record_width, self.run_id, task_id, width)
            for first, codes in segments:
                reports.append((task_id, range(first, first + len(codes)), codes))
        details, self.details = self.details, {}
        if reports:
            self._write(self.store.record_report, self.run_id, reports, details)
        self._logs(logs)
        self.check()

    def finish(self, state_name: str, message: Any, logs: Any) -> None:
        """Record the calls not handed over yet, each task's state, and the run's end."""
        if self.lost is not None:
            return
        self.touched.update(range(len(self.ledger)))
        self.flush(logs)
        if self.unrecorded:
            return
        tasks = [(task_id, None, self.ledger.task_code(task_id)) for task_id in range(len(self.ledger))]
        if tasks:
            self._write(self.store.record_report, self.run_id, tasks)
        self._end(state_name, message)

"""The writer of a process for one database: batches, a backstop thread, heartbeats,
leases, and records kept and retried while the database cannot take them.

One writer per process and database (by URL), shared by every store object on it:
one connection, one transaction at a time (see :class:`Writer`). Its transactions are
:class:`~ferroflow.store.transaction.Transaction`; its items are those of
:mod:`ferroflow.store.items`.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from typing import Any

from ferroflow.store.errors import StateStoreError
from ferroflow.store.items import coalesced
from ferroflow.store.items import records as _records
from ferroflow.store.items import weight as _weight
from ferroflow.store.orphans import HEARTBEAT_SECONDS
from ferroflow.store.transaction import Caches, Skip, Transaction, transaction

__all__ = ["Writer", "BACKSTOP_PERIODS", "RETRY_FIRST", "RETRY_MAX", "process_id"]

log = logging.getLogger("ferroflow.store")

#: The backstop thread looks for a due batch every this many flush intervals.
BACKSTOP_PERIODS = 4

_WRITERS: dict = {}
_WRITERS_LOCK = threading.Lock()


def _short(location: str) -> str:
    """A database's name for a thread: an SQLite file's name, a PostgreSQL database's."""
    return os.path.basename(location.split("?", 1)[0]) or location


def process_id() -> int:
    """This process's id (kept, and set again in a forked child: asking the OS on every
    record costs a system call)."""
    return _PROCESS[0]


class Writer(Caches):
    """The writer of this process for one database: one connection, one commit at a
    time, a backstop thread and a heartbeat thread.

    Records wait in ``pending``. A batch is committed by the thread that finds it due:
    the recording thread itself, inside ``put``, once the oldest pending record is
    ``interval`` old or ``max_rows`` rows wait (at once for ``start_run``, ``end_run``
    and ``flush``); or the backstop thread, which looks every ``BACKSTOP_PERIODS``
    intervals while records are pending and commits a batch the recording thread left
    due (it went quiet), so a record waits at most about ``(1 + BACKSTOP_PERIODS) *
    interval``.

    Why not commit from the thread only: a thread that takes the GIL from a busy engine
    thread costs that thread far more than the write itself on a small machine (each
    hand-off needs the OS to wake a thread; measured on 2 vCPUs: about 1 ms). Committing
    in the recording thread costs it the write and no hand-off; the backstop thread wakes
    a few times a second at most, and not at all while nothing is pending.

    A batch that cannot be written for a reason that may pass (disk full, locked,
    read-only, I/O error) is *kept*: back at the front of ``pending``, retried with
    backoff (``RETRY_FIRST`` doubling up to ``RETRY_MAX`` seconds; the recording thread
    does not wait for it), a warning logged at the first failure. Meanwhile a small
    transaction of its own (``_essentials``) keeps each live run's heartbeat going, notes
    in ``runs.record_error`` why its record is incomplete, and records the end of every
    run that ended; past ``max_pending`` rows the oldest task states and logs are
    dropped (counted per run). A batch that is wrong in itself (a record of a run never
    started, a malformed report) is dropped and raised, once.
    """

    @classmethod
    def acquire(cls, store: Any) -> Writer:
        """The process's writer for the store's database (made on first use)."""
        with _WRITERS_LOCK:
            writer = _WRITERS.get(store.url)
            if writer is None or writer.stopped:
                writer = _WRITERS[store.url] = cls(store)
            writer.refs += 1
            return writer

    @classmethod
    def existing(cls, url: str) -> Writer | None:
        """The process's writer for the database ``url``, if it has one."""
        with _WRITERS_LOCK:
            writer = _WRITERS.get(url)
        return None if writer is None or writer.stopped else writer

    def __init__(self, store: Any):
        super().__init__(store.location, store.dialect, store.max_pending)
        self.url = store.url
        self.connect = store._connect
        self.busy_timeout = store.busy_timeout
        self.interval = store.flush_interval
        self.max_rows = store.flush_rows
        self.refs = 0
        self.stopped = False
        # A batch wrong in itself: raised once, by the next call (then forgotten).
        self.error: StateStoreError | None = None
        self.unwritten = 0
        # The store cannot be written now (disk full, ...): since when, and when to retry.
        self.failing: StateStoreError | None = None
        self.failing_since = 0.0
        self.backoff = 0.0
        self.retry_at = 0.0
        self.dropped: dict[str, int] = {}  # run id -> records dropped past max_pending
        self.noted: set = set()  # run ids whose runs.record_error this writer set
        try:
            self.conn = store._connect()
        except Exception as exc:
            if not self.dialect.is_driver_error(exc):
                raise
            raise self.dialect.describe(exc, self.location, "open", self.busy_timeout) from exc
        self.json = self.dialect.json_bulk and self.dialect.has_json(self.conn)  # bulk writes through json_each
        self.lock = threading.Lock()  # pending, rows, first_at
        self.write_lock = threading.Lock()  # the connection, the caches: one commit at a time
        self.pending: list = []
        self.rows = 0
        self.first_at: float | None = None
        self.wake = threading.Event()
        self.quit = threading.Event()
        self.parked = True  # the backstop thread waits for `wake` (nothing pending)
        self.thread = threading.Thread(target=self._backstop, daemon=True,
                                       name=f"ferroflow-run-store:{_short(self.location)}")
        self.thread.start()
        # Leases (runs.owner) of the runs started and not ended here: run id -> token,
        # and when each was last confirmed (time.monotonic()); runs lost to another
        # process (reaped, taken over) -> the error their recording calls raise; runs
        # whose resume was refused -> why (for start_run to raise).
        self.beats = threading.Thread(target=self._heartbeat, daemon=True,
                                      name=f"ferroflow-heartbeat:{_short(self.location)}")
        self.beats.start()

    # ----- recording ------------------------------------------------------------------

    def put(self, item: tuple) -> None:
        if self.lost_runs or self.error is not None or self.stopped:
            if self.lost_runs and item[0] != "beat" and item[1] in self.lost_runs:
                raise self.lost_runs[item[1]]
            if self.error is not None:
                raise self.error
            if self.stopped:
                raise StateStoreError("closed", self.location, "write", "the store was closed")
        size = _weight(item)
        over = False
        lock = self.lock
        lock.acquire()  # (not `with`: this runs once per round of every run)
        try:
            self.pending.append(item)
            rows = self.rows = self.rows + size
            now = time.monotonic()
            first = self.first_at
            if first is None:
                self.first_at = first = now
            urgent = item[0] in _URGENT
            due = urgent or rows >= self.max_rows or now - first >= self.interval
            if self.failing is not None:
                if not urgent and now < self.retry_at:
                    due = False  # the store cannot be written: retried after the backoff
                over = rows > self.max_pending
            arm = self.parked and not due
            if arm:
                self.parked = False
        finally:
            lock.release()
        if over:
            with self.write_lock:
                self._bound()
        if due:
            self.commit()
            if self.error is not None:
                raise self.error
            if self.lost_runs and item[0] != "beat" and item[1] in self.lost_runs:
                raise self.lost_runs[item[1]]
        elif arm:
            self.wake.set()  # the backstop thread commits the batch if nobody else does

    def commit(self, force: bool = True) -> None:
        """Commit everything pending now, in this thread (unless ``force`` is False and
        the store cannot be written and its next try is not due)."""
        with self.write_lock:
            if not force and self.failing is not None and time.monotonic() < self.retry_at:
                return
            with self.lock:
                batch, self.pending = self.pending, []
                self.rows = 0
                self.first_at = None
            if batch:
                self._write(batch)

    def committed(self, item: tuple) -> bool:
        """Whether ``item`` (put earlier) is no longer pending; if it still is (the store
        cannot be written), it is taken back and never written."""
        with self.write_lock, self.lock:
            for i, pending in enumerate(self.pending):
                if pending is item:
                    del self.pending[i]
                    self.rows -= _weight(item)
                    return False
        return True

    def check_lease(self, run_id: str) -> None:
        """Raise RunLostError if ``run_id`` was lost to another process; confirm its lease
        with a commit first when it was last confirmed a heartbeat period ago or more."""
        lost = self.lost_runs.get(run_id)
        if lost is None:
            at = self.confirmed.get(run_id)
            if at is None or time.monotonic() - at < HEARTBEAT_SECONDS:
                return  # not a run of this process, or confirmed recently
            if self.failing is not None:
                return  # a store that cannot be written cannot tell (its heartbeats try): the run goes on
            with self.lock:
                self.pending.append(("beat",))
                self.rows += 1
            self.commit()
            lost = self.lost_runs.get(run_id)
        if lost is not None:
            raise lost

    def flush(self, raise_error: bool = True, force: bool = True) -> None:
        if not self.stopped:
            self.commit(force)
        if raise_error:
            self._raise()

    def _raise(self) -> None:
        """Raise the error of a batch wrong in itself, once (afterwards the store can be
        used again); else, while records wait because the store cannot be written, that
        failure with their number."""
        error = self.error
        if error is not None:
            self.error = None
            self.unwritten = 0
            raise error
        failing = self.failing
        if failing is not None and self.pending:
            raise StateStoreError(failing.reason, self.location, "write", failing.detail, failing.os_error,
                                  sum(self.dropped.values()), sum(_records(item) for item in self.pending))

    def release(self) -> None:
        with _WRITERS_LOCK:
            self.refs -= 1
            last = self.refs <= 0
            if last and _WRITERS.get(self.url) is self:
                del _WRITERS[self.url]
        if last:
            self.stop()
        else:
            self.flush()

    def stop(self) -> None:
        if not self.stopped:
            self.quit.set()
            self.wake.set()
            for thread in (self.thread, self.beats):
                if thread is not None and thread is not threading.current_thread():
                    thread.join()
            with self.write_lock:
                self.stopped = True
            self.commit()
            with self.write_lock:
                if self.pending:
                    self._give_up()
                self.cache.clear()
                self.own.clear()
                try:
                    self.conn.close()
                except Exception as exc:  # a connection already gone
                    if not self.dialect.is_driver_error(exc):
                        raise
        self._raise()

    # ----- the backstop and heartbeat threads -------------------------------------------

    def _backstop(self) -> None:
        """Commit batches the recording thread left due, and retry those that could not
        be written; park while nothing is pending."""
        period = BACKSTOP_PERIODS * self.interval
        while True:
            self.wake.wait()
            self.wake.clear()
            while True:
                if self.quit.wait(period):
                    return
                with self.lock:
                    first = self.first_at
                    if first is None:
                        self.parked = True
                        break
                if time.monotonic() - first >= self.interval:
                    try:
                        self.commit(force=False)
                    except BaseException as exc:
                        if self.error is None:
                            self.error = self._as_store_error(exc, "write")

    def _heartbeat(self) -> None:
        """Stamp the live runs' ``heartbeat_at`` every HEARTBEAT_SECONDS (see
        ferroflow.store.orphans), however long their tasks take, and while the store
        cannot take their records."""
        while not self.quit.wait(HEARTBEAT_SECONDS):
            if not self.owned or self.error is not None:
                continue
            if self.failing is not None:
                with self.write_lock:
                    if not self.stopped and self.failing is not None:
                        self._essentials()
                continue
            try:
                self.put(("beat",))
            except StateStoreError:  # raised again by the run's own next call
                pass

    # ----- one transaction --------------------------------------------------------------

    def _write(self, records: list) -> None:
        if self.error is not None:
            self.unwritten += sum(_records(item) for item in records)
            self.error = self._as_store_error(self.error, "write", self.unwritten)
            return
        txn = None
        try:
            conn = self._connection()
            txn = Transaction(self, conn)
            with transaction(conn, self.dialect):
                for item in coalesced(records):
                    try:
                        txn.handle(item)
                    except Skip:
                        pass  # a record of a run lost to another process, or a refused start
                txn.apply()
                if self.noted or self.dropped:
                    txn.complete(self.noted, self.dropped)
        except BaseException as exc:
            self.cache.clear()
            self.own.clear()
            self.runs.clear()
            if not isinstance(exc, Exception):
                # Ctrl-C (or SIGTERM under the CLI) or SystemExit landed in the commit: the
                # batch was rolled back; keep it, first in line, for the flush that ends
                # the run, and let the interrupt go on.
                self._requeue(records)
                raise
            if self.dialect.may_pass(exc):
                self._keep(records, exc)
                return
            self.unwritten += sum(_records(item) for item in records)
            self.error = self._as_store_error(exc, "write", self.unwritten)
            return
        assert txn is not None
        txn.settle()
        if self.failing is not None:
            self._recovered()

    def _connection(self) -> Any:
        """The writer's connection; a new one when it was lost (PostgreSQL: the server
        restarted, the network went away). Raises the driver's error when none can be
        made: a failure that may pass, like a full disk."""
        if self.dialect.broken(self.conn):
            self.conn = self.connect()
        return self.conn

    def _as_store_error(self, exc: BaseException, action: str, lost: int = 0) -> StateStoreError:
        if isinstance(exc, StateStoreError):
            return exc if not lost else StateStoreError(exc.reason, self.location, action, exc.detail, exc.os_error,
                                                        lost)
        if self.dialect.is_driver_error(exc):
            return self.dialect.describe(exc, self.location, action, self.busy_timeout, lost)
        return StateStoreError("invalid record", self.location, action, f"{type(exc).__name__}: {exc}", None, lost)

    # ----- when the store cannot be written --------------------------------------------

    def _requeue(self, records: list) -> None:
        """Put a batch that was not written back in front of the pending records, and
        wake the backstop thread to commit it."""
        with self.lock:
            self.pending[:0] = records
            self.rows += sum(_weight(item) for item in records)
            if self.first_at is None:
                self.first_at = time.monotonic()
            arm, self.parked = self.parked, False
        if arm:
            self.wake.set()

    def _keep(self, records: list, exc: BaseException) -> None:
        """A batch could not be written for a reason that may pass: keep it, first in
        line, retry it after a backoff, say so (once), and write what matters most."""
        error = self._as_store_error(exc, "write")
        self._requeue(records)
        first = self.failing is None
        self.failing = error
        self.backoff = RETRY_FIRST if first else min(RETRY_MAX, 2 * self.backoff)
        self.retry_at = time.monotonic() + self.backoff
        if first:
            self.failing_since = time.time()
            log.warning("%s. Runs go on: their records are kept in memory and written once the store can take "
                        "them (retried every %g to %g s; past %s rows waiting, the oldest task states and logs are "
                        "dropped, and the run's record says it is incomplete)", error, RETRY_FIRST, RETRY_MAX,
                        f"{self.max_pending:,}")
        self._bound()
        self._essentials()

    def _bound(self) -> None:
        """Drop the oldest task states and logs while more than ``max_pending`` rows wait
        (a run's start, end and widths are kept); count them per run."""
        with self.lock:
            if self.rows <= self.max_pending:
                return
            was = bool(self.dropped)
            kept = []
            for item in self.pending:
                if self.rows > self.max_pending and item[0] in _DROPPABLE:
                    self.rows -= _weight(item)
                    self.dropped[item[1]] = self.dropped.get(item[1], 0) + _records(item)
                else:
                    kept.append(item)
            self.pending = kept
            first = not was and bool(self.dropped)
        if first:
            log.warning("run store %s: more than %s records wait to be written; the oldest task states and logs "
                        "are dropped from now on (each run's start, end and final task states are still recorded "
                        "once the store can be written)", self.location, f"{self.max_pending:,}")

    def _note(self, run_id: str, pending: dict, final: bool = False) -> str | None:
        """What ``runs.record_error`` says about a run while (or after) its records could
        not all be written; at the end (``final``), None for a run that lost nothing."""
        waiting = pending.get(run_id, 0)
        dropped = self.dropped.get(run_id, 0)
        if final and not waiting and not dropped:
            return None
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.failing_since))
        failing = self.failing
        parts = [f"Record incomplete: the run store could not be written from {since} "
                 f"({failing.reason if failing is not None else 'error'})"]
        if waiting:
            parts.append(f"{waiting:,} record(s) {'were never written' if final else 'wait to be written'}")
        if dropped:
            parts.append(f"{dropped:,} record(s) were dropped (more than {self.max_pending:,} waited)")
        return "; ".join(parts) + "."

    def _essentials(self, final: bool = False) -> None:
        """While the records cannot be written: in a transaction of its own, confirm the
        lease (stamp the heartbeat) of every live run of this process with a note of why
        its record is incomplete, and record the end of every run that ended. These
        update rows in place and often succeed when the batch cannot (SQLite needs no
        new page for them). Nothing, if the store cannot take even that."""
        with self.lock:
            pending: dict = {}
            ends = []
            for item in self.pending:
                if item[0] != "beat":
                    pending[item[1]] = pending.get(item[1], 0) + _records(item)
                if item[0] == "end":
                    ends.append(item)
        runs = set(self.owned) | self.noted | {item[1] for item in ends}
        if not runs:
            return
        notes = {run_id: self._note(run_id, pending, final) for run_id in runs}
        try:
            conn = self._connection()
            txn = Transaction(self, conn, notes)
            with transaction(conn, self.dialect):
                txn.note_runs()
                for item in ends:
                    try:
                        txn.handle(item)
                    except (Skip, StateStoreError):
                        pass  # lost, or never started: its start waits too
        except Exception as exc:
            if not self.dialect.is_driver_error(exc):
                raise
            self.runs.clear()
            return
        txn.settle()
        self.noted.update(txn.noted)

    def _give_up(self) -> None:
        """At close, with records that still cannot be written: record what matters most
        (each run's end, a note of what was never written) and drop the rest, raised as
        one error that counts them."""
        self._essentials(final=True)
        with self.lock:
            lost = sum(_records(item) for item in self.pending)
            self.pending = []
            self.rows = 0
            self.first_at = None
        failing = self.failing or StateStoreError("not written", self.location, "write")
        self.unwritten += lost + sum(self.dropped.values())
        self.error = StateStoreError(failing.reason, self.location, "write", failing.detail, failing.os_error,
                                     self.unwritten)

    def _recovered(self) -> None:
        """Everything kept while the store could not be written is written now."""
        took = time.time() - self.failing_since
        dropped = sum(self.dropped.values())
        self.failing = None
        self.noted.clear()
        self.dropped.clear()
        log.warning("run store %s: written again after %.0f s; every record kept meanwhile is written%s", self.location,
                    took, f" ({dropped:,} dropped)" if dropped else "")


#: Records committed at once, by the call that makes them: a run's start (so the run is
#: in the store before any of its tasks runs, even one that never gives the GIL back)
#: and its end.
_URGENT = frozenset({"start", "end"})
#: Records dropped (oldest first) when too many wait while the store cannot be written.
_DROPPABLE = frozenset({"report", "states", "logs"})
#: Seconds before the first retry of a batch the store could not take, and the most
#: between two retries (the backoff doubles).
RETRY_FIRST = 0.1
RETRY_MAX = 5.0

def _close_writers_at_exit() -> None:
    """Commit what is still pending when the interpreter exits; say so if it cannot."""
    with _WRITERS_LOCK:
        writers = list(_WRITERS.values())
        _WRITERS.clear()
    for writer in writers:
        try:
            writer.stop()
        except StateStoreError as exc:
            print(f"ferroflow: run store: {exc}", file=sys.stderr)


#: This process's id, set again in a forked child (asking the OS on every record costs
#: a system call).
_PROCESS = [os.getpid()]


def _after_fork_in_child() -> None:
    global _WRITERS_LOCK
    _PROCESS[0] = os.getpid()
    _WRITERS_LOCK = threading.Lock()
    for writer in _WRITERS.values():
        writer.stopped = True  # its thread does not exist in the child
    _WRITERS.clear()


atexit.register(_close_writers_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

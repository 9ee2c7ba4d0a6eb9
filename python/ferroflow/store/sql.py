"""The run store in a SQL database: embedded SQLite (the default, one file) or
PostgreSQL (the server's), on one schema (:mod:`ferroflow.store.schema`, created and
upgraded by :mod:`ferroflow.store.migrations`).

How it stays cheap and safe with several processes on one database:

* SQLite: WAL journal (readers never block the writer and the writer never blocks
  readers), ``synchronous=NORMAL`` (a commit survives a killed process, only the last
  commits may be lost on power loss), a busy timeout and ``BEGIN IMMEDIATE`` (the write
  lock is taken up front, so a transaction never fails half-way for a lock).
  PostgreSQL: row locks; a lease check is an ``UPDATE`` of the run's row, which orders
  two writers of one run.
* One writer per process and database (:mod:`ferroflow.store.writer`): one
  connection, one transaction at a time. ``start_run`` commits at once (with whatever
  is pending): a run is in the store, with its pid and first heartbeat, before any of
  its tasks runs, so a task that dies with its process (``os._exit``) or never gives
  the GIL back still leaves a run to find and resume. ``record_*`` add records to a
  pending batch and return; the batch is committed in one transaction once its oldest
  record is ``flush_interval`` old (50 ms) or ``flush_rows`` rows (5,000) wait, by the
  recording call that finds it due, or by the store's backstop thread when the
  recording thread went quiet (within ``(1 + BACKSTOP_PERIODS) * flush_interval``);
  ``end_run`` and ``flush()`` commit at once. (Committing from a thread only would cost
  a busy engine thread a GIL hand-off per statement, about 1 ms each on a 2-vCPU
  machine, more than the writes themselves.)
* The writer runs plain SQL on a DBAPI connection taken from the SQLAlchemy engine
  (:mod:`ferroflow.store.dialects` translates the little that differs): SQLAlchemy's
  per-statement overhead would cost more than recording a plain task does.
* A run's tasks are one ``run_tasks`` row: the task list by columns (JSON arrays of
  ids, names and slugs, a byte per task for each flag), written once at the start, and
  one byte per task, its own latest code, rewritten by each transaction that records a
  task's own state. A task run that simply succeeded (``Success``, ``"Task run
  succeeded."``, run count 1, no result location) costs no other row; any other
  task-level state is a ``task_runs`` row too, which readers take over the byte.
* A mapped child that simply succeeded costs no row: the writer keeps one byte per
  child (its last recorded code) and writes per-task counts, plus one ``child_spans``
  row per reported range of children; a row in ``task_runs`` is written only for a
  child that is not a plain success (failed, retrying, skipped, ...) or that carries a
  message, a result location or a traceback.
* On SQLite many rows go in one statement (``json_each`` over a JSON array) rather
  than ``executemany``, which releases the GIL once per row: with other Python threads
  busy (a threaded executor), each release is a hand-off. psycopg's ``executemany``
  pipelines the rows.
* Leases: the run row carries the token of the process recording it (``owner``).
  Every transaction that writes for a run, and every heartbeat, first checks it is
  still that process's; reaping a run (``reap``) and resuming it (``start_run`` with
  ``resumed_from``) revoke it in their own transaction. A process whose run was taken
  from it writes nothing more for it and learns it from its next recording call or
  :meth:`SQLRunStore.check_lease` (:class:`~ferroflow.store.RunLostError`).
* A write that fails for a reason that may pass (disk full, read-only, locked beyond
  the timeout, an I/O error, a lost PostgreSQL connection) does not stop recording: the
  batch is kept in memory and retried with backoff (0.1 s doubling to 5 s; a lost
  connection is made again), a warning names the database and the error when it first
  happens, and meanwhile a small transaction keeps each live run's heartbeat, notes why
  its record is incomplete (``runs.record_error``) and records the end of runs that
  ended. Past ``max_pending`` rows (200,000) the oldest task states and logs are dropped
  and counted. ``flush()`` raises :class:`~ferroflow.store.StateStoreError` (naming the
  database, the reason, the OS error and how many records wait) while records wait;
  ``close()`` gives up on them and raises with how many were never written. A batch
  wrong in itself (records of a run never started, a malformed report) is dropped and
  raised by the next call, once. Nothing is dropped silently.
* A server applies batches that remote clients recorded with :meth:`SQLRunStore.ingest`
  (see there): one transaction each, idempotent, lease-checked, and without trusting
  any cache of this process.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ferroflow import _core
from ferroflow.store import items
from ferroflow.store.base import (
    FAILED_CODES,
    ChildState,
    LogLine,
    ResumeInfo,
    TaskResume,
    TaskSummary,
)
from ferroflow.store.database import DEFAULT_BUSY_TIMEOUT
from ferroflow.store.dialects import Dialect, dialect_for
from ferroflow.store.errors import (
    ResumeRefusedError,
    RunLostError,
    StateStoreError,
    UnknownRunError,
)
from ferroflow.store.layout import (
    RUN_COLUMNS,
    RUN_TASKS_COLUMNS,
    merge_spans,
    own_state,
    read_run,
    read_run_tasks,
    task_state,
)
from ferroflow.store.migrations import migrate, up_to_date
from ferroflow.store.orphans import (
    CRASHED,
    HEARTBEAT_TIMEOUT,
    UNKNOWN,
    check_timeout,
    orphan_message,
)
from ferroflow.store.transaction import Caches, Skip, Transaction, transaction
from ferroflow.store.writer import _PROCESS, Writer

__all__ = ["SQLRunStore", "DEFAULT_FLUSH_INTERVAL", "DEFAULT_FLUSH_ROWS", "DEFAULT_MAX_PENDING"]

DEFAULT_FLUSH_INTERVAL = 0.05
DEFAULT_FLUSH_ROWS = 5_000
#: Rows that may wait in memory while the store cannot be written (see the writer).
DEFAULT_MAX_PENDING = 200_000

_SUCCESS = _core.SUCCESS
_RUN_COLUMNS = ", ".join(RUN_COLUMNS)
_RUN_TASKS_COLUMNS = ", ".join(RUN_TASKS_COLUMNS)


class SQLRunStore(items.ItemStore):
    """A run store in a SQL database: an SQLite file or PostgreSQL (see the module
    docstring).

    Opening it creates the database when needed (an SQLite file and its directory,
    private) and migrates an older schema (:func:`ferroflow.store.migrations.migrate`);
    it raises :class:`StateStoreError` when the database cannot be opened, is not a run
    store, or was written by a newer ferroflow. Writes go through the process's one
    writer for this database, shared by every store on it; reads use the store's own
    connection and first commit this process's pending records.

    Args:
        url_or_engine: the database: a URL (``sqlite:///PATH``, ``postgresql://...``),
            a path of an SQLite file, or a SQLAlchemy engine; None for
            :func:`ferroflow.store.database.default_database_url`.
        busy_timeout: seconds to wait for another process's lock before failing.
        flush_interval: how old (seconds) the oldest pending record gets before its
            batch is written.
        flush_rows: how many pending rows make a batch be written at once.
        max_pending: how many rows may wait in memory while the store cannot be
            written; past that the oldest task states and logs are dropped.
    """

    def __init__(self, url_or_engine: Any = None, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL, flush_rows: int = DEFAULT_FLUSH_ROWS,
                 max_pending: int = DEFAULT_MAX_PENDING):
        from ferroflow.store.database import (
            create_private,
            default_database_url,
            location_of,
            normalize_url,
            sqlite_path,
        )

        self.busy_timeout = float(busy_timeout)
        self.flush_interval = float(flush_interval)
        self.flush_rows = int(flush_rows)
        self.max_pending = int(max_pending)
        if url_or_engine is None:
            url_or_engine = default_database_url()
        self._engine: Any = None
        if isinstance(url_or_engine, (str, os.PathLike)):
            self.url = normalize_url(url_or_engine)
            self.location = location_of(self.url)
        else:
            self._engine = url_or_engine
            self.url = normalize_url(url_or_engine.url.render_as_string(hide_password=False))
            self.location = location_of(self.url)
        self._owns_engine = self._engine is None
        self.dialect: Dialect = dialect_for(self.url)
        #: The SQLite file, None for another database.
        self._file = sqlite_path(self.url)
        if self._file is not None:
            try:
                create_private(self._file)
            except OSError as exc:
                raise self.dialect.describe(exc, self._file, "create") from exc
        self._lock = threading.RLock()
        self._pid = _PROCESS[0]
        self._writer: Writer | None = None
        self._closed = False
        self._conn: Any = None
        try:
            self._conn = self._open()
        except BaseException:
            self._dispose()
            raise

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location}>"

    @property
    def engine(self) -> Any:
        """The SQLAlchemy engine of the store's database (made on first use: an
        up-to-date SQLite store records and reads without SQLAlchemy)."""
        if self._engine is None:
            from ferroflow.store.database import make_engine

            self._engine = make_engine(self.url, self.busy_timeout)
        return self._engine

    def _dispose(self) -> None:
        if self._owns_engine and self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # ----- connections --------------------------------------------------------------

    def _connect(self) -> Any:
        """A new connection of the store's own (a DBAPI connection, out of the engine's
        pool, as :meth:`Dialect.wrap` makes it; an SQLite file's made as its engine makes
        them, without SQLAlchemy). Raises the driver's error when it cannot be made.
        Tests override this to inject faults."""
        if self._file is not None and self._engine is None:
            from ferroflow.store.database import sqlite_connect

            return sqlite_connect(self._file, self.busy_timeout)
        fairy = self.engine.raw_connection()
        conn = fairy.driver_connection
        fairy.detach()  # the store keeps it; it never goes back to the pool
        return self.dialect.wrap(conn)

    def _describe(self, exc: BaseException, action: str) -> StateStoreError | None:
        """``exc`` as a StateStoreError, or None when it does not come from the database
        (a driver's error, or SQLAlchemy's wrapping one)."""
        orig = getattr(exc, "orig", None)
        if orig is not None and type(exc).__module__.startswith("sqlalchemy"):
            exc = orig
        if isinstance(exc, StateStoreError):
            return exc
        if not self.dialect.is_driver_error(exc):
            return None
        return self.dialect.describe(exc, self.location, action, self.busy_timeout)

    def _open(self) -> Any:
        try:
            conn = self._connect()
        except Exception as exc:
            error = self._describe(exc, "open")
            if error is None:
                raise
            raise error from exc
        try:
            if not up_to_date(conn, self.dialect):
                migrate(self.engine, self.location)
        except BaseException as exc:
            conn.close()
            error = self._describe(exc, "open") if isinstance(exc, Exception) else None
            if error is None:
                raise
            raise error from exc
        return conn

    def _check_process(self) -> None:
        # After fork the child must not touch the parent's connection or writer thread.
        if self._pid != _PROCESS[0]:
            self._pid = _PROCESS[0]
            self._lock = threading.RLock()
            self._writer = None
            self._conn = None  # abandoned, never closed: it belongs to the parent

    def _reader(self) -> Any:
        if self._closed:
            raise StateStoreError("closed", self.location, "read", "the store was closed")
        self._check_process()
        if self._conn is None or self.dialect.broken(self._conn):
            self._conn = self._open()
        return self._conn

    # ----- writing ------------------------------------------------------------------

    def _put(self, item: tuple) -> None:
        if self._closed:
            raise StateStoreError("closed", self.location, "write", "the store was closed")
        if self._pid != _PROCESS[0]:
            self._check_process()
        writer = self._writer
        if writer is None:
            writer = self._writer = Writer.acquire(self)
        writer.put(item)

    def start_run(self, run_id, flow_name, parameters, tasks, started_at=None, *, resumed_from=None, lease=None,
                  executor=None, parent_run_id=None, run_name=None):
        run_id = str(run_id)
        item = items.start(run_id, flow_name, parameters, tasks, started_at, resumed_from, pid=_PROCESS[0],
                           token=items.new_token() if lease is None else str(lease), executor=executor,
                           parent_run_id=parent_run_id, run_name=run_name)
        self._put(item)
        writer = self._writer
        assert writer is not None  # _put made one
        refused = writer.refused.pop(run_id, None)
        if refused is not None:
            raise ResumeRefusedError(refused)
        if (resumed_from is not None or lease is not None) and not writer.committed(item):
            # Without its claim in the store, another resume could go ahead at once.
            what = f"run {resumed_from} cannot be resumed" if resumed_from is not None else \
                f"claimed run {run_id} cannot start"
            raise ResumeRefusedError(f"{what} now: the run store cannot record "
                                     f"it ({writer.failing})")

    def end_run(self, run_id, state_name, message=None, ended_at=None):
        self._put(items.end(run_id, state_name, message, ended_at))

    def record_report(self, run_id, reports, details=None, *, plain=False):
        if type(reports) is not list:
            reports = list(reports)
        if not reports:
            return
        item = ("report", str(run_id), reports, time.time(), details or None, plain)  # (items.report, inlined)
        writer = self._writer
        if writer is not None and self._pid == _PROCESS[0] and not self._closed:
            writer.put(item)  # (what _put does then: called once per round of a run)
        else:
            self._put(item)

    def check_lease(self, run_id) -> None:
        if self._closed:
            return
        self._check_process()
        if self._writer is not None:
            self._writer.check_lease(str(run_id))

    def flush(self) -> None:
        if self._closed:
            return
        self._check_process()
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._closed:
            return
        error: StateStoreError | None = None
        if self._pid == _PROCESS[0]:
            writer, self._writer = self._writer, None
            if writer is not None:
                try:
                    writer.release()
                except StateStoreError as exc:
                    error = exc
            with self._lock:
                if self._conn is not None:
                    try:
                        self._conn.close()
                    except Exception as exc:  # a connection already gone
                        if not self.dialect.is_driver_error(exc):
                            raise
            self._dispose()
        self._conn = None
        self._closed = True
        if error is not None:
            raise error

    # ----- reading ------------------------------------------------------------------

    def _sync(self) -> None:
        """Let reads see this process's pending records (a failed write is raised by the
        writing calls, not here)."""
        self._check_process()
        writer = self._writer or Writer.existing(self.url)
        if writer is not None:
            writer.flush(raise_error=False, force=False)

    def _query(self, fn: Callable[[Any], Any], write: bool = False) -> Any:
        """``fn(connection)`` in one transaction of the store's own connection (a
        ``write`` one takes the write lock first); rolled back if ``fn`` raises."""
        self._sync()
        with self._lock:
            conn = self._reader()
            try:
                with transaction(conn, self.dialect, write):
                    return fn(conn)
            except Exception as exc:
                if not self.dialect.is_driver_error(exc):
                    raise
                if self.dialect.broken(conn):
                    self._conn = None  # (a new one next time)
                raise self.dialect.describe(exc, self.location, "write" if write else "read",
                                            self.busy_timeout) from exc

    def _run_key(self, conn: Any, run_id: str) -> int:
        row = conn.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRunError(run_id, self.location)
        return row[0]

    def list_runs(self, limit=20, flow_name=None):
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        args: list = []
        if flow_name is not None:
            sql += " WHERE flow_name = ?"
            args.append(flow_name)
        sql += " ORDER BY started_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return self._query(lambda c: [read_run(r) for r in c.execute(sql, args)])

    def get_run(self, run_id):
        def get(c):
            row = c.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            return None if row is None else read_run(row)

        return self._query(get)

    def child_runs(self, run_id, limit=None):
        sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE parent_run_id = ? ORDER BY started_at, id"  # (runs_by_parent)
        args: list = [str(run_id)]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return self._query(lambda c: [read_run(r) for r in c.execute(sql, args)])

    def match_run_ids(self, prefix, limit=10):
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql = "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY started_at DESC LIMIT ?"
        return self._query(lambda c: [r[0] for r in c.execute(sql, (escaped + "%", int(limit)))
                                      if r[0].startswith(prefix)])

    def _run_tasks(self, c: Any, key: int) -> tuple:
        """A run's ``run_tasks`` row: its task list (``(task_id, name, slug, is_mapped,
        approved)`` in display order), each task's own code byte, the widths."""
        return read_run_tasks(c.execute(f"SELECT {_RUN_TASKS_COLUMNS} FROM run_tasks WHERE run = ?", (key,)).fetchone())

    def task_states(self, run_id, failed_limit=100):
        def get(c):
            key = self._run_key(c, run_id)
            listed, codes, widths = self._run_tasks(c, key)
            own: dict = {}
            tracebacks: dict = {}
            for r in c.execute("SELECT task_id, code, run_count, message, result_location, traceback "
                               "FROM task_runs WHERE run = ? AND map_index = -1", (key,)):
                own[r[0]] = r[1:5]
                tracebacks[r[0]] = r[5]
            counts: dict = {}
            for task_id, code, n in c.execute(
                    "SELECT task_id, code, n FROM child_counts WHERE run = ? AND n != 0 ORDER BY code", (key,)):
                counts.setdefault(task_id, {})[code] = n
            result = []
            for task_id, name, slug, is_mapped, _ in listed:
                by_code = counts.get(task_id, {})
                state = task_state(own_state(own, codes, task_id), by_code)
                failed = []
                if state["failed_count"] and failed_limit != 0:
                    sql = ("SELECT map_index, code, run_count, message, result_location, traceback FROM task_runs "
                           f"WHERE run = ? AND task_id = ? AND map_index >= 0 AND code IN "
                           f"({', '.join(str(x) for x in sorted(FAILED_CODES))}) ORDER BY map_index")
                    args: tuple = (key, task_id)
                    if failed_limit is not None:
                        sql += " LIMIT ?"
                        args += (int(failed_limit),)
                    failed = [ChildState(task_id, *r) for r in c.execute(sql, args)]
                result.append(TaskSummary(
                    task_id=task_id, name=name, slug=slug, is_mapped=is_mapped, width=widths.get(task_id),
                    failed_children=failed, traceback=tracebacks.get(task_id), **state))
            return result

        return self._query(get)

    def child_state(self, run_id, task_id, index):
        def get(c):
            key = self._run_key(c, run_id)
            row = c.execute("SELECT code, run_count, message, result_location, traceback FROM task_runs "
                            "WHERE run = ? AND task_id = ? AND map_index = ?", (key, task_id, index)).fetchone()
            if row is not None:
                return ChildState(task_id, index, *row)
            if index < 0:
                found = c.execute("SELECT codes FROM run_tasks WHERE run = ?", (key,)).fetchone()
                state = own_state({}, found[0] if found else b"", task_id)
                return None if state is None else ChildState(task_id, -1, *state)
            span = c.execute("SELECT 1 FROM child_spans WHERE run = ? AND task_id = ? AND start <= ? AND stop > ? "
                             "LIMIT 1", (key, task_id, index, index)).fetchone()
            return None if span is None else ChildState(task_id, index, _SUCCESS, None, None, None)

        return self._query(get)

    def logs(self, run_id, task_name=None, map_index=None, limit=None):
        def get(c):
            key = self._run_key(c, run_id)
            listed = self._run_tasks(c, key)[0]
            names = {task_id: name for task_id, name, _, _, _ in listed}
            sql = ("SELECT task_id, map_index, created_at, level, levelname, logger, message FROM logs "
                   "WHERE run = ?")
            args: list = [key]
            if task_name is not None:
                ids = [task_id for task_id, name, slug, _, _ in listed if task_name in (name, slug)]
                if not ids:
                    return []
                sql += f" AND task_id IN ({', '.join('?' * len(ids))})"
                args += ids
            if map_index is not None:
                sql += " AND map_index = ?"
                args.append(int(map_index))
            sql += " ORDER BY created_at, id"
            if limit is not None:
                sql += " LIMIT ?"
                args.append(int(limit))
            return [LogLine(r[0], names.get(r[0]), None if r[1] < 0 else r[1], *r[2:]) for r in c.execute(sql, args)]

        return self._query(get)

    def resume_info(self, run_id):
        def get(c):
            key = self._run_key(c, run_id)
            run = read_run(c.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (key,)).fetchone())
            listed, codes, widths = self._run_tasks(c, key)
            own: dict = {}
            children: dict = {}
            for task_id, index, code, run_count, message, location in c.execute(
                    "SELECT task_id, map_index, code, run_count, message, result_location FROM task_runs "
                    "WHERE run = ? ORDER BY task_id, map_index", (key,)):
                if index < 0:
                    own[task_id] = (code, run_count, message, location)
                else:
                    children.setdefault(task_id, {})[index] = (code, location)
            spans: dict = {}
            for task_id, start, stop in c.execute(
                    "SELECT task_id, start, stop FROM child_spans WHERE run = ? ORDER BY task_id, start", (key,)):
                spans.setdefault(task_id, []).append((start, stop))
            tasks = {}
            for task_id, name, slug, is_mapped, approved in listed:
                state = own_state(own, codes, task_id)
                code, location = (None, None) if state is None else (state[0], state[3])
                tasks[task_id] = TaskResume(task_id, name, slug, is_mapped, widths.get(task_id), code, location,
                                            children.get(task_id, {}), merge_spans(spans.get(task_id, [])), approved)
            return ResumeInfo(run, tasks)

        return self._query(get)

    def recorded_parameters(self, run_id):
        def get(c):
            key = self._run_key(c, run_id)
            rows = c.execute("SELECT name, value, problem FROM run_parameters WHERE run = ? ORDER BY name",
                             (key,)).fetchall()
            return {name: (data, problem) for name, data, problem in rows} or None

        return self._query(get)

    # ----- a server's ingest of remote records ---------------------------------------

    def ingest(self, batch_id: str, batch: list, tokens: dict[str, str]) -> dict:
        """Apply a batch of items (:mod:`ferroflow.store.items`) that a remote client
        recorded, in one transaction: how a server records runs that run elsewhere.

        * Idempotent: ``batch_id`` (the client's id for the batch, unique) is written to
          ``ingest_batches`` in the same transaction; a batch seen before (its answer was
          lost, and the client sent it again) is acknowledged and nothing is applied.
        * Lease-checked: ``tokens`` maps each run id the client records to the lease
          token it holds (a ``start`` item carries its own). Every run in ``tokens`` gets
          its ``heartbeat_at`` stamped where its ``owner`` is still that token, even by a
          batch without items: a client heartbeats through its batches, and the server
          never heartbeats a remote run on its own. A run whose owner is no longer that
          token (it was reaped, or resumed elsewhere) gets nothing written, and is
          reported back as lost.
        * Without trusting caches: what a batch needs of earlier records (a run's task
          codes, its children's last codes) is read from the database inside the
          transaction, so that several stores (replicas of a server) may apply batches
          of one run in turn. On PostgreSQL the lease check's ``UPDATE`` locks the run's
          row first, so two batches of one run are applied one after the other.

        Returns ``{"duplicate": bool, "lost": {run_id: {"state", "message", "resumed_by",
        "error"}}, "refused": {run_id: why}, "cancelling": [run_id, ...]}``: ``lost`` the
        runs whose lease the client no longer holds (``error`` the text of the
        :class:`~ferroflow.store.RunLostError` the client should raise), ``refused`` the
        runs whose start (a resume) was refused (the client raises
        :class:`~ferroflow.store.ResumeRefusedError`), ``cancelling`` the runs of
        ``tokens`` (still held, not ended by this batch) whose cancellation was asked for
        (state ``Cancelling``, see :func:`ferroflow.store.control.cancel_run`): the client
        raises :class:`~ferroflow.store.RunCancelledError` for them and ends them. A run
        being cancelled keeps its lease: its records and its end are still taken.

        Raises:
            StateStoreError: the batch is wrong in itself (``invalid record``, ``unknown
                run``, ``no lease``: nothing of it is applied, and it is not marked seen),
                or the database could not be written (the client keeps the batch and
                sends it again).
        """
        batch_id = str(batch_id)
        tokens = {str(k): str(v) for k, v in tokens.items()}
        todo = [tuple(item) for item in batch]
        for item in todo:
            if not item or item[0] not in items.KINDS or item[0] == "beat" or len(item) < 2:
                raise StateStoreError("invalid record", self.location, "write",
                                      f"batch {batch_id}: not a record: {str(item)[:100]}")
        starting = {item[1]: item[11] for item in todo if item[0] == "start"}
        for item in todo:
            if item[1] not in tokens and item[1] not in starting:
                raise StateStoreError("no lease", self.location, "write",
                                      f"batch {batch_id}: records for run {item[1]!r} without its lease token")

        def apply(c: Any) -> dict:
            fresh = c.execute("INSERT INTO ingest_batches (batch_id, run, received_at) VALUES (?, NULL, ?) "
                              "ON CONFLICT (batch_id) DO NOTHING", (batch_id, time.time())).rowcount
            if not fresh:
                return {"duplicate": True, "lost": {}, "refused": {}, "cancelling": _cancelling(c, None, tokens)}
            txn = Transaction(Caches(self.location, self.dialect, owned=dict(tokens)), c)
            for run_id, token in sorted(tokens.items()):  # (in one order: no deadlock between two batches)
                if run_id not in starting:
                    txn._confirm(run_id, token)
            try:
                for item in items.coalesced(todo):
                    try:
                        txn.handle(item)
                    except Skip:
                        pass  # a run lost to another process, or a refused start
                txn.apply()
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                raise StateStoreError("invalid record", self.location, "write",
                                      f"batch {batch_id}: {type(exc).__name__}: {exc}") from exc
            lost = {run_id: {"state": found.state, "message": found.message, "resumed_by": found.resumed_by,
                             "error": str(found)}
                    for run_id, found in txn.checked.items() if isinstance(found, RunLostError)}
            return {"duplicate": False, "lost": lost, "refused": dict(txn.refused),
                    "cancelling": _cancelling(c, txn, tokens)}

        with self._borrowed() as conn:
            try:
                with transaction(conn, self.dialect, True):
                    return apply(conn)
            except Exception as exc:
                if not self.dialect.is_driver_error(exc):
                    raise
                raise self.dialect.describe(exc, self.location, "write", self.busy_timeout) from exc

    def forget_batches(self, before: float) -> int:
        """Delete the ids of ingested batches received before ``before`` (epoch seconds):
        a batch sent again after that is applied again. Returns how many."""
        return self._query(lambda c: c.execute("DELETE FROM ingest_batches WHERE received_at < ?",
                                               (float(before),)).rowcount, write=True)

    def _borrowed(self) -> Any:
        """A connection of the engine's pool for one transaction (``ingest``: a server's
        requests in several threads each take their own)."""
        return _Borrowed(self)

    # ----- maintenance ------------------------------------------------------------------

    def concurrency_slots(self) -> Any:
        from ferroflow.store.slots import DatabaseSlots

        return DatabaseSlots(self.url, self.busy_timeout, self)

    def schema_version(self) -> int:
        """The schema version recorded in the database's ``meta`` table."""
        return self._query(lambda c: int(c.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]))

    def reap(self, timeout: float | None = None) -> list:
        timeout = check_timeout(HEARTBEAT_TIMEOUT if timeout is None else timeout)
        now, host = time.time(), socket.gethostname()
        # Looked for in a read (never blocked by a writer, WAL); the write lock is
        # taken only when there is something to mark.
        running = self._query(lambda c: c.execute(
            "SELECT id, run_id, hostname, pid, started_at, heartbeat_at, record_error FROM runs "
            "WHERE state = 'Running'").fetchall())
        orphans = []
        for key, run_id, hostname, pid, started_at, beat, incomplete in running:
            last = beat if beat is not None else started_at
            message = orphan_message(run_id, hostname, pid, last, now, host, timeout, incomplete is not None,
                                     started_at)
            if message is not None:
                orphans.append((key, run_id, beat, last, UNKNOWN if incomplete is not None else CRASHED, message))
        if not orphans:
            return []

        def mark(c: Any) -> list:
            # (unless it ended, or beat again, meanwhile); its lease is revoked with it,
            # so a process that was only stopped cannot go on recording it.
            return [run_id for key, run_id, beat, last, state, message in orphans if c.execute(
                "UPDATE runs SET state = ?, message = ?, ended_at = ?, owner = NULL "
                "WHERE id = ? AND state = 'Running' AND heartbeat_at IS ?",
                (state, message, last, key, beat)).rowcount]

        return self._query(mark, write=True)


class _Borrowed:
    """A connection out of a store's engine pool, wrapped as the store uses it, and
    given back (to its original mode) at the end of a ``with`` block."""

    def __init__(self, store: SQLRunStore):
        self.store = store
        self.fairy: Any = None

    def __enter__(self) -> Any:
        try:
            self.fairy = self.store.engine.raw_connection()
        except Exception as exc:
            error = self.store._describe(exc, "write")
            if error is None:
                raise
            raise error from exc
        return self.store.dialect.wrap(self.fairy.driver_connection)

    def __exit__(self, *exc: Any) -> None:
        raw = self.fairy.driver_connection
        if self.store.dialect.name == "postgresql" and not raw.closed:
            raw.autocommit = False  # (as the pool gives it to others)
        self.fairy.close()


def _cancelling(c: Any, txn: Transaction | None, tokens: dict[str, str]) -> list[str]:
    """The runs of ``tokens`` whose cancellation was asked for (``Cancelling``) and whose
    lease the tokens still hold, leaving out those ``txn`` lost or ended (one read, in
    the batch's transaction)."""
    asked = sorted(run_id for run_id in tokens
                   if txn is None or (txn.checked.get(run_id) is True and run_id not in txn.finished))
    if not asked:
        return []
    marks = ", ".join("?" * len(asked))
    rows = c.execute(f"SELECT run_id, owner FROM runs WHERE state = 'Cancelling' AND run_id IN ({marks})",
                     tuple(asked)).fetchall()
    return sorted(run_id for run_id, owner in rows if owner == tokens[run_id])

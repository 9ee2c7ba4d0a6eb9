"""The default run store: one SQLite file (stdlib :mod:`sqlite3`).

How it stays cheap and safe with several processes on one file
(one writer, WAL, a busy timeout, ``BEGIN IMMEDIATE``):

* WAL journal: readers never block the writer and the writer never blocks readers;
  ``synchronous=NORMAL``: a commit survives a killed process (kill -9), only the last
  commits may be lost on power loss.
* One writer per process and file: one connection, one transaction at a time.
  ``start_run`` commits at once (with whatever is pending): a run is in the store,
  with its pid and first heartbeat, before any of its tasks runs, so a task that dies
  with its process (``os._exit``) or never gives the GIL back still leaves a run to
  find and resume. ``record_*`` add records to a pending batch and return; the batch is
  committed in one ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front,
  so a transaction never fails half-way for a lock) once its oldest record is
  ``flush_interval`` old (50 ms) or ``flush_rows`` rows (5,000) wait, by the recording
  call that finds it due, or by the store's backstop thread when the recording thread
  went quiet (within ``(1 + BACKSTOP_PERIODS) * flush_interval``); ``end_run`` and
  ``flush()`` commit at once. A transaction waits up to ``busy_timeout`` (30 s) for
  other processes' transactions. (Committing from a thread only would cost a busy
  engine thread a GIL hand-off per statement, about 1 ms each on a 2-vCPU machine,
  more than the writes themselves.)
* A run's tasks are one ``run_tasks`` row (schema 5): the task list by columns (JSON
  arrays of ids, names and slugs, a byte per task for each flag), written once at the
  start, and one byte per task, its own latest code, rewritten by each transaction
  that records a task's own state. A task run that simply succeeded (``Success``,
  ``"Task run succeeded."``, run count 1, no result location) costs no other row; any
  other task-level state is a ``task_runs`` row too, which readers take over the byte.
  (A row per task and per task run cost about 2 us each, most of what recording a run
  of plain tasks cost.) The writer keeps each live run's bytes (``_RunTasks``), as it
  keeps its children's codes, so recording a task's state costs no statement of its own.
* A mapped child that simply succeeded costs no row: the thread keeps one byte per
  child (its last recorded code) and writes per-task counts, plus one ``child_spans``
  row per reported range of children; a row in ``task_runs`` is written only for a
  child that is not a plain success (failed, retrying, skipped, ...) or that carries a
  message or a result location.
* Many rows go in one statement (``json_each`` over a JSON array) rather than
  ``executemany``, which releases the GIL once per row: with other Python threads
  busy (a threaded executor), each release is a hand-off.
* Leases: the run row carries the token of the process recording it (``owner``).
  Every transaction that writes for a run, and every heartbeat, first checks it is
  still that process's; reaping a run (``reap``) and resuming it (``start_run`` with
  ``resumed_from``) revoke it in their own transaction. A process whose run was taken
  from it (it was stopped past the heartbeat timeout) writes nothing more for it and
  learns it from its next recording call or :meth:`SQLiteRunStore.check_lease`
  (:class:`~ferroflow.store.RunLostError`).
* A write that fails for a reason that may pass (disk full, read-only, locked beyond
  the timeout, an I/O error) does not stop recording: the batch is kept in memory
  and retried with backoff (0.1 s doubling to 5 s), a warning names the file and the
  error when it first happens, and meanwhile a small transaction keeps each live run's
  heartbeat, notes why its record is incomplete (``runs.record_error``) and records
  the end of runs that ended (updates in place, which SQLite can often make when it
  cannot add a page). Past ``max_pending`` rows (200,000) the oldest task states and
  logs are dropped and counted. ``flush()`` raises
  :class:`~ferroflow.store.StateStoreError` (naming the file, the reason, the OS error
  and how many records wait) while records wait; ``close()`` gives up on them and
  raises with how many were never written. A batch wrong in itself (records of a run
  never started, a malformed report) is dropped and raised by the next call, once.
  Nothing is dropped silently.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ferroflow import _core
from ferroflow.store.base import (
    FAILED_CODES,
    SUCCEEDED,
    ChildState,
    LogLine,
    ResumeInfo,
    RunStore,
    RunSummary,
    TaskList,
    TaskResume,
    TaskSummary,
    state_name,
    to_epoch,
)
from ferroflow.store.errors import (
    ResumeRefusedError,
    RunLostError,
    StateStoreError,
    UnknownRunError,
    describe_sqlite_error,
)
from ferroflow.store.orphans import (
    CRASHED,
    HEARTBEAT_SECONDS,
    HEARTBEAT_TIMEOUT,
    UNKNOWN,
    check_timeout,
    orphan_message,
)
from ferroflow.store.parameters import pickled, readable

__all__ = ["SQLiteRunStore", "SCHEMA_VERSION", "MIGRATIONS"]

log = logging.getLogger("ferroflow.store")


def run_tasks_from_v4(conn: sqlite3.Connection) -> None:
    """Migration to schema 5: each run's ``tasks`` rows become its ``run_tasks`` row
    (every run gets one). Their task-level states stay ``task_runs`` rows, which
    readers take over the (empty) code bytes of such a run."""
    listed: dict = {}
    widths: dict = {}
    for run, task_id, name, slug, is_mapped, width, approved in conn.execute(
            "SELECT run, task_id, name, slug, is_mapped, width, approved FROM tasks ORDER BY run, position"):
        listed.setdefault(run, []).append((task_id, name, slug, is_mapped, approved))
        if width is not None:
            widths.setdefault(run, {})[task_id] = width
    conn.executemany(
        "INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, codes, widths) "
        "VALUES (?, ?, ?, ?, ?, ?, X'', ?)",
        [(run, *_task_columns(TaskList.of(listed.get(run, []))), json.dumps(widths[run]) if run in widths else None)
         for (run,) in conn.execute("SELECT id FROM runs").fetchall()])


#: The schema version this ferroflow writes (kept in the ``meta`` table).
SCHEMA_VERSION = 5

#: Statements that bring a store from version ``v - 1`` to ``v``, applied in order in
#: one transaction when a store is opened (a callable is called with the connection:
#: a step SQL alone cannot take). Never edit a released version: add one.
MIGRATIONS: dict[int, tuple[str | Callable[[sqlite3.Connection], None], ...]] = {
    1: (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            flow_name TEXT NOT NULL,
            parameters TEXT NOT NULL,
            state TEXT NOT NULL,
            message TEXT,
            started_at REAL NOT NULL,
            ended_at REAL,
            resumed_from TEXT,
            hostname TEXT,
            pid INTEGER
        )""",
        "CREATE INDEX runs_by_start ON runs (started_at)",
        "CREATE INDEX runs_by_flow ON runs (flow_name, started_at)",
        """CREATE TABLE tasks (
            run INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            slug TEXT,
            is_mapped INTEGER NOT NULL,
            width INTEGER,
            PRIMARY KEY (run, task_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE task_runs (
            run INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            map_index INTEGER NOT NULL,
            code INTEGER NOT NULL,
            run_count INTEGER NOT NULL,
            message TEXT,
            result_location TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (run, task_id, map_index)
        ) WITHOUT ROWID""",
        """CREATE TABLE child_counts (
            run INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            code INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (run, task_id, code)
        ) WITHOUT ROWID""",
        """CREATE TABLE child_spans (
            run INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            start INTEGER NOT NULL,
            stop INTEGER NOT NULL
        )""",
        "CREATE INDEX child_spans_by_task ON child_spans (run, task_id, start)",
        """CREATE TABLE logs (
            id INTEGER PRIMARY KEY,
            run INTEGER NOT NULL,
            task_id INTEGER,
            map_index INTEGER NOT NULL,
            created_at REAL NOT NULL,
            level INTEGER NOT NULL,
            levelname TEXT NOT NULL,
            logger TEXT NOT NULL,
            message TEXT NOT NULL
        )""",
        "CREATE INDEX logs_by_task ON logs (run, task_id, map_index)",
    ),
    # Tasks approved to go on after a pause (flow.run(resume=..., approve=...)).
    2: ("ALTER TABLE tasks ADD COLUMN approved INTEGER NOT NULL DEFAULT 0",),
    # When a live run's process last said it was alive (ferroflow.store.orphans).
    3: ("ALTER TABLE runs ADD COLUMN heartbeat_at REAL",),
    # The lease of the process recording a run (NULL once it ended, was reaped or was
    # taken over); why its record is incomplete; parameters pickled, for resume.
    4: (
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "ALTER TABLE runs ADD COLUMN record_error TEXT",
        """CREATE TABLE run_parameters (
            run INTEGER NOT NULL,
            name TEXT NOT NULL,
            value BLOB,
            problem TEXT,
            PRIMARY KEY (run, name)
        )""",
    ),
    # A run's tasks in one row: the task list by columns (JSON arrays, one byte per
    # task for the flags), written once; each task's own latest code as one byte; the
    # widths of mapped tasks. A plain success costs no task_runs row.
    5: (
        """CREATE TABLE run_tasks (
            run INTEGER PRIMARY KEY,
            ids TEXT NOT NULL,
            names TEXT NOT NULL,
            slugs TEXT NOT NULL,
            mapped BLOB NOT NULL,
            approved BLOB NOT NULL,
            codes BLOB NOT NULL,
            widths TEXT
        )""",
        run_tasks_from_v4,
        "DROP TABLE tasks",
    ),
}

DEFAULT_BUSY_TIMEOUT = 30.0
DEFAULT_FLUSH_INTERVAL = 0.05
DEFAULT_FLUSH_ROWS = 5_000
#: Rows that may wait in memory while the store cannot be written (see _Writer).
DEFAULT_MAX_PENDING = 200_000
#: The backstop thread looks for a due batch every this many flush intervals.
BACKSTOP_PERIODS = 4

_SUCCESS = _core.SUCCESS
_UNKNOWN = 0xFF  # "never reported" in a writer's per-child code cache
_FLAGS_OFF = bytes(b & 0x7F for b in range(256))  # drops RETRY_OK (0x80)
_NCODES = len(_core.STATE_NAMES)
_BLOCK = 512

_UPSERT_TASK_RUN = (
    "INSERT INTO task_runs (run, task_id, map_index, code, run_count, message, result_location, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run, task_id, map_index) DO UPDATE SET "
    "code = excluded.code, run_count = excluded.run_count, message = excluded.message, "
    "result_location = excluded.result_location, updated_at = excluded.updated_at"
)
_DELETE_TASK_RUN = "DELETE FROM task_runs WHERE run = ? AND task_id = ? AND map_index = ?"
_INSERT_LOGS = ("INSERT INTO logs (run, task_id, map_index, created_at, level, levelname, logger, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def _from_json(n: int) -> str:
    return ", ".join(f"json_extract(value, '$[{i}]')" for i in range(n))


#: The same statements, for many rows given as one JSON array of arrays.
_JSON_FORMS = {
    _UPSERT_TASK_RUN: _UPSERT_TASK_RUN.replace("VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                               f"SELECT {_from_json(8)} FROM json_each(?) WHERE true"),
    _DELETE_TASK_RUN: (f"DELETE FROM task_runs WHERE (run, task_id, map_index) IN "
                       f"(SELECT {_from_json(3)} FROM json_each(?))"),
    _INSERT_LOGS: _INSERT_LOGS.replace("VALUES (?, ?, ?, ?, ?, ?, ?, ?)", f"SELECT {_from_json(8)} FROM json_each(?)"),
}
_ADD_COUNTS = (
    "INSERT INTO child_counts (run, task_id, code, n) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (run, task_id, code) DO UPDATE SET n = n + excluded.n"
)
_RUN_COLUMNS = ("run_id, flow_name, state, message, parameters, started_at, ended_at, resumed_from, hostname, pid, "
                "record_error")


def _create_private(path: str) -> None:
    """Create the store's directory (``0700``, as ``ferroflow_home``) and its file
    (``0600``) when they are missing: a run's parameters, logs and errors are its
    owner's to read. SQLite gives the ``-wal`` and ``-shm`` files the database file's
    mode. A file or directory that exists already keeps its mode."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, PermissionError):
        return  # there already, or not ours to make: opening it says why, as before
    os.close(fd)


class SQLiteRunStore(RunStore):
    """A run store in one SQLite file (default ``$FERROFLOW_HOME/runs.db``).

    Opening it creates the file and its directory when needed and migrates an older
    schema; it raises :class:`StateStoreError` when the file cannot be opened, is not a
    run store, or was written by a newer ferroflow. Writes go through the process's one
    writer for this file, shared by every store on it (see the module docstring); reads
    use the store's own connection and first commit this process's pending records.

    Args:
        path: the database file; None for :func:`ferroflow.store.default_store_path`.
        busy_timeout: seconds to wait for another process's write lock before failing.
        flush_interval: how old (seconds) the oldest pending record gets before its
            batch is written.
        flush_rows: how many pending rows make a batch be written at once.
        max_pending: how many rows may wait in memory while the store cannot be
            written; past that the oldest task states and logs are dropped.
    """

    def __init__(self, path: os.PathLike | str | None = None, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL, flush_rows: int = DEFAULT_FLUSH_ROWS,
                 max_pending: int = DEFAULT_MAX_PENDING):
        if path is None:
            from ferroflow.store.config import default_store_path

            path = default_store_path()
        self.path = os.path.abspath(os.fspath(path))
        self.location = self.path
        self.busy_timeout = float(busy_timeout)
        self.flush_interval = float(flush_interval)
        self.flush_rows = int(flush_rows)
        self.max_pending = int(max_pending)
        self._lock = threading.RLock()
        self._pid = _PROCESS[0]
        self._writer: _Writer | None = None
        self._closed = False
        try:
            _create_private(self.path)
        except OSError as exc:
            raise describe_sqlite_error(exc, self.path, "create") from exc
        self._conn: sqlite3.Connection | None = None
        self._conn = self._open()

    def __repr__(self) -> str:
        return f"<SQLiteRunStore {self.path}>"

    # ----- connections --------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """A new connection to the file, configured (WAL, busy timeout, NORMAL sync).
        Tests override this to inject faults."""
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise describe_sqlite_error(exc, self.path, "open", self.busy_timeout) from exc
        try:
            _migrate(conn, self.path)
        except StateStoreError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise describe_sqlite_error(exc, self.path, "open", self.busy_timeout) from exc
        return conn

    def _check_process(self) -> None:
        # After fork the child must not touch the parent's connection or writer thread.
        if self._pid != _PROCESS[0]:
            self._pid = _PROCESS[0]
            self._lock = threading.RLock()
            self._writer = None
            self._conn = None  # abandoned, never closed: it belongs to the parent

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StateStoreError("closed", self.path, "read", "the store was closed")
        self._check_process()
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    # ----- writing ------------------------------------------------------------------

    def _put(self, item: tuple) -> None:
        if self._closed:
            raise StateStoreError("closed", self.path, "write", "the store was closed")
        if self._pid != _PROCESS[0]:
            self._check_process()
        writer = self._writer
        if writer is None:
            writer = self._writer = _Writer.acquire(self)
        writer.put(item)

    def start_run(self, run_id, flow_name, parameters, tasks, started_at=None, *, resumed_from=None):
        run_id = str(run_id)
        tasks = TaskList.of(tasks)
        try:
            columns = _task_columns(tasks)
        except (TypeError, ValueError):  # not plain types (a numpy integer id, say)
            tasks = TaskList.of(list(tasks))
            columns = _task_columns(tasks)
        item = ("start", run_id, str(flow_name), readable(parameters), pickled(parameters), columns,
                max(tasks.ids) + 1 if len(tasks) else 0, to_epoch(started_at), resumed_from, socket.gethostname(),
                _PROCESS[0], os.urandom(16).hex())
        self._put(item)
        writer = self._writer
        assert writer is not None  # _put made one
        refused = writer.refused.pop(run_id, None)
        if refused is not None:
            raise ResumeRefusedError(refused)
        if resumed_from is not None and not writer.committed(item):
            # Without its claim in the store, another resume could go ahead at once.
            raise ResumeRefusedError(f"run {resumed_from} cannot be resumed now: the run store cannot record the "
                                     f"resumed run ({writer.failing})")

    def end_run(self, run_id, state_name, message=None, ended_at=None):
        self._put(("end", str(run_id), str(state_name), message, to_epoch(ended_at)))

    def record_states(self, run_id, rows):
        rows = rows if isinstance(rows, list) else list(rows)
        if rows:
            self._put(("states", str(run_id), rows, time.time()))

    def record_report(self, run_id, reports, details=None, *, plain=False):
        if type(reports) is not list:
            reports = list(reports)
        if not reports:
            return
        item = ("report", str(run_id), reports, time.time(), details or None, plain)
        writer = self._writer
        if writer is not None and self._pid == _PROCESS[0] and not self._closed:
            writer.put(item)  # (what _put does then: called once per round of a run)
        else:
            self._put(item)

    def record_width(self, run_id, task_id, width):
        self._put(("width", str(run_id), int(task_id), int(width)))

    def record_logs(self, run_id, rows):
        rows = rows if isinstance(rows, list) else list(rows)
        if rows:
            self._put(("logs", str(run_id), rows))

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
                    self._conn.close()
        self._conn = None
        self._closed = True
        if error is not None:
            raise error

    # ----- reading ------------------------------------------------------------------

    def _sync(self) -> None:
        """Let reads see this process's pending records (a failed write is raised by the
        writing calls, not here)."""
        self._check_process()
        writer = self._writer or _Writer.existing(self.path)
        if writer is not None:
            writer.flush(raise_error=False, force=False)

    def _query(self, fn: Callable[[sqlite3.Connection], Any], write: bool = False) -> Any:
        """``fn(connection)`` in one transaction of the store's own connection (a
        ``write`` one takes the write lock first); rolled back if ``fn`` raises."""
        self._sync()
        with self._lock:
            conn = self._reader()
            try:
                with _transaction(conn, write):
                    return fn(conn)
            except sqlite3.Error as exc:
                raise describe_sqlite_error(exc, self.path, "write" if write else "read", self.busy_timeout) from exc

    def _run_key(self, conn: sqlite3.Connection, run_id: str) -> int:
        row = conn.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRunError(run_id, self.path)
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
        return self._query(lambda c: [_run_summary(r) for r in c.execute(sql, args)])

    def get_run(self, run_id):
        def get(c):
            row = c.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            return None if row is None else _run_summary(row)

        return self._query(get)

    def match_run_ids(self, prefix, limit=10):
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql = "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY started_at DESC LIMIT ?"
        return self._query(lambda c: [r[0] for r in c.execute(sql, (escaped + "%", int(limit)))
                                      if r[0].startswith(prefix)])

    def _run_tasks(self, c: sqlite3.Connection, key: int) -> tuple:
        """A run's ``run_tasks`` row: its task list (``(task_id, name, slug, is_mapped,
        approved)`` in display order), each task's own code byte, the widths."""
        row = c.execute("SELECT ids, names, slugs, mapped, approved, codes, widths FROM run_tasks WHERE run = ?",
                        (key,)).fetchone()
        if row is None:
            return [], b"", {}
        codes, widths = row[5], row[6]
        return (_read_task_list(*row[:5]), codes or b"",
                {int(k): v for k, v in json.loads(widths).items()} if widths else {})

    def task_states(self, run_id, failed_limit=100):
        def get(c):
            key = self._run_key(c, run_id)
            listed, codes, widths = self._run_tasks(c, key)
            own = {r[0]: r[1:] for r in c.execute(
                "SELECT task_id, code, run_count, message, result_location FROM task_runs "
                "WHERE run = ? AND map_index = -1", (key,))}
            counts: dict = {}
            for task_id, code, n in c.execute(
                    "SELECT task_id, code, n FROM child_counts WHERE run = ? AND n != 0 ORDER BY code", (key,)):
                counts.setdefault(task_id, {})[code] = n
            result = []
            for task_id, name, slug, is_mapped, _ in listed:
                by_code = counts.get(task_id, {})
                failed_count = sum(n for code, n in by_code.items() if code in FAILED_CODES)
                failed = []
                if failed_count and failed_limit != 0:
                    sql = ("SELECT map_index, code, run_count, message, result_location FROM task_runs "
                           f"WHERE run = ? AND task_id = ? AND map_index >= 0 AND code IN "
                           f"({', '.join(str(x) for x in sorted(FAILED_CODES))}) ORDER BY map_index")
                    args: tuple = (key, task_id)
                    if failed_limit is not None:
                        sql += " LIMIT ?"
                        args += (int(failed_limit),)
                    failed = [ChildState(task_id, *r) for r in c.execute(sql, args)]
                code, run_count, message, location = _own_state(own, codes, task_id) or (None, None, None, None)
                if code is None and by_code:
                    code = _core.MAPPED  # children reported, the parent not (yet)
                result.append(TaskSummary(
                    task_id=task_id, name=name, slug=slug, is_mapped=is_mapped, width=widths.get(task_id),
                    code=code, run_count=run_count, message=message, result_location=location,
                    counts={state_name(code_): n for code_, n in by_code.items()},
                    failed_children=failed, failed_count=failed_count))
            return result

        return self._query(get)

    def child_state(self, run_id, task_id, index):
        def get(c):
            key = self._run_key(c, run_id)
            row = c.execute("SELECT code, run_count, message, result_location FROM task_runs "
                            "WHERE run = ? AND task_id = ? AND map_index = ?", (key, task_id, index)).fetchone()
            if row is not None:
                return ChildState(task_id, index, *row)
            if index < 0:
                found = c.execute("SELECT codes FROM run_tasks WHERE run = ?", (key,)).fetchone()
                state = _own_state({}, found[0] if found else b"", task_id)
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
            run = _run_summary(c.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (key,)).fetchone())
            listed, codes, widths = self._run_tasks(c, key)
            own: dict = {}
            children: dict = {}
            for task_id, index, code, run_count, message, location in c.execute(
                    "SELECT task_id, map_index, code, run_count, message, result_location FROM task_runs "
                    "WHERE run = ?", (key,)):
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
                state = _own_state(own, codes, task_id)
                code, location = (None, None) if state is None else (state[0], state[3])
                tasks[task_id] = TaskResume(task_id, name, slug, is_mapped, widths.get(task_id), code, location,
                                            children.get(task_id, {}), _merge(spans.get(task_id, [])), approved)
            return ResumeInfo(run, tasks)

        return self._query(get)

    def recorded_parameters(self, run_id):
        def get(c):
            key = self._run_key(c, run_id)
            rows = c.execute("SELECT name, value, problem FROM run_parameters WHERE run = ?", (key,)).fetchall()
            return {name: (data, problem) for name, data, problem in rows} or None

        return self._query(get)

    # ----- maintenance ------------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version recorded in the file's ``meta`` table."""
        return self._query(lambda c: int(c.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]))

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` or the problems SQLite found."""
        return "\n".join(r[0] for r in self._query(lambda c: c.execute("PRAGMA integrity_check").fetchall()))

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

        def mark(c: sqlite3.Connection) -> list:
            # (unless it ended, or beat again, meanwhile); its lease is revoked with it,
            # so a process that was only stopped cannot go on recording it.
            return [run_id for key, run_id, beat, last, state, message in orphans if c.execute(
                "UPDATE runs SET state = ?, message = ?, ended_at = ?, owner = NULL "
                "WHERE id = ? AND state = 'Running' AND heartbeat_at IS ?",
                (state, message, last, key, beat)).rowcount]

        return self._query(mark, write=True)


# ----------------------------------------------------------------------------------
# schema
# ----------------------------------------------------------------------------------


class _transaction:
    """One transaction of ``conn`` around a ``with`` block: ``BEGIN IMMEDIATE`` (the
    write lock taken up front) or, for a read, ``BEGIN``; committed when the block
    ends, rolled back when it raises or when the commit fails (a failed ``COMMIT`` may
    leave the transaction open, and the connection would refuse every later ``BEGIN``).
    (A class, not a generator: it is around every commit, and costs a third as much.)"""

    __slots__ = ("conn", "write")

    def __init__(self, conn: sqlite3.Connection, write: bool = True):
        self.conn = conn
        self.write = write

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
        return self.conn

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        conn = self.conn
        try:
            if kind is None:
                conn.execute("COMMIT")
                return
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    """Create the schema or bring it to :data:`SCHEMA_VERSION` (one transaction)."""
    version = _read_version(conn, path)
    if version == SCHEMA_VERSION:
        return
    with _transaction(conn):
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        version = _read_version(conn, path)  # another process may have migrated meanwhile
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                if callable(statement):
                    statement(conn)
                else:
                    conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
            if version == 0:
                from ferroflow._core import __version__

                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('created_by', ?)",
                             (f"ferroflow {__version__}",))


def _read_version(conn: sqlite3.Connection, path: str) -> int:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables:
        if tables:
            raise StateStoreError("not a run store", path, "open",
                                  f"the file holds tables {sorted(tables)} but no ferroflow meta table")
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StateStoreError("newer schema", path, "open",
                              f"it has schema version {version}; this ferroflow knows versions up to "
                              f"{SCHEMA_VERSION}: upgrade ferroflow")
    return version


# ----------------------------------------------------------------------------------
# the writer thread
# ----------------------------------------------------------------------------------

_WRITERS: dict = {}
_WRITERS_LOCK = threading.Lock()


class _Writer:
    """The writer of this process for one database file: one connection, one commit at a
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
    def acquire(cls, store: SQLiteRunStore) -> _Writer:
        with _WRITERS_LOCK:
            writer = _WRITERS.get(store.path)
            if writer is None or writer.stopped:
                writer = _WRITERS[store.path] = cls(store)
            writer.refs += 1
            return writer

    @classmethod
    def existing(cls, path: str) -> _Writer | None:
        with _WRITERS_LOCK:
            writer = _WRITERS.get(path)
        return None if writer is None or writer.stopped else writer

    def __init__(self, store: SQLiteRunStore):
        self.path = store.path
        self.busy_timeout = store.busy_timeout
        self.interval = store.flush_interval
        self.max_rows = store.flush_rows
        self.max_pending = store.max_pending
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
        except sqlite3.Error as exc:
            raise describe_sqlite_error(exc, self.path, "open", self.busy_timeout) from exc
        self.json = _has_json(self.conn)  # bulk writes through json_each
        self.runs: dict[str, int] = {}  # run id -> runs.id
        self.cache: dict[tuple, bytearray] = {}  # (runs.id, task id) -> last code per child
        self.own: dict[int, _RunTasks] = {}  # runs.id -> its tasks' own codes, rows, widths
        self.lock = threading.Lock()  # pending, rows, first_at
        self.write_lock = threading.Lock()  # the connection, the caches: one commit at a time
        self.pending: list = []
        self.rows = 0
        self.first_at: float | None = None
        self.wake = threading.Event()
        self.quit = threading.Event()
        self.parked = True  # the backstop thread waits for `wake` (nothing pending)
        self.thread = threading.Thread(target=self._backstop, daemon=True,
                                       name=f"ferroflow-run-store:{os.path.basename(self.path)}")
        self.thread.start()
        # Leases (runs.owner) of the runs started and not ended here: run id -> token,
        # and when each was last confirmed (time.monotonic()); runs lost to another
        # process (reaped, taken over) -> the error their recording calls raise; runs
        # whose resume was refused -> why (for start_run to raise).
        self.owned: dict[str, str] = {}
        self.confirmed: dict[str, float] = {}
        self.lost_runs: dict[str, RunLostError] = {}
        self.refused: dict[str, str] = {}
        self.beats = threading.Thread(target=self._heartbeat, daemon=True,
                                      name=f"ferroflow-heartbeat:{os.path.basename(self.path)}")
        self.beats.start()

    # ----- recording ------------------------------------------------------------------

    def put(self, item: tuple) -> None:
        if self.lost_runs or self.error is not None or self.stopped:
            if self.lost_runs and item[0] != "beat" and item[1] in self.lost_runs:
                raise self.lost_runs[item[1]]
            if self.error is not None:
                raise self.error
            if self.stopped:
                raise StateStoreError("closed", self.path, "write", "the store was closed")
        weight = _weight(item)
        over = False
        lock = self.lock
        lock.acquire()  # (not `with`: this runs once per round of every run)
        try:
            self.pending.append(item)
            rows = self.rows = self.rows + weight
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
            raise StateStoreError(failing.reason, self.path, "write", failing.detail, failing.os_error,
                                  sum(self.dropped.values()), sum(_records(item) for item in self.pending))

    def release(self) -> None:
        with _WRITERS_LOCK:
            self.refs -= 1
            last = self.refs <= 0
            if last and _WRITERS.get(self.path) is self:
                del _WRITERS[self.path]
        if last:
            self.stop()
        else:
            self.flush()

    def stop(self) -> None:
        if not self.stopped:
            self.quit.set()
            self.wake.set()
            if self.thread is not threading.current_thread():
                self.thread.join()
            if self.beats is not threading.current_thread():
                self.beats.join()
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
                except sqlite3.Error:
                    pass
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
                            self.error = _as_store_error(exc, self.path, "write", self.busy_timeout)

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
            self.error = _as_store_error(self.error, self.path, "write", self.busy_timeout, self.unwritten)
            return
        conn = self.conn
        txn = _Transaction(self, conn)
        try:
            with _transaction(conn):
                for item in _coalesced(records):
                    try:
                        txn.handle(item)
                    except _Skip:
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
            if _may_pass(exc):
                self._keep(records, exc)
                return
            self.unwritten += sum(_records(item) for item in records)
            self.error = _as_store_error(exc, self.path, "write", self.busy_timeout, self.unwritten)
            return
        txn.settle()
        if self.failing is not None:
            self._recovered()

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
        error = _as_store_error(exc, self.path, "write", self.busy_timeout)
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
                        "once the store can be written)", self.path, f"{self.max_pending:,}")

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
        txn = _Transaction(self, self.conn, notes)
        conn = self.conn
        try:
            with _transaction(conn):
                txn.note_runs()
                for item in ends:
                    try:
                        txn.handle(item)
                    except (_Skip, StateStoreError):
                        pass  # lost, or never started: its start waits too
        except (sqlite3.Error, OSError):
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
        failing = self.failing or StateStoreError("not written", self.path, "write")
        self.unwritten += lost + sum(self.dropped.values())
        self.error = StateStoreError(failing.reason, self.path, "write", failing.detail, failing.os_error,
                                     self.unwritten)

    def _recovered(self) -> None:
        """Everything kept while the store could not be written is written now."""
        took = time.time() - self.failing_since
        dropped = sum(self.dropped.values())
        self.failing = None
        self.noted.clear()
        self.dropped.clear()
        log.warning("run store %s: written again after %.0f s; every record kept meanwhile is written%s", self.path,
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


def _coalesced(records: list) -> list:
    """The records of a batch, consecutive reports of one run without details made one
    (a round of reports each, a chain of tasks: one call and lease check per batch
    instead of per round). Their lists are copied, never extended: the batch is kept
    as it was if it cannot be written. Their rows are stamped with the time of the
    last of them."""
    out: list = []
    group: list = []  # consecutive reports without details of one run, not in out yet
    for item in records:
        if item[0] == "report" and item[4] is None:
            if group and (group[0][1] != item[1] or group[0][5] != item[5]):
                out.append(_merged(group))
                group = []
            group.append(item)
            continue
        if group:
            out.append(_merged(group))
            group = []
        out.append(item)
    if group:
        out.append(_merged(group))
    return out


def _merged(group: list) -> tuple:
    """One report item for consecutive ones of a run (see _coalesced)."""
    if len(group) == 1:
        return group[0]
    reports: list = []
    for item in group:
        reports += item[2]
    last = group[-1]
    return ("report", last[1], reports, last[3], None, last[5])


def _has_json(conn: sqlite3.Connection) -> bool:
    try:
        return conn.execute("SELECT json_extract('[[7]]', '$[0][0]')").fetchone()[0] == 7
    except sqlite3.Error:
        return False


def _weight(item: tuple) -> int:
    kind = item[0]
    if kind == "report":
        reports = item[2]
        rows = len(reports)
        for report in reports:
            if report[1] is not None:
                codes = report[2]
                if not isinstance(codes, int):
                    rows += len(codes) - codes.count(_SUCCESS)
        return rows
    if kind in ("states", "logs"):
        return len(item[2])
    if kind == "start":
        return 1 + item[6]
    return 1


def _records(item: tuple) -> int:
    kind = item[0]
    if kind == "beat":
        return 0
    if kind == "report":
        return sum(1 if isinstance(r[2], int) else len(r[2]) for r in item[2])
    if kind in ("states", "logs"):
        return len(item[2])
    return 1


def _may_pass(exc: BaseException) -> bool:
    """Whether a write that failed may succeed later (the disk, a lock, the file system
    were in the way), rather than the batch being wrong in itself."""
    return isinstance(exc, (sqlite3.OperationalError, OSError)) or type(exc) is sqlite3.DatabaseError


def _as_store_error(exc: BaseException, path: str, action: str, busy_timeout: float, lost: int = 0) -> StateStoreError:
    if isinstance(exc, StateStoreError):
        return exc if not lost else StateStoreError(exc.reason, path, action, exc.detail, exc.os_error, lost)
    if isinstance(exc, (sqlite3.Error, OSError)):
        return describe_sqlite_error(exc, path, action, busy_timeout, lost)
    return StateStoreError("invalid record", path, action, f"{type(exc).__name__}: {exc}", None, lost)


class _Skip(Exception):
    """An item not to write: a record of a run lost to another process, a refused start."""


class _Transaction:
    """What one batch writes: run-level statements run as they come; task run rows,
    counts, spans and logs are gathered and written at the end, many rows per statement.

    Every run this process holds the lease of is confirmed once per transaction that
    writes for it (its heartbeat stamped where ``owner`` is still this process's token):
    a run whose lease was revoked meanwhile (reaped, taken over) gets nothing written,
    and is lost to this process from then on (``settle``)."""

    def __init__(self, writer: _Writer, conn: sqlite3.Connection, notes: dict | None = None):
        self.w = writer
        self.conn = conn
        # run id -> what to set runs.record_error to (while the store cannot take
        # every record); the run ids it was set for
        self.notes = notes
        self.noted: set = set()
        self.clock = time.monotonic()  # taken before the lease checks: the lease lasts from here
        self.now = time.time()
        self.rows: dict = {}  # (run, task, index) -> (code, run_count, message, location) or None (delete)
        self.counts: dict = {}  # (run, task, code) -> delta
        self.spans: dict = {}  # (run, task) -> [(start, stop), ...]
        self.logs: list = []
        self.touched: set = set()  # runs.id whose run_tasks codes or widths changed
        self.keys: dict = {}  # run id -> runs.id, once _key found (and confirmed) it
        self.ended: list = []  # runs.id of the runs ended here
        # Leases, applied to the writer only once the transaction committed:
        self.started: dict = {}  # run id -> owner token
        self.finished: list = []  # run ids ended
        self.checked: dict = {}  # run id -> True (lease confirmed) or its RunLostError
        self.refused: dict = {}  # run id -> why its resume was refused

    # ----- per item -------------------------------------------------------------------

    def handle(self, item: tuple) -> None:
        if item[0] == "report":  # most items
            self._report(*item[1:])
        else:
            getattr(self, "_" + item[0])(*item[1:])

    def _key(self, run_id: str) -> int:
        """``runs.id`` of a run; raises _Skip for a run lost to another process."""
        key = self.keys.get(run_id)
        if key is not None:
            return key  # confirmed in this transaction already
        if run_id in self.w.lost_runs:
            raise _Skip(run_id)
        token = self.started.get(run_id) or self.w.owned.get(run_id)
        if token is not None and self._confirm(run_id, token) is not True:
            raise _Skip(run_id)
        key = self.w.runs.get(run_id)
        if key is None:
            row = self.conn.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise StateStoreError("unknown run", self.w.path, "write",
                                      f"records for run {run_id!r}, which was never started (call start_run first)")
            key = self.w.runs[run_id] = row[0]
        self.keys[run_id] = key
        return key

    def _confirm(self, run_id: str, token: str) -> Any:
        """Whether this process still holds the run's lease (stamping its heartbeat),
        asked once per transaction: True, or the RunLostError to raise."""
        found = self.checked.get(run_id)
        if found is None:
            c = self.conn
            if self.notes is not None and run_id in self.notes:
                confirmed = c.execute("UPDATE runs SET heartbeat_at = ?, record_error = ? "
                                      "WHERE run_id = ? AND owner = ?",
                                      (self.now, self.notes[run_id], run_id, token)).rowcount
                if confirmed:
                    self.noted.add(run_id)
            else:
                confirmed = c.execute("UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND owner = ?",
                                      (self.now, run_id, token)).rowcount
            if confirmed:
                found = True
            else:
                row = c.execute("SELECT state, message FROM runs WHERE run_id = ?", (run_id,)).fetchone()
                by = c.execute("SELECT run_id FROM runs WHERE resumed_from = ? ORDER BY started_at DESC, id DESC "
                               "LIMIT 1", (run_id,)).fetchone()
                found = RunLostError(run_id, row and row[0], row and row[1], by and by[0])
            self.checked[run_id] = found
        return found

    def _claim(self, run_id: str, earlier: str) -> None:
        """Take over ``earlier``, the run ``run_id`` resumes: refused (_Skip) while it
        runs again or another run resuming it still runs; its lease is revoked."""
        c = self.conn
        row = c.execute("SELECT id, state, pid, hostname FROM runs WHERE run_id = ?", (earlier,)).fetchone()
        if row is None:
            return
        if row[1] == "Running":
            self.refused[run_id] = (f"run {earlier} is still running (pid {row[2]} on {row[3]}): resume it once "
                                    f"it has ended, or after stopping that process")
            raise _Skip(run_id)
        other = c.execute("SELECT run_id, pid, hostname FROM runs WHERE resumed_from = ? AND state = 'Running' "
                          "AND run_id != ? ORDER BY started_at DESC LIMIT 1", (earlier, run_id)).fetchone()
        if other is not None:
            self.refused[run_id] = (f"run {earlier} is already being resumed by run {other[0]} (pid {other[1]} on "
                                    f"{other[2]}), which is still running: let it end, or stop it first")
            raise _Skip(run_id)
        c.execute("UPDATE runs SET owner = NULL WHERE id = ?", (row[0],))

    def _start(self, run_id, flow_name, parameters, pickles, columns, count, started_at, resumed_from, hostname,
               pid, token) -> None:
        c = self.conn
        self.keys.clear()  # leases change here
        if resumed_from is not None:
            self._claim(run_id, resumed_from)
        inserted = c.execute(
            "INSERT INTO runs (run_id, flow_name, parameters, state, message, started_at, ended_at, resumed_from, "
            "hostname, pid, heartbeat_at, owner) VALUES (?, ?, ?, 'Running', NULL, ?, NULL, ?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id) DO NOTHING",
            (run_id, flow_name, parameters, started_at, resumed_from, hostname, pid, self.now, token))
        new = inserted.rowcount == 1
        if new:
            # A new run (the common case: three statements, no read).
            key: int = inserted.lastrowid  # type: ignore[assignment]  # set by an insert
            own = _RunTasks(bytearray(b"\xff") * count, set(), {})
            c.execute("INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, codes) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run) DO UPDATE SET ids = excluded.ids, "
                      "names = excluded.names, slugs = excluded.slugs, mapped = excluded.mapped, "
                      "approved = excluded.approved, codes = excluded.codes, widths = NULL",
                      (key, *columns, bytes(own.codes)))
            self.w.own[key] = own
        else:
            # The run is reopened: it keeps its start time, task states and widths.
            c.execute("UPDATE runs SET flow_name = ?, parameters = ?, state = 'Running', message = NULL, "
                      "ended_at = NULL, hostname = ?, pid = ?, heartbeat_at = ?, owner = ? WHERE run_id = ?",
                      (flow_name, parameters, hostname, pid, self.now, token, run_id))
            key = c.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
            c.execute("INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, codes) "
                      "VALUES (?, ?, ?, ?, ?, ?, X'') ON CONFLICT (run) DO UPDATE SET ids = excluded.ids, "
                      "names = excluded.names, slugs = excluded.slugs, mapped = excluded.mapped, "
                      "approved = excluded.approved", (key, *columns))
            self.w.own.pop(key, None)  # read again from the store when needed
        self.w.runs[run_id] = key
        self.started[run_id] = token
        self.checked[run_id] = True
        if pickles or not new:
            # (for a new run too: the id of a run deleted by hand may be given again)
            c.execute("DELETE FROM run_parameters WHERE run = ?", (key,))
        if pickles:
            c.executemany("INSERT INTO run_parameters (run, name, value, problem) VALUES (?, ?, ?, ?)",
                          [(key, name, data, problem) for name, data, problem in pickles])

    def _end(self, run_id, state, message, ended_at) -> None:
        key = self._key(run_id)
        self.conn.execute("UPDATE runs SET state = ?, message = ?, ended_at = ?, owner = NULL WHERE id = ?",
                          (state, message, ended_at, key))
        self.ended.append(key)
        self.finished.append(run_id)

    def _beat(self) -> None:
        """Stamp the heartbeat of every run this process holds the lease of (confirming
        it; a run reaped meanwhile is lost)."""
        for run_id, token in list(self.w.owned.items()):
            if run_id not in self.finished:
                self._confirm(run_id, token)

    def note_runs(self) -> None:
        """Set ``runs.record_error`` of every run in ``notes``: with its heartbeat for a
        run this process holds the lease of, alone for one it ended."""
        for run_id, note in (self.notes or {}).items():
            token = self.w.owned.get(run_id)
            if token is not None:
                self._confirm(run_id, token)
            elif run_id not in self.w.lost_runs and self.conn.execute(
                    "UPDATE runs SET record_error = ? WHERE run_id = ?", (note, run_id)).rowcount:
                self.noted.add(run_id)

    def complete(self, noted: set, dropped: dict) -> None:
        """Every record kept while the store could not be written is in this batch: the
        runs noted incomplete are complete again, except for the records dropped."""
        for run_id in noted | dropped.keys():
            lost = dropped.get(run_id)
            note = (f"Record incomplete: {lost:,} record(s) were dropped while the run store could not be "
                    f"written (more than {self.w.max_pending:,} waited).") if lost else None
            self.conn.execute("UPDATE runs SET record_error = ? WHERE run_id = ?", (note, run_id))

    # ----- once committed -------------------------------------------------------------

    def settle(self) -> None:
        """Apply to the writer what the committed transaction did to leases and caches."""
        w = self.w
        for run_id, token in self.started.items():
            w.owned[run_id] = token
            w.lost_runs.pop(run_id, None)
        for run_id, found in self.checked.items():
            if found is True:
                if run_id in w.owned:
                    w.confirmed[run_id] = self.clock
            else:
                w.lost_runs[run_id] = found
                w.owned.pop(run_id, None)
                w.confirmed.pop(run_id, None)
        for run_id in self.finished:
            w.owned.pop(run_id, None)
            w.confirmed.pop(run_id, None)
        w.refused.update(self.refused)
        for key in self.ended:
            for k in [k for k in w.cache if k[0] == key]:
                del w.cache[k]
            w.own.pop(key, None)

    def _width(self, run_id, task_id, width) -> None:
        key = self._key(run_id)
        self._own(key).widths[task_id] = width
        self.touched.add(key)
        self._cache(key, task_id, width)

    def _logs(self, run_id, rows) -> None:
        key = self._key(run_id)
        out = self.logs
        for task_id, map_index, created_at, level, logger, message in rows:
            if isinstance(level, str):
                levelname = level
                number = logging.getLevelName(level)
                level = number if isinstance(number, int) else 0
            else:
                level = int(level)
                levelname = logging.getLevelName(level)
            out.append((key, task_id, -1 if map_index is None else int(map_index), to_epoch(created_at), level,
                        levelname, str(logger), str(message)))

    def _states(self, run_id, rows, now) -> None:
        key = self._key(run_id)
        for task_id, index, code, run_count, message, location in rows:
            code = int(code) & 0x7F
            if index is None or index < 0:
                self._task(self._own(key), key, task_id, code, run_count or 1, message, location, now)
                continue
            cache = self._cache(key, task_id, index + 1)
            old = cache[index]
            detail = None if message is None and location is None else (message, location, run_count)
            if old == code and detail is None:
                continue
            if old == _UNKNOWN:
                self._span(key, task_id, index, index + 1)
            cache[index] = code
            self._child(key, task_id, index, old, code, detail, run_count, now)

    def _report(self, run_id, reports, now, shared=None, plain=False) -> None:
        key = self._key(run_id)
        by_task: dict = {}  # the children's entries of ``shared``, by task
        if shared:
            for (task_id, index), detail in shared.items():
                if index != -1:
                    by_task.setdefault(task_id, {})[index] = detail
        own = self._own(key)
        own_codes, rowed, rows = own.codes, own.rowed, self.rows
        size = len(own_codes)
        changed = False  # a task's own state: run_tasks.codes to write
        for report in reports:
            task_id, indices, codes = report[0], report[1], report[2]
            if indices is None and codes == _SUCCESS and plain and len(report) == 3 and not shared \
                    and task_id < size:
                # A plain success (most reports): its byte, and its earlier row goes.
                # (what _task does for one, inlined)
                own_codes[task_id] = _SUCCESS
                changed = True
                if task_id in rowed:
                    rowed.discard(task_id)
                    rows[(key, task_id, -1)] = None
                continue
            details = report[3] if len(report) > 3 else None
            if indices is None:
                found = details.get(-1) if details else None
                if found is None and shared:
                    found = shared.get((task_id, -1))
                if found is None:
                    message = SUCCEEDED if plain and codes == _SUCCESS else None
                    self._task(own, key, task_id, int(codes) & 0x7F, 1, message, None, now)
                else:
                    self._task(own, key, task_id, int(codes) & 0x7F, found[2] or 1, found[0], found[1], now)
                size = len(own_codes)
                continue
            if by_task.get(task_id):
                details = {**by_task[task_id], **details} if details else by_task[task_id]
            if type(indices) is range and indices.step == 1:
                self._report_range(key, task_id, indices.start, indices.stop, codes, details, now)
            else:
                self._report_list(key, task_id, indices, codes, details, now)
        if changed:
            self.touched.add(key)

    # ----- tasks' own states ------------------------------------------------------------

    def _own(self, key: int) -> _RunTasks:
        own = self.w.own.get(key)
        if own is None:
            own = self.w.own[key] = self._load_own(key)
        return own

    def _load_own(self, key: int) -> _RunTasks:
        """What the store holds of a run's tasks, for a run this writer has not seen yet
        (reopened, or recorded after its end, or after a failed write)."""
        c = self.conn
        row = c.execute("SELECT codes, widths FROM run_tasks WHERE run = ?", (key,)).fetchone()
        codes, widths = row if row is not None else (b"", None)
        rowed = {r[0] for r in c.execute("SELECT task_id FROM task_runs WHERE run = ? AND map_index = -1", (key,))}
        return _RunTasks(bytearray(codes or b""), rowed,
                         {int(k): v for k, v in json.loads(widths).items()} if widths else {})

    def _task(self, own: _RunTasks, key: int, task_id: int, code: int, run_count: int, message, location,
              now: float) -> None:
        """A task's own state: its byte in ``run_tasks.codes``; a ``task_runs`` row unless
        it is a plain success (whose earlier row, if any, goes)."""
        codes = own.codes
        if task_id >= len(codes):
            codes.extend(b"\xff" * (task_id + 1 - len(codes)))
        codes[task_id] = code
        self.touched.add(key)
        if code == _SUCCESS and run_count == 1 and location is None and message == SUCCEEDED:
            if task_id in own.rowed:
                own.rowed.discard(task_id)
                self.rows[(key, task_id, -1)] = None
        else:
            own.rowed.add(task_id)
            self.rows[(key, task_id, -1)] = (code, run_count, message, location, now)

    # ----- children ---------------------------------------------------------------------

    def _cache(self, key: int, task_id: int, need: int) -> bytearray:
        cache = self.w.cache.get((key, task_id))
        if cache is None:
            cache = self.w.cache[(key, task_id)] = self._load_cache(key, task_id)
        if len(cache) < need:
            cache.extend(b"\xff" * (need - len(cache)))
        return cache

    def _load_cache(self, key: int, task_id: int) -> bytearray:
        """The last code of each child of a task that this process has not seen yet (a
        run reopened, or records after end_run): rebuilt from spans and rows."""
        cache = bytearray()
        c = self.conn
        for start, stop in c.execute("SELECT start, stop FROM child_spans WHERE run = ? AND task_id = ?",
                                     (key, task_id)):
            if len(cache) < stop:
                cache.extend(b"\xff" * (stop - len(cache)))
            cache[start:stop] = bytes([_SUCCESS]) * (stop - start)
        for index, code in c.execute("SELECT map_index, code FROM task_runs WHERE run = ? AND task_id = ? "
                                     "AND map_index >= 0", (key, task_id)):
            if len(cache) <= index:
                cache.extend(b"\xff" * (index + 1 - len(cache)))
            cache[index] = code
        return cache

    def _span(self, key: int, task_id: int, start: int, stop: int) -> None:
        spans = self.spans.get((key, task_id))
        if spans is None:
            self.spans[(key, task_id)] = [(start, stop)]
        elif spans[-1][1] == start:
            spans[-1] = (spans[-1][0], stop)
        else:
            spans.append((start, stop))

    def _count(self, key: int, task_id: int, code: int, delta: int) -> None:
        k = (key, task_id, code)
        self.counts[k] = self.counts.get(k, 0) + delta

    def _child(self, key, task_id, index, old, new, detail, run_count, now) -> None:
        """Child ``index`` changed from code ``old`` to ``new`` (or got a detail)."""
        if old != _UNKNOWN:
            self._count(key, task_id, old, -1)
        self._count(key, task_id, new, 1)
        message = location = None
        if detail is not None:
            message, location, run_count = detail
        if new == _SUCCESS and message is None and location is None:
            if old != _UNKNOWN and old != _SUCCESS:
                self.rows[(key, task_id, index)] = None  # its failed/retrying row goes
            return
        self.rows[(key, task_id, index)] = (new, run_count or 1, message, location, now)

    def _report_range(self, key, task_id, start, stop, codes, details, now) -> None:
        n = stop - start
        if len(codes) != n:
            raise ValueError(f"task {task_id}: {len(codes)} codes for {n} children")
        codes = bytes(codes).translate(_FLAGS_OFF)
        cache = self._cache(key, task_id, stop)
        prev = cache[start:stop]
        if prev == codes and not details:
            return  # a re-report that changes nothing
        cache[start:stop] = codes
        unknown = prev.count(_UNKNOWN)
        if unknown:
            self._span(key, task_id, start, stop)
        if unknown == n:
            # New children: count them by code; rows only for those that are not plain successes.
            successes = codes.count(_SUCCESS)
            if successes:
                self._count(key, task_id, _SUCCESS, successes)
            if successes != n:
                rows = self.rows
                for code in range(_NCODES):
                    if code == _SUCCESS:
                        continue
                    k = codes.count(code)
                    if not k:
                        continue
                    self._count(key, task_id, code, k)
                    value = (code, 1, None, None, now)
                    at = codes.find(code)
                    while at != -1:
                        rows[(key, task_id, start + at)] = value
                        at = codes.find(code, at + 1)
            if details:
                for index, detail in details.items():
                    if start <= index < stop:
                        code = codes[index - start]
                        message, location, run_count = detail
                        if code != _SUCCESS or message is not None or location is not None:
                            self.rows[(key, task_id, index)] = (code, run_count or 1, message, location, now)
            return
        # Some children were reported before: compare block by block, child by child
        # only where something changed.
        marked = {(i - start) // _BLOCK for i in details if start <= i < stop} if details else ()
        for b in range(0, n, _BLOCK):
            pb = prev[b:b + _BLOCK]
            cb = codes[b:b + _BLOCK]
            if pb == cb and b // _BLOCK not in marked:
                continue
            for j in range(len(cb)):
                old, new = pb[j], cb[j]
                detail = details.get(start + b + j) if details else None
                if old == new and detail is None:
                    continue
                self._child(key, task_id, start + b + j, old, new, detail, 1, now)

    def _report_list(self, key, task_id, indices, codes, details, now) -> None:
        if isinstance(codes, int):
            codes = bytes([codes]) * len(indices)
        if len(codes) != len(indices):
            raise ValueError(f"task {task_id}: {len(codes)} codes for {len(indices)} children")
        codes = bytes(codes).translate(_FLAGS_OFF)
        cache = self._cache(key, task_id, (max(indices) + 1) if len(indices) else 0)
        for j, index in enumerate(indices):
            new = codes[j]
            old = cache[index]
            detail = details.get(index) if details else None
            if old == new and detail is None:
                continue
            if old == _UNKNOWN:
                self._span(key, task_id, index, index + 1)
            cache[index] = new
            self._child(key, task_id, index, old, new, detail, 1, now)

    # ----- at the end of the batch ----------------------------------------------------

    def apply(self) -> None:
        c = self.conn
        if self.rows:
            upserts = []
            deletes = []
            for (key, task_id, index), value in self.rows.items():
                if value is None:
                    deletes.append((key, task_id, index))
                else:
                    upserts.append((key, task_id, index) + value)
            if upserts:
                self._many(_UPSERT_TASK_RUN, upserts)
            if deletes:
                self._many(_DELETE_TASK_RUN, deletes)
        if self.counts:
            c.executemany(_ADD_COUNTS, [k + (n,) for k, n in self.counts.items() if n])
        if self.spans:
            c.executemany("INSERT INTO child_spans (run, task_id, start, stop) VALUES (?, ?, ?, ?)",
                          [k + span for k, spans in self.spans.items() for span in _merge(spans)])
        if self.logs:
            self._many(_INSERT_LOGS, self.logs)
        for key in self.touched:
            own = self.w.own[key]
            row = (bytes(own.codes), json.dumps(own.widths) if own.widths else None, key)
            if not c.execute("UPDATE run_tasks SET codes = ?, widths = ? WHERE run = ?", row).rowcount:
                # (a run that has no row: recorded without a start)
                c.execute("INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, codes, widths) "
                          "VALUES (?, '[]', '[]', '[]', X'', X'', ?, ?)", (key, row[0], row[1]))

    def _many(self, sql: str, rows: list) -> None:
        """``executemany``, or, when SQLite has JSON functions and another thread may be
        waiting for the GIL, one statement per 20,000 rows reading them from a JSON
        array: ``executemany`` releases and retakes the GIL for every row, which stalls
        the writing thread behind a busy one (the convoy effect) when a batch has many
        rows (failed children). Alone (the recording thread writing, no other thread
        but the store's own two), ``executemany`` is twice as fast."""
        if len(rows) < 64 or not self.w.json or self._alone():
            self.conn.executemany(sql, rows)
            return
        bulk = _JSON_FORMS[sql]
        for at in range(0, len(rows), 20_000):
            self.conn.execute(bulk, (json.dumps(rows[at:at + 20_000]),))

    def _alone(self) -> bool:
        """Whether this thread is the recording one and no other thread but the store's
        backstop and heartbeat threads runs (nobody to wait for the GIL)."""
        current = threading.current_thread()
        return (current is not self.w.thread and current is not self.w.beats
                and threading.active_count() <= 3)


def _own_state(rows: dict, codes: bytes, task_id: int) -> tuple | None:
    """A task's own recorded ``(code, run_count, message, result_location)``: its
    ``task_runs`` row (in ``rows``, by task id) if it has one, else what its byte in
    ``run_tasks.codes`` says (a plain success), or None if it never reported."""
    found = rows.get(task_id)
    if found is not None:
        return found
    code = codes[task_id] if task_id < len(codes) else _UNKNOWN
    if code == _UNKNOWN:
        return None
    return (code, 1, SUCCEEDED, None) if code == _SUCCESS else (code, 1, None, None)


def _task_columns(tasks: TaskList) -> tuple:
    """The task list columns of ``run_tasks``: ``ids``, ``names`` and ``slugs`` as JSON
    arrays, ``mapped`` and ``approved`` as one byte per task, in display order."""
    return (json.dumps(tasks.ids), json.dumps(tasks.names), json.dumps(tasks.slugs), bytes(tasks.mapped),
            bytes(tasks.approved))


def _read_task_list(ids: str, names: str, slugs: str, mapped: bytes, approved: bytes) -> list:
    """``run_tasks``' task list as ``(task_id, name, slug, is_mapped, approved)`` tuples."""
    return list(zip(json.loads(ids), json.loads(names), json.loads(slugs), map(bool, mapped), map(bool, approved),
                    strict=True))


class _RunTasks:
    """What the writer knows of one run's tasks between its transactions (the
    ``run_tasks`` row, and which tasks have a task-level ``task_runs`` row), so that
    recording a task's own state costs no statement of its own: ``codes`` (one byte per
    task id, ``_UNKNOWN`` while it never reported), ``rowed`` (the task ids with a
    task-level row) and ``widths`` (mapped task id -> width)."""

    __slots__ = ("codes", "rowed", "widths")

    def __init__(self, codes: bytearray, rowed: set, widths: dict):
        self.codes = codes
        self.rowed = rowed
        self.widths = widths


def _merge(spans: list) -> list:
    """Sort and merge overlapping or adjacent ``(start, stop)`` ranges."""
    merged: list = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            if stop > merged[-1][1]:
                merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def _run_summary(row: tuple) -> RunSummary:
    run_id, flow_name, state, message, parameters, started_at, ended_at, resumed_from, hostname, pid, note = row
    try:
        params = json.loads(parameters)
    except ValueError:
        params = {}
    if note:
        message = f"{note} {message}" if message else note
    return RunSummary(run_id, flow_name, state, message, params, started_at, ended_at, resumed_from, hostname, pid,
                      note)


# ----------------------------------------------------------------------------------
# process lifecycle
# ----------------------------------------------------------------------------------


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

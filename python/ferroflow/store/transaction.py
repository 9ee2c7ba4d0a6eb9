"""One transaction of the run store's writer: the items of a batch applied to the
database (SQLite or PostgreSQL, through :mod:`ferroflow.store.dialects`).

Run-level statements run as the items come; task run rows, child counts, spans and
logs are gathered and written at the end, many rows per statement. What the writer
keeps between transactions (a live run's task codes, its children's last codes) makes
recording a task's state cost no statement of its own; a transaction that does not
trust such a cache (the server's :meth:`~ferroflow.store.sql.SQLRunStore.ingest`)
starts from an empty one and reloads what it needs inside the transaction.

Every run whose lease is held (``runs.owner``) is confirmed once per transaction that
writes for it (its heartbeat stamped where ``owner`` is still the holder's token): a
run whose lease was revoked meanwhile (reaped, taken over) gets nothing written.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from ferroflow import _core
from ferroflow.descriptions import printable
from ferroflow.store.base import SUCCEEDED, to_epoch
from ferroflow.store.dialects import Dialect
from ferroflow.store.errors import RunLostError, StateStoreError
from ferroflow.store.items import bound_run_name, bound_traceback, read_columns, to_detail
from ferroflow.store.layout import UNREPORTED, merge_spans, read_edges, read_times, read_widths

__all__ = ["Transaction", "Skip", "RunTasks", "Caches", "transaction"]

_SUCCESS = _core.SUCCESS
_UNKNOWN = UNREPORTED  # "never reported" in a writer's per-child code cache and a run's task codes
_FLAGS_OFF = bytes(b & 0x7F for b in range(256))  # drops RETRY_OK (0x80)
_NCODES = len(_core.STATE_NAMES)
_BLOCK = 512

_UPSERT_TASK_RUN = (
    "INSERT INTO task_runs (run, task_id, map_index, code, run_count, message, result_location, updated_at, "
    "traceback) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run, task_id, map_index) DO UPDATE SET "
    "code = excluded.code, run_count = excluded.run_count, message = excluded.message, "
    "result_location = excluded.result_location, updated_at = excluded.updated_at, traceback = excluded.traceback"
)
_DELETE_TASK_RUN = "DELETE FROM task_runs WHERE run = ? AND task_id = ? AND map_index = ?"
_INSERT_LOGS = ("INSERT INTO logs (run, task_id, map_index, created_at, level, levelname, logger, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def _from_json(n: int) -> str:
    return ", ".join(f"json_extract(value, '$[{i}]')" for i in range(n))


#: The same statements, for many rows given as one JSON array of arrays.
_JSON_FORMS = {
    _UPSERT_TASK_RUN: _UPSERT_TASK_RUN.replace("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                               f"SELECT {_from_json(9)} FROM json_each(?) WHERE true"),
    _DELETE_TASK_RUN: (f"DELETE FROM task_runs WHERE (run, task_id, map_index) IN "
                       f"(SELECT {_from_json(3)} FROM json_each(?))"),
    _INSERT_LOGS: _INSERT_LOGS.replace("VALUES (?, ?, ?, ?, ?, ?, ?, ?)", f"SELECT {_from_json(8)} FROM json_each(?)"),
}
_ADD_COUNTS = (
    "INSERT INTO child_counts (run, task_id, code, n) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (run, task_id, code) DO UPDATE SET n = child_counts.n + excluded.n"
)

class transaction:
    """One transaction of ``conn`` around a ``with`` block: for a write, the write lock
    taken up front where the database has one (SQLite ``BEGIN IMMEDIATE``), else
    ``BEGIN``; committed when the block ends, rolled back when it raises or when the
    commit fails (a failed ``COMMIT`` may leave the transaction open, and the connection
    would refuse every later ``BEGIN``). (A class, not a generator: it is around every
    commit, and costs a third as much.)"""

    __slots__ = ("conn", "dialect", "write")

    def __init__(self, conn: Any, dialect: Dialect, write: bool = True):
        self.conn = conn
        self.dialect = dialect
        self.write = write

    def __enter__(self) -> Any:
        self.dialect.begin(self.conn, self.write)
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


class Caches:
    """What a writer keeps of the database between its transactions, and the leases it
    holds: ``runs`` (run id -> ``runs.id``), ``cache`` ((``runs.id``, task id) -> the last
    code of each child), ``own`` (``runs.id`` -> :class:`RunTasks`), ``owned`` (run id ->
    lease token), ``lost_runs`` (run id -> RunLostError). A fresh one (empty caches)
    makes a transaction read everything it needs from the database (``ingest``)."""

    def __init__(self, location: str, dialect: Dialect, max_pending: int = 0, owned: dict | None = None):
        self.location = location
        self.dialect = dialect
        self.max_pending = max_pending
        self.json = False  # bulk writes through json_each (SQLite, set by the writer)
        self.runs: dict[str, int] = {}
        self.cache: dict[tuple, bytearray] = {}
        self.own: dict[int, RunTasks] = {}
        self.owned: dict[str, str] = {} if owned is None else owned
        self.lost_runs: dict[str, RunLostError] = {}
        self.confirmed: dict[str, float] = {}  # run id -> when its lease was last confirmed
        self.refused: dict[str, str] = {}  # run id -> why its resume was refused
        # The threads of a writer (whose GIL hand-offs ``_many`` avoids); none here.
        self.thread: threading.Thread | None = None
        self.beats: threading.Thread | None = None


class Skip(Exception):
    """An item not to write: a record of a run lost to another process, a refused start."""


class Transaction:
    """What one batch writes: run-level statements run as they come; task run rows,
    counts, spans and logs are gathered and written at the end, many rows per statement.

    Every run this process holds the lease of is confirmed once per transaction that
    writes for it (its heartbeat stamped where ``owner`` is still this process's token):
    a run whose lease was revoked meanwhile (reaped, taken over) gets nothing written,
    and is lost to this process from then on (``settle``)."""

    def __init__(self, writer: Caches, conn: Any, notes: dict | None = None):
        self.w = writer
        self.conn = conn
        self.dialect = writer.dialect
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
        # runs.id -> the run's task list with tasks added here ([ids, names, slugs,
        # mapped, approved, edges, whether run_tasks has a row]), written at the end
        self.lists: dict = {}
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
        """``runs.id`` of a run; raises Skip for a run lost to another process."""
        key = self.keys.get(run_id)
        if key is not None:
            return key  # confirmed in this transaction already
        if run_id in self.w.lost_runs:
            raise Skip(run_id)
        token = self.started.get(run_id) or self.w.owned.get(run_id)
        if token is not None and self._confirm(run_id, token) is not True:
            raise Skip(run_id)
        key = self.w.runs.get(run_id)
        if key is None:
            row = self.conn.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise StateStoreError("unknown run", self.w.location, "write",
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
        """Take over ``earlier``, the run ``run_id`` resumes: refused (Skip) while it
        runs again or another run resuming it still runs; its lease is revoked."""
        c = self.conn
        row = c.execute("SELECT id, state, pid, hostname FROM runs WHERE run_id = ?" + self.dialect.for_update,
                        (earlier,)).fetchone()
        if row is None:
            return
        if row[1] == "Running":
            self.refused[run_id] = (f"run {earlier} is still running (pid {row[2]} on {row[3]}): resume it once "
                                    f"it has ended, or after stopping that process")
            raise Skip(run_id)
        other = c.execute("SELECT run_id, pid, hostname FROM runs WHERE resumed_from = ? AND state = 'Running' "
                          "AND run_id != ? ORDER BY started_at DESC LIMIT 1", (earlier, run_id)).fetchone()
        if other is not None:
            self.refused[run_id] = (f"run {earlier} is already being resumed by run {other[0]} (pid {other[1]} on "
                                    f"{other[2]}), which is still running: let it end, or stop it first")
            raise Skip(run_id)
        c.execute("UPDATE runs SET owner = NULL WHERE id = ?", (row[0],))

    def _start(self, run_id, flow_name, parameters, pickles, columns, count, started_at, resumed_from, hostname,
               pid, token, executor=None, parent_run_id=None, run_name=None) -> None:
        # (executor: absent from the item of a ferroflow older than schema 10;
        # parent_run_id: older than schema 11; run_name: older than schema 12)
        c = self.conn
        self.keys.clear()  # leases change here
        if len(columns) == 5:  # (the item of a ferroflow older than schema 9: no edges)
            columns = (*columns, None)
        if executor is not None:
            if not isinstance(executor, str):
                raise TypeError(f"a run's executor is a description (a string), got {type(executor).__name__}")
            executor = printable(executor)  # (one line, bounded, whoever sent it)
        if parent_run_id is not None:
            if not isinstance(parent_run_id, str):
                raise TypeError(f"a run's parent is a run id (a string), got {type(parent_run_id).__name__}")
            parent_run_id = printable(parent_run_id)
        run_name = bound_run_name(run_name)  # (one line, bounded, whoever sent it)
        self._flow(flow_name)
        if resumed_from is not None:
            self._claim(run_id, resumed_from)
        inserted = self.dialect.insert_returning_key(
            c, "INSERT INTO runs (run_id, flow_name, parameters, state, message, started_at, ended_at, resumed_from, "
            "hostname, pid, heartbeat_at, owner, executor, parent_run_id, run_name) "
            "VALUES (?, ?, ?, 'Running', NULL, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
            (run_id, flow_name, parameters, started_at, resumed_from, hostname, pid, self.now, token, executor,
             parent_run_id, run_name))
        new = inserted is not None
        if new:
            # A new run (the common case: three statements, no read).
            key: int = inserted  # type: ignore[assignment]
            own = RunTasks(bytearray(b"\xff") * count, set(), {}, {})
            c.execute("INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, edges, codes) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run) DO UPDATE SET ids = excluded.ids, "
                      "names = excluded.names, slugs = excluded.slugs, mapped = excluded.mapped, "
                      "approved = excluded.approved, edges = excluded.edges, codes = excluded.codes, "
                      "widths = NULL, times = NULL",
                      (key, *columns, bytes(own.codes)))
            self.w.own[key] = own
        else:
            claimed = c.execute("SELECT state, owner, worker FROM runs WHERE run_id = ?" + self.dialect.for_update,
                                (run_id,)).fetchone()
            if claimed[2] is not None and (claimed[1] != token or claimed[0] != "Pending"):
                # A worker claimed it (fencing): only the process holding that claim's
                # token starts it, once.
                self.refused[run_id] = (f"run {run_id} was claimed by worker {claimed[2]} and is {claimed[0]} now: "
                                        f"this process does not hold its claim (it was taken from it, cancelled, or "
                                        f"started already)")
                raise Skip(run_id)
            # The run is reopened: it keeps its start time, task states and widths.
            c.execute("UPDATE runs SET flow_name = ?, parameters = ?, state = 'Running', message = NULL, "
                      "ended_at = NULL, hostname = ?, pid = ?, heartbeat_at = ?, owner = ?, executor = ?, "
                      "parent_run_id = ?, run_name = ? WHERE run_id = ?",
                      (flow_name, parameters, hostname, pid, self.now, token, executor, parent_run_id, run_name,
                       run_id))
            if claimed[2] is not None:  # (a claimed run starts now, not when it was due)
                c.execute("UPDATE runs SET started_at = ?, state_version = state_version + 1 WHERE run_id = ?",
                          (started_at, run_id))
            key = c.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
            c.execute("INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, edges, codes) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run) DO UPDATE SET ids = excluded.ids, "
                      "names = excluded.names, slugs = excluded.slugs, mapped = excluded.mapped, "
                      "approved = excluded.approved, edges = excluded.edges", (key, *columns, b""))
            self.w.own.pop(key, None)  # read again from the store when needed
        self.lists.pop(key, None)  # (the start's task list replaces tasks added before it)
        self.w.runs[run_id] = key
        self.started[run_id] = token
        self.checked[run_id] = True
        if pickles or not new:
            # (for a new run too: the id of a run deleted by hand may be given again)
            c.execute("DELETE FROM run_parameters WHERE run = ?", (key,))
        if pickles:
            c.executemany("INSERT INTO run_parameters (run, name, value, problem) VALUES (?, ?, ?, ?)",
                          [(key, name, data, problem) for name, data, problem in pickles])

    def _tasks(self, run_id, columns, count) -> None:
        """Tasks added to a running run: appended to its task list (written at the end)."""
        key = self._key(run_id)
        ids, names, slugs, mapped, approved, edges = read_columns(columns)
        listed = self.lists.get(key)
        if listed is None:
            row = self.conn.execute("SELECT ids, names, slugs, mapped, approved, edges FROM run_tasks WHERE run = ?",
                                    (key,)).fetchone()
            if row is None:  # (a run made by a server, started without a task list)
                listed = [[], [], [], b"", b"", None, False]
            else:
                listed = [json.loads(row[0]), json.loads(row[1]), json.loads(row[2]), bytes(row[3]), bytes(row[4]),
                          read_edges(row[5]), True]
            self.lists[key] = listed
        known = set(listed[0])
        again = [i for i in ids if i in known]
        if again:
            raise ValueError(f"run {run_id}: task ids {again[:10]} are the run's already: tasks added to a run take "
                             f"new ids")
        every = known.union(ids)
        if edges and not all(a in every and b in every for a, b in edges):
            raise ValueError(f"run {run_id}: an edge names a task the run does not have")
        listed[0] = listed[0] + ids
        listed[1] = listed[1] + names
        listed[2] = listed[2] + slugs
        listed[3] = listed[3] + mapped
        listed[4] = listed[4] + approved
        if edges:
            listed[5] = (listed[5] or []) + edges

    def _flow(self, name: str) -> None:
        """Register the flow ``name`` (the UI and ``GET /flows`` list the flows runs were
        seen of): one statement per run started."""
        self.conn.execute("INSERT INTO flows (name, created_at, updated_at, parameters) VALUES (?, ?, ?, '{}') "
                          "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
                          (name, self.now, self.now))

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
        for row in rows:
            task_id, index, code, run_count, message, location = row[:6]
            traceback = row[6] if len(row) > 6 else None
            code = int(code) & 0x7F
            if index is None or index < 0:
                self._task(self._own(key), key, task_id, code, run_count or 1, message, location, now, traceback)
                continue
            cache = self._cache(key, task_id, index + 1)
            old = cache[index]
            detail = (None if message is None and location is None and traceback is None
                      else (message, location, run_count, traceback))
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
        own_codes, rowed, rows, times = own.codes, own.rowed, self.rows, own.times
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
                seen = times.get(task_id)
                if seen is None:
                    times[task_id] = [now, now]
                else:
                    seen[1] = now
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
                    self._task(own, key, task_id, int(codes) & 0x7F, found[2] or 1, found[0], found[1], now,
                               found[3] if len(found) > 3 else None)
                size = len(own_codes)
                continue
            if by_task.get(task_id):
                details = {**by_task[task_id], **details} if details else by_task[task_id]
            _seen(times, task_id, now)
            if type(indices) is range and indices.step == 1:
                self._report_range(key, task_id, indices.start, indices.stop, codes, details, now)
            else:
                self._report_list(key, task_id, indices, codes, details, now)
        if changed:
            self.touched.add(key)

    # ----- tasks' own states ------------------------------------------------------------

    def _own(self, key: int) -> RunTasks:
        own = self.w.own.get(key)
        if own is None:
            own = self.w.own[key] = self._load_own(key)
        return own

    def _load_own(self, key: int) -> RunTasks:
        """What the store holds of a run's tasks, for a run this writer has not seen yet
        (reopened, or recorded after its end, or after a failed write)."""
        c = self.conn
        row = c.execute("SELECT codes, widths, times FROM run_tasks WHERE run = ?", (key,)).fetchone()
        codes, widths, times = row if row is not None else (b"", None, None)
        rowed = {r[0] for r in c.execute("SELECT task_id FROM task_runs WHERE run = ? AND map_index = -1", (key,))}
        return RunTasks(bytearray(codes or b""), rowed, read_widths(widths), read_times(times))

    def _task(self, own: RunTasks, key: int, task_id: int, code: int, run_count: int, message, location,
              now: float, traceback: str | None = None) -> None:
        """A task's own state: its byte in ``run_tasks.codes``; a ``task_runs`` row unless
        it is a plain success (whose earlier row, if any, goes)."""
        codes = own.codes
        if task_id >= len(codes):
            codes.extend(b"\xff" * (task_id + 1 - len(codes)))
        codes[task_id] = code
        self.touched.add(key)
        _seen(own.times, task_id, now)
        if code == _SUCCESS and run_count == 1 and location is None and message == SUCCEEDED and traceback is None:
            if task_id in own.rowed:
                own.rowed.discard(task_id)
                self.rows[(key, task_id, -1)] = None
        else:
            own.rowed.add(task_id)
            self.rows[(key, task_id, -1)] = (code, run_count, message, location, now, bound_traceback(traceback))

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
        message = location = traceback = None
        if detail is not None:
            message, location, run_count, traceback = to_detail(detail)
        if new == _SUCCESS and message is None and location is None and traceback is None:
            if old != _UNKNOWN and old != _SUCCESS:
                self.rows[(key, task_id, index)] = None  # its failed/retrying row goes
            return
        self.rows[(key, task_id, index)] = (new, run_count or 1, message, location, now, bound_traceback(traceback))

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
                    value = (code, 1, None, None, now, None)
                    at = codes.find(code)
                    while at != -1:
                        rows[(key, task_id, start + at)] = value
                        at = codes.find(code, at + 1)
            if details:
                for index, detail in details.items():
                    if start <= index < stop:
                        code = codes[index - start]
                        message, location, run_count, traceback = to_detail(detail)
                        if code != _SUCCESS or message is not None or location is not None or traceback is not None:
                            self.rows[(key, task_id, index)] = (code, run_count or 1, message, location, now,
                                                                bound_traceback(traceback))
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
        for key, (ids, names, slugs, mapped, approved, edges, exists) in self.lists.items():
            listed = (json.dumps(ids), json.dumps(names), json.dumps(slugs), mapped, approved,
                      None if edges is None else json.dumps([[a, b] for a, b in edges]), key)
            if exists:
                c.execute("UPDATE run_tasks SET ids = ?, names = ?, slugs = ?, mapped = ?, approved = ?, edges = ? "
                          "WHERE run = ?", listed)
            else:
                c.execute("INSERT INTO run_tasks (ids, names, slugs, mapped, approved, edges, run, codes) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*listed, b""))
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
                          [k + span for k, spans in self.spans.items() for span in merge_spans(spans)])
        if self.logs:
            self._many(_INSERT_LOGS, self.logs)
        for key in self.touched:
            own = self.w.own[key]
            row = (bytes(own.codes), json.dumps(own.widths) if own.widths else None,
                   json.dumps(own.times) if own.times else None, key)
            if not c.execute("UPDATE run_tasks SET codes = ?, widths = ?, times = ? WHERE run = ?", row).rowcount:
                # (a run that has no row: recorded without a start)
                c.execute("INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, codes, widths, times) "
                          "VALUES (?, '[]', '[]', '[]', ?, ?, ?, ?, ?)", (key, b"", b"", *row[:3]))

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


class RunTasks:
    """What the writer knows of one run's tasks between its transactions (the
    ``run_tasks`` row, and which tasks have a task-level ``task_runs`` row), so that
    recording a task's own state costs no statement of its own: ``codes`` (one byte per
    task id, ``_UNKNOWN`` while it never reported), ``rowed`` (the task ids with a
    task-level row), ``widths`` (mapped task id -> width) and ``times`` (task id ->
    ``[first, last]`` time a report of it was seen)."""

    __slots__ = ("codes", "rowed", "widths", "times")

    def __init__(self, codes: bytearray, rowed: set, widths: dict, times: dict):
        self.codes = codes
        self.rowed = rowed
        self.widths = widths
        self.times = times


def _seen(times: dict, task_id: int, now: float) -> None:
    """A report of ``task_id`` seen at ``now``: the first and last times it was seen."""
    seen = times.get(task_id)
    if seen is None:
        times[task_id] = [now, now]
    else:
        seen[1] = now

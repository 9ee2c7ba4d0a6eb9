"""Recording flow runs through a ferroflow server: :class:`RemoteRunStore`.

A run that reports to a server (``flow.run(server=URL)``, ``ferroflow run --server
URL``, or ``FERROFLOW_API_URL``) records exactly what it would record into the embedded
store: the same items (:mod:`ferroflow.store.items`), gathered into batches and sent to
``POST /api/v1/records``, where the server applies each batch in one transaction with
the same store code. Never a request per task run or child.

How nothing is lost:

* **Batches, in order, each with an id.** Records wait in memory for ``interval``
  (0.2 s), or less when many wait; a run's start and end are sent at once. Each batch
  gets an id when it is cut; the server applies a batch once and acknowledges it
  again when it comes back (its answer was lost), so a batch is simply sent again
  until it is acknowledged. Batches are sent one at a time, oldest first.
* **Kept while the server cannot be reached.** A connection error, a timeout or a
  5xx answer keeps the batch and retries it with backoff (0.1 s doubling to 5 s); a
  warning says so once, and once more when the server is back. The flow run goes on.
  Batches waiting in memory are bounded (``max_memory``, 64 MiB encoded): past that,
  new batches are appended to a spool file in ``$FERROFLOW_HOME/spool`` (``0600``) and
  sent from there, in order, once the server answers again.
* **At the end of a run** ``flush()`` waits up to ``flush_timeout`` (10 s,
  ``FERROFLOW_API_FLUSH_TIMEOUT``) for the server to take everything, then returns (the
  records stay queued). When the process exits, it waits up to ``exit_timeout`` (30 s,
  ``FERROFLOW_API_EXIT_TIMEOUT``) more, then writes whatever is left to the spool file
  and says where. The next process that records to a server sends the
  spool files of processes that are gone (a lock on each file tells), as does
  ``ferroflow server push-spool``; a batch sent twice is applied once.
* **Leases.** Each run started here holds a token; the server checks it with every
  batch, and its answer names the runs whose lease was revoked (reaped, resumed
  elsewhere): :meth:`check_lease` raises :class:`~ferroflow.store.RunLostError` for
  them, and nothing more of them is sent. While runs are live and nothing else is
  sent, a heartbeat batch (no records, just the tokens) goes every
  ``LIVE_HEARTBEAT_SECONDS`` (2 s).
* **Cancellation.** The answer to every batch also names the runs of its tokens whose
  cancellation was asked for (``ferroflow cancel``: state ``Cancelling``);
  :meth:`check_lease` raises :class:`~ferroflow.store.RunCancelledError` for them, and
  the engine ends them ``Cancelled``, recorded as usual (their lease holds).
* **Refused batches.** A batch the server refuses as malformed (400, 413, 422) cannot
  succeed by retrying: it is dropped, and the next writing call raises a
  :class:`~ferroflow.store.StateStoreError` saying why, once. A refused key (401, 403)
  stops recording the same way.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import dataclasses
import errno
import fcntl
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferroflow.store import items
from ferroflow.store.errors import ResumeRefusedError, RunCancelledError, RunLostError, StateStoreError
from ferroflow.store.orphans import HEARTBEAT_SECONDS
from ferroflow.store.wire import batch_body

__all__ = ["RemoteRunStore", "push_spool", "spool_dir"]

log = logging.getLogger("ferroflow.store")

RETRY_FIRST = 0.1
RETRY_MAX = 5.0
#: Items that make a batch be cut before ``interval`` passed.
CUT_ITEMS = 2_000
#: Largest encoded batch (the server's default limit for a request body is 16 MiB).
MAX_BATCH_BYTES = 8 * 1024 * 1024
RECORDS_PATH = "/api/v1/records"
#: Seconds between heartbeat batches while runs are live and nothing else is sent: the
#: answer to each says whether a run's cancellation was asked for, so a run recording
#: here stops within about this long of ``ferroflow cancel`` (an empty batch costs the
#: server a few milliseconds).
LIVE_HEARTBEAT_SECONDS = min(HEARTBEAT_SECONDS, 2.0)
#: Seconds ``flush()`` (the end of a run) waits for the server; default 10.
FLUSH_TIMEOUT_ENV = "FERROFLOW_API_FLUSH_TIMEOUT"
#: Seconds the process waits at exit before spooling what is left; default 30.
EXIT_TIMEOUT_ENV = "FERROFLOW_API_EXIT_TIMEOUT"


def _seconds(given: float | None, variable: str, default: float) -> float:
    if given is not None:
        return float(given)
    text = os.environ.get(variable, "").strip()
    try:
        return float(text) if text else default
    except ValueError:
        raise ValueError(f"{variable} must be a number of seconds, got {text!r}") from None


def spool_dir() -> Path:
    """Where batches wait on disk while a server cannot take them."""
    from ferroflow.store.config import make_home

    path = make_home() / "spool"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _older_server(status: int, detail: Any) -> str:
    """A hint, when a refusal says the server predates the records this ferroflow sends
    (a ``tasks`` record, or a run's parent: schema 11, eager flows; a run's name: schema
    12), else ``""``."""
    text = str(detail)
    if status == 422 and (("not a record" in text and "'tasks'" not in text)
                          or ("_start()" in text and "positional argument" in text)
                          or "the last of 14 fields" in text):
        return (" - the server runs an older ferroflow, which does not know the records of eager flows (tasks met "
                "as a run goes, subflow runs, run names): upgrade the server")
    return ""


@dataclass
class _Batch:
    batch_id: str
    body: bytes  # the request's JSON body


class RemoteRunStore(items.ItemStore):
    """A run store on a ferroflow server (see the module docstring).

    Args:
        url: the server's base URL (``http://127.0.0.1:4300``).
        api_key: sent as ``Authorization: Bearer``; default ``FERROFLOW_API_KEY``.
        interval: seconds a record waits before its batch is sent.
        timeout: seconds a request may take before it is retried.
        flush_timeout: how long ``flush()`` waits for the server.
        exit_timeout: how long the process waits at exit before spooling to disk.
        max_memory: bytes of encoded batches kept in memory before spooling.
    """

    def __init__(self, url: str, *, api_key: str | None = None, interval: float = 0.2, timeout: float = 10.0,
                 flush_timeout: float | None = None, exit_timeout: float | None = None,
                 max_memory: int = 64 * 1024 * 1024):
        from ferroflow.client.http import Client

        self.url = url.rstrip("/")
        self.location = self.url
        self.client = Client(self.url, api_key=api_key, timeout=timeout)
        self.interval = float(interval)
        self.flush_timeout = _seconds(flush_timeout, FLUSH_TIMEOUT_ENV, 10.0)
        self.exit_timeout = _seconds(exit_timeout, EXIT_TIMEOUT_ENV, 30.0)
        self.max_memory = int(max_memory)
        self._pid = os.getpid()
        self._lock = threading.Condition(threading.Lock())
        self._pending: list = []  # items not yet in a batch
        self._first_at = 0.0  # when the oldest pending item came
        self._outbox: deque = deque()  # _Batch, oldest first
        self._outbox_bytes = 0
        self._spool: _Spool | None = None  # batches past max_memory, after the outbox
        self._overflow: deque = deque()  # batches the spool could not take, after it
        self._spool_error: OSError | None = None
        self._owned: dict = {}  # run id -> lease token
        self._lost: dict = {}  # run id -> RunLostError
        self._refused: dict = {}  # run id -> why its start (a resume) was refused
        self._cancelling: set = set()  # run ids the server says were asked to cancel
        self._failure: StateStoreError | None = None  # to raise once
        self._failing: str | None = None  # why the server cannot be reached, while it cannot
        self._sent_at = time.monotonic()
        self._closed = False
        self._thread = threading.Thread(target=self._send_loop, name="ferroflow-remote-store", daemon=True)
        self._thread.start()
        _STORES.add(self)

    def __repr__(self) -> str:
        return f"<RemoteRunStore {self.url}>"

    # ----- writing ------------------------------------------------------------------

    def _put(self, item: tuple, now: bool = False) -> None:
        if self._closed:
            raise StateStoreError("closed", self.url, "write", "the store was closed")
        with self._lock:
            failure, self._failure = self._failure, None
            if item[0] != "start" and item[1] in self._lost:
                pass  # a run lost to another process: nothing more of it is sent
            else:
                if not self._pending:
                    # The first record of a batch: the sender, which may be waiting for
                    # the next heartbeat, now waits for this batch's interval instead.
                    self._first_at = time.monotonic()
                    self._lock.notify_all()
                self._pending.append(item)
            if now or len(self._pending) >= CUT_ITEMS:
                self._cut()
                self._lock.notify_all()
        if failure is not None:
            raise failure

    def start_run(self, run_id, flow_name, parameters, tasks, started_at=None, *, resumed_from=None, lease=None,
                  executor=None, parent_run_id=None, run_name=None):
        token = items.new_token() if lease is None else str(lease)
        item = items.start(str(run_id), flow_name, parameters, tasks, started_at, resumed_from, pid=os.getpid(),
                           token=token, executor=executor, parent_run_id=parent_run_id, run_name=run_name)
        with self._lock:
            self._owned[str(run_id)] = token
            self._lost.pop(str(run_id), None)
            self._cancelling.discard(str(run_id))
        self._put(item, now=True)
        if resumed_from is not None or lease is not None:
            # The claim on the earlier run (or a worker's on this one) must be in the
            # server before the run goes on.
            if not self._wait_delivered(self.flush_timeout):
                what = f"run {resumed_from} cannot be resumed" if resumed_from is not None else \
                    f"claimed run {run_id} cannot start"
                raise ResumeRefusedError(f"{what} now: the server at {self.url} "
                                         f"cannot record it ({self._failing})")
            refused = self._refused.pop(str(run_id), None)
            if refused is not None:
                raise ResumeRefusedError(refused)

    def end_run(self, run_id, state_name, message=None, ended_at=None):
        self._put(items.end(run_id, state_name, message, ended_at), now=True)
        with self._lock:  # (its batch, cut at once, carries the run's token)
            self._owned.pop(str(run_id), None)
            self._cancelling.discard(str(run_id))

    def record_report(self, run_id, reports, details=None, *, plain=False):
        reports = reports if type(reports) is list else list(reports)
        if reports:
            self._put(items.report(run_id, reports, details, plain))

    def check_lease(self, run_id) -> None:
        """Raise :class:`~ferroflow.store.RunLostError` for a run whose lease the server
        revoked, :class:`~ferroflow.store.RunCancelledError` for one whose cancellation
        was asked for (as the answer to the last batch or heartbeat said)."""
        lost = self._lost.get(str(run_id))
        if lost is not None:
            raise lost
        if str(run_id) in self._cancelling:
            raise RunCancelledError(str(run_id))

    def flush(self) -> None:
        """Send everything recorded so far; wait up to ``flush_timeout`` for the server
        to take it. Records the server cannot take yet stay queued (no error): the flow
        run is not failed by a server that is restarting."""
        if self._closed or self._pid != os.getpid():
            return
        with self._lock:
            self._cut()
            self._lock.notify_all()
        self._wait_delivered(self.flush_timeout)
        with self._lock:
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._shutdown(self.exit_timeout)

    def concurrency_slots(self) -> Any:
        from ferroflow.store.slots import ServerSlots

        return ServerSlots(self.url, self.client.api_key)

    # ----- reading (through the API) ---------------------------------------------------

    def _reads(self) -> Any:
        """The server's runs, read through the API, once what this process recorded was
        sent (as far as ``flush_timeout`` allows)."""
        from ferroflow.client.reads import ServerRuns

        if self._pid == os.getpid() and not self._closed:
            with self._lock:
                self._cut()
                self._lock.notify_all()
            self._wait_delivered(self.flush_timeout)
        return ServerRuns(self.client)

    def list_runs(self, limit=20, flow_name=None):
        return self._reads().list_runs(limit, flow_name)

    def get_run(self, run_id):
        return self._reads().get_run(str(run_id))

    def match_run_ids(self, prefix, limit=10):
        return self.client.match_run_ids(prefix, limit=limit)

    def child_runs(self, run_id, limit=None):
        return self._reads().child_runs(str(run_id), limit)

    def resolve_run(self, run_id):
        return self._reads().resolve_run(str(run_id))

    def task_states(self, run_id, failed_limit=100):
        return self._reads().task_states(str(run_id), failed_limit)

    def logs(self, run_id, task_name=None, map_index=None, limit=None):
        return self._reads().logs(str(run_id), task_name, map_index, limit)

    def child_state(self, run_id, task_id, index):
        return self._reads().child_state(str(run_id), task_id, index)

    def resume_info(self, run_id):
        return self._resume_record(run_id)[0]

    def recorded_parameters(self, run_id):
        return self._resume_record(run_id)[1]

    def _resume_record(self, run_id: str) -> tuple:
        from ferroflow.client.http import ClientError
        from ferroflow.store.base import ResumeInfo, RunSummary, TaskResume
        from ferroflow.store.errors import UnknownRunError
        from ferroflow.store.wire import decode

        self._reads()
        try:
            data = decode(self.client.get(f"/api/v1/runs/{run_id}/resume"))
        except ClientError as exc:
            if exc.status == 404:
                raise UnknownRunError(str(run_id), self.url) from None
            raise
        run, tasks = data["info"]
        info = ResumeInfo(RunSummary(*run[:len(dataclasses.fields(RunSummary))]),
                          {task_id: TaskResume(*fields) for task_id, fields in tasks.items()})
        parameters = data["parameters"]
        return info, None if parameters is None else {name: tuple(v) for name, v in parameters.items()}

    # ----- the queue ----------------------------------------------------------------

    def _cut(self) -> None:
        """Turn the pending items into batches (lock held)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        at = 0
        while at < len(pending):
            group = pending[at:at + CUT_ITEMS]
            at += len(group)
            body, batch_id = self._encode(group)
            if len(body) > MAX_BATCH_BYTES and len(group) > 1:
                at -= len(group) - len(group) // 2  # halve it and try again
                continue
            self._enqueue(_Batch(batch_id, body))

    def _encode(self, group: list) -> tuple[bytes, str]:
        """The body of a batch of ``group`` with the tokens of its runs; a heartbeat (no
        items) carries the tokens of every live run (lock held)."""
        batch_id = uuid.uuid4().hex
        if group:
            tokens = {run_id: self._owned[run_id] for run_id in {item[1] for item in group} if run_id in self._owned}
        else:
            tokens = dict(self._owned)
        return batch_body(batch_id, tokens, group), batch_id

    def _enqueue(self, batch: _Batch) -> None:
        """Queue a batch after every other: in memory, else (past ``max_memory``) in the
        spool file, else (the spool cannot be written: a full disk) in memory again,
        after the spooled ones."""
        if not self._overflow:
            if self._spool is None and self._outbox_bytes + len(batch.body) > self.max_memory:
                try:
                    self._spool = _Spool.create(self.url)
                except OSError as exc:
                    self._spool_failed(exc)
                else:
                    log.warning("the ferroflow server at %s is not taking records; more than %d MiB wait: further "
                                "batches are kept in %s until it does", self.url, self.max_memory >> 20,
                                self._spool.path)
            if self._spool is not None:
                try:
                    self._spool.append(batch)
                    return
                except OSError as exc:
                    self._spool_failed(exc)
            elif not self._spool_error:
                self._outbox.append(batch)
                self._outbox_bytes += len(batch.body)
                return
        self._overflow.append(batch)

    def _spool_failed(self, exc: OSError) -> None:
        if self._spool_error is None:
            log.warning("cannot write the spool file of records for %s (%s): records are kept in memory instead",
                        self.url, exc)
        self._spool_error = exc

    def _head(self) -> _Batch | None:
        if self._outbox:
            return self._outbox[0]
        if self._spool is not None:
            batch = self._spool.peek()
            if batch is not None:
                return batch
            self._spool.remove()
            self._spool = None
        return self._overflow[0] if self._overflow else None

    def _done(self) -> None:
        """The head batch was taken (or dropped): the next one is the head (lock held)."""
        if self._outbox:
            batch = self._outbox.popleft()
            self._outbox_bytes -= len(batch.body)
        elif self._spool is not None and self._spool.peek() is not None:
            self._spool.advance()
        elif self._overflow:
            self._overflow.popleft()
        self._lock.notify_all()

    def _empty(self) -> bool:
        return (not self._pending and not self._outbox and not self._overflow
                and (self._spool is None or self._spool.peek() is None))

    def _wait_delivered(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._empty():
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._lock.wait(min(left, 0.5))
        return True

    # ----- the sending thread ---------------------------------------------------------

    def _send_loop(self) -> None:
        self._adopt()
        delay = RETRY_FIRST
        while True:
            with self._lock:
                batch, beat = self._next_to_send()
                if batch is None:
                    return
            outcome = self._deliver(batch)
            with self._lock:
                if self._stop_retrying:
                    return  # the process is exiting: what is left went to the spool
                if outcome == "retry":
                    # (the whole backoff: new records do not cut it short)
                    deadline = time.monotonic() + delay
                    while not self._stop_retrying and (left := deadline - time.monotonic()) > 0:
                        self._lock.wait(left)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                delay = RETRY_FIRST
                self._sent_at = time.monotonic()
                if not beat:
                    self._done()

    def _adopt(self) -> None:
        """Send the spool files that processes now gone left for this server (a failure
        leaves them for the next process, or ``ferroflow server push-spool``)."""
        from ferroflow.client.http import ClientError, Unreachable

        try:
            for path, sent in push_spool(self.url, self.client.api_key):
                log.info("sent %d spooled batch(es) of records left in %s", sent, path)
        except (OSError, ClientError, Unreachable) as exc:
            log.debug("spooled records for %s not sent yet: %s", self.url, exc)

    def _next_to_send(self) -> tuple[_Batch | None, bool]:
        """The batch to send next and whether it is a heartbeat; waits for one (lock
        held). None once the store is closed and nothing is left."""
        while True:
            if self._pending and (self._closed or time.monotonic() - self._first_at >= self.interval):
                self._cut()
            batch = self._head()
            if batch is not None:
                return batch, False
            if self._closed:
                return None, False
            since = time.monotonic() - self._sent_at
            if self._owned and since >= LIVE_HEARTBEAT_SECONDS:
                body, batch_id = self._encode([])
                return _Batch(batch_id, body), True
            if self._pending:
                self._lock.wait(max(0.0, self.interval - (time.monotonic() - self._first_at)))
            else:
                self._lock.wait(LIVE_HEARTBEAT_SECONDS - since if self._owned else None)

    _stop_retrying = False

    def _deliver(self, batch: _Batch) -> str:
        """Send one batch: ``"ok"``, ``"retry"`` (kept) or ``"dropped"``."""
        from ferroflow.client.http import ClientError, Unreachable

        try:
            answer = self.client.post_raw(RECORDS_PATH, batch.body)
        except Unreachable as exc:
            self._unreachable(str(exc))
            return "retry"
        except ClientError as exc:
            if exc.status >= 500 or exc.status == 429:
                self._unreachable(f"{exc.status} {exc.title}: {exc.detail}")
                return "retry"
            with self._lock:
                self._failure = StateStoreError("refused", self.url, "write",
                                                f"the server refused a batch of records ({exc.status} {exc.title}: "
                                                f"{exc.detail}){_older_server(exc.status, exc.detail)}; those "
                                                f"records are lost")
            log.warning("the ferroflow server at %s refused a batch of records: %s %s: %s", self.url, exc.status,
                        exc.title, exc.detail)
            return "dropped"
        if self._failing is not None:
            log.warning("the ferroflow server at %s takes records again; the records kept meanwhile are sent",
                        self.url)
            self._failing = None
        self._learn(answer)
        return "ok"

    def _unreachable(self, why: str) -> None:
        if self._failing is None:
            log.warning("the ferroflow server at %s cannot be reached (%s): records are kept and sent when it "
                        "answers; the flow run goes on", self.url, why)
        self._failing = why

    def _learn(self, answer: dict) -> None:
        lost = answer.get("lost") or {}
        refused = answer.get("refused") or {}
        cancelling = answer.get("cancelling") or ()
        if cancelling:
            with self._lock:
                self._cancelling.update(run_id for run_id in cancelling if run_id in self._owned)
        if lost or refused:
            with self._lock:
                for run_id, why in lost.items():
                    self._owned.pop(run_id, None)
                    self._lost[run_id] = RunLostError(run_id, why.get("state"), why.get("message"),
                                                      why.get("resumed_by"))
                for run_id, why in refused.items():
                    self._owned.pop(run_id, None)
                    self._refused[run_id] = why

    # ----- the end of the process -----------------------------------------------------

    def _shutdown(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the queue to empty; spool what is left; stop."""
        with self._lock:
            self._cut()
            self._closed = True
            self._lock.notify_all()
        self._thread.join(timeout)
        with self._lock:
            self._stop_retrying = True
            self._lock.notify_all()
            first, last = list(self._outbox), list(self._overflow)
            spooled = self._spool is not None and self._spool.peek() is not None
            if first or last or spooled:
                self._spool_at_exit(first, last)
            elif self._spool is not None:
                self._spool.remove()
            self._outbox.clear()
            self._overflow.clear()
        _STORES.discard(self)
        self.client.close()

    def _spool_at_exit(self, first: list, last: list) -> None:
        """Write what is left to the spool file, in order: ``first`` (from memory) before
        what the file holds, ``last`` after it; say where, or what was lost."""
        try:
            spool = self._spool or _Spool.create(self.url)
            spool.prepend_all(first)
            for batch in last:
                spool.append(batch)
            spool.release()
        except OSError as exc:
            lost = len(first) + len(last)
            print(f"ferroflow: the server at {self.url} did not take every record before exit, and they cannot be "
                  f"kept on disk ({exc}): {lost} batch(es) of records are lost", file=sys.stderr)
            return
        print(f"ferroflow: the server at {self.url} did not take every record before exit; they are kept in "
              f"{spool.path} and sent by the next process that records to it (or `ferroflow server push-spool`)",
              file=sys.stderr)


class _Spool:
    """Batches on disk: a file of lines (``batch_id body``) after a first line naming the
    server, locked while its process lives. This process keeps where each of its lines
    is, so reading one back is one ``pread``; a line that could not be written whole
    (the disk is full) is cut off again, so the file never holds half a batch."""

    def __init__(self, path: Path, fd: int, end: int):
        self.path = path
        self.fd = fd
        self.start = self.end = end  # after the first line; the end of the last batch
        self.entries: deque = deque()  # (batch id, offset, length) of each line, oldest first

    @classmethod
    def create(cls, url: str) -> _Spool:
        path = spool_dir() / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.spool"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            spool = cls(path, fd, 0)
            spool._write(base64.b64encode(url.encode()) + b"\n")
        except OSError:
            os.close(fd)
            os.unlink(path)
            raise
        spool.start = spool.end
        return spool

    def _write(self, line: bytes) -> None:
        at = self.end
        try:
            if os.pwrite(self.fd, line, at) != len(line):
                raise OSError(errno.ENOSPC, "the spool file could not take the whole batch")
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, at)
            raise
        self.end = at + len(line)

    def append(self, batch: _Batch) -> None:
        at = self.end
        self._write(batch.batch_id.encode() + b" " + batch.body + b"\n")
        self.entries.append((batch.batch_id, at, self.end - at))

    def prepend_all(self, batches: list) -> None:
        """Put ``batches`` (taken from memory, older than every spooled one) first."""
        if not batches:
            return
        kept = [os.pread(self.fd, length, at) for _, at, length in self.entries]
        ids = [batch_id for batch_id, _, _ in self.entries]
        os.ftruncate(self.fd, self.start)
        self.end = self.start
        self.entries.clear()
        for batch in batches:
            self.append(batch)
        for batch_id, line in zip(ids, kept, strict=True):
            at = self.end
            self._write(line)
            self.entries.append((batch_id, at, len(line)))

    def peek(self) -> _Batch | None:
        if not self.entries:
            return None
        batch_id, at, length = self.entries[0]
        line = os.pread(self.fd, length, at)
        return _Batch(batch_id, line[len(batch_id) + 1:-1])

    def advance(self) -> None:
        if self.entries:
            self.entries.popleft()

    def release(self) -> None:
        """Keep the file for a later process (synced, unlocked)."""
        os.fsync(self.fd)
        os.close(self.fd)

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        finally:
            os.close(self.fd)


def push_spool(url: str | None = None, api_key: str | None = None) -> list:
    """Send the spool files left by processes that are gone (to the server each names,
    or only those for ``url``); return ``[(path, batches sent)]``. A file whose process
    still lives (it holds the lock) is left alone."""
    from ferroflow.client.http import Client, ClientError

    done = []
    directory = spool_dir()
    for path in sorted(directory.glob("*.spool")):
        try:
            handle = open(path, "r+b")  # (closed below)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its process lives
            target = base64.b64decode(handle.readline().strip() or b"").decode(errors="replace").rstrip("/")
            if not target or (url is not None and target != url.rstrip("/")):
                continue  # (not written yet by a process that just made it, or another server's)
            sent = 0
            with Client(target, api_key=api_key) as client:
                for line in handle:
                    if not line.endswith(b"\n"):
                        break
                    _, _, body = line[:-1].partition(b" ")
                    try:
                        client.post_raw(RECORDS_PATH, body)  # unreachable: the file stays for next time
                    except ClientError as exc:
                        if exc.status >= 500 or exc.status in (401, 403, 429):
                            raise
                        log.warning("the server at %s refused a spooled batch of records from %s (%s %s: %s); "
                                    "it is dropped", target, path.name, exc.status, exc.title, exc.detail)
                        continue
                    sent += 1
            os.unlink(path)
            done.append((path, sent))
        finally:
            handle.close()
    return done


_STORES: set = set()


def _close_at_exit() -> None:
    for store in list(_STORES):
        if store._pid == os.getpid():
            store._shutdown(store.exit_timeout)


atexit.register(_close_at_exit)

"""The built-in ``processes`` executor: runs work units in a small pool of worker
processes. Use it for CPU-bound pure-Python tasks (one GIL per worker), to contain
code that may crash, and for timeouts that stop the work.

Design, and why:

* **Its own pool, not** ``concurrent.futures.ProcessPoolExecutor``: there, one dead
  worker breaks the whole pool (``BrokenProcessPool``) and every pending future with
  it. Here a worker that dies (segfault, ``os._exit``, ``kill -9``, the OOM killer)
  fails only the task run it was running, with a :class:`WorkerCrashedError` naming
  the task, the map index and the exit code or signal; the other task runs of its unit
  run again in another worker (up to ``allowed_crashes`` deaths per unit, then they
  fail with it), a replacement worker is started when there is work for it, and the
  flow goes on. Those failures are retried like any other (``max_retries``).
* **Fresh interpreters**, started like ``multiprocessing``'s ``spawn`` (never
  ``fork``: forking a process that has threads, as the flow process may, can
  deadlock the child), but through :mod:`subprocess`, so that the flow's ``__main__``
  module is *not* re-imported in each worker: a script that calls ``flow.run()``
  without an ``if __name__ == "__main__":`` guard works. Workers get the flow
  process's ``sys.path``, so tasks defined in importable modules are found by
  reference; the rest travels by value with cloudpickle.
* **Small payloads, batches.** Units travel as :mod:`~ferroflow.executors.shipping`
  packs them: a unit's own part (its keyword arguments, mapped columns sliced to the
  unit, attempt numbers) and the parts units share -- the run's context, a mapped
  task's plan (function, state handlers, options) and unmapped arguments -- pickled
  once per run and sent once per worker, then named by key (each worker keeps the last
  :data:`~ferroflow.executors._worker.CACHE_SIZE`). The ready runs of ordinary tasks
  come as batches (``batches = True``): a layer of a hundred tasks is a couple of
  round trips, not a hundred. No flow object crosses.
* **Results** travel back pickled. A value that does not pickle fails its task run
  with a :class:`~ferroflow.results.SerializationError` naming task, map index and
  type; the unit's other runs keep their results.
* **Logs**: records emitted in a worker while a unit runs (``get_logger()``, printed
  lines with ``log_stdout=True``, any other logger) come back with the unit's results
  and are handled again in the flow process, in the task run they belong to: they
  reach ``state.logs`` and the flow process's handlers with their original time.
  They arrive when the unit finishes, not as they are emitted.
* **Timeouts are hard**: a worker runs units in its main thread, so ``timeout=``
  interrupts the task run with ``SIGALRM`` (as ``local`` does). A task run stuck in C
  code that does not return to Python is stopped anyway: when it is still running
  ``grace`` seconds after its timeout, the flow process kills the worker (and every
  process in its process group) and records the run ``TimedOut``.
* **Ctrl-C / errors**: each worker is in its own session, so a terminal's Ctrl-C
  reaches only the flow process; ``shutdown()`` then sends ``SIGTERM`` to the process
  group of every busy worker, ``SIGKILL`` after ``grace`` seconds, and stops idle
  workers. A worker whose flow process disappears (even ``kill -9``) kills its own
  process group (a *lifeline* pipe reaches end of file).

POSIX only (it relies on ``pass_fds``, process groups and ``SIGALRM``).
"""

from __future__ import annotations

import dataclasses
import fcntl
import itertools
import json
import mmap
import multiprocessing.spawn
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict, deque
from multiprocessing import connection
from multiprocessing.connection import Connection
from typing import Any

from ferroflow.errors import ExecutorError
from ferroflow.executors._worker import CACHE_SIZE, LOADING, MARK_BYTES
from ferroflow.executors.base import Executor
from ferroflow.executors.shipping import (
    Parcel,
    RemoteTaskError,
    Shipper,
    WorkerCrashedError,
    failed_result,
    logging_levels,
    map_index,
    rules_of,
    run_name,
    subject_of,
    task_name_at,
)
from ferroflow.executors.threads import check_workers
from ferroflow.plugins import hookimpl
from ferroflow.runtime.timeouts import TaskTimeout
from ferroflow.runtime.unit import UnitResult, WorkUnit, outcome_of_exception

__all__ = ["ProcessesExecutor", "WorkerCrashedError", "RemoteTaskError", "default_process_workers"]

#: How a worker starts: set ``sys.path`` to the flow process's, then serve.
_BOOT = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
         "from ferroflow.executors._worker import main; main(sys.argv[2:])")
#: Seconds between checks for workers that died without closing their pipe, and
#: between checks of running task runs' timeouts.
_POLL = 1.0
_TIMEOUT_POLL = 0.1
#: Pipe buffer asked for (Linux), in bytes.
PIPE_BYTES = 1 << 20


def default_process_workers() -> int:
    """The default pool size: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _Job:
    """A parcel on its way to a worker (``unit``: what it runs)."""

    __slots__ = ("parcel", "uid", "rest_of")

    def __init__(self, parcel: Parcel, uid: int):
        self.parcel = parcel
        self.uid = uid
        #: Set when this job runs again the task runs a worker's death interrupted.
        self.rest_of: _Rest | None = None

    @property
    def unit(self) -> Any:
        return self.parcel.sent

    @property
    def refs(self) -> tuple:
        """``(key, bytes)`` of each shared part the job's unit needs."""
        return tuple((piece.key, piece.blob) for piece in self.parcel.pieces if piece is not None)

    @property
    def body(self) -> bytes:
        return self.parcel.head


@dataclasses.dataclass
class _Rest:
    """What a job that re-runs the rest of a crashed unit completes."""

    job: _Job  # the job whose worker died
    result: UnitResult  # its result: the crashed task run's outcome, the rest to fill
    positions: list  # where the re-run task runs sit in that result
    deaths: int  # worker deaths of the first job's unit so far


class _Encoder:
    """Turns units into jobs (:class:`~ferroflow.executors.shipping.Shipper` packs them)."""

    def __init__(self) -> None:
        self._shipper = Shipper("a worker process")

    def job(self, unit: Any, uid: int) -> _Job:
        return _Job(self._shipper.pack(unit), uid)


class _Worker:
    """The flow process's handle on one worker process."""

    def __init__(self, proc: subprocess.Popen, commands: Connection, results: Connection, mark: memoryview,
                 mapped: mmap.mmap):
        self.proc = proc
        self.pid = proc.pid
        self.commands = commands
        self.results = results
        self.mark = mark
        self.mapped = mapped
        self.keys: OrderedDict = OrderedDict()  # the worker's cache, mirrored
        self.ready = False
        self.job: _Job | None = None
        self.seen = LOADING  # position last seen in the mark, and since when
        self.seen_at = 0.0

    def close(self) -> None:
        for conn in (self.commands, self.results):
            conn.close()
        self.mark.release()
        self.mapped.close()


class ProcessesExecutor(Executor):
    """Run work units in up to ``max_workers`` worker processes (default: the CPUs
    available), started when there is work for them.

    ``grace``: seconds a worker is given to stop by itself before it is killed — after a
    task run's ``timeout`` when ``SIGALRM`` did not stop it, and at shutdown when units
    are still running (default 5).

    ``allowed_crashes``: how many times the workers running one unit may die before
    the unit gives up. Up to that, a worker's death fails only the task run it was
    running, and the unit's other task runs are run again in another worker (the ones
    that had finished too: their results died with the process). Past it, they fail
    with the crash (default 3; 0: a death fails the whole unit at once).
    """

    name = "processes"
    batches = True  # shipping.py packs TaskRuns batches too

    def __init__(self, max_workers: int | None = None, grace: float = 5.0, allowed_crashes: int = 3) -> None:
        self.max_workers = check_workers(max_workers, default_process_workers())
        if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0:
            raise ValueError(f"grace must be a number of seconds >= 0, got {grace!r}")
        self.grace = float(grace)
        if isinstance(allowed_crashes, bool) or not isinstance(allowed_crashes, int) or allowed_crashes < 0:
            raise ValueError(f"allowed_crashes must be a whole number >= 0, got {allowed_crashes!r}")
        self.allowed_crashes = allowed_crashes
        self._workers: list[_Worker] = []
        self._started = False
        #: Counters of the last run, for the curious (and the tests): units and bytes sent,
        #: shared parts (run info, a mapped task's plan, unmapped arguments) sent, workers
        #: started, units sent again without the task run that crashed their worker.
        self.stats = {"units": 0, "bytes": 0, "blobs": 0, "workers": 0, "reruns": 0}

    def __repr__(self) -> str:
        return f"ProcessesExecutor(max_workers={self.max_workers})"

    # ----- the contract ---------------------------------------------------------

    def start(self) -> None:
        self._workers = []
        self._idle: deque = deque()
        self._queue: deque = deque()
        self._finished: list = []  # results decided without a worker
        self._uids = itertools.count(1)
        self._encoder = _Encoder()
        self._lifeline = os.pipe()
        self.stats = {"units": 0, "bytes": 0, "blobs": 0, "workers": 0, "reruns": 0}
        self._started = True

    def slots(self) -> int:
        return self.max_workers

    def submit(self, unit: WorkUnit) -> None:
        if not self._started:
            raise RuntimeError("ProcessesExecutor.submit() before start()")
        job = self._encoder.job(unit, next(self._uids))
        if job.unit is None:  # nothing of it can be sent: its runs failed, saying why
            self._finished.append((unit, job.parcel.decided))
            return
        self._queue.append(job)
        self._dispatch()

    def wait(self) -> list:
        if not self._started:
            raise RuntimeError("ProcessesExecutor.wait() before start()")
        out, self._finished = self._finished, []
        block = not out
        while True:
            if not any(w.job is not None for w in self._workers) and not self._queue:
                if out:
                    return out
                raise RuntimeError("ProcessesExecutor.wait() with no unit in flight")
            timed = [w for w in self._workers if w.job is not None and w.job.unit.timeout is not None]
            timeout = (_TIMEOUT_POLL if timed else _POLL) if block else 0
            by_conn: dict[Any, _Worker] = {w.results: w for w in self._workers}
            ready = connection.wait(list(by_conn), timeout)
            for conn in ready:
                self._receive(by_conn[conn], out)
            self._check(out, timed, deaths=not ready)
            if out:
                return out
            block = True

    def shutdown(self) -> None:
        if not self._started:
            return
        self._started = False
        workers, self._workers = self._workers, []
        self._queue.clear()
        self._idle.clear()
        busy = []
        for w in workers:
            if w.job is None and w.ready:
                try:
                    w.commands.send_bytes(pickle.dumps(("stop",)))
                except OSError:
                    pass
            else:
                busy.append(w)
                _killpg(w.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for w in workers:
            _exited(w.proc, deadline)
            if w in busy or not _has_exited(w.proc):
                _killpg(w.pid, signal.SIGKILL)
            w.proc.wait()
            w.close()
        for fd in self._lifeline:
            os.close(fd)

    # ----- workers ----------------------------------------------------------------

    def _spawn(self) -> _Worker:
        commands_r, commands_w = os.pipe()
        results_r, results_w = os.pipe()
        for fd in (commands_w, results_w):
            _widen(fd)
        with tempfile.TemporaryFile() as mark_file:
            os.ftruncate(mark_file.fileno(), MARK_BYTES)
            mapped = mmap.mmap(mark_file.fileno(), MARK_BYTES)
            fds = (commands_r, results_w, self._lifeline[0], mark_file.fileno())
            try:
                proc = subprocess.Popen(
                    [multiprocessing.spawn.get_executable(), "-c", _BOOT, _sys_path(), *map(str, fds)],
                    pass_fds=fds, start_new_session=True, stdin=subprocess.DEVNULL)
            except BaseException:
                for fd in (commands_w, results_r):
                    os.close(fd)
                mapped.close()
                raise
            finally:
                os.close(commands_r)
                os.close(results_w)
        mark = memoryview(mapped).cast("q")
        mark[0] = LOADING
        worker = _Worker(proc, Connection(commands_w, readable=False), Connection(results_r, writable=False),
                         mark, mapped)
        self._workers.append(worker)
        self.stats["workers"] += 1
        levels, disable = logging_levels()
        try:
            worker.commands.send_bytes(pickle.dumps(("init", levels, disable)))
        except OSError:
            pass  # it died at once: its result pipe says so, and _lost() tells why
        return worker

    def _dispatch(self) -> None:
        while self._queue:
            if self._idle:
                worker = self._idle.popleft()
            elif len(self._workers) < self.max_workers:
                worker = self._spawn()
            else:
                return
            self._send(worker, self._queue.popleft())

    def _send(self, worker: _Worker, job: _Job) -> None:
        # The worker keeps the last CACHE_SIZE shared parts it was sent, as ``keys``
        # mirrors: a part it has goes as None.
        keys = worker.keys
        blobs = []
        for piece in job.parcel.pieces:
            if piece is None or not piece.key:
                blobs.append(None if piece is None else piece.blob)
            elif piece.key in keys:
                keys.move_to_end(piece.key)
                blobs.append(None)
            else:
                keys[piece.key] = None
                if len(keys) > CACHE_SIZE:
                    keys.popitem(last=False)
                blobs.append(piece.blob)
                self.stats["blobs"] += 1
        data = pickle.dumps(("unit", job.uid, job.parcel.head, tuple(blobs)), protocol=pickle.HIGHEST_PROTOCOL)
        worker.job = job
        worker.mark[0] = LOADING
        worker.seen, worker.seen_at = LOADING, time.monotonic()
        self.stats["units"] += 1
        self.stats["bytes"] += len(data)
        try:
            worker.commands.send_bytes(data)
        except OSError:
            pass  # it died: its result pipe says so, and the unit fails as a crash

    def _receive(self, worker: _Worker, out: list) -> None:
        try:
            data = worker.results.recv_bytes()
        except (EOFError, OSError):
            self._lost(worker, out, None)
            return
        message = pickle.loads(data)
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            return
        job = worker.job
        if job is None or message[1] != job.uid:
            raise ExecutorError(f"worker process {worker.pid} answered for a unit it was not given")
        worker.job = None
        self._finish(job, job.parcel.unpack_sent(message[2], "in a worker process"), out)
        self._idle.append(worker)
        self._dispatch()

    def _check(self, out: list, timed: list, deaths: bool) -> None:
        """Find task runs that outlived their timeout by ``grace`` seconds and (when
        ``deaths``) workers that died without closing their pipe."""
        now = time.monotonic()
        if deaths:
            for worker in list(self._workers):
                if _has_exited(worker.proc):
                    self._lost(worker, out, None)
        for worker in timed:
            if worker.job is None or worker not in self._workers:
                continue
            position = worker.mark[0]
            if position != worker.seen:
                worker.seen, worker.seen_at = position, now
            elif position >= 0 and now - worker.seen_at > worker.job.unit.timeout + self.grace:
                _killpg(worker.pid, signal.SIGKILL)
                unit = worker.job.unit
                self._lost(worker, out, f"was killed: task run {run_name(unit, position)!r} was still running "
                                        f"{self.grace:g} s after its timeout of {unit.timeout:g} s, in code "
                                        f"that did not return to Python")

    def _lost(self, worker: _Worker, out: list, overran: str | None) -> None:
        """``worker`` died (or was killed, ``overran`` says why: a task run outlived its
        timeout): fail the task run it was running, run the others of its unit again
        (or, past ``allowed_crashes``, fail them too), forget the worker; a replacement
        starts when needed."""
        position = worker.mark[0]
        # The process group first (the worker is dead or a zombie, so its id is still
        # reserved): processes its task started die with it.
        _killpg(worker.pid, signal.SIGKILL)
        code = worker.proc.wait()
        worker.close()
        self._workers.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        job, worker.job = worker.job, None
        if not worker.ready:
            raise ExecutorError(f"A worker process (pid {worker.pid}) of the processes executor could not "
                                f"start: it {_how(code)} (its error output, if any, is on stderr)")
        if job is not None:
            deaths = 1 + (job.rest_of.deaths if job.rest_of is not None else 0)
            others = job.unit.size > 1 and 0 <= position < job.unit.size  # to run again, or fail with it
            over = others and deaths > self.allowed_crashes
            result = _crashed(job.unit, worker.pid, code, position, overran,
                              f"its work unit's workers died {deaths} time(s), and allowed_crashes is "
                              f"{self.allowed_crashes}" if over else None)
            if over or not others or not self._rerun(job, result, position, deaths):
                self._finish(job, result, out)
        self._dispatch()

    def _rerun(self, job: _Job, result: UnitResult, position: int, deaths: int) -> bool:
        """Queue (first) a job that runs ``job``'s task runs but the one at ``position``,
        whose crash is in ``result``; False if that cannot be sent."""
        positions = [j for j in range(job.unit.size) if j != position]
        rest = self._encoder.job(job.unit.subset(positions), next(self._uids))
        if rest.unit is None:  # (it was sent once: the unit changed meanwhile)
            return False
        rest.rest_of = _Rest(job, result, positions, deaths)
        self._queue.appendleft(rest)
        self.stats["reruns"] += 1
        return True

    def _finish(self, job: _Job, result: UnitResult, out: list) -> None:
        """``job`` ended with ``result``: the unit it runs is done, or completes the
        unit of the job it runs again."""
        while job.rest_of is not None:
            rest = job.rest_of
            rest.result.place(rest.positions, job.parcel.finish(result))
            job, result = rest.job, rest.result
        out.append((job.parcel.unit, job.parcel.finish(result)))


# ----- outcomes ------------------------------------------------------------------------


def _crashed(unit: Any, pid: int, exitcode: int, position: int, overran: str | None,
             over: str | None = None) -> UnitResult:
    """Every task run of ``unit`` (a WorkUnit or a batch) failed because its worker
    died (``overran``: was killed, and why) while at ``position``; ``over``: why the
    others are not run again."""
    n = unit.size
    running = 0 <= position < n
    if overran is not None:
        what = overran
    elif running:
        what = f"{_how(exitcode)} while running task run {run_name(unit, position)!r}"
    else:
        doing = "loading" if position == LOADING else "sending back"
        what = f"{_how(exitcode)} while {doing} a work unit of {subject_of(unit)}"
    name = task_name_at(unit, position) if running else unit.label
    error = WorkerCrashedError(f"The worker process (pid {pid}) {what}", name,
                               map_index(unit, position) if running else None, exitcode, pid)
    result = failed_result(unit, error)
    why = over or "the task runs of a work unit share their worker's fate"
    lost = f"Lost with its worker process (pid {pid}), which {what} ({why})"
    result.details = dict.fromkeys(range(n), (lost, None))
    if running:
        if overran is not None:
            timeout = TaskTimeout(f"Task timed out after {unit.timeout:g} s (hard: its worker process was killed)")
            result.codes[position], result.values[position], result.details[position] = outcome_of_exception(
                timeout, rules_of(unit)[position])
        else:
            result.details[position] = (f"Its worker process (pid {pid}) {_how(exitcode)} while running this "
                                        f"task run", None)
    return result


def _how(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} (exit code {code})"
    return f"exited with code {code}"


# ----- processes ---------------------------------------------------------------------


def _sys_path() -> str:
    """This process's ``sys.path``, for a worker's command line."""
    return json.dumps([os.fspath(p) for p in sys.path if isinstance(p, (str, os.PathLike))])


def _widen(fd: int) -> None:
    """Give a pipe a 1 MiB buffer where the OS allows (Linux), so that sending a unit
    or its results rarely waits for the other side to read."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if size is None:  # pragma: no cover - not Linux
        return
    try:
        fcntl.fcntl(fd, size, PIPE_BYTES)
    except OSError:  # above /proc/sys/fs/pipe-max-size for an unprivileged process
        pass


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _has_exited(proc: subprocess.Popen) -> bool:
    """Whether ``proc`` has exited, without reaping it where the OS allows (so its
    process group id stays reserved for a last ``killpg``)."""
    if proc.returncode is not None:
        return True
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # pragma: no cover - macOS
        return proc.poll() is not None
    try:
        return waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # pragma: no cover - reaped elsewhere
        return True


def _exited(proc: subprocess.Popen, deadline: float) -> None:
    """Wait until ``proc`` has exited or ``deadline`` passed."""
    while not _has_exited(proc) and time.monotonic() < deadline:
        time.sleep(0.005)


@hookimpl
def register_executors(register) -> None:
    register("processes", ProcessesExecutor)

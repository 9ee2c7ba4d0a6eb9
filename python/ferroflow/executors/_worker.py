"""The worker side of the ``processes`` executor, and what both sides share.

A worker is a fresh interpreter started by :class:`~ferroflow.executors.processes.
ProcessesExecutor` with four inherited file descriptors: commands in, results out, a
*lifeline* (a pipe whose write end only the flow process holds: end of file means it
died) and a *mark*, eight shared bytes through which the worker says which task run of
its unit it is running (so a crash is attributed to the right map index).

Protocol (each message one ``Connection.send_bytes``, pickled):

* flow process -> worker: ``("init", levels, disable)`` once, then
  ``("unit", uid, refs, body)`` per unit and ``("stop",)``. ``refs`` are the run info,
  the task (``remote.TASK_FIELDS``: function, owner, state handlers, checkpoint, retry
  condition) and, for mapped units, the shared keyword
  arguments, each ``(key, bytes)`` the first time this worker sees it and ``(key,
  None)`` afterwards: both sides keep the same small LRU of keys, so a task's function
  crosses the pipe once per worker, not once per unit.
* worker -> flow process: ``("ready", pid)`` once, then per unit ``("done", uid,
  payload)`` (payload: codes, values, details, the log records the unit emitted and
  its task runs' loop state) or
  ``("error", uid, message, traceback)`` when the unit could not even run.
"""

from __future__ import annotations

import faulthandler
import logging
import mmap
import os
import pickle
import signal
import sys
import threading
import traceback
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any, Optional

import cloudpickle

from ferroflow.runtime.context import USER_VALUES, Frame
from ferroflow.runtime.unit import WorkUnit
# What both sides share with remote executors (Dask, Ray...) lives in remote.py.
from ferroflow.executors.remote import (
    encode_result,
    one_line,
    restore_source_file,
    run_name,
)
from ferroflow.executors.remote import LogCapture as _Capture

__all__ = ["main"]

#: Keys each worker keeps (function, run info, shared arguments), least recently used out.
CACHE_SIZE = 16
#: Bytes of the shared mark: one signed 64-bit position.
MARK_BYTES = 8
#: Mark values besides a position ``j >= 0``: loading the unit, and sending it back.
LOADING, RETURNING = -1, -2


class _Broken:
    """A cached object that failed to load; kept so both sides' caches stay in step."""

    def __init__(self, error: BaseException, text: str):
        self.error = error
        self.text = text


class _TrackedFrame(Frame):
    """The unit's frame, whose position also goes to the shared mark as it moves."""

    __slots__ = ("_j", "_mark")

    def _get_j(self) -> int:
        return self._j

    def _set_j(self, value: int) -> None:
        self._j = value
        self._mark[0] = value

    j = property(_get_j, _set_j)  # type: ignore[assignment]

    def __reduce__(self) -> Any:  # travels (if ever) as a plain Frame
        plain = object.__new__(Frame)
        for name in Frame.__slots__:
            setattr(plain, name, self._j if name == "j" else getattr(self, name, None))
        return plain.__reduce_ex__(2)


def _tracked(frame: Frame, run: Any, mark: memoryview) -> _TrackedFrame:
    tracked = object.__new__(_TrackedFrame)
    for name in Frame.__slots__:
        if name != "j":
            object.__setattr__(tracked, name, getattr(frame, name))
    tracked.run = run
    tracked._mark = mark
    tracked._j = 0
    return tracked


class Worker:
    """The loop of one worker process."""

    def __init__(self, commands: Connection, results: Connection, mark: memoryview):
        self.commands = commands
        self.results = results
        self.mark = mark
        self.cache: OrderedDict = OrderedDict()
        self.capture = _Capture()

    def serve(self) -> None:
        kind, levels, disable = pickle.loads(self.commands.recv_bytes())
        assert kind == "init", kind
        root = logging.getLogger()
        for name, level in levels.items():
            (root if name == "" else logging.getLogger(name)).setLevel(level)
        logging.disable(disable)
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(self.capture)
        self.results.send_bytes(pickle.dumps(("ready", os.getpid())))
        while True:
            try:
                data = self.commands.recv_bytes()
            except EOFError:
                return
            message = pickle.loads(data)
            if message[0] == "stop":
                return
            reply = self.handle(*message[1:])
            self.results.send_bytes(reply)
            del reply, message, data

    def _resolve(self, ref: Any) -> Any:
        if ref is None:
            return None
        key, data = ref
        cache = self.cache
        if data is None:
            cache.move_to_end(key)
            return cache[key]
        try:
            value = cloudpickle.loads(data)
        except Exception as exc:  # noqa: BLE001 - reported with the unit that needs it
            value = _Broken(exc, traceback.format_exc())
        cache[key] = value
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        return value

    def handle(self, uid: int, refs: tuple, body: bytes) -> bytes:
        self.mark[0] = LOADING
        # Every ref first, so the cache stays in step with the flow process's copy.
        run, task, static = (self._resolve(ref) for ref in refs)
        try:
            for part in (run, task, static):
                if isinstance(part, _Broken):
                    return _error(uid, f"could not load it: {one_line(part.error)}", part.text)
            unit, user, loops = cloudpickle.loads(body)
        except Exception as exc:  # noqa: BLE001 - e.g. a module the worker cannot import
            return _error(uid, f"could not load it: {one_line(exc)}", traceback.format_exc())
        names, values, filename = task
        for name, value in zip(names, values):
            setattr(unit, name, value)
        if filename is not None:
            restore_source_file(unit.fn, filename)
        if static is not None:
            unit.static = static
        if unit.frame is not None:
            unit.frame = _tracked(unit.frame, run, self.mark)
        kept = getattr(run, "loops", None)  # iterations to resume: only this unit's
        if kept is not None:
            kept.clear()
            kept.update(loops or {})
        return self._run(uid, unit, user, kept)

    def _run(self, uid: int, unit: WorkUnit, user: Optional[dict], loops: Optional[dict]) -> bytes:
        records: list = []
        self.capture.records = records
        token = USER_VALUES.set(user) if user else None
        try:
            result = unit.run()
        except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt raised by a task
            return _error(uid, f"task run {run_name(unit, self.mark[0])!r} raised {exc!r}; the "
                               f"{unit.size} task run(s) of its work unit were abandoned",
                          "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        finally:
            self.mark[0] = RETURNING
            self.capture.records = None
            if token is not None:
                USER_VALUES.reset(token)
            sys.stdout.flush()
        back = dict(loops) if loops else None
        if loops:
            loops.clear()
        try:
            return pickle.dumps(("done", uid, encode_result(unit, result, records, back)))
        except Exception as exc:  # noqa: BLE001 - e.g. MemoryError while pickling
            return _error(uid, f"could not send its results back: {one_line(exc)}", traceback.format_exc())


def _error(uid: int, reason: str, text: Optional[str]) -> bytes:
    return pickle.dumps(("error", uid, f"{reason} (worker pid {os.getpid()})", text))


def _watch_lifeline(fd: int) -> None:
    """End this worker and every process it started once the flow process is gone."""

    def watch() -> None:
        while True:
            try:
                if not os.read(fd, 1):
                    break
            except OSError:
                break
        try:
            os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="ferroflow-lifeline", daemon=True).start()


def main(argv: list) -> None:
    """Entry point of a worker: ``argv`` holds the four inherited descriptors."""
    commands_fd, results_fd, lifeline_fd, mark_fd = (int(a) for a in argv)
    for fd in (commands_fd, results_fd, lifeline_fd, mark_fd):
        os.set_inheritable(fd, False)  # never leak them into processes a task starts
    _watch_lifeline(lifeline_fd)
    faulthandler.enable()  # a segfault prints the Python stack on stderr
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        pass
    mapped = mmap.mmap(mark_fd, MARK_BYTES)
    os.close(mark_fd)
    mark = memoryview(mapped).cast("q")
    Worker(Connection(commands_fd, writable=False), Connection(results_fd, readable=False), mark).serve()
    # Told to stop (or the flow process closed the pipe): nothing of ours is left to
    # clean up, so skip the interpreter's slow teardown.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(0)

"""The worker side of the ``processes`` executor, and what both sides share.

A worker is a fresh interpreter started by :class:`~ferroflow.executors.processes.
ProcessesExecutor` with four inherited file descriptors: commands in, results out, a
*lifeline* (a pipe whose write end only the flow process holds: end of file means it
died) and a *mark*, eight shared bytes through which the worker says which task run of
its unit it is running (so a crash is attributed to the right map index).

Protocol (each message one ``Connection.send_bytes``, pickled):

* flow process -> worker: ``("init", levels, disable)`` once, then
  ``("unit", uid, refs, body)`` per unit and ``("stop",)``. ``refs`` are the run info,
  the task (function, owner, state handlers) and, for mapped units, the shared keyword
  arguments, each ``(key, bytes)`` the first time this worker sees it and ``(key,
  None)`` afterwards: both sides keep the same small LRU of keys, so a task's function
  crosses the pipe once per worker, not once per unit.
* worker -> flow process: ``("ready", pid)`` once, then per unit ``("done", uid,
  payload)`` (payload: codes, values, details and the log records the unit emitted) or
  ``("error", uid, message, traceback)`` when the unit could not even run.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import logging
import mmap
import os
import pickle
import signal
import sys
import threading
import traceback
import types
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any, Optional

import cloudpickle

from ferroflow.engine.context import _USER, Frame, current_frame
from ferroflow.errors import ExecutorError
from ferroflow.executors import base
from ferroflow.executors.base import UnitResult, WorkUnit, _outcome

__all__ = ["WorkerCrashedError", "RemoteTaskError", "main"]

#: Keys each worker keeps (function, run info, shared arguments), least recently used out.
CACHE_SIZE = 16
#: Bytes of the shared mark: one signed 64-bit position.
MARK_BYTES = 8
#: Mark values besides a position ``j >= 0``: loading the unit, and sending it back.
LOADING, RETURNING = -1, -2

_PLAIN = (str, int, float, bool, type(None))


class WorkerCrashedError(ExecutorError):
    """The worker process running a task run died (a crash, ``os._exit``, a signal,
    the kernel's OOM killer) or had to be killed.

    Attributes: ``task_name``, ``map_index`` (the child that was running, when known),
    ``exitcode`` (negative: the signal number) and ``pid``.
    """

    def __init__(self, message: str, task_name: Optional[str] = None, map_index: Optional[int] = None,
                 exitcode: Optional[int] = None, pid: Optional[int] = None):
        super().__init__(message)
        self.task_name = task_name
        self.map_index = map_index
        self.exitcode = exitcode
        self.pid = pid

    def __reduce__(self) -> Any:
        return (type(self), (self.args[0], self.task_name, self.map_index, self.exitcode, self.pid))


class RemoteTaskError(Exception):
    """Stands for an exception a task raised in a worker process that could not travel
    back as itself (it does not pickle, or not back). ``type_name`` is its class."""

    def __init__(self, message: str, type_name: str = ""):
        super().__init__(message)
        self.type_name = type_name

    def __reduce__(self) -> Any:
        return (type(self), (self.args[0], self.type_name))


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def type_name(value: Any) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def map_index(unit: WorkUnit, j: int) -> Optional[int]:
    return None if unit.indices is None else unit.indices[j]


def run_name(unit: WorkUnit, j: int) -> str:
    """``"task"`` or ``"task[i]"`` for position ``j`` of ``unit``."""
    index = map_index(unit, j) if 0 <= j < unit.size else None
    return unit.label if index is None else f"{unit.label}[{index}]"


def source_file(fn: Any) -> Optional[str]:
    """The file ``fn`` (a function or method) was defined in, if it is a real file.

    cloudpickle ships functions it cannot import by reference (a task's function
    usually: its module attribute is the Task, not the function) by value, and names
    their code ``<dynamic-code>``; the worker puts the file back so that tracebacks show
    the task's file, line and source."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if not isinstance(code, types.CodeType) or code.co_filename.startswith("<"):
        return None
    return code.co_filename


def restore_source_file(fn: Any, filename: str) -> None:
    function = getattr(fn, "__func__", fn)
    code = getattr(function, "__code__", None)
    if isinstance(code, types.CodeType) and code.co_filename != filename:
        try:
            function.__code__ = _renamed(code, filename)
        except (AttributeError, TypeError, ValueError):  # pragma: no cover - builtins, odd callables
            pass


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    consts = tuple(_renamed(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


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


class _Capture(logging.Handler):
    """Keeps the records emitted while a unit runs, as plain dictionaries, with the
    position of the task run that emitted them."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: Optional[list] = None
        self._format = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        records = self.records
        if records is None:  # outside a unit: as a process without handlers would
            if logging.lastResort is not None and record.levelno >= logging.lastResort.level:
                logging.lastResort.handle(record)
            return
        frame = current_frame()
        j = frame.j if frame is not None and frame.task_name is not None else None
        records.append((j, plain_record(record, self._format)))


def plain_record(record: logging.LogRecord, formatter: logging.Formatter) -> dict:
    """``record`` as a dictionary that always pickles: the message formatted, the
    exception as text, values that are not plain data as their repr."""
    data = {}
    for key, value in record.__dict__.items():
        data[key] = value if type(value) in _PLAIN else repr(value)
    try:
        data["msg"] = record.getMessage()
    except Exception:  # a bad format string must not break the task
        data["msg"] = str(record.msg)
    data["args"] = None
    if record.exc_info:
        data["exc_text"] = formatter.formatException(record.exc_info)
    data["exc_info"] = None
    data.pop("message", None)
    return data


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
        token = _USER.set(user) if user else None
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
                _USER.reset(token)
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


def encode_result(unit: WorkUnit, result: UnitResult, records: list, loops: Optional[dict] = None) -> bytes:
    """The unit's outcome (every field of its UnitResult, the log records and the
    iterations to resume of its looping task runs) as bytes. A value that does not pickle fails its task run
    (with a SerializationError naming task, map index and type) instead of the unit;
    an exception that would not come back as itself travels as a RemoteTaskError."""
    codes, values, details = result.codes, result.values, result.details
    for j in details:  # failed runs hold their exception: make sure it survives the trip
        value = values[j]
        if isinstance(value, BaseException):
            try:
                pickle.loads(cloudpickle.dumps(value))
            except Exception as exc:  # noqa: BLE001
                values[j] = RemoteTaskError(f"{type_name(value)}: {value} (the exception itself could not be "
                                            f"sent back from the worker process: {one_line(exc)})",
                                            type_name(value))
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    fields["codes"] = bytes(codes)
    try:
        return cloudpickle.dumps((fields, records, loops))
    except Exception:  # noqa: BLE001 - find the culprits, fail only them
        pass
    from ferroflow.results.errors import SerializationError

    for j, value in enumerate(values):
        try:
            cloudpickle.dumps(value)
        except Exception as exc:  # noqa: BLE001
            error = SerializationError.for_value("cloudpickle", value, exc).with_task(unit.label, map_index(unit, j))
            rule = getattr(base, "_retry_rule", None)  # with the task's retry_condition, when known
            code, _, (_, text) = _outcome(error, rule(unit) if rule is not None else unit.retry_on)
            codes[j], values[j] = code, error
            details[j] = (f"The result of task run {run_name(unit, j)!r} could not be sent back from its "
                          f"worker process: {error}", text)
    fields["codes"] = bytes(codes)
    return cloudpickle.dumps((fields, records, loops))


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

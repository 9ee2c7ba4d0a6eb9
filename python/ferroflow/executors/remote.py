"""Running work units in other processes or on other machines: what a remote executor
plugin (Dask, Ray, ...) needs, shared with the built-in ``processes`` executor.

Four functions make a remote executor::

    payload = pack_unit(unit)                     # flow process: the unit as bytes
    future = cluster.submit(run_packed, payload)  # anywhere: runs it, returns bytes
    result = unpack_result(unit, future.result()) # flow process: a UnitResult
    result = failed_result(unit, error)           # the worker was lost, the future cancelled...

and three more send the part every unit of a task shares only once, where a cluster
has an object store: ``shared, own = pack_parts(unit)``, ``SharedParts`` to upload
``shared`` once per task, then ``run_split(shared, own)`` on the worker (the Dask and
Ray plugins do so).

* :func:`pack_unit` pickles the unit with cloudpickle: its task (function, state
  handlers, checkpoint settings), the run's context and a mapped task's unmapped
  arguments (pickled once per task and run, then reused), its own mapped arguments
  (already sliced to the unit), its frame (map indices, attempt numbers), the values of
  ``with context(...)`` and the loop state (``RunInfo.loops``) of its own task runs. No
  flow object, no other task's data. Something that does not pickle raises
  :class:`~ferroflow.errors.ExecutorError` naming the task and the argument (or context
  value); an executor should turn that into ``failed_result(unit, error)`` rather than
  let it end the run.
* :func:`run_packed` runs on the worker and never raises for a user's error: it loads
  the unit, runs it while capturing the log records its task runs emit (any logger;
  printed lines with ``log_stdout=True``), and returns codes, values, details, records
  and loop state as bytes. A value that does not pickle fails only its task run (a
  :class:`~ferroflow.results.SerializationError` naming task, map index and type); an
  exception that would not come back as itself travels as a :class:`RemoteTaskError`; a
  unit that cannot even be loaded (a module the worker cannot import) comes back as an
  error that :func:`unpack_result` turns into failed task runs. Several units may run at
  once in threads of one worker (Dask): each captures only its own records and prints.
* :func:`unpack_result`, in the flow process, decodes that, handles the records again
  there in the task run they belong to (so ``state.logs``, the run store and the user's
  handlers see them, with their original time), and merges the loop state back into
  the run, so a retried loop resumes at its failed iteration wherever the retry runs.
* :func:`failed_result` fails every task run of a unit with one error, retryable like a
  task's own failure (``max_retries``): for a lost worker, a cancelled future.

When ``run_packed`` happens to run in the flow process itself (a cluster of threads in
this process), records are handled there directly and nothing is replayed.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import hashlib
import logging
import os
import pickle
import socket
import threading
import traceback
import types
import uuid
from collections import OrderedDict
from typing import Any, Iterable, Optional

import cloudpickle

from ferroflow.runtime.context import USER_VALUES, current_frame, in_frame
from ferroflow.runtime.logs import KeepingHandler
from ferroflow.errors import ExecutorError
from ferroflow.runtime import unit as base
from ferroflow.runtime.unit import UnitResult, WorkUnit, outcome_of_exception
from ferroflow.results.errors import one_line, type_name_of

__all__ = ["pack_unit", "run_packed", "unpack_result", "failed_result", "pack_parts", "run_split", "SharedParts"]

#: Format of :func:`pack_unit`'s payload (a worker refuses another one, clearly).
PACK_VERSION = 1
#: WorkUnit fields that are the same for every unit of a task in a run: pickled once.
TASK_FIELDS = ("fn", "owner", "handlers", "checkpoint", "retry_condition")
#: Loggers of cluster frameworks: their levels are the cluster's business, not sent.
CLUSTER_LOGGERS = ("distributed", "dask", "tornado", "asyncio", "ray", "bokeh")

_PLAIN = (str, int, float, bool, type(None))
# First byte of run_packed's answer.
_DONE, _ERROR = b"D", b"E"


# ----- errors --------------------------------------------------------------------------


class WorkerCrashedError(ExecutorError):
    """The worker process running a task run died (a crash, ``os._exit``, a signal,
    the kernel's OOM killer) or had to be killed.

    Attributes: ``task_name``, ``map_index`` (the child that was running, when known),
    ``exitcode`` (negative: the signal number) and ``pid`` (None when unknown).
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


# ----- naming --------------------------------------------------------------------------


def map_index(unit: WorkUnit, j: int) -> Optional[int]:
    return None if unit.indices is None else unit.indices[j]


def run_name(unit: WorkUnit, j: int) -> str:
    """``"task"`` or ``"task[i]"`` for position ``j`` of ``unit``."""
    index = map_index(unit, j) if 0 <= j < unit.size else None
    return unit.label if index is None else f"{unit.label}[{index}]"


# ----- source files ----------------------------------------------------------------------


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


# ----- pickling a unit ----------------------------------------------------------------------


class Unsendable(Exception):
    """Part of a unit does not pickle; ``what`` says which, ``value`` is it."""

    def __init__(self, what: str, value: Any, error: BaseException):
        super().__init__(what)
        self.what = what
        self.value = value
        self.error = error


def dumps(what: str, value: Any) -> bytes:
    """cloudpickle ``value``; raise :class:`Unsendable` (saying ``what`` it is) if it
    does not pickle."""
    try:
        return cloudpickle.dumps(value)
    except Exception as exc:  # noqa: BLE001 - reported as the task run's failure
        raise Unsendable(what, value, exc) from exc


def first_unpicklable(items: Iterable) -> Optional[tuple]:
    """``(name, value, error)`` of the first ``(name, value)`` that does not pickle."""
    for name, value in items:
        try:
            cloudpickle.dumps(value)
        except Exception as exc:  # noqa: BLE001
            return name, value, exc
    return None


def unsendable_error(unit: WorkUnit, exc: Unsendable, where: str = "a worker") -> ExecutorError:
    """The error of a unit that cannot be sent to ``where``, naming the culprit: the
    argument, or the context value, that does not pickle."""
    from ferroflow.results.errors import SerializationError

    value, error, what = exc.value, exc.error, exc.what
    index = None
    if what == "its arguments":
        # A mapped argument item by item: the culprit is one child's value, not its column.
        mapped = first_unpicklable(((key, j), column[j]) for key, column in zip(unit.mapped_keys, unit.columns)
                                   for j in range(len(column)))
        static = None if mapped is not None else first_unpicklable((unit.static or {}).items())
        if mapped is not None:
            (key, j), value, error = mapped
            what, index = f"its argument {key!r}", map_index(unit, j)
        elif static is not None:
            what, value, error = f"its argument {static[0]!r}", static[1], static[2]
        else:
            culprit = first_unpicklable((USER_VALUES.get() or {}).items())
            if culprit is not None:
                what, value, error = (f"the context value {culprit[0]!r} (set with `with context(...)`)",
                                      culprit[1], culprit[2])
    elif what == "its unmapped arguments":
        culprit = first_unpicklable(unit.static.items())
        if culprit is not None:
            what, value, error = f"its argument {culprit[0]!r}", culprit[1], culprit[2]
    serialization = SerializationError.for_value("cloudpickle", value, error).with_task(unit.label, index)
    failure = ExecutorError(f"Task {unit.label!r} cannot be sent to {where}: {what} cannot be pickled: "
                            f"{serialization}")
    failure.__cause__ = serialization
    return failure


def same(old: tuple, new: tuple) -> bool:
    """Whether two tuples of task fields hold the same objects (or equal ones: a bound
    method is a new object each time it is read)."""
    for a, b in zip(old, new):
        if a is b:
            continue
        try:
            if not a == b:
                return False
        except Exception:  # noqa: BLE001 - an odd __eq__: treat as changed
            return False
    return True


def unit_loops(unit: WorkUnit) -> Optional[dict]:
    """The iterations to resume (``RunInfo.loops``: a looping task run that failed
    resumes there when retried) of ``unit``'s task runs: they travel with the unit, and
    the worker's version comes back with its results."""
    loops = getattr(unit.frame.run, "loops", None) if unit.frame is not None else None
    if not loops:
        return None
    indices = unit.indices
    members = {None} if indices is None else indices if type(indices) is range else set(indices)
    return {key: value for key, value in loops.items() if key[0] == unit.task_id and key[1] in members} or None


def merge_loops(unit: WorkUnit, sent: Iterable, loops: Optional[dict]) -> None:
    """Put the loop state a worker sent back for ``unit`` into the run: the keys that
    went with the unit (``sent``) are replaced by what came back."""
    if unit.frame is None or unit.frame.run is None:
        return
    kept = unit.frame.run.loops
    for key in sent:
        kept.pop(key, None)
    if loops:
        kept.update(loops)


# ----- logging -------------------------------------------------------------------------


_CAPTURED: contextvars.ContextVar[Optional[list]] = contextvars.ContextVar("ferroflow_captured", default=None)


class LogCapture(KeepingHandler):
    """On a worker, keeps the records emitted while a unit runs, as plain dictionaries,
    with the position of the task run that emitted them.

    The list is the context's (set by :func:`run_packed`, one per unit, so units
    running at once in threads of one worker keep their own) or, failing that,
    ``records`` (set by the ``processes`` worker for any thread of its process). A
    record emitted outside any unit goes on as it would without this handler
    (:meth:`~ferroflow.runtime.logs.KeepingHandler.show_unhandled`)."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: Optional[list] = None
        self._format = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        records = _CAPTURED.get()
        if records is None:
            records = self.records
        if records is None:
            self.show_unhandled(record)
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


def replay_records(unit: WorkUnit, records: list) -> None:
    """Handle again, in this process, the records a worker emitted for ``unit``, each
    in the task run (frame position) it belongs to."""
    frame = copy.copy(unit.frame) if unit.frame is not None else None  # same run info: kept by the run
    for j, data in records:
        record = logging.makeLogRecord(data)
        logger = logging.getLogger(record.name) if record.name != "root" else logging.getLogger()
        if not logger.isEnabledFor(record.levelno):
            continue
        if j is None or frame is None or not 0 <= j < unit.size:
            logger.handle(record)
            continue
        frame.j = j
        with in_frame(frame):
            logger.handle(record)


def logging_loggers() -> list:
    return [(name, logger) for name, logger in list(logging.root.manager.loggerDict.items())
            if isinstance(logger, logging.Logger)]


def logging_levels(skip: tuple = ()) -> tuple:
    """``(levels, disable)``: the level of every logger that has one (``""``: the root)
    except those under the packages named in ``skip``, and ``logging.disable``'s level,
    so that a worker filters records as this process would."""
    levels = {name: logger.level for name, logger in logging_loggers()
              if logger.level and name.partition(".")[0] not in skip}
    levels[""] = logging.getLogger().level
    return levels, logging.root.manager.disable


# ----- outcomes ------------------------------------------------------------------------


def retry_rule(unit: WorkUnit) -> Any:
    """What decides whether ``unit``'s failed runs may be retried: its ``retry_on``,
    with the task's ``retry_condition``."""
    return base.retry_rule(unit)


def failed_result(unit: WorkUnit, error: BaseException, text: Optional[str] = None) -> UnitResult:
    """Every task run of ``unit`` failed with ``error`` (its message and ``text``, a
    traceback or any explanation, are the runs' details). Retryable like a task's own
    failure (``max_retries``, ``retry_on``, ``retry_condition``): for a lost worker, a
    cancelled future, a unit that could not be sent or loaded."""
    code, _, _ = outcome_of_exception(error, retry_rule(unit))
    detail = (str(error), text)
    return UnitResult(bytearray([code]) * unit.size, [error] * unit.size, dict.fromkeys(range(unit.size), detail))


def encode_result(unit: WorkUnit, result: UnitResult, records: list, loops: Optional[dict] = None) -> bytes:
    """The unit's outcome (every field of its UnitResult, the log records and the
    iterations to resume of its looping task runs) as bytes. A value that does not
    pickle fails its task run (with a SerializationError naming task, map index and
    type) instead of the unit; an exception that would not come back as itself travels
    as a RemoteTaskError."""
    codes, values, details = result.codes, result.values, result.details
    for j in details:  # failed runs hold their exception: make sure it survives the trip
        value = values[j]
        if isinstance(value, BaseException):
            try:
                pickle.loads(cloudpickle.dumps(value))
            except Exception as exc:  # noqa: BLE001
                values[j] = RemoteTaskError(f"{type_name_of(value)}: {value} (the exception itself could not be "
                                            f"sent back from the worker process: {one_line(exc)})",
                                            type_name_of(value))
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
            code, _, (_, text) = outcome_of_exception(error, retry_rule(unit))
            codes[j], values[j] = code, error
            details[j] = (f"The result of task run {run_name(unit, j)!r} could not be sent back from its "
                          f"worker process: {error}", text)
    fields["codes"] = bytes(codes)
    return cloudpickle.dumps((fields, records, loops))


def decode_result(unit: WorkUnit, data: Any, sent_loops: Iterable = (), replay: bool = True) -> UnitResult:
    """The UnitResult of :func:`encode_result`'s bytes, in the flow process: records
    handled again (``replay``), loop state merged (``sent_loops``: the keys of
    ``RunInfo.loops`` that went with the unit)."""
    try:
        fields, records, loops = pickle.loads(data)
    except Exception as exc:  # noqa: BLE001
        return failed_result(unit, ExecutorError(
            f"The results of task {unit.label!r} could not be unpickled in the flow process: "
            f"{one_line(exc)}"), traceback.format_exc())
    if records and replay:
        replay_records(unit, records)
    if sent_loops or loops:
        merge_loops(unit, sent_loops, loops)
    fields["codes"] = bytearray(fields["codes"])
    return UnitResult(**fields)


# ----- the four functions ------------------------------------------------------------------


class _Packed:
    """The pickled shared part of one task's units in one run (see :func:`pack_unit`)."""

    __slots__ = ("run", "fields", "static", "blob")

    def __init__(self, run: Any, fields: tuple, static: Any, blob: bytes):
        self.run = run
        self.fields = fields
        self.static = static
        self.blob = blob


#: Shared parts kept pickled in the flow process: at most this many, and this many bytes.
_PACKED_ENTRIES = 64
_PACKED_BYTES = 64 << 20
_packed: OrderedDict = OrderedDict()  # (id(run), task id) -> _Packed
_packed_lock = threading.Lock()

_ORIGIN = uuid.uuid4().hex


def _origin() -> tuple:
    """This process, as a payload names it (the pid too: a forked child is another)."""
    return (_ORIGIN, os.getpid())


def _shared_blob(unit: WorkUnit) -> bytes:
    """The task's fields, source file, the run's context (without loop state) and, for
    a mapped unit, the unmapped arguments, pickled once per task and run."""
    frame = unit.frame
    run = frame.run if frame is not None else None
    fields = tuple(getattr(unit, name) for name in TASK_FIELDS)
    static = unit.static if unit.indices is not None and unit.static else None
    key = (id(run), unit.task_id)
    with _packed_lock:
        entry = _packed.get(key)
        if entry is not None and entry.run is run and entry.static is static and same(entry.fields, fields):
            _packed.move_to_end(key)
            return entry.blob
    bare = None
    if run is not None:
        bare = copy.copy(run)
        bare.loops = {}  # each unit carries its own
    shared = (TASK_FIELDS, fields, source_file(unit.fn), static, bare, logging_levels(CLUSTER_LOGGERS))
    try:
        blob = cloudpickle.dumps(shared)
    except Exception as exc:  # noqa: BLE001 - say which part
        if static is not None and first_unpicklable([(None, static)]) is not None:
            raise Unsendable("its unmapped arguments", static, exc) from exc
        if bare is not None and first_unpicklable([(None, bare)]) is not None:
            raise Unsendable("the run's context (parameters)", run, exc) from exc
        what = "its function" if not unit.handlers else "its function or state handlers"
        culprit = first_unpicklable(zip(TASK_FIELDS, fields))
        raise Unsendable(what, culprit[1] if culprit is not None else unit.fn, exc) from exc
    if len(blob) <= _PACKED_BYTES // 4:
        with _packed_lock:
            _packed[key] = _Packed(run, fields, static, blob)
            _packed.move_to_end(key)
            total = sum(len(e.blob) for e in _packed.values())
            while len(_packed) > _PACKED_ENTRIES or total > _PACKED_BYTES:
                _, dropped = _packed.popitem(last=False)
                total -= len(dropped.blob)
    return blob


def pack_unit(unit: WorkUnit) -> bytes:
    """``unit`` as bytes for :func:`run_packed`, anywhere.

    Small: a mapped unit carries the slice of mapped arguments of its own children and
    its frame; its task, the run's context and the unmapped arguments are pickled once
    per task and run (and reused for its other units). Raises
    :class:`~ferroflow.errors.ExecutorError` naming the task and the argument (or the
    ``with context(...)`` value) when something does not pickle.
    """
    blob, body = _pack(unit)
    return pickle.dumps((PACK_VERSION, _origin(), blob, body), protocol=pickle.HIGHEST_PROTOCOL)


def pack_parts(unit: WorkUnit) -> tuple:
    """``(shared, own)``: :func:`pack_unit`'s payload in two parts, for
    :func:`run_split`. ``shared`` is what every unit of the task carries (the task, the
    run's context, the unmapped arguments): the same bytes object for each of them,
    worth sending once where a cluster has an object store (:class:`SharedParts`).
    ``own`` is the unit's own part."""
    blob, body = _pack(unit)
    return blob, pickle.dumps((PACK_VERSION, _origin(), body), protocol=pickle.HIGHEST_PROTOCOL)


def _pack(unit: WorkUnit) -> tuple:
    try:
        blob = _shared_blob(unit)
        frame = unit.frame
        if frame is not None:
            frame = copy.copy(frame)  # (a copy drops the frame's unit)
            frame.run = None
        light = dataclasses.replace(unit, frame=frame, static=None if unit.indices is not None and unit.static
                                    else unit.static, **dict.fromkeys(TASK_FIELDS))
        body = dumps("its arguments", (light, USER_VALUES.get() or None, unit_loops(unit)))
    except Unsendable as exc:
        error = unsendable_error(unit, exc)
        raise error from error.__cause__
    return blob, body


class SharedParts:
    """The shared parts of :func:`pack_parts` sent once per task and run: ``ref(shared)``
    uploads a part with ``upload(shared)`` (``ray.put``, ``client.scatter``...) the
    first time it sees it, and returns the same reference for the task's next units."""

    def __init__(self, upload: Any, keep: int = 64) -> None:
        self._upload = upload
        self._keep = keep
        self._refs: OrderedDict = OrderedDict()  # id(part) -> (part, reference)

    def ref(self, shared: bytes) -> Any:
        entry = self._refs.get(id(shared))
        if entry is not None and entry[0] is shared:  # (the part is held: its id is its own)
            self._refs.move_to_end(id(shared))
            return entry[1]
        reference = self._upload(shared)
        self._refs[id(shared)] = (shared, reference)
        if len(self._refs) > self._keep:
            self._refs.popitem(last=False)
        return reference

    def clear(self) -> None:
        self._refs.clear()


def run_split(shared: bytes, own: bytes) -> bytes:
    """:func:`run_packed` of the two parts of :func:`pack_parts`."""
    try:
        version, origin, body = pickle.loads(own)
    except Exception as exc:  # noqa: BLE001
        return _error_payload(f"could not load it: {one_line(exc)}", traceback.format_exc())
    return _run_parts(version, origin, shared, body)


#: Shared parts loaded on a worker, by digest of their bytes (least recently used out).
_LOADED_ENTRIES = 16
_loaded: OrderedDict = OrderedDict()
_loaded_lock = threading.Lock()
_capture: Optional[LogCapture] = None
_levels_applied: Optional[tuple] = None
_setup_lock = threading.Lock()


def _load_shared(blob: bytes) -> tuple:
    digest = hashlib.blake2b(blob, digest_size=16).digest()
    with _loaded_lock:
        shared = _loaded.get(digest)
        if shared is not None:
            _loaded.move_to_end(digest)
            return shared
    names, fields, filename, static, run, levels = cloudpickle.loads(blob)
    for name, value in zip(names, fields):
        if name == "fn" and filename is not None:
            restore_source_file(value, filename)
    shared = (names, fields, static, run, levels)
    with _loaded_lock:
        _loaded[digest] = shared
        if len(_loaded) > _LOADED_ENTRIES:
            _loaded.popitem(last=False)
    return shared


def _prepare_worker(levels: tuple) -> None:
    """Once per worker process: capture records on the root logger; and filter them at
    the flow process's levels (loggers of the cluster framework excepted)."""
    global _capture, _levels_applied
    with _setup_lock:
        if _capture is None:
            _capture = LogCapture()
            logging.getLogger().addHandler(_capture)
        if levels != _levels_applied:
            named, disable = levels
            root = logging.getLogger()
            for name, level in named.items():
                (root if name == "" else logging.getLogger(name)).setLevel(level)
            logging.disable(disable)
            _levels_applied = levels


def _error_payload(reason: str, text: Optional[str]) -> bytes:
    where = f"pid {os.getpid()} on {socket.gethostname()}"
    return _ERROR + pickle.dumps((f"{reason} ({where})", text))


def run_packed(payload: bytes) -> bytes:
    """Run a unit packed by :func:`pack_unit`; return its outcome as bytes for
    :func:`unpack_result`. Never raises for a user's error: a failing task run is in
    the outcome, and so is a unit that cannot be loaded here or a ``SystemExit`` /
    ``KeyboardInterrupt`` raised by a task (which fails the unit's runs). Safe to call
    from several threads at once."""
    try:
        version, origin, blob, body = pickle.loads(payload)
    except Exception as exc:  # noqa: BLE001
        return _error_payload(f"could not load it: {one_line(exc)}", traceback.format_exc())
    return _run_parts(version, origin, blob, body)


def _run_parts(version: Any, origin: Any, blob: bytes, body: bytes) -> bytes:
    if version != PACK_VERSION:
        return _error_payload(f"it was packed in format {version!r} and this worker reads format "
                              f"{PACK_VERSION} (install the same ferroflow version everywhere)", None)
    try:
        names, fields, static, run, levels = _load_shared(blob)
        unit, user, loops = cloudpickle.loads(body)
    except Exception as exc:  # noqa: BLE001 - e.g. a module the worker cannot import
        return _error_payload(f"could not load it: {one_line(exc)}", traceback.format_exc())
    for name, value in zip(names, fields):
        setattr(unit, name, value)
    if static is not None:
        unit.static = static
    kept = None
    if unit.frame is not None and run is not None:
        unit.frame.run = copy.copy(run)  # this unit's own loop state, even among threads
        kept = unit.frame.run.loops = dict(loops or {})
    here = origin == _origin()  # in the flow process: records are handled as they come
    records: list = []
    if not here:
        _prepare_worker(levels)
    captured = _CAPTURED.set(records) if not here else None
    user_token = USER_VALUES.set(user) if user else None
    try:
        result = unit.run()  # (prints are routed per thread: ferroflow.runtime.stdout)
    except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt raised by a task
        j = unit.frame.j if unit.frame is not None else 0
        return _error_payload(f"task run {run_name(unit, j)!r} raised {exc!r}; the {unit.size} task run(s) "
                              f"of its work unit were abandoned",
                              "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    finally:
        if user_token is not None:
            USER_VALUES.reset(user_token)
        if captured is not None:
            _CAPTURED.reset(captured)
    try:
        return _DONE + encode_result(unit, result, records, kept or None)
    except Exception as exc:  # noqa: BLE001 - e.g. MemoryError while pickling
        return _error_payload(f"could not send its results back: {one_line(exc)}", traceback.format_exc())


def unpack_result(unit: WorkUnit, payload: bytes) -> UnitResult:
    """The UnitResult of ``unit`` from :func:`run_packed`'s bytes, in the flow process:
    the records its task runs emitted are handled here, in the task runs they belong to
    (``state.logs``, the run store, your handlers), and its loop state is merged into
    the run. A unit that could not run on the worker comes back as failed task runs
    (an :class:`~ferroflow.errors.ExecutorError` saying why, retryable)."""
    view = memoryview(payload)
    tag = bytes(view[:1])
    if tag == _DONE:
        return decode_result(unit, view[1:], tuple(unit_loops(unit) or ()))
    if tag == _ERROR:
        message, text = pickle.loads(view[1:])
        return failed_result(unit, ExecutorError(f"Task {unit.label!r} could not run on a worker: {message}"), text)
    raise ExecutorError(f"unpack_result() for task {unit.label!r} was given {len(view)} bytes that run_packed() "
                        f"did not produce")

"""Shipping work to another process: the one way the ``processes`` executor and the
Dask and Ray plugins send units (:class:`~ferroflow.runtime.unit.WorkUnit` and
:class:`~ferroflow.runtime.batch.TaskRuns` batches) to a worker and bring their
results back.

A unit travels as a *parcel*: a slim ``head`` of its own (the task id, its map indices
and its slice of mapped arguments, or a batch's runs and their arguments; attempt
numbers, ``retried_from``, ``with context(...)`` values, the loop state of its own task
runs) and up to three *pieces* it shares with other units:

* the run's context (:class:`~ferroflow.runtime.context.RunInfo` without loop state,
  and the flow process's logging levels), shared by every unit of a run;
* the task's *plan* (:class:`Plan`: its function, the Task, state handlers,
  checkpoint, ``retry_on``, ``retry_condition``, ``timeout``, ``log_stdout``, its
  names, slug, tags and ``task_run_name``), shared by the units of a mapped task;
* a mapped task's unmapped arguments.

A shared piece is pickled once per run in the flow process and has a key; a worker
keeps the pieces it loaded by key (:class:`Dock`), so it unpickles each once. How a
piece reaches the worker is the executor's business: ``processes`` sends it through
the pipe the first time a worker needs it (both sides keep the same small LRU of keys),
Dask and Ray put it in the cluster once (:class:`SharedParts`) and pass a reference.
A piece only one unit needs (the plan of a task that is not mapped) has no key and
travels inline. A batch carries the plans of its tasks in its head, pickled together,
so that a function many tasks share is pickled once per batch: a plain task runs once
per run, so its plan is sent once.

Flow side::

    shipper = Shipper("a worker")                # one per executor run
    parcel = shipper.pack(unit)                  # never raises for a user's value
    if parcel.sent is None:                      # nothing of it can be sent:
        done(unit, parcel.decided)               # its task runs failed, naming why
    ...send parcel.head and parcel.pieces (each a Piece or None)...
    result = parcel.unpack(payload)              # the engine's unit's UnitResult

Worker side: ``run_shipped(head, *blobs)`` (or :func:`run_parcel` with options),
where each blob is the piece's bytes, ``None`` (the worker has it) or ``[reference]``
(fetched with ``fetch`` when the worker does not have it).

A value that does not pickle fails only the task runs it belongs to, with an
:class:`~ferroflow.errors.ExecutorError` naming the task and the argument (or the
``with context(...)`` value, the function...); the rest of the unit is sent. A result
that does not pickle fails only its task run (a
:class:`~ferroflow.results.SerializationError`); an exception that would not come back
as itself travels as a :class:`RemoteTaskError`. The log records a unit's task runs
emit on the worker come back with its results and are handled again in the flow
process, in the task run they belong to; its loop state is merged back into the run.

Secret values registered for scrubbing (:mod:`ferroflow.redaction`) travel both ways:
those of the flow process with each unit's head (the worker registers them, so what it
shows itself is scrubbed), and those a task registered on the worker (it read a secret
there) back with the unit's results, registered in the flow process before the unit's
records and details are handled: what the run records is scrubbed of both.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import itertools
import logging
import os
import pickle
import socket
import threading
import traceback
import types
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import cloudpickle

from ferroflow import redaction
from ferroflow.errors import ExecutorError, one_line
from ferroflow.results.errors import type_name_of
from ferroflow.runtime import unit as base
from ferroflow.runtime.batch import TaskPlan, TaskRuns
from ferroflow.runtime.context import USER_VALUES, Frame, RunInfo, current_frame, in_frame
from ferroflow.runtime.logs import KeepingHandler
from ferroflow.runtime.unit import UnitResult, WorkUnit, outcome_of_exception

__all__ = [
    "Shipper", "Parcel", "Piece", "Plan", "Dock", "SharedParts", "run_shipped", "run_parcel", "unpack",
    "failed_result", "WorkerCrashedError", "RemoteTaskError", "PACK_VERSION",
]

#: Format of a parcel's head (a worker refuses another one, clearly).
PACK_VERSION = 3
#: WorkUnit fields that are the task's, the same for every unit of it in a run.
TASK_FIELDS = ("fn", "owner", "handlers", "checkpoint", "retry_condition")
#: Loggers of cluster frameworks: their levels are the cluster's business, not sent.
CLUSTER_LOGGERS = ("distributed", "dask", "tornado", "asyncio", "ray", "bokeh")

_PLAIN = (str, int, float, bool, type(None))
# First byte of a worker's answer.
_DONE, _ERROR = b"D", b"E"
# Kinds of head.
_UNIT, _BATCH = 0, 1


# ----- errors --------------------------------------------------------------------------


class WorkerCrashedError(ExecutorError):
    """The worker process running a task run died (a crash, ``os._exit``, a signal,
    the kernel's OOM killer) or had to be killed.

    Attributes: ``task_name``, ``map_index`` (the child that was running, when known),
    ``exitcode`` (negative: the signal number) and ``pid`` (None when unknown).
    """

    def __init__(self, message: str, task_name: str | None = None, map_index: int | None = None,
                 exitcode: int | None = None, pid: int | None = None):
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


# ----- units and batches alike ---------------------------------------------------------


def is_batch(unit: Any) -> bool:
    return type(unit) is TaskRuns


def map_index(unit: Any, j: int) -> int | None:
    return None if unit.indices is None else unit.indices[j]


def task_name_at(unit: Any, j: int) -> str:
    """The name of the task whose run is at position ``j`` of ``unit``."""
    if is_batch(unit):
        return unit.plans[unit.task_ids[j]].name
    return unit.label


def run_name(unit: Any, j: int) -> str:
    """``"task"`` or ``"task[i]"`` for position ``j`` of ``unit``."""
    if not 0 <= j < unit.size:
        return label_of(unit)
    index = map_index(unit, j)
    name = task_name_at(unit, j)
    return name if index is None else f"{name}[{index}]"


def label_of(unit: Any) -> str:
    """What to call ``unit`` in a message: its task's name (a batch of one: that run's
    task), or a batch's label."""
    if is_batch(unit) and unit.size == 1:
        return task_name_at(unit, 0)
    return unit.label


def subject_of(unit: Any) -> str:
    """``"task 'name'"``, or for a batch of several tasks' runs ``"a batch of ..."``."""
    if is_batch(unit) and unit.size != 1:
        return f"a batch of {unit.label}"
    return f"task {label_of(unit)!r}"


def title_of(unit: Any) -> str:
    """:func:`subject_of`, capitalized: the start of a message."""
    subject = subject_of(unit)
    return subject[0].upper() + subject[1:]


def rules_of(unit: Any) -> list:
    """What decides the retries of each task run of ``unit`` (``retry_on``, with the
    task's ``retry_condition``), by position."""
    if is_batch(unit):
        plans = unit.plans
        return [plans[t].retry_on for t in unit.task_ids]
    return [base.retry_rule(unit)] * unit.size


def run_info_of(unit: Any) -> RunInfo | None:
    if is_batch(unit):
        return unit.run_info
    return unit.frame.run if unit.frame is not None else None


def frame_at(unit: Any, j: int, frame: Frame | None = None) -> Frame | None:
    """A frame of the task run at position ``j`` of ``unit`` (``frame``: one made for
    ``unit`` before, moved there), for handling its log records in the flow process."""
    if is_batch(unit):
        if frame is None:
            frame = Frame(unit.run_info, -1, None, None, frozenset(), None, unit.run_counts)
        plan = unit.plans[unit.task_ids[j]]
        frame.task_id, frame.task_name, frame.task_slug, frame.task_tags = plan.task_id, plan.name, plan.slug, plan.tags
    elif frame is None:
        if unit.frame is None:
            return None
        frame = copy.copy(unit.frame)  # same run info: kept by the run
    frame.j = j
    return frame


# ----- source files ----------------------------------------------------------------------


def source_file(fn: Any) -> str | None:
    """The file ``fn`` (a function or method) was defined in, if it is a real file.

    cloudpickle ships functions it cannot import by reference (a task's function
    usually: its module attribute is the Task, not the function) by value, and names
    their code ``<dynamic-code>``; the worker puts the file back so that tracebacks show
    the task's file, line and source."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if not isinstance(code, types.CodeType) or code.co_filename.startswith("<"):
        return None
    return code.co_filename


def restore_source_file(fn: Any, filename: str | None) -> None:
    if filename is None:
        return
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


# ----- pickling, and naming what does not pickle -------------------------------------------


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
    except Exception as exc:
        raise Unsendable(what, value, exc) from exc


def first_unpicklable(items: Iterable) -> tuple | None:
    """``(name, value, error)`` of the first ``(name, value)`` that does not pickle."""
    for name, value in items:
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            return name, value, exc
    return None


def cannot_send(label: str, index: int | None, what: str, value: Any, error: BaseException,
                where: str, title: str | None = None) -> ExecutorError:
    """The error of a task run (or unit) of task ``label`` (``title``: what the message
    calls it, ``"Task 'label'"`` by default) that cannot be sent to ``where`` because
    ``what`` (``value``) does not pickle."""
    from ferroflow.results.errors import SerializationError

    serialization = SerializationError.for_value("cloudpickle", value, error).with_task(label, index)
    title = title or f"Task {label!r}"
    failure = ExecutorError(f"{title} cannot be sent to {where}: {what} cannot be pickled: {serialization}")
    failure.__cause__ = serialization
    return failure


def _context_culprit() -> tuple | None:
    culprit = first_unpicklable((USER_VALUES.get() or {}).items())
    if culprit is None:
        return None
    return f"the context value {culprit[0]!r} (set with `with context(...)`)", culprit[1], culprit[2]


def unsendable_error(unit: WorkUnit, exc: Unsendable, where: str = "a worker") -> ExecutorError:
    """The error of a unit that cannot be sent to ``where``, naming the culprit: the
    argument, or the context value, that does not pickle."""
    value, error, what = exc.value, exc.error, exc.what
    index = None
    if what == "its arguments":
        # A mapped argument item by item: the culprit is one child's value, not its column.
        columns = zip(unit.mapped_keys, unit.columns, strict=True)
        mapped = first_unpicklable(((key, j), column[j]) for key, column in columns for j in range(len(column)))
        static = None if mapped is not None else first_unpicklable((unit.static or {}).items())
        if mapped is not None:
            (key, j), value, error = mapped
            what, index = f"its argument {key!r}", map_index(unit, j)
        elif static is not None:
            what, value, error = f"its argument {static[0]!r}", static[1], static[2]
        else:
            what, value, error = _context_culprit() or (what, value, error)
    elif what == "its unmapped arguments":
        culprit = first_unpicklable(unit.static.items())
        if culprit is not None:
            what, value, error = f"its argument {culprit[0]!r}", culprit[1], culprit[2]
    return cannot_send(unit.label, index, what, value, error, where)


def same(old: tuple, new: tuple) -> bool:
    """Whether two tuples of task fields hold the same objects (or equal ones: a bound
    method is a new object each time it is read)."""
    for a, b in zip(old, new, strict=True):
        if a is b:
            continue
        try:
            if not a == b:
                return False
        except Exception:
            return False
    return True


# ----- loop state ----------------------------------------------------------------------


def unit_loops(unit: Any) -> dict | None:
    """The iterations to resume (``RunInfo.loops``: a looping task run that failed
    resumes there when retried) of ``unit``'s task runs: they travel with the unit, and
    the worker's version comes back with its results."""
    run = run_info_of(unit)
    loops = getattr(run, "loops", None)
    if not loops:
        return None
    if is_batch(unit):
        tasks = set(unit.task_ids)
        return {key: value for key, value in loops.items() if key[1] is None and key[0] in tasks} or None
    indices = unit.indices
    members = {None} if indices is None else indices if type(indices) is range else set(indices)
    return {key: value for key, value in loops.items() if key[0] == unit.task_id and key[1] in members} or None


def merge_loops(unit: Any, sent: Iterable, loops: dict | None) -> None:
    """Put the loop state a worker sent back for ``unit`` into the run: the keys that
    went with the unit (``sent``) are replaced by what came back."""
    run = run_info_of(unit)
    if run is None:
        return
    kept = run.loops
    for key in sent:
        kept.pop(key, None)
    if loops:
        kept.update(loops)


# ----- logging -------------------------------------------------------------------------


_CAPTURED: contextvars.ContextVar[list | None] = contextvars.ContextVar("ferroflow_captured", default=None)


class LogCapture(KeepingHandler):
    """On a worker, keeps the records emitted while a unit runs, as plain dictionaries,
    with the position of the task run that emitted them.

    The list is the context's (set by :func:`run_parcel`, one per unit, so units
    running at once in threads of one worker keep their own) or, failing that,
    ``records`` (set for any thread of the process, where a process runs one unit at a
    time). A record emitted outside any unit goes on as it would without this handler
    (:meth:`~ferroflow.runtime.logs.KeepingHandler.show_unhandled`)."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list | None = None
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
        data["exc_text"] = redaction.scrub(formatter.formatException(record.exc_info))
    data["exc_info"] = None
    data.pop("message", None)
    return data


def replay_records(unit: Any, records: list) -> None:
    """Handle again, in this process, the records a worker emitted for ``unit``, each
    in the task run (frame position) it belongs to."""
    frame = None
    for j, data in records:
        record = logging.makeLogRecord(data)
        redaction.scrub_record(record)  # (whatever logger: its handlers here may be anyone's)
        logger = logging.getLogger(record.name) if record.name != "root" else logging.getLogger()
        if not logger.isEnabledFor(record.levelno):
            continue
        if j is None or not 0 <= j < unit.size:
            logger.handle(record)
            continue
        frame = frame_at(unit, j, frame)
        if frame is None:
            logger.handle(record)
            continue
        with in_frame(frame):
            logger.handle(record)


def logging_levels(skip: tuple = ()) -> tuple:
    """``(levels, disable)``: the level of every logger that has one (``""``: the root)
    except those under the packages named in ``skip``, and ``logging.disable``'s level,
    so that a worker filters records as this process would."""
    loggers = [(name, logger) for name, logger in list(logging.root.manager.loggerDict.items())
               if isinstance(logger, logging.Logger)]
    levels = {name: logger.level for name, logger in loggers if logger.level and name.partition(".")[0] not in skip}
    levels[""] = logging.getLogger().level
    return levels, logging.root.manager.disable


_capture: LogCapture | None = None
_levels_applied: tuple | None = None
_setup_lock = threading.Lock()


def prepare_worker(levels: tuple | None, alone: bool = False) -> LogCapture:
    """On a worker process: capture records on the root logger (``alone``: instead of
    its other handlers); and filter them at the flow process's ``levels`` (from
    :func:`logging_levels`). Returns the capturing handler."""
    global _capture, _levels_applied
    with _setup_lock:
        root = logging.getLogger()
        if alone:
            for handler in list(root.handlers):
                if handler is not _capture:
                    root.removeHandler(handler)
        if _capture is None:
            _capture = LogCapture()
            root.addHandler(_capture)
        if levels is not None and levels != _levels_applied:
            named, disable = levels
            for name, level in named.items():
                (root if name == "" else logging.getLogger(name)).setLevel(level)
            logging.disable(disable)
            _levels_applied = levels
        return _capture


# ----- outcomes ------------------------------------------------------------------------


def failed_result(unit: Any, error: BaseException, text: str | None = None) -> UnitResult:
    """Every task run of ``unit`` failed with ``error`` (its message and ``text``, a
    traceback or any explanation, are the runs' details). Retryable like a task's own
    failure (``max_retries``, ``retry_on``, ``retry_condition``): for a lost worker, a
    cancelled future, a unit that could not be sent or loaded."""
    n = unit.size
    codes = bytearray(n)
    known: dict = {}
    for j, rule in enumerate(rules_of(unit)):
        code = known.get(id(rule))
        if code is None:
            code = known[id(rule)] = outcome_of_exception(error, rule)[0]
        codes[j] = code
    detail = (str(error), text)
    return UnitResult(codes, [error] * n, dict.fromkeys(range(n), detail))


def encode_result(unit: Any, result: UnitResult, records: list, loops: dict | None = None,
                  secrets: tuple | None = None) -> bytes:
    """The unit's outcome (every field of its UnitResult, the log records, the
    iterations to resume of its looping task runs and the secret values registered
    here that the flow process did not send, ``secrets``) as bytes. A value that does not
    pickle fails its task run (with a SerializationError naming task, map index and
    type) instead of the unit; an exception that would not come back as itself travels
    as a RemoteTaskError."""
    codes, values, details = result.codes, result.values, result.details
    for j in details:  # failed runs hold their exception: make sure it survives the trip
        value = values[j]
        if isinstance(value, BaseException):
            try:
                pickle.loads(cloudpickle.dumps(value))
            except Exception as exc:
                values[j] = RemoteTaskError(f"{type_name_of(value)}: {value} (the exception itself could not be "
                                            f"sent back from the worker process: {one_line(exc)})",
                                            type_name_of(value))
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    fields["codes"] = bytes(codes)
    try:
        return cloudpickle.dumps((fields, records, loops, secrets))
    except Exception:
        pass
    from ferroflow.results.errors import SerializationError

    rules = rules_of(unit)
    for j, value in enumerate(values):
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            error = SerializationError.for_value("cloudpickle", value, exc).with_task(task_name_at(unit, j),
                                                                                       map_index(unit, j))
            code, _, (_, text) = outcome_of_exception(error, rules[j])
            codes[j], values[j] = code, error
            details[j] = (f"The result of task run {run_name(unit, j)!r} could not be sent back from its "
                          f"worker process: {error}", text)
    fields["codes"] = bytes(codes)
    return cloudpickle.dumps((fields, records, loops, secrets))


def decode_result(unit: Any, data: Any, sent_loops: Iterable = (), replay: bool = True) -> UnitResult:
    """The UnitResult of :func:`encode_result`'s bytes, in the flow process: the secret
    values the worker registered registered here first, records handled again
    (``replay``), loop state merged (``sent_loops``: the keys of ``RunInfo.loops`` that
    went with the unit)."""
    try:
        fields, records, loops, secrets = pickle.loads(data)
    except Exception as exc:
        return failed_result(unit, ExecutorError(
            f"The results of {subject_of(unit)} could not be unpickled in the flow process: {one_line(exc)}"),
            traceback.format_exc())
    if secrets:
        redaction.register_all(secrets)
    if records and replay:
        replay_records(unit, records)
    if sent_loops or loops:
        merge_loops(unit, sent_loops, loops)
    fields["codes"] = bytearray(fields["codes"])
    return UnitResult(**fields)


def unpack(unit: Any, payload: Any, sent_loops: Iterable = (), where: str = "on a worker") -> UnitResult:
    """The UnitResult of ``unit`` from a worker's answer (:func:`run_parcel`'s bytes):
    its task runs' records handled here, its loop state merged into the run. A unit that
    could not run on the worker comes back as failed task runs (an
    :class:`~ferroflow.errors.ExecutorError` saying why, retryable)."""
    view = memoryview(payload)
    tag = bytes(view[:1])
    if tag == _DONE:
        return decode_result(unit, view[1:], sent_loops)
    if tag == _ERROR:
        message, text = pickle.loads(view[1:])
        return failed_result(unit, ExecutorError(f"{title_of(unit)} could not run {where}: {message}"), text)
    raise ExecutorError(f"The results of {subject_of(unit)} came as {len(view)} bytes that a ferroflow worker "
                        f"(run_parcel) did not produce")


# ----- the flow side: plans, pieces, parcels -------------------------------------------------


class Plan:
    """What every unit of one task needs in a run, besides its own task runs: the
    task's function and options, and the names the context shows."""

    __slots__ = ("task_id", "label", "fn", "owner", "handlers", "checkpoint", "retry_condition", "retry_on",
                 "log_stdout", "timeout", "name", "slug", "tags", "run_name", "framed", "filename", "slots")
    task_id: int
    label: str
    fn: Any
    owner: Any
    handlers: tuple
    checkpoint: Any
    retry_condition: Any
    retry_on: Any
    log_stdout: bool
    timeout: Any
    name: str | None
    slug: str | None
    tags: frozenset
    run_name: Any
    framed: bool
    filename: str | None
    slots: Any

    @classmethod
    def of(cls, unit: WorkUnit) -> Plan:
        plan = cls()
        frame = unit.frame
        plan.task_id, plan.label, plan.fn, plan.owner = unit.task_id, unit.label, unit.fn, unit.owner
        plan.handlers, plan.checkpoint, plan.retry_condition = unit.handlers, unit.checkpoint, unit.retry_condition
        plan.retry_on, plan.log_stdout, plan.timeout = unit.retry_on, unit.log_stdout, unit.timeout
        plan.slots = unit.slots
        plan.framed = frame is not None
        if frame is not None:
            plan.name, plan.slug, plan.tags, plan.run_name = frame.task_name, frame.task_slug, frame.task_tags, \
                frame.run_name
        else:
            plan.name = plan.slug = plan.run_name = None
            plan.tags = frozenset()
        plan.filename = source_file(unit.fn)
        return plan

    @staticmethod
    def fields(unit: WorkUnit) -> tuple:
        """What a plan is made of, to tell whether a unit's plan is one made before."""
        frame = unit.frame
        names = (None, None, None, None) if frame is None else (frame.task_name, frame.task_slug, frame.task_tags,
                                                                  frame.run_name)
        return (unit.fn, unit.owner, unit.handlers, unit.checkpoint, unit.retry_condition, unit.retry_on,
                unit.log_stdout, unit.timeout, unit.label, frame is None, *names, unit.slots)

    def unit(self, run: RunInfo | None, body: tuple, static: Any) -> WorkUnit:
        """The unit a worker runs, from this plan and the unit's own part."""
        _, _, indices, size, own_static, keys, columns, run_counts, retried_from = body
        frame = None
        if self.framed:
            frame = Frame(run, self.task_id, self.name, self.slug, self.tags, indices, run_counts, self.run_name)
        return WorkUnit(task_id=self.task_id, label=self.label, fn=self.fn, indices=indices, size=size,
                        static=own_static if static is None else static, mapped_keys=keys, columns=columns,
                        retry_on=self.retry_on, retry_condition=self.retry_condition, frame=frame,
                        log_stdout=self.log_stdout, timeout=self.timeout, handlers=self.handlers, owner=self.owner,
                        checkpoint=self.checkpoint, retried_from=retried_from, slots=self.slots)


class Piece:
    """A part of a unit that others share: ``blob`` (its bytes) and ``key`` (its name on
    workers, None for a part only this unit uses, which travels inline)."""

    __slots__ = ("key", "blob", "kind")

    def __init__(self, key: int | None, blob: bytes, kind: str):
        self.key = key
        self.blob = blob
        #: "run", "plan" or "static".
        self.kind = kind

    def __repr__(self) -> str:
        return f"Piece({self.kind}, key={self.key}, {len(self.blob)} bytes)"


class Parcel:
    """A unit packed to travel (see :meth:`Shipper.pack`).

    ``unit`` is the unit packed; ``sent`` what travels (``unit``, or for a batch some of
    whose task runs cannot be sent, a batch of the others; None: nothing can be sent);
    ``decided``, when ``sent`` is not ``unit``, the result of ``unit`` with the
    outcomes of the task runs not sent; ``head`` the bytes of ``sent``'s own part and
    ``pieces`` its shared parts (run, plan, unmapped arguments: each a :class:`Piece`
    or None), in the order the worker takes them.
    """

    __slots__ = ("unit", "sent", "positions", "decided", "head", "pieces", "loops")

    def __init__(self, unit: Any, sent: Any = None, positions: list | None = None,
                 decided: UnitResult | None = None, head: bytes = b"", pieces: tuple = (None, None, None),
                 loops: tuple = ()):
        self.unit = unit
        self.sent = sent
        self.positions = positions
        self.decided = decided
        self.head = head
        self.pieces = pieces
        #: Keys of RunInfo.loops sent with the unit.
        self.loops = loops

    def finish(self, result: UnitResult) -> UnitResult:
        """The result of ``unit``, given ``result``, the result of ``sent``."""
        if self.positions is None:
            return result
        whole = self.decided
        assert whole is not None  # (a unit sent in part keeps the rest decided)
        whole.place(self.positions, result)
        return whole

    def unpack_sent(self, payload: Any, where: str = "on a worker") -> UnitResult:
        """The result of ``sent`` from the worker's answer (see :func:`unpack`)."""
        return unpack(self.sent, payload, self.loops, where)

    def unpack(self, payload: Any, where: str = "on a worker") -> UnitResult:
        """The result of ``unit`` from the worker's answer for ``sent``."""
        return self.finish(self.unpack_sent(payload, where))

    def failed(self, error: BaseException, text: str | None = None) -> UnitResult:
        """The result of ``unit`` when ``sent`` failed as a whole with ``error``."""
        return self.finish(failed_result(self.sent, error, text))

    def blobs(self) -> tuple:
        """Every piece's bytes (None for a missing piece): what a worker that keeps
        nothing needs besides ``head``."""
        return tuple(None if piece is None else piece.blob for piece in self.pieces)


#: Keys of pieces, unique in this process (workers add the process's origin).
_keys = itertools.count(1)
_ORIGIN = uuid.uuid4().hex


def _origin() -> tuple:
    """This process, as a head names it (the pid too: a forked child is another)."""
    return (_ORIGIN, os.getpid())


class _Kept:
    """A piece kept pickled in the flow process, with what it was made from."""

    __slots__ = ("source", "fields", "piece")

    def __init__(self, source: Any, fields: Any, piece: Piece):
        self.source = source
        self.fields = fields
        self.piece = piece


class Shipper:
    """Packs units into :class:`Parcel` objects for ``where`` (``"a worker"``, ``"a
    worker process"``: in messages), keeping the shared pieces it pickled: at most
    ``entries`` of them and ``max_bytes`` bytes. Thread-safe."""

    def __init__(self, where: str = "a worker", entries: int = 256, max_bytes: int = 256 << 20) -> None:
        self.where = where
        self._entries = entries
        self._max_bytes = max_bytes
        self._kept: OrderedDict = OrderedDict()  # (kind, id(run), task id) -> _Kept
        self._bytes = 0
        self._lock = threading.Lock()

    def pack(self, unit: Any, strict: bool = False) -> Parcel:
        """``unit`` packed to travel. A task run whose part (argument, function...)
        does not pickle is not sent: its outcome is in the parcel's ``decided``
        result, failed with an :class:`~ferroflow.errors.ExecutorError` naming the
        task and the culprit; with ``strict``, that error is raised instead."""
        try:
            if is_batch(unit):
                return self._pack_batch(unit, strict)
            return self._pack_unit(unit)
        except Unsendable as exc:
            error = (self._batch_error(unit, exc) if is_batch(unit) else unsendable_error(unit, exc, self.where))
            if strict:
                raise error from error.__cause__
            return Parcel(unit, decided=failed_result(unit, error))

    # ----- pieces -----

    def _piece(self, kind: str, run: Any, task_id: int, source: Any, fields: Any, what: str,
               make: Callable[[], Any]) -> Piece:
        """The piece ``kind`` of ``task_id`` in ``run``, pickled once while ``source``
        (compared by identity) and ``fields`` (compared with :func:`same`) hold."""
        key = (kind, id(run), task_id)
        with self._lock:
            kept = self._kept.get(key)
            if (kept is not None and kept.source is source
                    and (fields is None or kept.fields is fields or same(kept.fields, fields))):
                self._kept.move_to_end(key)
                return kept.piece
        piece = Piece(next(_keys), dumps(what, make()), kind)
        if len(piece.blob) <= self._max_bytes // 4:
            with self._lock:
                old = self._kept.pop(key, None)
                if old is not None:
                    self._bytes -= len(old.piece.blob)
                self._kept[key] = _Kept(source, fields, piece)
                self._bytes += len(piece.blob)
                while len(self._kept) > self._entries or self._bytes > self._max_bytes:
                    _, dropped = self._kept.popitem(last=False)
                    self._bytes -= len(dropped.piece.blob)
        return piece

    def _run_piece(self, run: RunInfo | None) -> Piece | None:
        if run is None:
            return None

        def make() -> tuple:
            bare = copy.copy(run)
            bare.loops = {}  # each unit carries its own
            return bare, logging_levels(CLUSTER_LOGGERS)

        return self._piece("run", run, -1, run, None, "the run's context (parameters)", make)

    def _plan_piece(self, unit: WorkUnit, run: RunInfo | None) -> Piece:
        what = "its function" if not unit.handlers else "its function or state handlers"
        if unit.indices is None:  # one unit of the task: the plan travels with it
            plan = Plan.of(unit)
            try:
                return Piece(None, cloudpickle.dumps(plan), "plan")
            except Exception as exc:
                raise self._plan_unsendable(unit, what, exc) from exc
        fields = Plan.fields(unit)
        try:
            return self._piece("plan", run, unit.task_id, run, fields, what, lambda: Plan.of(unit))
        except Unsendable as exc:
            raise self._plan_unsendable(unit, what, exc.error) from exc

    @staticmethod
    def _plan_unsendable(unit: WorkUnit, what: str, error: BaseException) -> Unsendable:
        culprit = first_unpicklable((name, getattr(unit, name)) for name in TASK_FIELDS)
        return Unsendable(what, culprit[1] if culprit is not None else unit.fn, error)

    # ----- units -----

    def _pack_unit(self, unit: WorkUnit) -> Parcel:
        frame = unit.frame
        run = frame.run if frame is not None else None
        run_piece = self._run_piece(run)
        plan_piece = self._plan_piece(unit, run)
        static_piece = None
        static: dict | None = unit.static
        if unit.indices is not None and static:
            static_piece = self._piece("static", run, unit.task_id, static, None, "its unmapped arguments",
                                       lambda: static)
            static = None
        loops = unit_loops(unit)
        body = (_UNIT, unit.task_id, unit.indices, unit.size, static, unit.mapped_keys, unit.columns,
                frame.run_counts if frame is not None else None, unit.retried_from)
        pieces = (run_piece, plan_piece, static_piece)
        head = dumps("its arguments", (PACK_VERSION, _origin(), _keys_of(pieces), body, USER_VALUES.get() or None,
                                       loops, redaction.registered()))
        return Parcel(unit, unit, None, None, head, pieces, tuple(loops or ()))

    # ----- batches -----

    def _pack_batch(self, batch: TaskRuns, strict: bool) -> Parcel:
        run_piece = self._run_piece(batch.run_info)
        user = USER_VALUES.get() or None
        try:
            return self._batch_parcel(batch, run_piece, user)
        except Unsendable:
            if user is not None and _context_culprit() is not None:
                raise
        # Some runs cannot be sent: fail them, send the others.
        bad = {}
        for j in range(batch.size):
            error = self._run_error(batch, j)
            if error is not None:
                if strict:
                    raise error from error.__cause__
                bad[j] = error
        if not bad:  # (only together: not seen in practice)
            return self._batch_parcel(batch, run_piece, user)
        decided = UnitResult(bytearray(batch.size), [None] * batch.size, {})
        rules = rules_of(batch)
        for j, error in bad.items():
            decided.codes[j] = outcome_of_exception(error, rules[j])[0]
            decided.values[j] = error
            decided.details[j] = (str(error), None)
        good = [j for j in range(batch.size) if j not in bad]
        if not good:
            return Parcel(batch, decided=decided)
        parcel = self._batch_parcel(batch.subset(good), run_piece, user)
        parcel.unit, parcel.positions, parcel.decided = batch, good, decided
        return parcel

    def _batch_parcel(self, batch: TaskRuns, run_piece: Piece | None, user: Mapping[str, Any] | None) -> Parcel:
        plans = {}
        files: dict = {}
        for task_id in batch.task_ids:
            if task_id not in plans:
                plan = plans[task_id] = batch.plans[task_id]
                if id(plan.fn) not in files:
                    files[id(plan.fn)] = source_file(plan.fn)
        filenames = {task_id: files[id(plan.fn)] for task_id, plan in plans.items()}
        loops = unit_loops(batch)
        body = (_BATCH, plans, filenames, batch.task_ids, batch.kwargs, batch.run_counts)
        pieces = (run_piece, None, None)
        head = dumps("its arguments", (PACK_VERSION, _origin(), _keys_of(pieces), body, user, loops,
                                       redaction.registered()))
        return Parcel(batch, batch, None, None, head, pieces, tuple(loops or ()))

    def _run_error(self, batch: TaskRuns, j: int) -> ExecutorError | None:
        """The error of run ``j`` of ``batch`` if a part of it does not pickle."""
        plan = batch.plans[batch.task_ids[j]]
        culprit = first_unpicklable((name, getattr(plan, name)) for name in TaskPlan.__slots__)
        if culprit is not None:
            return cannot_send(plan.name, None, "its function", culprit[1], culprit[2], self.where)
        culprit = first_unpicklable(batch.kwargs[j].items())
        if culprit is not None:
            return cannot_send(plan.name, None, f"its argument {culprit[0]!r}", culprit[1], culprit[2], self.where)
        return None

    def _batch_error(self, batch: TaskRuns, exc: Unsendable) -> ExecutorError:
        what, value, error = exc.what, exc.value, exc.error
        if what == "its arguments":
            what, value, error = _context_culprit() or (what, value, error)
        return cannot_send(label_of(batch), None, what, value, error, self.where, title_of(batch))


def _keys_of(pieces: tuple) -> tuple:
    """What the head says of each piece: its key, 0 for one that travels inline, None
    for none."""
    return tuple(None if piece is None else piece.key or 0 for piece in pieces)


class SharedParts:
    """Sends each shared part to a cluster once: ``ref(part)`` uploads ``part`` (bytes,
    or a :class:`Piece`'s bytes) with ``upload(part)`` (``ray.put``, ``client.scatter``...)
    the first time it sees it, and returns the same reference after that (for the last
    ``keep`` parts)."""

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


# ----- the worker side ---------------------------------------------------------------------


class _Broken:
    """A piece that failed to load (kept where both sides' caches must stay in step)."""

    __slots__ = ("reason", "text")

    def __init__(self, reason: str, text: str | None):
        self.reason = reason
        self.text = text


class Dock:
    """A worker's pieces, by key (its ``size`` most recently used).

    ``keep_broken``: a piece that fails to load is remembered as such, so that the
    cache holds the same keys as a flow process that mirrors it (``processes``)."""

    def __init__(self, size: int, keep_broken: bool = False) -> None:
        self.size = size
        self.keep_broken = keep_broken
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def take(self, origin: Any, keys: tuple, blobs: Sequence, fetch: Callable[[Any], Any] | None) -> list:
        """The pieces named by ``keys`` (see :func:`_keys_of`), loaded from ``blobs`` or
        found here; a piece that cannot be had is a ``_Broken``. Every key is seen, in
        order, even after a failure."""
        return [None if key is None else self._take(origin, key, blob, fetch)
                for key, blob in zip(keys, blobs, strict=True)]

    def _take(self, origin: Any, key: int, blob: Any, fetch: Callable[[Any], Any] | None) -> Any:
        name = (origin, key)
        if key:
            with self._lock:
                if name in self._cache:
                    self._cache.move_to_end(name)
                    return self._cache[name]
        if blob is None:
            return _Broken(f"its shared part {key} is not in this worker's cache", None)
        try:
            if isinstance(blob, list):  # a reference into the cluster's store
                assert fetch is not None  # (references come only with a way to fetch them)
                blob = fetch(blob[0])
            value = pickle.loads(blob)
            if isinstance(value, Plan):
                restore_source_file(value.fn, value.filename)
        except Exception as exc:
            value = _Broken(f"could not load it: {one_line(exc)}", traceback.format_exc())
            if not self.keep_broken:
                return value
        if key:
            with self._lock:
                self._cache[name] = value
                if len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return value


class MarkedFrame(Frame):
    """A frame whose position also goes to ``mark`` (a shared memory cell) as it moves,
    so that another process knows which task run is running."""

    __slots__ = ("_j", "_mark")
    _j: int
    _mark: Any

    def _get_j(self) -> int:
        return self._j

    def _set_j(self, value: int) -> None:
        self._j = value
        self._mark[0] = value

    j = property(_get_j, _set_j)

    @classmethod
    def of(cls, frame: Frame, mark: Any) -> MarkedFrame:
        marked = object.__new__(cls)
        for name in Frame.__slots__:
            if name != "j":
                object.__setattr__(marked, name, getattr(frame, name))
        marked._mark = mark
        marked._j = 0
        return marked

    def __reduce__(self) -> Any:  # travels (if ever) as a plain Frame
        plain = object.__new__(Frame)
        for name in Frame.__slots__:
            setattr(plain, name, self._j if name == "j" else getattr(self, name, None))
        return plain.__reduce_ex__(2)


#: Pieces a cluster worker process keeps (Dask, Ray; least recently used out).
_DOCK = Dock(64)


def _error_payload(reason: str, text: str | None) -> bytes:
    where = f"pid {os.getpid()} on {socket.gethostname()}"
    return _ERROR + pickle.dumps((redaction.scrub(f"{reason} ({where})"), redaction.scrub(text)))


def _own_run(run: RunInfo | None, loops: dict | None) -> RunInfo | None:
    """A unit's own copy of the run's context, with its own loop state (units may run
    at once in threads of one worker)."""
    if run is None:
        return None
    own = object.__new__(RunInfo)
    for name in RunInfo.__slots__:
        setattr(own, name, getattr(run, name))
    own.loops = dict(loops or {})
    return own


def run_shipped(head: bytes, *blobs: Any, fetch: Callable[[Any], Any] | None = None) -> bytes:
    """Run a parcel on a cluster's worker (see :func:`run_parcel`): ``head`` and the
    bytes of its pieces (or ``[reference]`` to get with ``fetch``). Returns the
    answer for :meth:`Parcel.unpack`; never raises for a user's error. Safe to call
    from several threads at once."""
    return run_parcel(head, blobs, _DOCK, fetch)


def run_parcel(head: bytes, blobs: Sequence, dock: Dock, fetch: Callable[[Any], Any] | None = None,
               mark: Any = None, every_thread: bool = False) -> bytes:
    """Run the unit of a parcel here; return its outcome as bytes for
    :meth:`Parcel.unpack`. Never raises for a user's error: a failing task run is in
    the outcome, and so is a unit that cannot be loaded here or a ``SystemExit`` /
    ``KeyboardInterrupt`` raised by a task (which fails the unit's runs).

    ``dock`` keeps the pieces; ``fetch`` gets a piece passed as ``[reference]``;
    ``mark`` (a shared cell) follows the position of the task run running (-1 while
    loading, -2 while sending back); ``every_thread``: records of any thread of this
    process are the unit's (a process that runs one unit at a time)."""
    if mark is not None:
        mark[0] = -1
    try:
        loaded = pickle.loads(head)
        version = loaded[0]
    except Exception as exc:
        return _error_payload(f"could not load it: {one_line(exc)}", traceback.format_exc())
    if version != PACK_VERSION:
        return _error_payload(f"it was packed in format {version!r} and this worker reads format "
                              f"{PACK_VERSION} (install the same ferroflow version everywhere)", None)
    version, origin, keys, body, user, loops, secrets = loaded
    if secrets:
        redaction.register_all(secrets)
    pieces = dock.take(origin, keys, blobs, fetch)
    for piece in pieces:
        if isinstance(piece, _Broken):
            return _error_payload(piece.reason, piece.text)
    shared_run, plan, static = pieces
    run, levels = shared_run if shared_run is not None else (None, None)
    own_run = _own_run(run, loops)
    frame = None
    if body[0] == _UNIT:
        unit = plan.unit(own_run, body, static)
        if unit.frame is not None and mark is not None:
            unit.frame = MarkedFrame.of(unit.frame, mark)
        frame = unit.frame
    else:
        _, plans, filenames, task_ids, kwargs, run_counts = body
        for task_id, plan in plans.items():
            restore_source_file(plan.fn, filenames.get(task_id))
        unit = TaskRuns(own_run, plans, task_ids, kwargs, run_counts)
        frame = Frame(own_run, -1, None, None, frozenset(), None, run_counts)
        if mark is not None:
            frame = MarkedFrame.of(frame, mark)
    here = origin == _origin()  # in the flow process: records are handled as they come
    records: list = []
    capture = None if here else prepare_worker(levels)
    captured = _CAPTURED.set(records) if not here else None
    if every_thread and capture is not None:
        capture.records = records
    user_token = USER_VALUES.set(user) if user else None
    try:
        # (prints are routed per thread: ferroflow.runtime.stdout)
        result = unit.run() if frame is None or body[0] == _UNIT else unit.run(frame)
    except BaseException as exc:
        j = frame.j if frame is not None else 0
        return _error_payload(f"task run {run_name(unit, j)!r} raised {exc!r}; the {unit.size} task run(s) "
                              f"of its work unit were abandoned",
                              "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    finally:
        if mark is not None:
            mark[0] = -2
        if user_token is not None:
            USER_VALUES.reset(user_token)
        if captured is not None:
            _CAPTURED.reset(captured)
        if every_thread and capture is not None:
            capture.records = None
    back = own_run.loops if own_run is not None and own_run.loops else None
    known = redaction.registered()
    if known is not None and secrets:
        sent = set(secrets)
        known = tuple(value for value in known if value not in sent) or None
    try:
        return _DONE + encode_result(unit, result, records, back, known)
    except Exception as exc:
        return _error_payload(f"could not send its results back: {one_line(exc)}", traceback.format_exc())

"""Running work units in other processes or on other machines, in a few calls: the
functions a remote executor can be built on, over :mod:`ferroflow.executors.shipping`
(which the ``processes`` executor and the Dask and Ray plugins use directly)::

    payload = pack_unit(unit)                     # flow process: the unit as bytes
    future = cluster.submit(run_packed, payload)  # anywhere: runs it, returns bytes
    result = unpack_result(unit, future.result()) # flow process: a UnitResult
    result = failed_result(unit, error)           # the worker was lost, the future cancelled...

and, where a cluster has an object store, ``shared, own = pack_parts(unit)``:
``shared`` (the run's context, the task's plan, a mapped task's unmapped arguments) is
the same bytes object for every unit of a task in a run, worth uploading once
(:class:`SharedParts`), and ``run_split(shared, own)`` runs the two on the worker.

* :func:`pack_unit` raises :class:`~ferroflow.errors.ExecutorError` naming the task
  and the argument (or context value, or function) that does not pickle; an executor
  should turn that into ``failed_result(unit, error)`` rather than let it end the run.
* :func:`run_packed` never raises for a user's error: it loads the unit (a worker keeps
  what units share, by key, and loads it once), runs it while capturing the log records
  its task runs emit, and returns codes, values, details, records and loop state as
  bytes. A value that does not pickle fails only its task run; an exception that would
  not come back as itself travels as a :class:`RemoteTaskError`; a unit that cannot be
  loaded comes back as an error that :func:`unpack_result` turns into failed task runs.
* :func:`unpack_result`, in the flow process, handles the records again there in the
  task run they belong to and merges the loop state back into the run.

An executor that also takes batches (``Executor.batches``) uses
:class:`~ferroflow.executors.shipping.Shipper` instead: a batch some of whose task runs
cannot be sent still sends the others.
"""

from __future__ import annotations

import pickle
import threading
import traceback
from collections import OrderedDict
from typing import Any

from ferroflow.errors import one_line
from ferroflow.executors.shipping import (  # noqa: F401 - the names remote executors import from here
    CLUSTER_LOGGERS,
    PACK_VERSION,
    TASK_FIELDS,
    LogCapture,
    RemoteTaskError,
    SharedParts,
    Shipper,
    Unsendable,
    WorkerCrashedError,
    _error_payload,
    decode_result,
    dumps,
    encode_result,
    failed_result,
    first_unpicklable,
    logging_levels,
    map_index,
    merge_loops,
    plain_record,
    replay_records,
    restore_source_file,
    run_name,
    run_shipped,
    same,
    source_file,
    unit_loops,
    unpack,
    unsendable_error,
)
from ferroflow.runtime.unit import UnitResult, WorkUnit

__all__ = ["pack_unit", "run_packed", "unpack_result", "failed_result", "pack_parts", "run_split", "SharedParts",
           "WorkerCrashedError", "RemoteTaskError"]

#: Packs the units given to these functions (its pieces are kept for the next units).
_shipper = Shipper("a worker")
#: The ``shared`` part of pack_parts(), one bytes object per set of pieces.
_joined: OrderedDict = OrderedDict()
_joined_lock = threading.Lock()
_JOINED_ENTRIES = 64


def pack_unit(unit: WorkUnit) -> bytes:
    """``unit`` as bytes for :func:`run_packed`, anywhere. Raises
    :class:`~ferroflow.errors.ExecutorError` naming the task and the argument (or the
    ``with context(...)`` value) when something does not pickle."""
    parcel = _shipper.pack(unit, strict=True)
    return pickle.dumps((parcel.head, parcel.blobs()), protocol=pickle.HIGHEST_PROTOCOL)


def run_packed(payload: bytes) -> bytes:
    """Run a unit packed by :func:`pack_unit`; return its outcome as bytes for
    :func:`unpack_result`. Never raises for a user's error. Safe to call from several
    threads at once."""
    try:
        head, blobs = pickle.loads(payload)
    except Exception as exc:
        return _error_payload(f"could not load it: {one_line(exc)}", traceback.format_exc())
    return run_shipped(head, *blobs)


def pack_parts(unit: WorkUnit) -> tuple:
    """``(shared, own)``: :func:`pack_unit`'s payload in two parts, for
    :func:`run_split`. ``shared`` is what every unit of the task carries (the run's
    context, the task, the unmapped arguments): the same bytes object for each of them,
    worth sending once where a cluster has an object store (:class:`SharedParts`).
    ``own`` is the unit's own part."""
    parcel = _shipper.pack(unit, strict=True)
    names = tuple((piece.key, id(piece.blob)) if piece is not None else None for piece in parcel.pieces)
    with _joined_lock:
        entry = _joined.get(names)
        if entry is not None and all(a is b for a, b in zip(entry[0], parcel.pieces, strict=True)):
            _joined.move_to_end(names)
            return entry[1], parcel.head
    shared = pickle.dumps(parcel.blobs(), protocol=pickle.HIGHEST_PROTOCOL)
    with _joined_lock:
        _joined[names] = (parcel.pieces, shared)
        if len(_joined) > _JOINED_ENTRIES:
            _joined.popitem(last=False)
    return shared, parcel.head


def run_split(shared: bytes, own: bytes) -> bytes:
    """:func:`run_packed` of the two parts of :func:`pack_parts`."""
    try:
        blobs = pickle.loads(shared)
    except Exception as exc:
        return _error_payload(f"could not load it: {one_line(exc)}", traceback.format_exc())
    return run_shipped(own, *blobs)


def unpack_result(unit: WorkUnit, payload: Any) -> UnitResult:
    """The UnitResult of ``unit`` from :func:`run_packed`'s bytes, in the flow process:
    the records its task runs emitted are handled here, in the task runs they belong to
    (``state.logs``, the run store, your handlers), and its loop state is merged into
    the run. A unit that could not run on the worker comes back as failed task runs
    (an :class:`~ferroflow.errors.ExecutorError` saying why, retryable)."""
    return unpack(unit, payload, tuple(unit_loops(unit) or ()), "on a worker")

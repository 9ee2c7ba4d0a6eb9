"""``ferroflow.executors.shipping`` without a worker process: units and batches packed,
run by ``run_shipped`` in this process and unpacked; what units share is pickled once
and loaded once; what does not pickle fails only the task runs it belongs to."""

from __future__ import annotations

import datetime
import threading

from ferroflow import context
from ferroflow._core import FAILED, RETRY_OK, SUCCESS
from ferroflow.errors import ExecutorError
from ferroflow.executors.shipping import Shipper, run_shipped
from ferroflow.runtime.batch import TaskPlan, TaskRuns
from ferroflow.runtime.context import Frame, RunInfo
from ferroflow.runtime.unit import WorkUnit


def _run_info() -> RunInfo:
    return RunInfo("shipping", "run-1", {"p": 1}, datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))


def add(a, b=0):
    return a + b


def first(a, b=None):
    return a


def _batch(run: RunInfo, args: list) -> TaskRuns:
    plans = {i: TaskPlan(i, f"add{i}", f"add{i}", frozenset(), add, ()) for i in range(len(args))}
    return TaskRuns(run, plans, list(plans), [{"a": a} for a in args], bytes([1] * len(args)))


def _mapped(run: RunInfo, xs: list, **static) -> WorkUnit:
    indices = list(range(len(xs)))
    return WorkUnit(task_id=7, label="first", fn=first, indices=indices, size=len(xs), static=static,
                    mapped_keys=("a",), columns=(list(xs),),
                    frame=Frame(run, 7, "first", "first", frozenset(), indices, bytes([1] * len(xs))))


def _ship(parcel):
    return parcel.unpack(run_shipped(parcel.head, *parcel.blobs()))


def test_a_batch_runs_shipped_and_its_plans_travel_in_its_head():
    parcel = Shipper().pack(_batch(_run_info(), [1, 2, 3]))
    assert parcel.sent is parcel.unit and parcel.pieces[1:] == (None, None)
    assert parcel.pieces[0].kind == "run" and parcel.pieces[0].key
    result = _ship(parcel)
    assert list(result.codes) == [SUCCESS] * 3 and result.values == [1, 2, 3]


def test_a_run_of_a_batch_whose_argument_does_not_pickle_fails_alone():
    batch = _batch(_run_info(), [1, threading.Lock(), 3])
    parcel = Shipper("a worker process").pack(batch)
    assert parcel.sent.task_ids == [0, 2] and parcel.positions == [0, 2]
    result = _ship(parcel)
    assert result.values[0] == 1 and result.values[2] == 3
    assert result.codes[1] & ~RETRY_OK == FAILED and isinstance(result.values[1], ExecutorError)
    assert result.details[1][0].startswith("Task 'add1' cannot be sent to a worker process: its argument 'a' "
                                           "cannot be pickled: Cannot serialize a value of type '_thread.lock'")


def test_a_context_value_that_does_not_pickle_fails_the_whole_batch_naming_it():
    with context(lock=threading.Lock()):
        parcel = Shipper().pack(_batch(_run_info(), [1, 2]))
    assert parcel.sent is None
    assert all(code & ~RETRY_OK == FAILED for code in parcel.decided.codes)
    assert parcel.decided.details[0][0].startswith(
        "A batch of 2 task runs (add0, add1) cannot be sent to a worker: the context value 'lock' (set with "
        "`with context(...)`) cannot be pickled")


class Loads:
    """Counts how many times it is unpickled (in this process)."""

    loaded = 0

    def __reduce__(self):
        return (_loaded, ())


def _loaded():
    Loads.loaded += 1
    return Loads()


def test_what_a_mapped_tasks_units_share_is_pickled_once_and_loaded_once():
    run = _run_info()
    unit = _mapped(run, [1, 2, 3, 4], b=Loads())
    shipper = Shipper()
    one, two = shipper.pack(unit.subset([0, 1])), shipper.pack(unit.subset([2, 3]))
    # The run's context, the plan and the unmapped arguments: the same pieces, by key.
    assert [p.kind for p in one.pieces] == ["run", "plan", "static"]
    assert all(a is b and a.key for a, b in zip(one.pieces, two.pieces, strict=True))
    assert len(one.head) < 400
    Loads.loaded = 0
    # Given every part's bytes with each unit, as a cluster's worker may be: loaded once.
    assert _ship(one).values == [1, 2] and _ship(two).values == [3, 4]
    assert Loads.loaded == 1


def test_the_plan_of_a_task_that_is_not_mapped_travels_with_its_unit():
    run = _run_info()
    unit = WorkUnit(task_id=3, label="add", fn=add, indices=None, size=1, static={"a": 5},
                    frame=Frame(run, 3, "add", "add", frozenset(), None, b"\x01"))
    parcel = Shipper().pack(unit)
    assert parcel.pieces[1].kind == "plan" and parcel.pieces[1].key is None  # inline, not kept
    assert _ship(parcel).values == [5]

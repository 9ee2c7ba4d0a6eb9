"""``ferroflow.executors.remote``, the API this plugin (and any remote executor) is
built on, without a cluster: pack, run, unpack in one process; errors that name
their culprit."""

from __future__ import annotations

import threading

import pytest

from ferroflow._core import FAILED, RETRY_OK, SUCCESS
from ferroflow.errors import ExecutorError
from ferroflow.executors.base import WorkUnit
from ferroflow.executors.remote import (
    SharedParts,
    failed_result,
    pack_parts,
    pack_unit,
    run_packed,
    run_split,
    unpack_result,
)


def _unit(fn, xs, **static) -> WorkUnit:
    return WorkUnit(task_id=0, label="work", fn=fn, indices=range(len(xs)), size=len(xs), static=static,
                    mapped_keys=("x",), columns=(list(xs),))


def test_pack_run_unpack():
    unit = _unit(lambda x, k: x * k if x != 2 else 1 / 0, [1, 2, 3], k=10)
    result = unpack_result(unit, run_packed(pack_unit(unit)))
    assert list(result.codes[i] & ~RETRY_OK for i in range(3)) == [SUCCESS, FAILED, SUCCESS]
    assert result.values[0] == 10 and result.values[2] == 30
    assert isinstance(result.values[1], ZeroDivisionError) and "ZeroDivisionError" in result.details[1][1]


def test_a_unit_packed_in_its_shared_part_and_its_own_runs_the_same():
    big = list(range(50_000))  # an unmapped argument: part of what the task's units share
    def fn(x, table):
        return x + len(table)

    unit = _unit(fn, [1, 2], table=big)
    shared, own = pack_parts(unit)
    assert len(shared) > 100_000 > len(own)  # the big argument is in the shared part only
    assert pack_parts(unit.subset([1]))[0] is shared  # the same for every unit of the task
    result = unpack_result(unit, run_split(shared, own))
    assert result.values == [50_001, 50_002]
    broken = unpack_result(unit, run_split(shared, b"nonsense"))
    assert all(code & ~RETRY_OK == FAILED for code in broken.codes)


def test_shared_parts_are_uploaded_once_per_part():
    uploads = []
    parts = SharedParts(lambda part: uploads.append(part) or f"ref{len(uploads)}", keep=2)
    a, b, c = b"a" * 10, b"b" * 10, b"c" * 10
    assert [parts.ref(a), parts.ref(a), parts.ref(b), parts.ref(a)] == ["ref1", "ref1", "ref2", "ref1"]
    assert parts.ref(c) == "ref3" and parts.ref(b) == "ref4"  # b was the least recently used: out
    parts.clear()
    assert parts.ref(a) == "ref5" and uploads == [a, b, c, b, a]


def test_an_unpicklable_argument_is_named():
    unit = _unit(lambda x, lock: x, [1, 2], lock=threading.Lock())
    with pytest.raises(ExecutorError, match="Task 'work' cannot be sent to a worker: its argument 'lock' "
                                            "cannot be pickled"):
        pack_unit(unit)
    unit = _unit(lambda x: x, [threading.Lock()])
    with pytest.raises(ExecutorError, match="its argument 'x' cannot be pickled"):
        pack_unit(unit)
    unit = _unit(lambda x: x, [1, 2, threading.Lock()])  # the culprit is one item, not the list
    with pytest.raises(ExecutorError, match=r"its argument 'x' cannot be pickled: Cannot serialize a value of "
                                            r"type '_thread.lock'.*\(task 'work', map index 2\)"):
        pack_unit(unit)


def test_an_unpicklable_result_fails_that_task_run_only():
    unit = _unit(lambda x: threading.Lock() if x == 1 else x, [0, 1, 2])
    result = unpack_result(unit, run_packed(pack_unit(unit)))
    assert result.values[0] == 0 and result.values[2] == 2
    assert result.codes[1] & ~RETRY_OK == FAILED
    assert result.details[1][0].startswith("The result of task run 'work[1]' could not be sent back")


def test_failed_result_is_retryable_for_every_run():
    unit = _unit(lambda x: x, [0, 1, 2])
    result = failed_result(unit, ExecutorError("worker lost"), "details")
    assert list(result.codes) == [FAILED | RETRY_OK] * 3
    assert all(isinstance(v, ExecutorError) for v in result.values)
    assert result.details == {j: ("worker lost", "details") for j in range(3)}


def test_a_payload_that_is_not_ours():
    unit = _unit(lambda x: x, [0])
    with pytest.raises(ExecutorError, match="did not produce"):
        unpack_result(unit, b"nonsense")
    result = unpack_result(unit, run_packed(b"nonsense"))  # run_packed never raises
    assert result.codes[0] & ~RETRY_OK == FAILED
    assert result.details[0][0].startswith("Task 'work' could not run on a worker: could not load it:")

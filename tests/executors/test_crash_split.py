"""CrashSplitter: units lost as a whole are run in halves until the task run that kills
its workers is alone; results are put back together; splitting is bounded."""

from __future__ import annotations

import pytest

from ferroflow._core import FAILED, SUCCESS
from ferroflow.executors.crash_split import CrashSplitter, lost_budget
from ferroflow.runtime.context import Frame
from ferroflow.runtime.unit import UnitResult, WorkUnit


def unit_of(n: int) -> WorkUnit:
    indices = list(range(100, 100 + n))
    return WorkUnit(task_id=0, label="t", fn=lambda x: x, indices=indices, size=n, static={},
                    mapped_keys=("x",), columns=(list(range(n)),),
                    frame=Frame(None, 0, "t", "t", frozenset(), indices, bytes([1]) * n))


def lost(unit: WorkUnit) -> UnitResult:
    return UnitResult(bytearray([FAILED]) * unit.size, ["lost"] * unit.size)


def run_with_poison(splitter: CrashSplitter, unit: WorkUnit, poison: set, depth_first: bool = True):
    """Play an executor: a unit holding a poison x is lost as a whole; count losses."""
    queue, done, losses = [unit], [], 0
    while queue:
        piece = queue.pop() if depth_first else queue.pop(0)
        xs = piece.columns[0]
        if poison & set(xs):
            losses += 1
            halves = splitter.split(piece, lost(piece))
            if halves:
                queue.extend(halves)
                continue
            result = lost(piece)
        else:
            result = UnitResult(bytearray([SUCCESS]) * piece.size, [x * 10 for x in xs])
        back = splitter.settle(piece, result)
        if back is not None:
            done.append(back)
    return done, losses


@pytest.mark.parametrize("n", [2, 3, 8, 1000, 8192])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_poison_run_fails_alone_after_log2_losses(n, where):
    x = {"first": 0, "middle": n // 2, "last": n - 1}[where]
    unit = unit_of(n)
    splitter = CrashSplitter()
    done, losses = run_with_poison(splitter, unit, {x})
    ((back, result),) = done
    assert back is unit and len(splitter) == 0
    assert [j for j in range(n) if result.codes[j] != SUCCESS] == [x]
    assert result.values[x] == "lost"
    assert all(result.values[j] == j * 10 for j in range(n) if j != x)
    assert losses <= 2 + (n - 1).bit_length()  # its halvings, and once more alone


def test_two_poison_runs_are_both_isolated():
    unit = unit_of(1000)
    done, _ = run_with_poison(CrashSplitter(), unit, {3, 997})
    ((_, result),) = done
    assert [j for j in range(1000) if result.codes[j] != SUCCESS] == [3, 997]


@pytest.mark.parametrize("depth_first", [True, False])
def test_splitting_stops_when_every_run_kills_its_worker(depth_first):
    n = 1024
    unit = unit_of(n)
    done, losses = run_with_poison(CrashSplitter(), unit, set(range(n)), depth_first)
    ((back, result),) = done
    assert back is unit and all(code == FAILED for code in result.codes)
    # Full bisection would lose 2n - 1 = 2047 pieces. Splitting stops at the budget
    # (21 here); the halves already made are still lost once each: each split made two.
    assert lost_budget(n) == 23 and lost_budget(n) < losses <= 2 * lost_budget(n) + 1


def test_a_unit_of_one_is_not_split_and_units_not_split_pass_through():
    splitter = CrashSplitter()
    one = unit_of(1)
    assert splitter.split(one, lost(one)) == []
    result = lost(one)
    assert splitter.settle(one, result) == (one, result)


def test_a_run_lost_beside_the_poison_runs_once_more_alone_and_completes():
    # A dying worker takes every piece it holds: a half of one innocent task run lost
    # with the poison is run again alone before it could be taken for the culprit.
    unit = unit_of(2)
    splitter = CrashSplitter()
    left, right = splitter.split(unit, lost(unit))
    (left_again,) = splitter.split(left, lost(left))  # lost beside the poison
    (right_again,) = splitter.split(right, lost(right))
    assert (left_again.columns, right_again.columns) == (([0],), ([1],))
    assert splitter.split(right_again, lost(right_again)) == []  # lost alone twice: the poison
    assert splitter.settle(right_again, lost(right_again)) is None
    back, result = splitter.settle(left_again, UnitResult(bytearray([SUCCESS]), [0]))
    assert back is unit and list(result.codes) == [SUCCESS, FAILED] and result.values == [0, "lost"]


def test_halves_keep_map_indices_inputs_and_attempts():
    unit = unit_of(5)
    left, right = CrashSplitter().split(unit, lost(unit))
    assert (left.indices, right.indices) == ([100, 101], [102, 103, 104])
    assert (left.columns, right.columns) == (([0, 1],), ([2, 3, 4],))
    assert right.frame.indices == [102, 103, 104] and right.frame.run_counts == bytes([1, 1, 1])
    assert right.size == 3 and right.fn is unit.fn


def test_results_of_halves_are_put_back_in_place_in_any_order():
    unit = unit_of(4)
    splitter = CrashSplitter()
    left, right = splitter.split(unit, lost(unit))
    assert splitter.settle(right, UnitResult(bytearray([SUCCESS, FAILED]), ["c", "d"], {1: ("bad", None)})) is None
    back, result = splitter.settle(left, UnitResult(bytearray([SUCCESS, SUCCESS]), ["a", "b"]))
    assert back is unit and result.values == ["a", "b", "c", "d"]
    assert list(result.codes) == [SUCCESS, SUCCESS, SUCCESS, FAILED] and result.details == {3: ("bad", None)}


def test_clear_forgets_everything():
    unit = unit_of(4)
    splitter = CrashSplitter()
    splitter.split(unit, lost(unit))
    assert len(splitter) == 2
    splitter.clear()
    assert len(splitter) == 0

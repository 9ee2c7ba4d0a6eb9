"""The engine slices mapped children into work units sized from measured timings:
small first units, growing until timed, then about UNIT_SECONDS each."""

from collections import deque

import pytest

from ferroflow import Flow, task
from ferroflow.engine import runner
from ferroflow.executors.base import Executor


class TimingExecutor(Executor):
    """Runs units in order and pretends each task run took ``seconds_per_run``."""

    name = "timing"

    def __init__(self, seconds_per_run, slots=1):
        self.seconds_per_run = seconds_per_run
        self._slots = slots
        self.queue = deque()
        self.sizes = []
        self.most_in_flight = 0

    def slots(self):
        return self._slots

    def submit(self, unit):
        self.queue.append(unit)
        self.most_in_flight = max(self.most_in_flight, len(self.queue))

    def wait(self):
        unit = self.queue.popleft()
        result = unit.run()
        result.elapsed = self.seconds_per_run * unit.size
        if unit.indices is not None:
            self.sizes.append(unit.size)
        return [(unit, result)]


@task
def double(x):
    return 2 * x


def mapped_flow(n):
    with Flow("sizing") as flow:
        doubled = double.map(list(range(n)))
    return flow, doubled


def test_slow_children_get_small_units_after_the_first_is_timed():
    executor = TimingExecutor(seconds_per_run=0.05)
    flow, _ = mapped_flow(100)
    state = flow.run(executor=executor)
    assert state.is_successful()
    first, second, *rest = executor.sizes
    assert (first, second) == (runner.FIRST_UNIT_SIZE, 2 * runner.FIRST_UNIT_SIZE)
    # 0.05 s per child: two children make UNIT_SECONDS.
    assert set(rest) == {int(runner.UNIT_SECONDS / 0.05)}
    assert sum(executor.sizes) == 100


def test_fast_children_grow_to_the_largest_unit():
    executor = TimingExecutor(seconds_per_run=1e-7)
    flow, _ = mapped_flow(40_000)
    state = flow.run(executor=executor)
    assert state.is_successful()
    assert max(executor.sizes) == runner.UNIT_SIZE
    assert sum(executor.sizes) == 40_000
    assert len(executor.sizes) < 12


@pytest.mark.parametrize("slots", [1, 3])
def test_units_in_flight_are_bounded_per_slot(slots):
    executor = TimingExecutor(seconds_per_run=0.05, slots=slots)
    flow, doubled = mapped_flow(60)
    state = flow.run(executor=executor)
    assert state.is_successful()
    assert executor.most_in_flight <= runner.UNITS_PER_SLOT * slots
    assert [s.result for s in state.result[doubled].map_states] == [2 * i for i in range(60)]


def test_parallel_slots_share_the_children_before_any_unit_is_timed():
    executor = TimingExecutor(seconds_per_run=0.01, slots=6)
    flow, _ = mapped_flow(400)
    assert flow.run(executor=executor).is_successful()
    first_wave = executor.sizes[: runner.UNITS_PER_SLOT * 6]
    assert max(first_wave) == runner.FIRST_UNIT_SIZE  # no doubling before timings
    assert max(executor.sizes) <= int(runner.UNIT_SECONDS / 0.01)
    assert sum(executor.sizes) == 400


class DuplicatingExecutor(TimingExecutor):
    """Returns every unit twice, the second time with a wrong result (a recomputed
    future reporting late)."""

    def wait(self):
        unit = self.queue.popleft()
        result = unit.run()
        late = unit.run()
        late.values = ["late"] * unit.size
        return [(unit, result), (unit, late)]


def test_a_duplicate_result_never_overwrites_the_recorded_one(caplog):
    executor = DuplicatingExecutor(seconds_per_run=1e-6)
    flow, doubled = mapped_flow(50)
    with caplog.at_level("WARNING", logger="ferroflow.engine"):
        state = flow.run(executor=executor)
    assert state.is_successful()
    assert [s.result for s in state.result[doubled].map_states] == [2 * i for i in range(50)]
    assert any("ignored a second result" in r.getMessage() for r in caplog.records)

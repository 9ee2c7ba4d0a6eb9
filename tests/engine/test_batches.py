"""Ready runs of plain (non-mapped) tasks travel as one batch unit
(``ferroflow.runtime.batch.TaskRuns``): one hand-over per layer of a DAG, with the same
states, values, context and failures as one unit per task run."""

from __future__ import annotations

import cloudpickle
import pytest

from ferroflow import Flow, context, debug, signals, task
from ferroflow.executors import Executor, LocalExecutor
from ferroflow.runtime.batch import TaskRuns


class Counting(Executor):
    """Runs units in this thread, counting what it was handed."""

    name = "counting"

    def __init__(self, batches: bool):
        self.batches = batches
        self.units: list = []
        self.pending: list = []

    def submit(self, unit):
        self.units.append(unit)
        self.pending.append(unit)

    def wait(self):
        unit = self.pending.pop(0)
        return [(unit, unit.run())]


@task
def first(i):
    return i


@task
def join(a, b, c):
    return a + b + c


def grid(width: int, depth: int):
    with Flow("grid") as flow:
        layer = [first(i) for i in range(width)]
        for _ in range(depth - 1):
            layer = [join(layer[max(i - 1, 0)], layer[i], layer[min(i + 1, width - 1)]) for i in range(width)]
    return flow, layer


def expected_grid(width: int, depth: int) -> list:
    layer = list(range(width))
    for _ in range(depth - 1):
        layer = [layer[max(i - 1, 0)] + layer[i] + layer[min(i + 1, width - 1)] for i in range(width)]
    return layer


def test_a_layer_of_a_grid_is_one_hand_over_with_the_same_values():
    flow, last = grid(10, 10)
    batching, single = Counting(batches=True), Counting(batches=False)
    batched_state = flow.run(executor=batching, record=False)
    single_state = flow.run(executor=single, record=False)
    want = expected_grid(10, 10)
    for state in (batched_state, single_state):
        assert state.is_successful(), state
        assert [state.result[t].result for t in last] == want
    assert len(single.units) == 100 and not any(type(u) is TaskRuns for u in single.units)
    assert all(type(u) is TaskRuns for u in batching.units)
    assert len(batching.units) == 10  # one per layer
    assert sum(u.size for u in batching.units) == 100


def test_a_failure_in_a_batch_fails_that_run_only_and_its_downstream():
    @task
    def boom(x):
        raise ValueError(f"bad {x}")

    @task
    def ok(x):
        return x * 2

    @task
    def after(x):
        return x

    with Flow("mixed") as flow:
        x = first(3)
        bad, good = boom(x), ok(x)
        down_bad, down_good = after(bad), after(good)
    executor = Counting(batches=True)
    state = flow.run(executor=executor, record=False)
    assert state.is_failed()
    assert state.result[bad].is_failed()
    assert "ValueError('bad 3')" in state.result[bad].message
    assert isinstance(state.result[bad].result, ValueError)
    assert state.result[good].result == 6
    assert state.result[down_good].result == 6
    assert state.result[down_bad].is_failed()  # TriggerFailed
    assert any(type(u) is TaskRuns and u.size == 2 for u in executor.units)


def test_batched_runs_see_their_own_context_and_attempt():
    seen = {}
    attempts = {"n": 0}

    @task(max_retries=2, retry_delay=0)
    def flaky():
        attempts["n"] += 1
        seen["flaky"] = (context.task_name, context.task_run_count, context.map_index)
        if attempts["n"] < 3:
            raise RuntimeError("not yet")
        return "done"

    @task
    def named(tag):
        seen[tag] = (context.task_name, context.task_slug, context.task_full_name, context.map_index)
        return tag

    with Flow("ctx") as flow:
        f = flaky()
        a, b = named("a"), named("b")
    state = flow.run(executor=Counting(batches=True), record=False)
    assert state.is_successful(), state
    assert state.result[f].result == "done"
    assert seen["flaky"] == ("flaky", 3, None)
    assert seen["a"] == ("named", flow.slugs[a], "named", None)
    assert seen["b"] == ("named", flow.slugs[b], "named", None)


def test_signals_in_a_batch_give_their_states():
    @task
    def skipper():
        raise signals.SKIP("not today")

    @task
    def fine():
        return 1

    with Flow("signals") as flow:
        s, f = skipper(), fine()
    state = flow.run(executor=Counting(batches=True), record=False)
    assert state.result[s].is_skipped()
    assert state.result[s].message == "not today"
    assert state.result[f].result == 1


def test_raise_on_exception_stops_a_batch_at_its_first_error():
    ran = []

    @task
    def boom():
        ran.append("boom")
        raise KeyError("first")

    @task
    def other(name):
        ran.append(name)
        return 2

    with Flow("raising") as flow:
        for name in "abc":
            other(name)
        boom()
        for name in "def":
            other(name)
    with debug.raise_on_exception():
        with pytest.raises(KeyError):
            flow.run(executor=LocalExecutor(), record=False)
    assert ran[-1] == "boom"  # nothing of the batch ran after it
    assert len(ran) < 7


def test_a_batch_pickles_with_only_the_plans_it_uses():
    flow, _ = grid(3, 2)
    executor = Counting(batches=True)
    flow.run(executor=executor, record=False)
    batch = executor.units[-1]
    again = cloudpickle.loads(cloudpickle.dumps(batch))
    assert sorted(again.plans) == sorted(set(batch.task_ids))
    assert bytes(again.run().codes) == bytes(batch.run().codes)
    part = batch.subset([1])
    assert part.task_ids == [batch.task_ids[1]] and part.size == 1


def test_a_retry_with_no_delay_runs_again_without_waiting_for_the_clock(monkeypatch):
    from ferroflow.engine import runner

    slept = []
    real_sleep = runner.time.sleep
    monkeypatch.setattr(runner.time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    calls = {"n": 0}

    @task(max_retries=3, retry_delay=0)
    def flaky():
        calls["n"] += 1
        if calls["n"] < 4:
            raise RuntimeError("again")
        return calls["n"]

    with Flow("no delay") as flow:
        f = flaky()
    state = flow.run(record=False)
    assert state.result[f].result == 4 and state.result[f].run_count == 4
    assert slept == []  # (reports are stamped rounded up: waiting for the clock cost up to 1 ms each)


class TwoSlots(Counting):
    """Two slots, units run in this thread, one unit finishing per wait(): the
    engine's view of an executor whose units come back one by one."""

    def __init__(self):
        super().__init__(batches=True)

    def slots(self):
        return 2


def test_ready_runs_gather_while_every_slot_is_busy():
    flow, last = grid(30, 30)
    executor = TwoSlots()
    state = flow.run(executor=executor, record=False)
    assert [state.result[t].result for t in last] == expected_grid(30, 30)
    # A slot that frees up gets what became ready meanwhile, not one batch per report
    # (a round trip each, on an executor in other processes): a few units per layer of
    # 30 tasks (96 here), not one per report (807 when each report made a batch).
    assert len(executor.units) <= 4 * 30, len(executor.units)


def test_an_executor_that_does_not_say_gets_no_batches():
    class TakesUnitsApart:  # not an Executor subclass, no `batches`: reads unit.fn
        name = "apart"

        def __init__(self):
            self.pending = []

        def start(self):
            pass

        def slots(self):
            return 1

        def submit(self, unit):
            assert callable(unit.fn) and unit.static is not None
            self.pending.append(unit)

        def wait(self):
            unit = self.pending.pop(0)
            return [(unit, unit.run())]

        def shutdown(self):
            pass

    flow, last = grid(4, 4)
    state = flow.run(executor=TakesUnitsApart(), record=False)
    assert state.is_successful(), state
    assert [state.result[t].result for t in last] == expected_grid(4, 4)

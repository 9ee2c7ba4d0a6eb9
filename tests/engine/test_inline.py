"""Plain task runs run inline: with an executor that runs units in place (the local
executor), the engine takes the runs of plain tasks from the core one by one and runs
them itself, without work units. The calls, states, values and context are those of
the same flow run through units."""

from __future__ import annotations

import random

import pytest

import ferroflow
from ferroflow import Flow, signals, states, task, triggers
from ferroflow.executors import LocalExecutor
from ferroflow.runtime import batch, unit


class UnitsOnly(LocalExecutor):
    """The local executor, but every run goes through a unit (it watches submit)."""

    def __init__(self):
        super().__init__()
        self.units = 0

    def submit(self, work):
        self.units += 1
        super().submit(work)


def test_only_the_plain_local_executor_runs_inline():
    assert LocalExecutor().runs_inline is True
    assert UnitsOnly().runs_inline is False
    assert ferroflow.executors.base.Executor.runs_inline is False


def test_a_plain_flow_on_the_local_executor_makes_no_unit(monkeypatch):
    made = []
    for cls in (batch.TaskRuns, unit.WorkUnit):
        original = cls.__init__

        def counting(self, *args, _original=original, **kwargs):
            made.append(type(self).__name__)
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)

    @task
    def step(x):
        return x + 1

    with Flow("chain") as flow:
        x = step(0)
        for _ in range(99):
            x = step(x)
    state = flow.run(record=False)
    assert state.result[x].result == 100
    assert made == []
    executor = UnitsOnly()
    assert flow.run(executor=executor, record=False).result[x].result == 100
    assert made and executor.units == len(made)


def _random_flow(seed: int):
    """A seeded random DAG of plain tasks with failures, retries, RETRY and SKIP
    signals, and several triggers; every call is logged with the context's view."""
    rng = random.Random(seed)
    calls: list = []

    def body(name, fails, args):
        ctx = ferroflow.context
        calls.append((name, ctx.get("task_name"), ctx.get("task_run_count")))
        attempt = ctx.get("task_run_count")
        if fails == "raise" or (fails == "once" and attempt == 1):
            raise ValueError(f"{name} failed")
        if fails == "skip":
            raise signals.SKIP("skipped")
        if fails == "retry" and attempt == 1:
            raise signals.RETRY("again")
        return sum(a for a in args if isinstance(a, int)) + 1

    tasks = []
    with Flow(f"random-{seed}") as flow:
        for i in range(rng.randint(3, 25)):
            fails = rng.choice([None, None, None, "raise", "once", "skip", "retry"])
            trigger = rng.choice([triggers.all_successful, triggers.all_finished, triggers.any_failed])
            t = task(lambda _n=f"t{i}", _f=fails, **ups: body(_n, _f, ups.values()),
                     name=f"t{i}", trigger=trigger,
                     **({"max_retries": 1, "retry_delay": 0} if fails == "once" else {}))
            ups = rng.sample(tasks, k=min(len(tasks), rng.randint(0, 3)))
            tasks.append(t(**{f"u{k}": up for k, up in enumerate(ups)}))
    return flow, tasks, calls


def _outcomes(state, tasks) -> list:
    shown = []
    for t in tasks:
        result = state.result[t]
        value = result.result
        if isinstance(value, BaseException):
            value = repr(value)
        shown.append((type(result).__name__, result.message, value))
    return shown


@pytest.mark.parametrize("seed", range(20))
def test_inline_runs_match_runs_through_units(seed):
    flow, tasks, calls = _random_flow(seed)
    state = flow.run(record=False)
    inline_calls = list(calls)
    inline_states = _outcomes(state, tasks)
    calls.clear()
    executor = UnitsOnly()
    state = flow.run(executor=executor, record=False)
    assert executor.units > 0
    # The same calls (the order may differ: a batch runs every ready run before the
    # runs it makes ready; inline, those come first, deepest first).
    assert sorted(calls) == sorted(inline_calls)
    assert _outcomes(state, tasks) == inline_states


def test_ctrl_c_in_an_inline_run_cancels_the_run():
    @task
    def fine():
        return 1

    @task
    def interrupted(x):
        raise KeyboardInterrupt

    @task
    def after(x):
        return x

    with Flow("ctrl-c") as flow:
        a = after(interrupted(fine()))
    state = flow.run(record=False)
    assert isinstance(state, states.Cancelled)
    assert isinstance(state.result[a], states.Cancelled)


def test_a_run_sets_the_objects_alive_at_its_start_aside_and_puts_them_back():
    import gc

    seen = []

    @task
    def look():
        seen.append(gc.get_freeze_count())

    with Flow("aside") as flow:
        look()
    assert gc.get_freeze_count() == 0
    flow.run(record=False)
    assert seen[0] > 0 and gc.get_freeze_count() == 0
    # Objects frozen by someone else (a server that forks) stay as they were.
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        flow.run(record=False)
        # (objects freed meanwhile leave the count: it may only go down)
        assert seen[-1] <= frozen and 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
    # With the collector off, nothing is frozen.
    gc.disable()
    try:
        flow.run(record=False)
        assert seen[-1] == 0
    finally:
        gc.enable()


@pytest.mark.parametrize("executor", ["inline", "batches"])
def test_a_loop_leaves_nothing_to_the_next_run(executor):
    counts = []

    @task
    def looper():
        if ferroflow.context.get("loop_count") < 3:
            raise signals.LOOP(result=0)
        return 1

    @task
    def after(x):
        counts.append(ferroflow.context.get("loop_count"))
        return x

    with Flow("loops") as flow:
        after(1)  # (roots on both sides of the loop: one runs after it in its batch)
        after(looper())
        after(2)
    runner = LocalExecutor() if executor == "inline" else UnitsOnly()
    assert flow.run(executor=runner, record=False).is_successful()
    assert counts == [1, 1, 1]

"""``signals.LOOP``: iterations, the loop context, mapped children, retries, timeouts,
state handlers."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from ferroflow import Flow, context, signals, states, task
from ferroflow.states import Looped


def test_loop_until_done_and_pass_the_result_on():
    @task
    def accumulate(x):
        current = context.get("loop_result", x)
        if current < 20:
            raise signals.LOOP(result=current + 5)
        return current

    @task
    def inc(x):
        return x + 1

    with Flow("acc") as flow:
        a = accumulate(2)
        b = inc(a)
    state = flow.run()
    assert state.result[a].result == 22
    assert state.result[a].message == "Task run succeeded."
    assert state.result[b].result == 23


def test_loop_context_per_iteration():
    seen = []

    @task
    def looper():
        seen.append((context.loop_count, context.get("loop_result", "-"), context.get("task_loop_count", "-"),
                     context.get("task_loop_result", "-"), context.task_run_count))
        if context.loop_count < 3:
            raise signals.LOOP(result=context.loop_count * 10)
        return "done"

    with Flow("ctx") as flow:
        looper()
    assert flow.run().is_successful()
    assert seen == [(1, "-", "-", "-", 1), (2, 10, 2, 10, 1), (3, 20, 3, 20, 1)]


def test_loop_result_absent_and_count_one_without_looping():
    @task
    def plain():
        with pytest.raises(AttributeError, match="'Context' object has no attribute 'loop_result'"):
            _ = context.loop_result
        return context.loop_count, "loop_result" in context

    with Flow("plain") as flow:
        p = plain()
    assert flow.run().result[p].result == (1, False)


def test_loop_without_result_carries_its_repr():
    seen = []

    @task
    def looper():
        seen.append(context.get("loop_result"))
        if context.loop_count == 1:
            raise signals.LOOP()
        if context.loop_count == 2:
            raise signals.LOOP("second")
        return None

    with Flow("repr") as flow:
        looper()
    flow.run()
    assert seen == [None, "LOOP()", "LOOP('second')"]
    assert isinstance(signals.LOOP(), signals.FerroflowSignal)


def test_mapped_children_loop_independently():
    @task
    def countdown(n):
        left = context.get("loop_result", n)
        if left > 0:
            raise signals.LOOP(result=left - 1)
        return (n, context.loop_count, context.map_index)

    with Flow("mapped") as flow:
        c = countdown.map([0, 3, 1, 0])
    state = flow.run()
    assert state.result[c].result == [(0, 1, 0), (3, 4, 1), (1, 2, 2), (0, 1, 3)]


@pytest.mark.parametrize(
    "ending, state_class, message",
    [
        (ValueError("late"), states.Failed, "Error during execution of task: ValueError('late')"),
        (signals.SKIP("enough"), states.Skipped, "enough"),
        (signals.FAIL("gave up"), states.Failed, "gave up"),
        (signals.SUCCESS("fine", result="ok"), states.Success, "fine"),
    ],
)
def test_the_last_iteration_decides_the_state(ending, state_class, message):
    @task
    def looper():
        if context.loop_count < 3:
            raise signals.LOOP(result=context.loop_count)
        raise ending

    with Flow("ending") as flow:
        t = looper()
    got = flow.run().result[t]
    assert type(got) is state_class
    assert got.message == message


def test_retry_resumes_at_the_failed_iteration():
    seen = []

    @task(max_retries=2, retry_delay=timedelta(0))
    def looper(x):
        current = context.get("loop_result", x)
        seen.append((context.task_run_count, context.loop_count, current))
        if len(seen) == 3:
            raise ValueError("flaky")
        if current < 4:
            raise signals.LOOP(result=current + 1)
        return current

    with Flow("retry") as flow:
        t = looper(1)
    state = flow.run()
    assert state.result[t].result == 4
    assert seen == [(1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 3, 3), (2, 4, 4)]


def test_retries_of_mapped_children_resume_each_at_its_own_iteration():
    calls: dict = {}

    @task(max_retries=1, retry_delay=timedelta(0))
    def looper(x):
        mine = calls.setdefault(x, [])
        mine.append((context.task_run_count, context.loop_count))
        if x > 1 and len(mine) == x:
            raise ValueError(f"child {x} flaky")
        if context.loop_count < x:
            raise signals.LOOP(result=x)
        return mine

    with Flow("mapped-retry") as flow:
        t = looper.map([1, 2, 3])
    state = flow.run()
    assert state.is_successful()
    assert state.result[t].result == [
        [(1, 1)],
        [(1, 1), (1, 2), (2, 2)],
        [(1, 1), (1, 2), (1, 3), (2, 3)],
    ]


def test_retries_exhausted_while_looping():
    attempts = []

    @task(max_retries=1, retry_delay=timedelta(0))
    def looper():
        attempts.append(context.loop_count)
        if context.loop_count < 2:
            raise signals.LOOP(result=0)
        raise ValueError(f"always at loop {context.loop_count}")

    with Flow("exhausted") as flow:
        t = looper()
    got = flow.run().result[t]
    assert got.is_failed() and str(got.result) == "always at loop 2"
    assert attempts == [1, 2, 2]


def test_retry_signal_starts_the_loop_again():
    seen = []

    @task
    def looper():
        seen.append(context.loop_count)
        if len(seen) == 2:
            raise signals.RETRY("again")
        if context.loop_count < 3:
            raise signals.LOOP(result=0)
        return list(seen)

    with Flow("retry-signal") as flow:
        t = looper()
    assert flow.run().result[t].result == [1, 2, 1, 2, 3]


def test_timeout_applies_to_each_iteration():
    @task(timeout=0.5)
    def slow_steps():
        time.sleep(0.15)
        if context.loop_count < 5:  # 0.75 s in all: more than one timeout
            raise signals.LOOP(result=None)
        return context.loop_count

    @task(timeout=0.2)
    def stuck():
        if context.loop_count == 2:
            time.sleep(5)
        raise signals.LOOP(result=None)

    with Flow("timeouts") as flow:
        ok = slow_steps()
        bad = stuck()
    state = flow.run()
    assert state.result[ok].result == 5
    assert isinstance(state.result[bad], states.TimedOut)


def test_loop_outside_the_main_thread_keeps_its_context():
    # In a thread, timeouts run the task in a helper thread: the loop context goes along.
    @task(timeout=5)
    def looper():
        if context.loop_count < 3:
            raise signals.LOOP(result=context.loop_count)
        return context.loop_count, context.loop_result

    with Flow("thread") as flow:
        t = looper()
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("state", flow.run()))
    worker.start()
    worker.join()
    assert box["state"].result[t].result == (3, 2)


def test_state_handlers_see_every_iteration():
    seen = []

    def handler(obj, old, new):
        seen.append((type(old).__name__, old.message, type(new).__name__, new.message,
                     getattr(new, "loop_count", None)))

    @task(state_handlers=[handler])
    def looper():
        if context.loop_count < 3:
            raise signals.LOOP("custom" if context.loop_count == 2 else None, result=context.loop_count)
        return "done"

    with Flow("handlers") as flow:
        t = looper()
    assert flow.run().result[t].result == "done"
    assert seen == [
        ("Pending", None, "Running", "Starting task run.", None),
        ("Running", "Starting task run.", "Looped", "Task is looping (1)", 1),
        ("Pending", "Looping task (on loop index 1)", "Running", "Starting task run.", None),
        ("Running", "Starting task run.", "Looped", "custom", 2),
        ("Pending", "Looping task (on loop index 2)", "Running", "Starting task run.", None),
        ("Running", "Starting task run.", "Success", "Task run succeeded.", None),
    ]


def test_a_handler_can_end_the_loop():
    def stop_at_two(obj, old, new):
        if isinstance(new, Looped) and new.loop_count == 2:
            return states.Failed("stopped by handler", new.result)
        return None

    @task(state_handlers=[stop_at_two])
    def forever():
        raise signals.LOOP(result=context.loop_count)

    with Flow("stopper") as flow:
        t = forever()
    got = flow.run().result[t]
    assert got.is_failed()
    assert got.message == "stopped by handler"
    assert got.result == 2


def test_a_loop_ended_by_a_handler_is_retried_from_that_iteration():
    seen = []

    def fail_once_at_two(obj, old, new):
        if isinstance(new, Looped) and new.loop_count == 2 and new.run_count == 1:
            return states.Failed("handler says no", new.result)
        return None

    @task(state_handlers=[fail_once_at_two], max_retries=1, retry_delay=timedelta(0))
    def looper():
        seen.append((context.task_run_count, context.loop_count, context.get("loop_result")))
        if context.loop_count < 3:
            raise signals.LOOP(result=context.loop_count * 10)
        return "done"

    with Flow("handler-retry") as flow:
        t = looper()
    assert flow.run().result[t].result == "done"
    assert seen == [(1, 1, None), (1, 2, 10), (2, 2, 10), (2, 3, 20)]


def test_a_handler_failing_the_restart_ends_the_loop():
    def refuse_restart(obj, old, new):
        if isinstance(old, states.Pending) and (old.message or "").startswith("Looping task"):
            return states.Skipped("no second iteration")
        return None

    @task(state_handlers=[refuse_restart])
    def looper():
        raise signals.LOOP(result=1)

    with Flow("restart") as flow:
        t = looper()
    got = flow.run().result[t]
    assert got.is_skipped() and got.message == "no second iteration"


def test_mapped_loop_with_handlers_and_a_non_looping_neighbour():
    seen = []

    def handler(obj, old, new):
        if isinstance(new, Looped):
            seen.append((context.map_index, new.loop_count))

    @task(state_handlers=[handler])
    def maybe_loop(x):
        if x and context.loop_count < x:
            raise signals.LOOP(result=None)
        return context.loop_count

    with Flow("mapped-handlers") as flow:
        t = maybe_loop.map([2, 0, 3])
    assert flow.run().result[t].result == [2, 1, 3]
    assert seen == [(0, 1), (2, 1), (2, 2)]

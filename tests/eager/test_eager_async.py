"""Async eager flows and async tasks (Prefect 3's behaviour): ``await my_flow()``,
``await my_task(x)``, calls awaited together with ``asyncio.gather``, retries,
timeouts, hooks, cancellation, futures, subflows and resume."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import warnings

import pytest

from ferroflow import context, flow, task
from ferroflow.eager.states import StateType
from ferroflow.errors import ParameterTypeError, TaskRunTimeoutError

HANG = 60  # seconds: a hang guard, never reached when things work


@task
async def double(x):
    await asyncio.sleep(0)
    return 2 * x


@task
def inc(x):
    return x + 1


def test_an_async_flow_call_is_an_awaitable_that_runs_the_flow(store):
    @flow
    async def f(n: int):
        a = await double(n)
        return inc(a)  # a sync task inside an async flow runs inline

    call = f(3)
    assert inspect.iscoroutine(call)
    assert asyncio.run(call) == 7
    state = asyncio.run(f("4", return_state=True))  # validated and coerced as a sync flow's
    assert state.is_completed() and state.result() == 9
    with pytest.raises(ParameterTypeError, match="n"):
        f("four")
    reader = store()
    run = reader.get_run(state.flow_run_id)
    assert run.state == "Success" and run.parameters == {"n": 4}
    assert [(t.name, t.counts) for t in reader.task_states(run.run_id)] == [
        ("double", {"Success": 1}), ("inc", {"Success": 1})]


def test_a_failing_async_flow_fails_and_raises():
    @task
    async def boom():
        raise ValueError("bad")

    @flow
    async def f():
        await boom()

    with pytest.raises(ValueError, match="bad"):
        asyncio.run(f())
    state = asyncio.run(f(return_state=True))
    assert state.is_failed() and state.message == "Flow run encountered an exception: ValueError: bad"


def test_gathered_calls_are_numbered_in_call_order_and_keep_their_own_context():
    finished = []

    @task
    async def slow(x, delay):
        before = context.map_index
        await asyncio.sleep(delay)  # the others run meanwhile, in frames of their own
        finished.append(x)
        return x, before, context.map_index, context.task_name

    @flow
    async def f():
        first = await slow("a", 0)
        together = await asyncio.gather(slow("b", 0.03), slow("c", 0.0), slow("d", 0.015))
        return first, together, context.get("task_name")

    first, together, outside = asyncio.run(f())
    assert first == ("a", 0, 0, "slow")
    assert together == [("b", 1, 1, "slow"), ("c", 2, 2, "slow"), ("d", 3, 3, "slow")]
    assert finished[1:] == ["c", "d", "b"]  # they did run concurrently
    assert outside is None  # (the flow's own code is in no task's frame)


def test_an_async_task_is_retried_with_the_ledgers_rule(store):
    attempts = []

    @task(retries=2, retry_delay_seconds=0)
    async def flaky(x):
        attempts.append(context.task_run_count)
        if len(attempts) < 3:
            raise ConnectionError("not yet")
        return x

    @flow
    async def f():
        state = await flaky(5, return_state=True)
        return state.type, state.result()

    assert asyncio.run(f()) == (StateType.COMPLETED, 5)
    assert attempts == [1, 2, 3]
    reader = store()
    run = reader.list_runs(limit=1)[0]
    assert [t.counts for t in reader.task_states(run.run_id)] == [{"Success": 1}]


def test_an_async_task_over_its_timeout_is_cancelled_and_timed_out():
    cancelled = []

    @task(timeout_seconds=0.05)
    async def sleepy():
        try:
            await asyncio.sleep(HANG)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    @task(timeout_seconds=HANG)
    async def own_timeout():
        raise TimeoutError("its own")

    @flow
    async def f():
        state = await sleepy(return_state=True)
        try:
            await sleepy()
        except TaskRunTimeoutError as exc:
            raised = exc
        own = await own_timeout(return_state=True)
        return state, raised, own

    state, raised, own = asyncio.run(f())
    assert state.name == "TimedOut" and state.type is StateType.FAILED
    assert state.message == "Task run exceeded timeout of 0.05 second(s)"
    assert isinstance(raised, TaskRunTimeoutError) and cancelled == [True, True]
    assert own.name == "Failed" and isinstance(own.data, TimeoutError)  # not taken for the timeout


def test_async_task_hooks_are_called():
    seen = []

    def on_completion(tsk, run, state):
        seen.append(("completed", tsk.name, run.name, state.result()))

    def on_failure(tsk, run, state):
        seen.append(("failed", tsk.name, run.name, state.message))

    @task(on_completion=[on_completion], on_failure=[on_failure])
    async def hooked(x):
        if x < 0:
            raise ValueError("negative")
        return x

    @flow
    async def f():
        await hooked(1)
        await hooked(-1, return_state=True)

    asyncio.run(f())
    assert seen == [("completed", "hooked", "hooked-0", 1),
                    ("failed", "hooked", "hooked-1", "Task run encountered an exception ValueError: negative")]


def test_async_task_on_running_hooks_see_each_attempt_when_awaited_and_submitted():
    seen = []

    @task(retries=1, retry_delay_seconds=0, on_running=[lambda tsk, run, state: seen.append(state.name)])
    async def flaky():
        if seen[-1] == "Running":  # (the first attempt of each call fails)
            raise ValueError("again")
        return "ok"

    @flow
    async def awaited():
        return await flaky()

    @flow
    def submitted():
        return flaky.submit().result()

    seen.append("start")
    assert asyncio.run(awaited()) == "ok"
    assert seen == ["start", "Running", "Retrying"]
    seen[:] = ["start"]
    assert submitted() == "ok"
    assert seen == ["start", "Running", "Retrying"]


def test_an_async_task_with_log_prints_false_prints_in_a_flow_that_logs_prints(capsys, caplog):
    @task(log_prints=False)
    async def quiet():
        print("quiet says")

    @task(log_prints=False, retries=1)
    async def quiet_retried():
        print("quiet retried says")

    @flow(log_prints=True)
    async def f():
        print("flow says")
        await quiet()
        await quiet_retried()

    with caplog.at_level(logging.INFO):
        asyncio.run(f())
    assert capsys.readouterr().out.splitlines() == ["quiet says", "quiet retried says"]
    assert "flow says" in caplog.text and "quiet" not in caplog.text


def test_a_cancelled_flow_task_ends_the_run_cancelled_and_propagates(store):
    started = []
    hooks = []

    @task
    async def long():
        started.append(True)
        await asyncio.sleep(HANG)

    @long.on_cancellation
    def _cancelled(tsk, run, state):
        hooks.append((tsk.name, state.name))

    @flow(on_cancellation=[lambda fl, run, state: hooks.append(state.name)])
    async def f():
        await double(1)
        await long()

    async def main():
        running = asyncio.ensure_future(f())
        while not started:
            await asyncio.sleep(0.001)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(asyncio.wait_for(main(), HANG))
    assert hooks == [("long", "Cancelled"), "Cancelled"]  # (the task's hook, then the flow's)
    reader = store()
    run = reader.list_runs(limit=1)[0]
    assert run.state == "Cancelled" and "cancelled" in run.message
    double_task, long_task = reader.task_states(run.run_id)
    assert double_task.counts == {"Success": 1} and long_task.counts == {"Cancelled": 1}


def test_a_call_never_awaited_is_recorded_cancelled(store):
    cancelled = []
    double_once = double.with_options(on_cancellation=[lambda tsk, run, state: cancelled.append(run.name)])

    @flow
    async def f():
        double_once(1)  # (forgot the await)
        return await double_once(2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
        assert asyncio.run(f()) == 4
    reader = store()
    run = reader.list_runs(limit=1)[0]
    assert run.state == "Success"
    (double_task,) = reader.task_states(run.run_id)
    assert double_task.counts == {"Cancelled": 1, "Success": 1}
    assert "never awaited" in reader.child_state(run.run_id, 0, 0).message
    assert cancelled == ["double-0"]


def test_an_async_task_in_a_sync_flow_returns_an_awaitable_as_in_prefect_3():
    @flow
    def f():
        call = double(4)
        assert inspect.isawaitable(call)
        return asyncio.run(call)  # (a sync flow may run it on a loop of its own)

    assert f() == 8


def test_a_sync_flow_runs_inside_a_running_event_loop():
    @flow
    def f(x: int):
        return inc(x)

    async def main():
        return f(1)

    assert asyncio.run(main()) == 2


def test_submit_and_map_of_an_async_task_give_futures(store):
    @task
    async def ident(x):
        await asyncio.sleep(0)
        return x, context.map_index

    @flow
    async def f():
        one = ident.submit("a")
        many = ident.map(range(50))
        return one.result(), many.result()

    one, many = asyncio.run(f())
    assert one == ("a", 0)
    assert many == [(k, k + 1) for k in range(50)]

    @flow(executor="local")  # (submitted calls run in the flow's thread, where a loop runs)
    async def local():
        return ident.submit("b").result()

    assert asyncio.run(local()) == ("b", 0)


def test_an_async_subflow_is_a_child_run(store):
    @flow
    async def child(x: int):
        return await double(x)

    @flow
    async def parent():
        return await child(5), await asyncio.gather(child(1), child(2))

    state = asyncio.run(parent(return_state=True))
    assert state.result() == (10, [2, 4])
    reader = store()
    children = reader.child_runs(state.flow_run_id)
    assert len(children) == 3 and all(c.flow_name == "child" and c.state == "Success" for c in children)


def test_flow_retries_and_timeout_of_an_async_flow():
    attempts = []

    @flow(retries=2, retry_delay_seconds=0.01)
    async def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("again")
        return await double(len(attempts))

    assert asyncio.run(flaky()) == 6

    @flow(timeout_seconds=0.05)
    async def slow():
        await asyncio.sleep(HANG)

    state = asyncio.run(slow(return_state=True))
    assert state.name == "TimedOut" and state.message == "Flow run exceeded timeout of 0.05 second(s)"


def test_an_async_flow_is_resumed(store):
    ran = []
    up = {"ok": False}

    @task
    async def fetch(day):
        ran.append(day)
        return day.upper()

    @task
    async def load(rows):
        if not up["ok"]:
            raise ConnectionError("down")
        return len(rows)

    @flow
    async def nightly(days: list[str]):
        return await load(await asyncio.gather(*[fetch(d) for d in days]))

    first = asyncio.run(nightly(["mon", "tue"], return_state=True))
    assert first.is_failed() and ran == ["mon", "tue"]
    up["ok"] = True
    assert asyncio.run(nightly(resume=first.flow_run_id)) == 2
    assert ran == ["mon", "tue"]  # returned from the checkpoints
    assert nightly.run_with({}, resume=first.flow_run_id).is_completed()  # (again: now already completed)


def test_options_applied_on_a_thread_still_await_on_the_flows_loop():
    transitions = []

    def handler(tsk, old, new):
        transitions.append(new.__class__.__name__)
        return new

    @task(state_handlers=[handler], retries=1, retry_delay_seconds=0, timeout_seconds=HANG)
    async def observed(x):
        if not transitions or len(transitions) < 3:
            await asyncio.sleep(0)
            raise ValueError("first")
        return x, threading.get_ident()

    @flow
    async def f():
        loop_thread = threading.get_ident()
        value, thread = await observed(7)
        return value, thread == loop_thread

    assert asyncio.run(f()) == (7, True)
    assert transitions == ["Running", "Failed", "Retrying", "Running", "Success"]


def test_cancelling_a_gathered_call_books_only_that_call(store):
    gate = []

    @task
    async def waits(x):
        gate.append(x)
        await asyncio.sleep(HANG if x == "slow" else 0)
        return x

    @flow
    async def f():
        slow = asyncio.ensure_future(waits("slow"))
        fast = await waits("fast")
        while len(gate) < 2:
            await asyncio.sleep(0.001)
        slow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await slow
        return fast

    assert asyncio.run(asyncio.wait_for(f(), HANG)) == "fast"
    reader = store()
    run = reader.list_runs(limit=1)[0]
    assert run.state == "Success"
    (waits_task,) = reader.task_states(run.run_id)
    assert waits_task.counts == {"Cancelled": 1, "Success": 1}


def test_log_prints_of_concurrent_async_calls_go_to_each_calls_own_log(caplog, capsys):
    @task(log_prints=True)
    async def talks(x):
        for _ in range(3):
            print(f"talks {x}")
            await asyncio.sleep(0.001)

    @task
    async def quiet():
        for _ in range(3):
            print("quiet says")
            await asyncio.sleep(0.001)

    @flow
    async def f():
        await asyncio.gather(talks(1), quiet(), talks(2))

    with caplog.at_level("INFO", logger="ferroflow"):
        asyncio.run(f())
    logged = [(r.name, r.getMessage()) for r in caplog.records if "says" in r.getMessage() or "talks" in
              r.getMessage()]
    assert sorted(logged) == [("ferroflow.task.talks", "talks 1")] * 3 + [("ferroflow.task.talks", "talks 2")] * 3
    assert capsys.readouterr().out.count("quiet says") == 3  # (not captured: its task does not log prints)


def test_a_cached_async_task_is_reused():
    from ferroflow.cache_policies import INPUTS

    ran = []

    @task(cache_policy=INPUTS)
    async def costly(x):
        ran.append(x)
        return x * 3

    @flow
    async def f():
        return [await costly(2), await costly(2), await costly(5), (await costly(2, return_state=True)).name]

    assert asyncio.run(f()) == [6, 6, 15, "Cached"]
    assert ran == [2, 5]

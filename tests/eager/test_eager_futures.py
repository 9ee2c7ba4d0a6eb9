"""Futures in eager flows: ``task.submit()``, ``task.map()``, ``wait``,
``allow_failure``, ``wait_for=`` and the flow's final state from futures (Prefect 3's
behaviour, recorded in tests/compat/eager)."""

from __future__ import annotations

import _thread
import threading

import pytest

from ferroflow import allow_failure, context, flow, get_run_logger, task, unmapped, wait
from ferroflow.eager.futures import MappedFutures, TaskFuture
from ferroflow.eager.states import StateType
from ferroflow.errors import UnfinishedRun
from ferroflow.executors.local import LocalExecutor
from ferroflow.executors.processes import ProcessesExecutor
from ferroflow.executors.threads import ThreadsExecutor

HANG = 60  # seconds: a hang guard, never reached when the code works


@task
def inc(x):
    return x + 1


@task
def boom(message="boom"):
    raise ValueError(message)


@task
def pick(x):
    if x == 2:
        raise ValueError(f"bad {x}")
    return x * 10


@pytest.mark.parametrize("executor", ["threads", "local", "processes"])
def test_submit_and_map_give_values_in_order_on_each_executor(executor):
    @flow(executor=executor)
    def f():
        a = inc.submit(1)
        b = inc.submit(a)  # a future as an argument: its value
        mapped = inc.map([3, 1, 2, 5])
        return [a.result(), b.result(), mapped.result(), [fut.result() for fut in mapped]]

    assert f() == [2, 3, [4, 2, 3, 6], [4, 2, 3, 6]]


def test_submitted_tasks_run_concurrently_on_threads():
    started = threading.Event()

    @task
    def waits():
        assert started.wait(HANG), "the second task never ran while the first waited"
        return "waited"

    @task
    def sets():
        started.set()
        return "set"

    @flow(task_runner=ThreadsExecutor(max_workers=2))
    def f():
        a = waits.submit()
        b = sets.submit()
        return [a.result(), b.result()]

    assert f() == ["waited", "set"]


def test_a_failed_future_raises_on_result_and_fails_the_flow_only_if_resolved():
    @flow
    def resolved():
        fut = boom.submit()
        fut.wait()
        assert fut.state.is_failed()
        assert fut.state.message == "Task run encountered an exception ValueError: boom"
        assert isinstance(fut.result(raise_on_failure=False), ValueError)
        return fut.result()

    state = resolved(return_state=True)
    assert state.is_failed() and state.message == "Flow run encountered an exception: ValueError: boom"

    @flow
    def ignored():
        boom.submit().wait()
        return "ignored the future"

    assert ignored(return_state=True).is_completed()


def test_a_flow_returning_futures_ends_in_their_states():
    @task
    def ok():
        return 7

    @flow
    def returns_failed():
        return boom.submit()

    state = returns_failed(return_state=True)
    assert state.is_failed() and state.message == "1/1 states failed."
    with pytest.raises(ValueError, match="boom"):
        returns_failed()

    @flow
    def returns_ok():
        return ok.submit()

    state = returns_ok(return_state=True)
    assert state.is_completed() and state.message == "All states completed."
    assert state.result().result() == 7  # (Prefect 3: the future's state)

    @flow
    def returns_map():
        return pick.map([1, 2, 3])

    state = returns_map(return_state=True)
    assert state.is_failed() and state.message == "1/3 states failed."
    children = returns_map()  # (Prefect 3: the states, not raised)
    assert [s.type for s in children] == [StateType.COMPLETED, StateType.FAILED, StateType.COMPLETED]


def test_map_with_unmapped_two_iterables_empty_and_mismatch():
    @task
    def add(x, y):
        return x + y

    @flow
    def f():
        empty = inc.map([])
        return [add.map([1, 2, 3], unmapped(10)).result(), add.map([1, 2, 3], y=unmapped(100)).result(),
                add.map([1, 2, 3], [10, 20, 30]).result(), len(empty), empty.result()]

    assert f() == [[11, 12, 13], [101, 102, 103], [11, 22, 33], 0, []]

    @flow
    def mismatch():
        return add.map([1, 2], [1, 2, 3])

    with pytest.raises(ValueError, match="different lengths"):
        mismatch()


def test_a_failing_child_of_a_large_map_fails_alone_and_is_recorded(store):
    n = 100_000

    @task
    def check(x):
        if x == 77_777:
            raise ValueError(f"bad {x}")
        return x

    @flow
    def f():
        futs = check.map(range(n))
        futs.wait()
        states = [futs[k].state for k in (0, 77_777, n - 1)]
        values = futs.result(raise_on_failure=False)
        return states, values

    states, values = f()
    assert [s.type for s in states] == [StateType.COMPLETED, StateType.FAILED, StateType.COMPLETED]
    assert states[1].message == "Task run encountered an exception ValueError: bad 77777"
    assert len(values) == n and values[5] == 5 and isinstance(values[77_777], ValueError)

    reader = store()
    run = reader.list_runs(limit=1)[0]
    assert run.state == "Success"  # (the failed child was not returned: Prefect 3's rule)
    (check_task,) = reader.task_states(run.run_id)
    assert check_task.name == "check" and check_task.width == n
    assert check_task.counts == {"Success": n - 1, "Failed": 1}
    (failed,) = check_task.failed_children
    assert failed.map_index == 77_777 and failed.message == "Task run encountered an exception ValueError: bad 77777"


def test_every_submitted_call_is_recorded(store):
    @flow
    def f():
        futs = [inc.submit(i) for i in range(5)]
        boom.submit()
        return sum(fut.result() for fut in futs)

    assert f() == 15
    reader = store()
    run = reader.list_runs(limit=1)[0]
    assert run.state == "Success"
    inc_task, boom_task = reader.task_states(run.run_id)
    assert inc_task.counts == {"Success": 5} and boom_task.counts == {"Failed": 1}
    child = reader.child_state(run.run_id, boom_task.task_id, 0)
    assert child.message == "Task run encountered an exception ValueError: boom" and "ValueError" in child.traceback


def test_retries_of_submitted_calls_and_of_map_children():
    attempts: dict = {}
    lock = threading.Lock()

    @task(retries=2, retry_delay_seconds=0)
    def flaky(x):
        with lock:
            attempts[x] = attempts.get(x, 0) + 1
            n = attempts[x]
        assert context.task_run_count == n
        if n < 3 and x % 2:
            raise ValueError("not yet")
        return x

    @flow
    def f():
        one = flaky.submit(101)
        many = flaky.map(range(6))
        return one.result(), many.result()

    assert f() == (101, [0, 1, 2, 3, 4, 5])
    assert attempts == {101: 3, 0: 1, 1: 3, 2: 1, 3: 3, 4: 1, 5: 3}


def test_context_and_run_logger_inside_submitted_tasks(caplog):
    @task
    def where(x):
        get_run_logger().info("child says %s", x)
        return context.flow_run_id, context.task_name, context.map_index

    @flow
    def f():
        single = where.submit(1).result()
        mapped = where.map([1, 2]).result()
        return context.flow_run_id, single, mapped

    with caplog.at_level("INFO"):
        run_id, single, mapped = f()
    assert single == (run_id, "where", 0)
    assert mapped == [(run_id, "where", 1), (run_id, "where", 2)]
    assert "child says 1" in caplog.text


def test_wait_gives_done_and_not_done():
    gate = threading.Event()

    @task
    def held():
        assert gate.wait(HANG)
        return "released"

    @flow
    def f():
        futs = [inc.submit(1), boom.submit(), inc.submit(2)]
        done = wait(futs)
        first = (len(done.done), len(done.not_done))
        slow = held.submit()
        timed = wait([slow], timeout=0.05)
        second = (len(timed.done), len(timed.not_done))
        with pytest.raises(TimeoutError):
            slow.result(timeout=0.01)
        gate.set()
        return first, second, slow.result(), [fut.result(raise_on_failure=False) for fut in futs]

    first, second, released, values = f()
    assert first == (3, 0) and second == (0, 1) and released == "released"
    assert values[0] == 2 and isinstance(values[1], ValueError) and values[2] == 3


def test_wait_for_runs_after_and_a_failed_upstream_leaves_the_call_not_ready():
    order: list = []

    @task
    def first():
        order.append("first")
        return 1

    @task
    def second():
        order.append("second")
        return 2

    @flow
    def ok():
        a = first.submit()
        return second.submit(wait_for=[a]).result()

    assert ok() == 2 and order == ["first", "second"]

    order.clear()

    @flow
    def failed_upstream():
        a = boom.submit()
        b = second.submit(wait_for=[a])
        b.wait()
        plain = second(wait_for=[a])
        return b.state, plain

    state, plain = failed_upstream()
    assert order == []  # never ran
    assert state.type is StateType.PENDING and state.name == "NotReady"
    assert state.message.startswith("Upstream task run '") and "did not reach a 'COMPLETED' state" in state.message
    with pytest.raises(UnfinishedRun):
        state.result()
    assert plain is None

    @flow
    def result_of_not_ready():
        return second.submit(wait_for=[boom.submit()]).result()

    assert isinstance(result_of_not_ready(return_state=True).result(raise_on_failure=False), UnfinishedRun)


def test_allow_failure_in_wait_for_and_as_an_argument():
    @task
    def cleanup():
        return "cleaned"

    @task
    def kind(x):
        return type(x).__name__

    @flow
    def f():
        a = boom.submit()
        return [cleanup.submit(wait_for=[allow_failure(a)]).result(), kind(allow_failure(a)),
                kind(a, return_state=True).name]

    assert f() == ["cleaned", "ValueError", "NotReady"]


def test_futures_in_collections_and_mapping_over_futures():
    @task
    def total(d):
        return d["a"] + sum(d["b"])

    @task
    def add_all(xs):
        return sum(xs)

    @flow
    def f():
        first = inc.map([1, 2, 3])
        second = inc.map(first)
        over_list = inc.map([inc.submit(0), inc.submit(1)])
        picked = pick.map([1, 2, 3])
        after_failed = inc.map(picked)
        after_failed.wait()
        return [total({"a": inc.submit(1), "b": [inc.submit(2), 10]}), add_all(second),
                over_list.result(), [s.name for s in (after_failed[0].state, after_failed[1].state)]]

    # (map over a failed upstream child: that child does not run, NotReady)
    results = f()
    assert results[:3] == [15, 12, [2, 3]]
    after = results[3]
    assert after[0] == "Completed" and after[1] == "NotReady"


def test_map_return_state_and_submit_return_state():
    @flow
    def f():
        states = pick.map([1, 2, 3], return_state=True)
        one = inc.submit(1, return_state=True)
        return type(states) is list, [s.type for s in states], one.result()

    assert f() == (True, [StateType.COMPLETED, StateType.FAILED, StateType.COMPLETED], 2)


def test_the_lazy_sequence_makes_futures_on_demand():
    @flow
    def f():
        futs = inc.map(range(1000))
        assert isinstance(futs, MappedFutures) and len(futs) == 1000
        assert futs._batch.values is not None and not futs._batch.states
        one = futs[-1]
        assert isinstance(one, TaskFuture) and one == futs[999] and one.result() == 1000
        return [f.result() for f in futs[2:5]]

    assert f() == [3, 4, 5]


def test_plain_calls_do_not_scan_arguments_until_a_future_exists():
    @flow
    def f():
        from ferroflow.runtime.context import CURRENT_EAGER_RUN

        run = CURRENT_EAGER_RUN.get()
        inc(1)
        before = (run.scan, run.futures)
        inc.submit(1).result()
        return before, run.scan

    (scan, futures), after = f()
    assert scan is False and futures is None and after is True


def test_unfinished_submitted_calls_are_waited_for_at_the_end():
    ran: list = []

    @task
    def slow(x):
        ran.append(x)
        return x

    @flow
    def f():
        for i in range(20):
            slow.submit(i)
        return "done"

    assert f() == "done" and sorted(ran) == list(range(20))


def test_ctrl_c_while_futures_run_cancels_the_run_and_records_the_calls(store):
    gate = threading.Event()
    release = threading.Event()

    cancelled = []

    @task(on_cancellation=[lambda tsk, run, state: cancelled.append((tsk.name, state.message))])
    def held():
        gate.set()
        release.wait(HANG)
        return 1

    @task
    def interrupt():
        assert gate.wait(HANG)
        _thread.interrupt_main()
        return 0

    @flow
    def f():
        a = held.submit()
        interrupt.submit()
        return a.result()

    try:
        with pytest.raises(KeyboardInterrupt):
            f()
    finally:
        release.set()
    reader = store()
    run = reader.list_runs(limit=1)[0]
    assert run.state == "Cancelled"
    held_task, interrupt_task = reader.task_states(run.run_id)
    assert held_task.counts == {"Cancelled": 1}
    assert cancelled == [("held", "Task run was cancelled: the flow run was interrupted.")]
    assert interrupt_task.counts in ({"Success": 1}, {"Cancelled": 1})  # (it may end before the interrupt lands)


def test_ctrl_c_while_a_map_runs_calls_each_cancelled_childs_hooks(store):
    gate = threading.Event()
    release = threading.Event()
    cancelled = []

    @task(on_cancellation=[lambda tsk, run, state: cancelled.append(run.name)])
    def held(x):
        gate.set()
        release.wait(HANG)
        return x

    @task
    def interrupt():
        assert gate.wait(HANG)
        _thread.interrupt_main()

    @flow(executor=ThreadsExecutor(max_workers=4))
    def f():
        children = held.map(range(3))
        interrupt.submit()
        return children.result()

    try:
        with pytest.raises(KeyboardInterrupt):
            f()
    finally:
        release.set()
    run = store().list_runs(limit=1)[0]
    held_task = store().task_states(run.run_id)[0]
    assert held_task.counts == {"Cancelled": 3}
    assert sorted(cancelled) == ["held-0", "held-1", "held-2"]


def test_local_executor_runs_submitted_calls_in_the_flow_thread():
    @task
    def thread_name():
        return threading.current_thread().name

    @flow(executor=LocalExecutor())
    def f():
        return thread_name.submit().result(), threading.current_thread().name

    inside, outside = f()
    assert inside == outside


def test_processes_executor_runs_a_map():
    @flow(executor=ProcessesExecutor(max_workers=2))
    def f():
        return pick.map([1, 2, 3]).result(raise_on_failure=False)

    values = f()
    assert values[0] == 10 and isinstance(values[1], ValueError) and values[2] == 30


def test_a_map_over_a_future_maps_over_its_value_and_a_failed_one_is_an_upstream_error():
    from ferroflow.errors import UpstreamTaskError

    @task
    def numbers(fail: bool = False):
        if fail:
            raise ValueError("no numbers")
        return [1, 2, 3]

    @task
    def double(x):
        return 2 * x

    @flow
    def mapped():
        return double.map(numbers.submit()).result()

    @flow
    def upstream_failed():
        return double.map(numbers.submit(fail=True))

    assert mapped() == [2, 4, 6]
    state = upstream_failed(return_state=True)
    assert state.is_failed()
    with pytest.raises(UpstreamTaskError, match="did not reach a 'COMPLETED' state"):
        state.result()

"""``ferroflow.debug.raise_on_exception``: the first exception of a task's code, state
handler or trigger (or of a flow's state handler) stops the run and escapes
``flow.run()``, as with Prefect 1's ``prefect.utilities.debug.raise_on_exception``;
signals and trigger failures stay states. The run still ends cleanly: executor shut
down, run recorded ``Failed``.

What Prefect 1.4.1 does was checked in /work/p1venv: it raises ValueError, KeyError
(mapped child 1 of [0, 1, 2], child 2 never called), the first attempt's error of a
task with retries, TaskTimeoutSignal, a state handler's ValueError, a custom
trigger's ValueError and a flow state handler's ValueError; it returns a state for
FAIL, SKIP, SUCCESS, TRIGGERFAIL, LOOP, a trigger that fails, and a handler that
raises a signal.
"""

from __future__ import annotations

import traceback
from datetime import timedelta

import pytest

from ferroflow import Flow, context, signals, task, triggers
from ferroflow.debug import raise_on_exception
from ferroflow.errors import TaskTimeout
from ferroflow.executors import LocalExecutor
from ferroflow.store import HOME_ENV, RECORD_ENV, get_run_store


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)
    return tmp_path / "home"


def _flow(build):
    with Flow("debugging") as flow:
        build()
    return flow


def _raised(flow, **kwargs):
    with raise_on_exception():
        with pytest.raises(BaseException) as info:
            flow.run(**kwargs)
    return info.value


@task
def div(x):
    return 1 / x


class CountingExecutor(LocalExecutor):
    def __init__(self):
        super().__init__()
        self.shutdowns = 0

    def shutdown(self):
        self.shutdowns += 1
        super().shutdown()


def test_the_tasks_exception_escapes_with_its_traceback(home):
    flow = _flow(lambda: div(0))
    executor = CountingExecutor()
    error = _raised(flow, executor=executor)
    assert type(error) is ZeroDivisionError and str(error) == "division by zero"
    assert "return 1 / x" in "".join(traceback.format_tb(error.__traceback__))  # where the task raised it
    assert executor.shutdowns == 1
    run = get_run_store().list_runs(limit=1)[0]
    assert (run.flow_name, run.state) == ("debugging", "Failed")
    assert run.message == ("The run stopped at the first error (raise_on_exception): "
                           "Error during execution of task: ZeroDivisionError('division by zero')")
    [div_task] = get_run_store().task_states(run.run_id)
    assert div_task.state == "Failed"
    assert get_run_store().child_state(run.run_id, div_task.task_id, -1).message == (
        "Error during execution of task: ZeroDivisionError('division by zero')")


def test_without_it_the_run_returns_its_state():
    flow = _flow(lambda: div(0))
    assert flow.run(record=False).is_failed()
    with context(raise_on_exception=True):  # Prefect's other spelling
        with pytest.raises(ZeroDivisionError):
            flow.run(record=False)
    assert flow.run(record=False).is_failed()  # read when a run starts, not later


@pytest.mark.parametrize("signal, state", [
    (signals.FAIL("f"), "Failed"),
    (signals.SKIP("s"), "Skipped"),
    (signals.SUCCESS("ok"), "Success"),
    (signals.TRIGGERFAIL("tf"), "TriggerFailed"),
])
def test_signals_are_states_not_errors(signal, state):
    @task
    def signalling():
        raise signal

    with Flow("signals") as flow:
        done = signalling()
    with raise_on_exception():
        result = flow.run(record=False)
    assert type(result.result[done]).__name__ == state and result.result[done].message == signal.message


def test_loops_and_trigger_failures_are_not_errors():
    @task
    def looper():
        n = context.get("task_loop_count", 1)
        if n < 3:
            raise signals.LOOP(result=n)
        return n

    @task
    def one():
        return 1

    @task(trigger=triggers.all_failed)
    def only_on_failure(x):
        return x

    with Flow("no-errors") as flow:
        looped = looper()
        guarded = only_on_failure(one())
    with raise_on_exception():
        state = flow.run(record=False)
    assert state.result[looped].result == 3
    assert state.result[guarded].is_failed() and type(state.result[guarded]).__name__ == "TriggerFailed"


def test_a_mapped_child_stops_the_run_where_it_fails(home):
    calls = []

    @task
    def child(x):
        calls.append(x)
        if x >= 1:
            raise KeyError(x)
        return x

    @task
    def after(xs):
        calls.append("after")

    with Flow("mapped") as flow:
        after(child.map([0, 1, 2]))
    error = _raised(flow)
    assert repr(error) == "KeyError(1)" and calls == [0, 1]
    store = get_run_store()
    run = store.list_runs(limit=1)[0]
    tasks = {t.name: t for t in store.task_states(run.run_id)}
    assert tasks["child"].counts == {"Success": 1, "Failed": 1, "Cancelled": 1}
    assert tasks["after"].state == "TriggerFailed"  # decided by the failure, as without raise_on_exception
    assert store.child_state(run.run_id, tasks["child"].task_id, 2).state == "Cancelled"


def test_the_first_attempt_raises_even_with_retries():
    calls = []

    @task(max_retries=2, retry_delay=timedelta(0))
    def flaky():
        calls.append(1)
        raise ValueError(f"flaky {len(calls)}")

    assert str(_raised(_flow(lambda: flaky()), record=False)) == "flaky 1" and len(calls) == 1


def test_a_timeout_raises():
    @task(timeout=0.05)
    def slow():
        import time

        time.sleep(5)

    assert isinstance(_raised(_flow(lambda: slow()), record=False), TaskTimeout)


def test_a_state_handlers_error_raises_and_its_signal_does_not():
    def broken(obj, old, new):
        raise ValueError("handler")

    def skipping(obj, old, new):
        if new.is_running():
            raise signals.SKIP("handler skip")
        return new

    @task(state_handlers=[broken])
    def watched():
        return 1

    @task(state_handlers=[skipping])
    def skipped():
        return 1

    assert repr(_raised(_flow(lambda: watched()), record=False)) == "ValueError('handler')"
    with Flow("skip") as flow:
        done = skipped()
    with raise_on_exception():
        assert flow.run(record=False).result[done].message == "handler skip"


def test_a_custom_triggers_error_raises(home):
    def bad_trigger(upstream):
        raise ValueError("trigger boom")

    @task
    def one():
        return 1

    @task(trigger=bad_trigger)
    def guarded(x):
        return x

    error = _raised(_flow(lambda: guarded(one())))
    assert repr(error) == "ValueError('trigger boom')"
    run = get_run_store().list_runs(limit=1)[0]
    tasks = {t.name: t.state for t in get_run_store().task_states(run.run_id)}
    assert tasks == {"one": "Success", "guarded": "TriggerFailed"}


def test_a_flow_state_handlers_error_raises(home):
    def broken(flow, old, new):
        raise ValueError("flow handler")

    with Flow("flow-handler", state_handlers=[broken]) as flow:
        div(1)
    assert repr(_raised(flow)) == "ValueError('flow handler')"
    run = get_run_store().list_runs(limit=1)[0]
    assert run.state == "Failed" and run.message.endswith("ValueError('flow handler')")


def test_a_task_with_handlers_or_a_cache_raises_too():
    calls = []

    @task(state_handlers=[lambda obj, old, new: calls.append(type(new).__name__)])
    def observed():
        raise RuntimeError("observed")

    @task(cache_for=timedelta(hours=1))
    def cached():
        raise RuntimeError("cached")

    assert repr(_raised(_flow(lambda: observed()), record=False)) == "RuntimeError('observed')"
    assert calls == ["Running"]  # as in Prefect 1, the handlers never see the Failed state
    assert repr(_raised(_flow(lambda: cached()), record=False)) == "RuntimeError('cached')"


def test_on_the_threads_executor_it_is_the_same_exception():
    raised = []

    @task
    def fails(x):
        error = LookupError(x)
        raised.append(error)
        raise error

    with Flow("threads") as flow:
        fails.map([1])
    assert _raised(flow, executor="threads", record=False) is raised[0]


def test_from_a_worker_process_it_is_a_copy(home):
    with Flow("processes") as flow:
        div.map([1, 0])
    error = _raised(flow, executor="processes")
    assert type(error) is ZeroDivisionError and str(error) == "division by zero"
    run = get_run_store().list_runs(limit=1)[0]
    assert run.state == "Failed"

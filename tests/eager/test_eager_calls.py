"""Eager flows (``@flow``): task calls run at once with ferroflow's negative
engineering, and states follow Prefect 3's API."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from pydantic import BaseModel

from ferroflow import Flow, context, flow, get_run_logger, task
from ferroflow.eager.states import Completed, Failed, StateType
from ferroflow.errors import FailedRun, MissingContextError, ParameterBindError, ParameterTypeError, TaskRunTimeoutError


@task
def inc(x):
    return x + 1


@task
def boom(message="boom"):
    raise RuntimeError(message)


def test_a_flow_call_runs_its_tasks_at_once_and_returns_the_value():
    @flow
    def chain(n: int):
        total = 0
        for _ in range(n):
            total = inc(total)
        return total

    assert chain(5) == 5
    state = chain(3, return_state=True)
    assert state.is_completed() and state.type is StateType.COMPLETED and state.name == "Completed"
    assert state.result() == 3


def test_the_same_task_builds_a_graph_inside_with_flow_and_runs_inside_at_flow():
    with Flow("deferred") as deferred:
        r = inc(1)
    assert deferred.run().result[r].result == 2

    @flow
    def eager():
        return inc(1)

    assert eager() == 2
    with pytest.raises(ValueError, match="called outside a flow"):
        inc(1)


def test_a_task_that_raises_raises_in_the_flow_and_fails_it():
    @flow
    def fails():
        boom("bad input")

    with pytest.raises(RuntimeError, match="bad input"):
        fails()
    state = fails(return_state=True)
    assert state.is_failed() and "RuntimeError: bad input" in state.message
    assert isinstance(state.result(raise_on_failure=False), RuntimeError)


def test_a_caught_task_failure_leaves_the_flow_completed():
    @flow
    def recovers():
        try:
            boom()
        except RuntimeError:
            return "recovered"

    assert recovers(return_state=True).is_completed()
    assert recovers() == "recovered"


def test_return_state_on_a_task_call():
    @flow
    def look():
        ok = inc(1, return_state=True)
        bad = boom(return_state=True)
        return ok.type, ok.result(), bad.type, type(bad.result(raise_on_failure=False)).__name__

    assert look() == (StateType.COMPLETED, 2, StateType.FAILED, "RuntimeError")


def test_retries_with_prefect3_names_run_the_call_again():
    attempts = []

    @task(retries=2, retry_delay_seconds=0)
    def flaky():
        attempts.append(context.task_run_count)
        if len(attempts) < 3:
            raise ValueError("not yet")
        return "third time"

    @flow
    def retried():
        return flaky()

    assert retried() == "third time"
    assert attempts == [1, 2, 3]


def test_retries_exhausted_raise_the_last_error():
    @task(retries=1, retry_delay_seconds=0)
    def always():
        raise ValueError("never")

    @flow
    def exhausted():
        return always()

    with pytest.raises(ValueError, match="never"):
        exhausted()


def test_a_timeout_fails_the_call_with_task_run_timeout_error():
    import time

    @task(timeout_seconds=0.2)
    def sleepy():
        time.sleep(5)

    @flow
    def slow():
        try:
            sleepy()
        except TaskRunTimeoutError as exc:
            return str(exc)

    assert slow() == "Scope timed out after 0.2 second(s)."


def test_a_task_returning_a_state_ends_in_it_and_gives_it_back():
    @task
    def chooses(ok):
        return Completed(message="fine", data=7) if ok else Failed(message="said no")

    @flow
    def states():
        good = chooses(True)
        bad = chooses(False)  # (Prefect 3: the state itself, not raised)
        return good.result(), bad.name, bad.message, bad.result(raise_on_failure=False)

    assert states() == (7, "Failed", "said no", None)

    @flow
    def returns_it():
        return chooses(False)

    state = returns_it(return_state=True)  # a task's failed state returned: "1/1 states failed."
    assert state.is_failed() and state.message == "1/1 states failed."
    with pytest.raises(FailedRun, match="said no"):
        returns_it()


def test_parameters_are_bound_and_coerced_from_type_hints():
    seen = []

    @flow
    def typed(x: int, names: list[str], ratio: float = 0.5):
        seen.append((x, names, ratio))
        return x

    assert typed("3", ["a"]) == 3
    assert seen == [(3, ["a"], 0.5)]
    with pytest.raises(ParameterTypeError, match="x: Input should be a valid integer"):
        typed("three", ["a"])
    state = typed("three", ["a"], return_state=True)
    assert state.is_failed() and state.message.startswith("Validation of flow parameters failed with error: ")
    with pytest.raises(ParameterTypeError, match=r"names\.0: Input should be a valid string"):
        typed(1, [2])
    with pytest.raises(ParameterTypeError):
        typed("three", ["a"])
    with pytest.raises(ParameterBindError, match="missing a required argument: 'names'"):
        typed(1)
    assert len(seen) == 1  # nothing ran for the bad calls


def test_validate_parameters_false_passes_arguments_as_given():
    @flow(validate_parameters=False)
    def loose(x: int):
        return x

    assert loose("not an int") == "not an int"


def test_hooks_see_the_final_state():
    seen = []

    def record(obj, run, state):
        seen.append((obj.name, state.name))

    @task(on_completion=[record], on_failure=[record])
    def hooked(fail):
        if fail:
            raise ValueError("x")
        return 1

    @flow(on_completion=[record], on_failure=[record])
    def hooks():
        hooked(False)
        hooked(True)

    with pytest.raises(ValueError):
        hooks()
    assert seen == [("hooked", "Completed"), ("hooked", "Failed"), ("hooks", "Failed")]


def test_a_hook_that_raises_is_logged_and_changes_nothing(caplog):
    def broken(obj, run, state):
        raise RuntimeError("hook broke")

    @flow(on_completion=[broken])
    def fine():
        return 1

    with caplog.at_level(logging.ERROR, logger="ferroflow.hooks"):
        assert fine() == 1
    assert "hook broke" in caplog.text


def test_get_run_logger_and_context_inside_flows_and_tasks():
    @task
    def who():
        get_run_logger().info("in task")
        return context.task_name, context.map_index

    @flow
    def named():
        get_run_logger().info("in flow")
        return context.flow_name, who(), who()

    assert named() == ("named", ("who", 0), ("who", 1))
    with pytest.raises(MissingContextError):
        get_run_logger()


def test_a_flow_retries_its_function():
    calls = []

    @flow(retries=2, retry_delay_seconds=0)
    def retried():
        calls.append(1)
        if len(calls) < 2:
            raise ValueError("first attempt")
        return len(calls)

    assert retried() == 2


def test_a_flow_returning_failed_states_fails():
    @flow
    def returns_states():
        return [inc(1, return_state=True), boom(return_state=True)]

    state = returns_states(return_state=True)
    assert state.is_failed() and state.message == "1/2 states failed."


def test_a_subflow_runs_inside_its_parent():
    @flow
    def child(x: int):
        return inc(x)

    @flow
    def parent():
        return child(1) + child(10)

    assert parent() == 13


def test_prefect3_and_ferroflow_names_of_one_option_are_refused_together():
    with pytest.raises(TypeError, match="give retries= or max_retries="):
        task(retries=1, max_retries=2)(lambda: None)


def test_ctrl_c_cancels_the_run_and_the_call_it_stopped_and_is_raised_again(store):
    cancelled = []

    @task(retries=1)
    def interrupted():
        raise KeyboardInterrupt

    @interrupted.on_cancellation
    def _hook(tsk, run, state):
        cancelled.append((tsk.name, run.name, state.name, state.message))

    @flow
    def stopped():
        inc(1)
        interrupted()

    with pytest.raises(KeyboardInterrupt):
        stopped()
    message = "Task run was cancelled: its flow run ended while it ran."
    assert cancelled == [("interrupted", "interrupted-0", "Cancelled", message)]
    reader = store()
    run = reader.list_runs(limit=1)[0]
    assert run.state == "Cancelled"
    # The call the interrupt stopped is Cancelled, not left Running forever.
    assert [(t.name, t.state, t.counts) for t in reader.task_states(run.run_id)] == [
        ("inc", "Success", {"Success": 1}), ("interrupted", "Cancelled", {"Cancelled": 1})]
    assert reader.child_state(run.run_id, 1, 0).message == message


def test_on_running_hooks_see_each_attempt_start():
    seen = []

    def running(obj, run, state):
        seen.append((obj.name, state.name))

    @task(retries=2, on_running=[running])
    def flaky():
        if context.task_run_count < 3:
            raise ValueError("again")
        return "ok"

    @flow(on_running=[running])
    def runs():
        return flaky()

    assert runs() == "ok"
    assert seen == [("runs", "Running"), ("flaky", "Running"), ("flaky", "Retrying"), ("flaky", "Retrying")]


def test_hooks_added_with_the_decorator_form_run_after_those_given():
    seen = []

    def given(obj, run, state):
        seen.append(("given", obj.name, state.name))

    @task(on_failure=[given])
    def boom():
        raise ValueError("boom")

    @boom.on_failure
    def decorated(obj, run, state):
        seen.append(("decorated", obj.name, state.name))

    @task
    def fine():
        return 1

    assert fine.on_running(lambda obj, run, state: seen.append(("running", obj.name))) is not None
    fine.on_completion(lambda obj, run, state: seen.append(("completed", obj.name, state.result())))

    @flow
    def f():
        boom(return_state=True)
        return fine()

    for kind in ("on_running", "on_completion", "on_failure", "on_cancellation", "on_crashed"):
        getattr(f, kind)(lambda obj, run, state, kind=kind: seen.append((kind, obj.name, state.name)))

    assert decorated.__name__ == "decorated"  # (the decorator returns the hook)
    assert f() == 1
    assert seen == [("on_running", "f", "Running"), ("given", "boom", "Failed"), ("decorated", "boom", "Failed"),
                    ("running", "fine"), ("completed", "fine", 1), ("on_completion", "f", "Completed")]
    # with_options copies the hooks added so far
    seen.clear()
    assert f.with_options(name="g")() == 1
    assert ("on_completion", "g", "Completed") in seen and ("decorated", "boom", "Failed") in seen


def test_a_hook_decorator_given_something_not_callable_is_refused():
    @task
    def t():
        return 1

    @flow
    def f():
        return t()

    for add in (t.on_failure, t.on_completion, f.on_failure):
        with pytest.raises(TypeError, match="must be a list of callables"):
            add("not a hook")


def test_prefect_1s_on_failure_callback_is_kept_beside_the_decorator():
    called = []

    @task(on_failure=lambda tsk, state: called.append(("prefect 1", type(state).__name__)))
    def boom():
        raise ValueError("boom")

    @boom.on_failure
    def _hook(obj, run, state):
        called.append(("prefect 3", state.name))

    assert boom.on_failure and callable(boom.on_failure.callback)
    assert not task(lambda: 1).on_failure and task(lambda: 1).on_failure.callback is None

    @flow
    def f():
        return boom(return_state=True).name

    assert f() == "Failed"
    assert called == [("prefect 1", "Failed"), ("prefect 3", "Failed")]
    with Flow("deferred") as deferred:
        boom()
    called.clear()
    deferred.run()
    assert called == [("prefect 1", "Failed")]  # (a deferred flow calls Prefect 1's only)
    with pytest.raises(TypeError, match="on_failure must be a callable"):
        boom.on_failure = "nope"
    boom.on_failure = None
    assert not boom.on_failure


def test_with_options_fn_and_retry_condition_fn():
    attempts = []

    def only_value_errors(task, task_run, state):
        try:
            state.result()
        except ValueError:
            return True
        except Exception:
            return False
        return False

    @task
    def picky():
        attempts.append(1)
        raise (ValueError if len(attempts) == 1 else KeyError)("no")

    retried = picky.with_options(retries=3, retry_condition_fn=only_value_errors, name="picky-retried")
    assert retried.name == "picky-retried" and retried.max_retries == 3 and picky.max_retries == 0

    @flow
    def f():
        return retried()

    with pytest.raises(KeyError):
        f()
    assert len(attempts) == 2  # retried after the ValueError, not after the KeyError
    assert inc.fn(1) == 2  # the function itself, outside any flow


def test_a_slow_call_is_handed_to_the_store_once_the_batch_is_due(monkeypatch):
    from ferroflow import _core
    from ferroflow.eager import record

    written = []

    class Store:  # what the recorder calls (a run store's writing methods)
        def record_width(self, run_id, task_id, width):
            written.append(("width", task_id, width))

        def record_report(self, run_id, reports, details=None):
            written.append(("report", [(t, list(i), bytes(c)) for t, i, c in reports]))

        def check_lease(self, run_id):
            pass

    ledger = _core.Ledger()
    task_id = ledger.add_task()
    recorder = record.EagerRecorder(Store(), "r", ledger)
    clock = [100.0]
    monkeypatch.setattr(record.time, "monotonic", lambda: clock[0])
    recorder.flushed_at = clock[0]
    index = ledger.reserve(task_id)
    ledger.outcome(task_id, index, 1, _core.SUCCESS)
    recorder.ended(task_id, None)
    assert written == []  # (not due yet)
    clock[0] += 2 * record.FLUSH_SECONDS  # the second call was slow: its end hands both over
    index = ledger.reserve(task_id)
    ledger.outcome(task_id, index, 1, _core.SUCCESS)
    recorder.ended(task_id, None)
    assert written == [("width", task_id, 2), ("report", [(task_id, [0, 1], bytes([_core.SUCCESS] * 2))])]


@pytest.mark.parametrize("call", ["plain", "retried", "submitted", "mapped"])
def test_task_arguments_that_do_not_bind_are_a_parameter_bind_error(call, store):
    @task
    def one(x):
        return x

    @task(retries=1)
    def retried(x):
        return x

    @task
    def broken(x):
        return len(x)  # (a TypeError inside the function stays a TypeError)

    @flow
    def f():
        if call == "plain":
            return one(1, 2)
        if call == "retried":
            return retried(1, 2)
        if call == "submitted":
            return one.submit(1, 2)
        return one.map([1], [2])

    state = f(return_state=True)
    with pytest.raises(ParameterBindError, match="Error binding parameters for function '(one|retried)': too many "
                                                  "positional arguments"):
        state.result()

    @flow
    def inner():
        return broken(5)

    with pytest.raises(TypeError) as raised:
        inner()
    assert type(raised.value) is TypeError


class Window(BaseModel):
    start: int
    days: int = 7


@dataclasses.dataclass
class Target:
    table: str
    replace: bool = False


def test_models_and_dataclasses_as_parameters_are_built_from_dicts_with_their_own_config():
    @flow
    def load(window: Window, target: Target):
        return type(window).__name__, window.start, window.days, type(target).__name__, target.table

    assert load({"start": "3"}, {"table": "t"}) == ("Window", 3, 7, "Target", "t")
    assert load(Window(start=1, days=2), Target("u")) == ("Window", 1, 2, "Target", "u")
    with pytest.raises(ParameterTypeError, match=r"window\.start: Input should be a valid integer"):
        load({"start": "soon"}, {"table": "t"})


def test_retry_jitter_factor_spreads_the_waits_and_bad_values_are_refused():
    from ferroflow.retries import JitteredDelays, core_delays

    @task(retries=2, retry_delay_seconds=[1, 2], retry_jitter_factor=0.5)
    def jittered():
        return 1

    assert isinstance(jittered.retry_delay, JitteredDelays)
    delays, jitter, _ = core_delays(jittered.retry_delay, 2)
    assert delays == [1500, 3000] and jitter == pytest.approx(2 / 3)  # (uniform in [0.5 d, 1.5 d])
    with pytest.raises(ValueError, match="retry_jitter_factor must be a number >= 0"):
        task(retries=1, retry_delay_seconds=1, retry_jitter_factor=-1)(lambda: 1)
    with pytest.raises(TypeError, match="give retry_delay_seconds= with it"):
        jittered.with_options(retry_jitter_factor=0.2)

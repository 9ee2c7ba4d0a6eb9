"""``callback_factory(fn, check)``: Prefect 1's state handler that calls ``fn(obj,
new_state)`` when ``check(new_state) is True``; it pickles, so it runs in worker
processes too."""

from __future__ import annotations

import functools
import os
import pickle
from datetime import timedelta

import cloudpickle
import pytest

from ferroflow import Flow, Task, task
from ferroflow.notifications import CallbackHandler, callback_factory
from ferroflow.states import Failed, Retrying, Success


def _append(path, obj, state):
    with open(path, "a") as f:
        f.write(f"{os.getpid()} {obj.name} {type(state).__name__} {state.message}\n")


def _is_finished(state):
    return state.is_finished()


class Flaky(Task):
    def __init__(self, calls, **kwargs):
        super().__init__(**kwargs)
        self.calls = calls

    def run(self):
        self.calls.append(1)
        if len(self.calls) == 1:
            raise ConnectionError("the API hung up")
        return "answered"


def test_fn_is_called_with_the_task_and_each_state_check_accepts():
    # As recorded on Prefect 1.4.1 (real flow docs_notifications_callback_factory): one
    # call, for the Retrying state, which has a start_time.
    seen = []
    on_retry = callback_factory(lambda obj, state: seen.append((obj.name, state)), lambda s: s.is_retrying())
    flaky = Flaky([], name="flaky", max_retries=1, retry_delay=timedelta(0), state_handlers=[on_retry])
    state = Flow("retrying", tasks=[flaky]).run(record=False)
    assert state.is_successful()
    assert [(name, type(s)) for name, s in seen] == [("flaky", Retrying)]
    assert seen[0][1].message == "Retrying Task (after attempt 1 of 2)" and seen[0][1].start_time is not None


def test_check_must_return_true_itself():
    seen = []
    handler = callback_factory(lambda obj, state: seen.append(state), lambda s: 1)
    assert handler(None, Success(), Failed()) == Failed() and seen == []
    handler = callback_factory(lambda obj, state: seen.append(state), lambda s: True)
    new = Failed("boom")
    assert handler(None, Success(), new) is new and seen == [new]


def test_on_a_flow_it_sees_the_flow_states():
    seen = []
    with Flow("flow-level", state_handlers=[callback_factory(lambda f, s: seen.append((f.name, s.message)),
                                                             _is_finished)]) as flow:
        task(lambda: 1, name="one")()
    flow.run(record=False)
    assert seen == [("flow-level", "All reference tasks succeeded.")]


def test_an_error_in_fn_fails_the_task_run():
    def boom(obj, state):
        raise ValueError("no network")

    @task(state_handlers=[callback_factory(boom, lambda s: s.is_running())])
    def work():
        return 1

    with Flow("failing-callback") as flow:
        done = work()
    state = flow.run(record=False).result[done]
    assert isinstance(state, Failed)
    assert state.message == "Unexpected error while calling state handlers: ValueError('no network')"


def test_it_needs_two_callables():
    with pytest.raises(TypeError, match="two callables"):
        callback_factory(print, None)


def test_it_pickles(tmp_path):
    path = str(tmp_path / "calls")
    handler = callback_factory(functools.partial(_append, path), _is_finished)
    copy = pickle.loads(pickle.dumps(handler))
    assert isinstance(copy, CallbackHandler) and copy.__name__ == "callback(partial)"
    lambdas = cloudpickle.loads(cloudpickle.dumps(callback_factory(lambda o, s: None, lambda s: True)))
    assert lambdas(None, Success(), Failed("x")) == Failed("x")


def test_it_runs_in_worker_processes(tmp_path):
    path = tmp_path / "calls"
    handler = callback_factory(functools.partial(_append, str(path)), _is_finished)

    @task(state_handlers=[handler])
    def double(x):
        return 2 * x

    with Flow("in-workers") as flow:
        doubled = double.map([1, 2, 3])
    state = flow.run(executor="processes", record=False)
    assert state.result[doubled].result == [2, 4, 6]
    lines = [line.split(" ", 1) for line in path.read_text().splitlines()]
    children = [text for pid, text in lines if int(pid) != os.getpid()]
    assert children == ["double Success Task run succeeded."] * 3  # called in the workers
    assert [text for pid, text in lines if int(pid) == os.getpid()] == ["double Mapped Ready to proceed with mapping."]

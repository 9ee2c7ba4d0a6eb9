"""retry_condition=fn(task, state) -> bool: asked with the Failed/TimedOut state a
retryable run would end in; combined with retry_on (both must allow); not asked when
no retry is left; a condition that raises logs a warning naming the task and the run
stays Failed with its own error."""

from __future__ import annotations

import logging
import pickle
import time

import cloudpickle
import pytest

from ferroflow import Flow, context, signals, states, task
from ferroflow.retries import RetryRule
from ferroflow.runtime.unit import WorkUnit, retry_rule


class Transient(Exception):
    pass


def test_condition_sees_the_task_and_the_failed_state(scheduled):
    seen = []

    def condition(t, state):
        seen.append((t.name, type(state), state.run_count, state.result, state.message, state.traceback))
        return True

    @task(max_retries=2, retry_delay=[0.001, 0.002], retry_condition=condition)
    def always_fails():
        raise Transient("again")

    with Flow("seen") as flow:
        t = always_fails()
    state = flow.run()
    assert state.result[t].is_failed() and state.result[t].run_count == 3
    # asked after attempts 1 and 2, not after the last one (no retry left)
    assert [(name, cls, n) for name, cls, n, *_ in seen] == [
        ("always_fails", states.Failed, 1),
        ("always_fails", states.Failed, 2),
    ]
    _, _, _, result, message, text = seen[0]
    assert isinstance(result, Transient) and message == "Error during execution of task: Transient('again')"
    assert "Transient: again" in text
    assert scheduled.waits(flow, t) == [1, 2]


def test_condition_refusal_keeps_the_run_failed(scheduled):
    @task(max_retries=3, retry_delay=0, retry_condition=lambda t, s: "transient" in str(s.result))
    def classify(x):
        raise ValueError(x)

    with Flow("refuse") as flow:
        m = classify.map(["transient", "fatal"])
    state = flow.run()
    transient, fatal = state.result[m].map_states
    assert transient.is_failed() and transient.run_count == 4
    assert fatal.is_failed() and fatal.run_count == 1
    assert str(fatal.result) == "fatal" and fatal.message == "Error during execution of task: ValueError('fatal')"
    assert scheduled.waits(flow, m, 1) == []


def test_condition_and_retry_on_must_both_allow():
    asked = []

    def only_transient_messages(t, state):
        asked.append(repr(state.result))
        return "retry me" in str(state.result)

    @task(max_retries=1, retry_delay=0, retry_on=ValueError, retry_condition=only_transient_messages)
    def work(kind):
        if context.task_run_count > 1:
            return "ok"
        raise {"key": KeyError, "value": ValueError}[kind.split()[0]](kind)

    with Flow("both") as flow:
        m = work.map(["key retry me", "value retry me", "value fatal"])
    runs = [(s.is_successful(), s.run_count) for s in flow.run().result[m].map_states]
    assert runs == [(False, 1), (True, 2), (False, 1)]
    # retry_on refused the KeyError first: the condition was never asked about it
    assert sorted(asked) == ["ValueError('value fatal')", "ValueError('value retry me')"]


def test_condition_that_raises_warns_and_does_not_retry(caplog):
    def broken(t, state):
        raise RuntimeError("condition bug")

    @task(max_retries=3, retry_delay=0, retry_condition=broken)
    def fails(x):
        raise Transient(f"original {x}")

    @task
    def after():
        return "still ran"

    with Flow("broken") as flow:
        m = fails.map([0, 1])
        a = after()
    with caplog.at_level(logging.WARNING, logger="ferroflow.retries"):
        state = flow.run()
    assert state.result[a].result == "still ran"
    for i, child in enumerate(state.result[m].map_states):
        assert isinstance(child, states.Failed) and child.run_count == 1
        assert str(child.result) == f"original {i}"
    messages = [r.getMessage() for r in caplog.records if r.name == "ferroflow.retries"]
    assert len(messages) == 2
    assert "Task 'fails[0]': retry_condition raised RuntimeError('condition bug'); not retrying" in messages[0]
    # the warning is kept with the child's logs too
    assert any("retry_condition raised" in entry.message for entry in state.result[m].map_states[1].logs)


def test_condition_raising_a_signal_does_not_retry_either(caplog):
    def signals_out(t, state):
        raise signals.SKIP("no")

    @task(max_retries=2, retry_delay=0, retry_condition=signals_out)
    def fails():
        raise Transient("x")

    with Flow("signal") as flow:
        t = fails()
    with caplog.at_level(logging.WARNING, logger="ferroflow.retries"):
        state = flow.run()
    assert isinstance(state.result[t], states.Failed) and state.result[t].run_count == 1
    assert "retry_condition raised SKIP('no')" in caplog.text


def test_condition_applies_to_timeouts_with_a_timed_out_state():
    seen = []

    def condition(t, state):
        seen.append(type(state))
        return True

    @task(timeout=0.05, max_retries=1, retry_delay=0, retry_condition=condition)
    def slow_once():
        if context.task_run_count == 1:
            time.sleep(30)
        return "second"

    with Flow("timeout") as flow:
        t = slow_once()
    state = flow.run()
    assert state.result[t].result == "second" and seen == [states.TimedOut]


def test_condition_applies_to_fail_signals():
    @task(max_retries=2, retry_delay=0, retry_condition=lambda t, s: s.run_count < 2)
    def fail_signal():
        raise signals.FAIL("nope")

    with Flow("fail") as flow:
        t = fail_signal()
    state = flow.run()
    assert state.result[t].is_failed() and state.result[t].run_count == 2


def test_condition_sees_the_mapped_child_through_the_context():
    indices = []

    def condition(t, state):
        indices.append(context.map_index)
        return False

    @task(max_retries=1, retry_delay=0, retry_condition=condition)
    def odd_fails(x):
        if x % 2:
            raise ValueError(x)
        return x

    with Flow("indices") as flow:
        odd_fails.map(range(6))
    flow.run()
    assert sorted(indices) == [1, 3, 5]


def test_condition_with_state_handlers():
    transitions = []

    def handler(t, old, new):
        transitions.append(type(new).__name__)

    @task(max_retries=2, retry_delay=0, state_handlers=[handler],
          retry_condition=lambda t, s: s.run_count == 1)
    def observed():
        raise Transient("x")

    with Flow("observed") as flow:
        t = observed()
    state = flow.run()
    assert state.result[t].is_failed() and state.result[t].run_count == 2
    assert transitions.count("Running") == 2 and transitions[-1] == "Failed"


def test_condition_also_judges_a_failure_chosen_by_a_state_handler():
    asked = []

    def to_failed(t, old, new):
        if isinstance(new, states.Success):
            return states.Failed("handler says no", ValueError("from handler"))

    def condition(t, state):
        asked.append((state.message, state.run_count))
        return False

    @task(max_retries=2, retry_delay=0, state_handlers=[to_failed], retry_condition=condition)
    def succeeds():
        return 1

    with Flow("handler") as flow:
        t = succeeds()
    state = flow.run()
    assert state.result[t].is_failed() and state.result[t].run_count == 1
    assert asked == [("handler says no", 1)]


def test_no_condition_costs_nothing_and_units_pickle():
    unit = WorkUnit(task_id=0, label="t", fn=len, indices=None, size=1, static={}, retry_on=(ValueError,))
    assert retry_rule(unit) is unit.retry_on
    unit.retry_condition = lambda t, s: True
    rule = retry_rule(unit)
    assert isinstance(rule, RetryRule) and tuple(rule) == (ValueError,)
    assert isinstance(ValueError(), rule), "a rule is the retry_on tuple itself"
    again = cloudpickle.loads(cloudpickle.dumps(rule))
    assert tuple(again) == (ValueError,) and again.condition(None, None) is True
    assert pickle.loads(pickle.dumps(RetryRule((KeyError,), len, None))).condition is len
    assert cloudpickle.loads(cloudpickle.dumps(unit)).retry_condition(None, None) is True


@pytest.mark.parametrize("returned, retried", [(1, True), ("yes", True), (0, False), (None, False), ([], False)])
def test_condition_result_is_taken_for_its_truth(returned, retried):
    @task(max_retries=1, retry_delay=0, retry_condition=lambda t, s: returned)
    def fails():
        raise Transient("x")

    with Flow("truth") as flow:
        t = fails()
    assert flow.run().result[t].run_count == (2 if retried else 1)

"""Signals of the user's own, as in Prefect 1: a ``PrefectStateSignal`` subclass whose
``_state_cls`` is a ferroflow state class or a user's subclass of one ends a task run in
that state's ferroflow class (the core keeps one byte per state; a user's class is
recorded as the ferroflow class it derives from). ``signal.state`` is an instance of
the user's class."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ferroflow import Flow, signals, states, task
from ferroflow.runtime.unit import SIGNAL_CODES
from ferroflow.signals import PrefectStateSignal


class SkippedResult(states.Success):
    """A user's state: a success that skipped its work (iguazu's)."""


class SKIPRESULT(PrefectStateSignal):
    _state_cls = SkippedResult


class Quarantined(states.Skipped):
    pass


class QUARANTINE(PrefectStateSignal):
    _state_cls = Quarantined


class Flaky(states.Failed):
    pass


class FLAKY(PrefectStateSignal):
    _state_cls = Flaky


def test_prefect_state_signal_is_the_base_of_every_signal():
    assert PrefectStateSignal is signals.FerroflowSignal
    for builtin, state_cls in [(signals.FAIL, states.Failed), (signals.TRIGGERFAIL, states.TriggerFailed),
                               (signals.SUCCESS, states.Success), (signals.SKIP, states.Skipped),
                               (signals.RETRY, states.Retrying), (signals.PAUSE, states.Paused),
                               (signals.LOOP, states.Looped)]:
        assert issubclass(builtin, PrefectStateSignal)
        assert builtin._state_cls is state_cls and builtin.state_name == state_cls.__name__
    try:
        raise signals.FAIL("caught")
    except PrefectStateSignal as caught:
        assert isinstance(caught.state, states.Failed) and caught.state.message == "caught"


def test_the_state_name_comes_from_the_nearest_ferroflow_state_class():
    assert SKIPRESULT.state_name == "Success"
    assert QUARANTINE.state_name == "Skipped"
    assert FLAKY.state_name == "Failed"
    signal = SKIPRESULT("Output already exists")
    assert type(signal.state) is SkippedResult
    assert signal.state.message == "Output already exists" and signal.state.result is signal


def test_a_user_state_class_ends_the_task_run_in_its_ferroflow_class():
    seen = []

    def watch(task, old, new):
        seen.append((type(old).__name__, type(new).__name__, new.message))

    @task(state_handlers=[watch])
    def preprocess(name):
        if name.endswith("-done"):
            raise SKIPRESULT("Output already exists")
        return name

    with Flow("own signal") as flow:
        done = preprocess.map(["a", "b-done"])
    state = flow.run()
    assert state.is_successful()
    child = state.result[done].map_states[1]
    assert type(child) is states.Success  # not SkippedResult: see the module docstring
    assert child.message == "Output already exists"
    assert isinstance(child.result, SKIPRESULT)  # tell it apart by its result
    assert ("Running", "Success", "Output already exists") in seen


def test_a_skipped_subclass_skips_downstream():
    @task
    def quarantine():
        raise QUARANTINE("suspicious input")

    @task
    def after(x):
        return x

    with Flow("quarantine") as flow:
        first = quarantine()
        second = after(first)
    state = flow.run()
    assert type(state.result[first]) is states.Skipped
    assert state.result[first].message == "suspicious input"
    assert state.result[second].is_skipped()


def test_a_failed_subclass_is_retried():
    calls = []

    @task(max_retries=1, retry_delay=timedelta(0))
    def flaky():
        calls.append(1)
        raise FLAKY("try again later")

    with Flow("flaky") as flow:
        ran = flaky()
    state = flow.run()
    assert type(state.result[ran]) is states.Failed and state.result[ran].message == "try again later"
    assert len(calls) == 2


def test_a_user_signal_from_a_trigger():
    def refuse(upstream_states):
        raise QUARANTINE("not today")

    @task(trigger=refuse)
    def guarded():
        return 1

    with Flow("trigger") as flow:
        ran = guarded()
    state = flow.run()
    assert type(state.result[ran]) is states.Skipped and state.result[ran].message == "not today"


@pytest.mark.parametrize("bad, words", [
    (states.Cached, "not Cached"),
    (states.Mapped, "not Mapped"),
    (states.Pending, "not Pending"),
    (states.State, "not State"),
    (states.TimedOut, "not TimedOut"),
    (int, "must be a state class"),
    ("Success", "must be a state class"),
])
def test_a_state_no_signal_can_produce_is_refused_at_the_class(bad, words):
    with pytest.raises(TypeError, match=words):
        type("BAD", (PrefectStateSignal,), {"_state_cls": bad})


def test_the_signal_states_are_the_engine_s():
    assert set(signals.SIGNAL_STATES) == set(SIGNAL_CODES)

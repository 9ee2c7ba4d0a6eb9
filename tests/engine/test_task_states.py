"""``flow.run(task_states={task: state})``: tasks start in given states, as with
Prefect 1's flow runner. What Prefect 1.4.1 does was checked in /work/p1venv:

* a finished state (``Success("Mocked", result=42)``, ``Failed``, ``Skipped``) is not
  run: the task's state is the one given and its downstream tasks see it (42; a
  TriggerFailed; an upstream skip);
* ``Pending`` (and ``Scheduled``, ``Retrying``) runs the task as usual;
* a mapped task given ``Success(result=[5, 6])`` does not map and its downstream maps
  over ``[5, 6]``; given ``Failed``, its downstream fails with "No upstream states can
  be mapped over.";
* ``Running`` makes Prefect's flow.run loop forever and ``Paused`` asks at the
  terminal: ferroflow refuses them, and ``Mapped`` and ``Looped``, with a ValueError.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest

from ferroflow import Flow, Parameter, task
from ferroflow.core.collections import Constant
from ferroflow.errors import ParameterError
from ferroflow.schedules import IntervalClock, Schedule
from ferroflow.states import (
    Cancelled,
    Failed,
    Looped,
    Mapped,
    Paused,
    Pending,
    Retrying,
    Running,
    Scheduled,
    Skipped,
    Success,
    TimedOut,
    TriggerFailed,
)
from ferroflow.store import HOME_ENV, RECORD_ENV, get_run_store

CALLS: list = []


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()


@task
def slow():
    CALLS.append("slow")
    return 1


@task
def plus_one(x):
    CALLS.append(("plus_one", x))
    return x + 1


def _pair():
    with Flow("pair") as flow:
        first = slow()
        second = plus_one(first)
    return flow, first, second


def test_a_given_success_is_not_run_and_feeds_its_downstream():
    flow, first, second = _pair()
    state = flow.run(task_states={first: Success("Mocked success", result=42)}, record=False)
    assert CALLS == [("plus_one", 42)]
    assert (type(state.result[first]), state.result[first].message, state.result[first].result) == (
        Success, "Mocked success", 42)
    assert state.result[second].result == 43 and state.is_successful()


def test_a_given_failure_fails_the_downstream_trigger():
    flow, first, second = _pair()
    error = ValueError("x")
    state = flow.run(task_states={first: Failed("given fail", result=error)}, record=False)
    assert CALLS == []
    assert (type(state.result[first]), state.result[first].message, state.result[first].result) == (
        Failed, "given fail", error)
    assert type(state.result[second]) is TriggerFailed
    assert state.result[second].message == 'Trigger was "all_successful" but some of the upstream tasks failed.'
    assert state.is_failed() and state.message == "Some reference tasks failed."


def test_a_given_skip_skips_the_downstream():
    flow, first, second = _pair()
    state = flow.run(task_states={first: Skipped("given skip")}, record=False)
    assert CALLS == [] and type(state.result[second]) is Skipped
    assert state.result[second].message.startswith("Upstream task was skipped")


@pytest.mark.parametrize("given", [Pending("given pending"), Scheduled("sched"), Retrying("given retrying")])
def test_a_given_pending_state_runs_the_task(given):
    flow, first, second = _pair()
    state = flow.run(task_states={first: given}, record=False)
    assert CALLS == ["slow", ("plus_one", 1)]
    assert state.result[first].message == "Task run succeeded." and state.result[second].result == 2


@pytest.mark.parametrize("given", [TriggerFailed("t"), TimedOut("late"), Cancelled("stopped")])
def test_other_finished_states_are_given_as_they_are(given):
    flow, first, second = _pair()
    state = flow.run(task_states={first: given}, record=False)
    assert CALLS == [] and type(state.result[first]) is type(given)
    assert state.result[first].message == given.message


def test_the_downstream_of_a_given_state_is_its_own():
    flow, first, second = _pair()
    state = flow.run(task_states={second: Success("b mocked", result=5)}, record=False)
    assert CALLS == ["slow"] and state.result[second].result == 5


def _mapped():
    @task
    def numbers():
        CALLS.append("numbers")
        return [1, 2, 3]

    @task
    def times_ten(x):
        CALLS.append(("times_ten", x))
        return 10 * x

    with Flow("mapped") as flow:
        listed = numbers()
        multiplied = times_ten.map(listed)
        added = plus_one.map(multiplied)
    return flow, listed, multiplied, added


def test_a_mapped_task_given_a_list_does_not_map():
    flow, listed, multiplied, added = _mapped()
    state = flow.run(task_states={multiplied: Success("list given", result=[5, 6])}, record=False)
    assert CALLS == ["numbers", ("plus_one", 5), ("plus_one", 6)]
    assert type(state.result[multiplied]) is Success and state.result[multiplied].result == [5, 6]
    assert state.result[added].result == [6, 7]


def test_a_mapped_task_given_a_failure_leaves_nothing_to_map():
    flow, listed, multiplied, added = _mapped()
    state = flow.run(task_states={multiplied: Failed("mapped failed")}, record=False)
    assert CALLS == ["numbers"]
    assert type(state.result[added]) is Failed
    assert state.result[added].message == "No upstream states can be mapped over."


def test_the_upstream_of_a_mapped_task_given_a_list():
    flow, listed, multiplied, added = _mapped()
    state = flow.run(task_states={listed: Success("L", result=[9])}, record=False)
    assert state.result[added].result == [91] and "numbers" not in CALLS


def test_a_constant_or_a_parameter_may_be_given_a_state():
    flow = Flow("given")
    n, k, summed = Parameter("n", default=3), Constant(5), task(lambda a, b: a + b, name="add")
    flow.set_dependencies(k, upstream_tasks=[n])  # a Constant task of the flow (not a constant argument)
    flow.set_dependencies(summed, keyword_tasks={"a": n, "b": k})
    assert flow.run(record=False).result[summed].result == 8  # (b is the constant's value)
    state = flow.run(task_states={k: Success("given", result=7), n: Success(result=1)}, record=False)
    assert (state.result[k].message, state.result[k].result) == ("given", 7)
    assert state.result[summed].result == 6


@pytest.mark.parametrize("given, words", [
    (Mapped("m", map_states=[Success(result=1)]), "Success whose result is the list"),
    (Running("r"), "Running task"),
    (Paused("p"), "resume the run that paused"),
    (Looped("l"), "never ends Looped"),
])
def test_states_no_run_can_start_from_are_refused(given, words):
    flow, first, _ = _pair()
    with pytest.raises(ValueError, match=words):
        flow.run(task_states={first: given}, record=False)
    assert CALLS == []


def test_bad_task_states_are_refused_before_anything_runs():
    flow, first, _ = _pair()
    stranger = plus_one.copy()
    with pytest.raises(ValueError, match="is not a task of flow 'pair'"):
        flow.run(task_states={stranger: Success()}, record=False)
    with pytest.raises(TypeError, match="must be a ferroflow State"):
        flow.run(task_states={first: 42}, record=False)
    with pytest.raises(TypeError, match="must be a dict"):
        flow.run(task_states=[(first, Success())], record=False)
    assert CALLS == []


def test_task_states_is_not_a_parameter():
    with Flow("params") as flow:
        first = slow()
        plus_one(first, upstream_tasks=[Parameter("n", default=1)])
    flow.run(task_states={first: Success(result=1)}, record=False)
    with pytest.raises(ParameterError, match="unknown parameter"):
        flow.run(task_state={first: Success(result=1)}, record=False)


def test_the_run_store_records_the_given_state(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)
    flow, first, second = _pair()
    state = flow.run(task_states={first: Success("Mocked success", result=42)})
    tasks = {t.name: t for t in get_run_store().task_states(state.flow_run_id)}
    assert (tasks["slow"].state, tasks["slow"].message) == ("Success", "Mocked success")
    assert tasks["plus_one"].state == "Success"


def test_on_a_schedule_only_the_first_run_starts_from_them():
    start = pendulum.now("UTC").add(seconds=0.1)
    schedule = Schedule(clocks=[IntervalClock(timedelta(milliseconds=200), start_date=start)])
    with Flow("scheduled", schedule=schedule) as flow:
        first = slow()
    flow.run(task_states={first: Success(result=0)}, max_runs=2, record=False)
    assert CALLS == ["slow"]

"""``FilterTask``, compared with what Prefect 1.4.1's ``FilterTask`` gave for the same
flows (recorded by hand with /work/p1venv: the results and messages below)."""

from __future__ import annotations

from ferroflow import Flow, signals, task, triggers
from ferroflow.control_flow import FilterTask


@task
def div(x):
    if x == 3:
        raise signals.SKIP("three")
    if x == 4:
        return None
    return 1 / x


@task
def bad():
    raise ValueError("up")


def test_default_filter_drops_none_and_failures_and_keeps_skip_signals():
    # Prefect 1.4.1: [1.0, 0.5, SKIP('three')] (its signals are BaseExceptions too).
    with Flow("filter") as flow:
        out = FilterTask()(div.map([0, 1, 2, 3, 4]))
    state = flow.run(record=False).result[out]
    assert state.is_successful() and state.message == "Task run succeeded."
    assert state.result[:2] == [1.0, 0.5]
    assert len(state.result) == 3 and isinstance(state.result[2], signals.SKIP)
    assert str(state.result[2]) == "three"


def test_filter_func_and_log_func():
    even = FilterTask(filter_func=lambda x: x % 2 == 0, log_func=lambda kept: f"kept {kept}", name="even")
    with Flow("even") as flow:
        out = even([1, 2, 3, 4])
    state = flow.run(record=False).result[out]
    assert state.result == [2, 4]
    assert [(e.level, e.logger, e.message) for e in state.logs] == [("INFO", "ferroflow.task.even", "kept [2, 4]")]


def test_defaults_run_after_failed_and_skipped_upstreams():
    task_ = FilterTask()
    assert task_.name == "FilterTask"
    assert task_.trigger is triggers.all_finished and task_.skip_on_upstream_skip is False
    assert FilterTask(trigger=triggers.all_successful).trigger is triggers.all_successful
    # Prefect 1.4.1: Failed("Error during execution of task: TypeError(\"'ValueError'
    # object is not iterable\")"), and the same with 'SKIP' after a skipped task.
    with Flow("after") as flow:
        after_bad = FilterTask(name="after_bad")(bad())
        after_skip = FilterTask(name="after_skip")(div(3))
    state = flow.run(record=False)
    assert state.result[after_bad].message == (
        "Error during execution of task: TypeError(\"'ValueError' object is not iterable\")")
    assert state.result[after_skip].message == (
        "Error during execution of task: TypeError(\"'SKIP' object is not iterable\")")

"""States as Prefect 1 code reads them: ``flow_state.result`` is a ``dict`` of every
task to its State, ``state._result`` is a result object with ``.value`` and
``.location`` (``NoResult`` for a state that has none), and flow state handlers see
``Scheduled -> Running`` first."""

from __future__ import annotations

import pickle

import pytest

from ferroflow import Flow, signals, states, task
from ferroflow.engine.record import RunRecord
from ferroflow.results import NoResult, Result, ResultValue


@task
def one():
    return 1


@task
def nothing():
    return None


@task
def boom():
    raise ValueError("boom")


@task
def skip():
    raise signals.SKIP("not today")


@task
def inc(x):
    return x + 1


# ----------------------------------------------------------------------------- flow_state.result


def test_flow_state_result_is_a_dict_in_the_state_handler_and_after_the_run():
    seen = []

    def handler(flow, old, new):
        if new.is_finished():
            seen.append((isinstance(new.result, dict), sorted(t.name for t in new.result)))

    with Flow("dict", state_handlers=[handler]) as flow:
        a = one()
        b = inc(a)
    state = flow.run(record=False)
    assert seen == [(True, ["inc", "one"])]
    result = state.result
    assert isinstance(result, dict)
    assert len(result) == 2 and set(result) == {a, b} and a in result
    plain = dict(result)
    assert type(plain) is dict and plain == {**result} == result
    assert plain[b].result == 2
    assert {t.name: s.result for t, s in result.items()} == {"one": 1, "inc": 2}
    assert [s.result for s in result.values()] == [1, 2]
    assert result.get(b) is result[b] and result.get(object()) is None
    assert result.copy() == plain
    with pytest.raises(KeyError):
        result[inc]  # the flow has a copy of inc, not inc itself


def test_reading_one_task_of_the_flow_state_builds_only_its_state(monkeypatch):
    built = []
    real = RunRecord.state

    def counting(self, task_id, index=-1):
        built.append((task_id, index))
        return real(self, task_id, index)

    with Flow("lazy") as flow:
        numbers = inc.map(list(range(1000)))
        total = one()
    state = flow.run(record=False)
    monkeypatch.setattr(RunRecord, "state", counting)
    assert state.result[total].result == 1
    assert len(state.result) == 3  # one, inc and the constant list it maps over
    assert len(built) == 1
    assert state.result[numbers].map_states[999].result == 1000
    assert len(built) == 3  # the mapped parent and the one child looked at


def test_flow_state_result_of_a_cancelled_or_failed_engine_run_is_a_dict_too():
    class Broken:
        name = "broken"

        def start(self):
            raise RuntimeError("no workers")

        def shutdown(self):
            pass

        def slots(self):
            return 1

    with Flow("broken") as flow:
        one()
    state = flow.run(executor=Broken(), record=False)
    assert state.is_failed()
    assert isinstance(state.task_states, dict) and len(state.task_states) == 1


# ----------------------------------------------------------------------------- state._result


def test_state_result_object_carries_value_and_location():
    with Flow("results") as flow:
        a, n, b, s = one(), nothing(), boom(), skip()
        after_skip = inc(s)
        after_fail = inc(b)
    state = flow.run(record=False)
    got = {t: state.result[t]._result for t in (a, n, b, s, after_skip, after_fail)}
    assert got[a] == ResultValue(1) and got[a].value == 1 and got[a].location is None
    assert got[n] == ResultValue(None)  # a task that returned None has a result: None
    assert isinstance(got[b].value, ValueError)
    assert isinstance(got[s].value, signals.SKIP)
    assert got[after_skip] is NoResult and NoResult.value is None  # never ran
    assert isinstance(got[after_fail].value, signals.TRIGGERFAIL)
    assert states.Pending()._result is NoResult
    assert state._result.value is state.result
    assert repr(got[a]) == "<Result: 1>"


def test_state_result_location_is_where_the_value_was_checkpointed(tmp_path):
    keep = Result(base=str(tmp_path), location="{task_name}.pkl")
    with Flow("kept", result=keep) as flow:
        a = one()
    state = flow.run(record=False)
    assert state.result[a]._result.location == "one.pkl"
    assert keep.read_value(state.result[a]._result.location) == 1


def test_no_result_is_one_object_even_through_pickle():
    assert pickle.loads(pickle.dumps(NoResult)) is NoResult
    assert repr(NoResult) == "<NoResult>"


# ----------------------------------------------------------------------------- flow transitions


def test_flow_handlers_see_scheduled_then_running_first():
    seen = []

    def handler(flow, old, new):
        seen.append((type(old).__name__, type(new).__name__, new.message))
        if isinstance(old, states.Scheduled):
            seen.append(old.start_time is not None and old.start_time.tzinfo is not None)

    with Flow("first", state_handlers=[handler]) as flow:
        one()
    flow.run(record=False)
    assert seen == [
        ("Scheduled", "Running", "Running flow."),
        True,
        ("Running", "Success", "All reference tasks succeeded."),
    ]

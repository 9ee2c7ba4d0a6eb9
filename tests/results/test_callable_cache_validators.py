"""A callable as ``cache_validator``, with Prefect 1's signature ``validator(state,
inputs, parameters) -> bool``; the built-in validators called the same way; a
``Cached`` state given to ``flow.run(task_states=...)`` offered to the validator.

Prefect 1.4.1 (checked in /work/p1venv) calls a task's validator on each cached state
kept for the task, with that ``Cached`` state (its message, result,
``cached_parameters``, ``cached_result_expiration``, ``hashed_inputs``, and
``cached_inputs == {}``), the task run's inputs and the flow's parameters (defaults
included); the first state it accepts is the task run's. A mapped task over [1, 2] with
a validator accepting ``x == 1`` and equal parameters runs children 1 and 2, then, the
second time, child 2 only, every child ending ``Cached("Task run succeeded.")``.
"""

from __future__ import annotations

import datetime
import os
import pickle

import cloudpickle
import pytest

from ferroflow import Flow, Parameter, task, unmapped
from ferroflow.cache_validators import (
    all_inputs,
    all_parameters,
    duration_only,
    never_use,
    partial_inputs_only,
    partial_parameters_only,
    task_source,
)
from ferroflow.results import Result, hash_inputs
from ferroflow.results.cache import load_cache_candidates
from ferroflow.states import Cached, Failed

HOUR = datetime.timedelta(hours=1)
NOW = datetime.datetime.now(datetime.timezone.utc)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# ----- the built-in validators, called as Prefect 1's functions --------------------------

def _cached(**attrs):
    return Cached("Task run succeeded.", 1, **attrs)


def test_builtin_validators_are_prefects_functions():
    state = _cached(hashed_inputs=hash_inputs({"x": 1, "y": 2}), cached_parameters={"p": 1, "q": 2},
                    cached_result_expiration=NOW + HOUR)
    assert duration_only(state, {}, {}) and not never_use(state, {}, {})
    assert all_inputs(state, {"x": 1, "y": 2}, {}) and not all_inputs(state, {"x": 1, "y": 3}, {})
    assert all_parameters(state, {}, {"p": 1, "q": 2}) and not all_parameters(state, {}, {"p": 1})
    assert partial_inputs_only(["x"])(state, {"x": 1, "y": 9}, {})
    assert not partial_inputs_only(["y"])(state, {"x": 1, "y": 9}, {})
    assert partial_parameters_only(["p"])(state, {}, {"p": 1, "q": 9})
    assert not partial_parameters_only(["q"])(state, {}, {"p": 1, "q": 9})
    assert (all_inputs + all_parameters)(state, {"x": 1, "y": 2}, {"p": 1, "q": 2})


def test_an_expired_state_is_never_valid():
    expired = _cached(cached_result_expiration=NOW - HOUR, cached_parameters={})
    assert not duration_only(expired, {}, {}) and not all_parameters(expired, {}, {})
    naive_future = _cached(cached_result_expiration=datetime.datetime.utcnow() + HOUR)  # taken as UTC
    assert duration_only(naive_future, {}, {})


def test_inputs_without_hashes_compare_cached_inputs():
    # Prefect 1.4.1's states carry cached_inputs == {} when none were kept.
    assert _cached().cached_inputs == {}
    assert all_inputs(_cached(), {}, {}) and not all_inputs(_cached(), {"x": 1}, {})

    class Kept:  # a Prefect Result: the value is .value
        value = 1

    assert all_inputs(_cached(cached_inputs={"x": Kept()}), {"x": 1}, {})


def test_task_source_cannot_judge_a_state():
    with pytest.raises(TypeError, match="task's source code"):
        (all_inputs + task_source)(_cached(), {}, {})


# ----- a validator of the user's ----------------------------------------------------------

CALLS: list = []
RAN: list = []


def only_one(state, inputs, parameters):
    CALLS.append((type(state), state.message, state.result, dict(inputs), dict(parameters),
                  state.cached_parameters, state.cached_result_expiration is not None,
                  state.hashed_inputs == hash_inputs(inputs), state.cached_inputs))
    return state.cached_parameters == parameters and inputs["x"] == 1


@task(cache_for=HOUR, cache_validator=only_one)
def times_ten(x, p):
    RAN.append(x)
    return 10 * x


def test_a_function_validator_is_called_as_prefect_calls_it():
    CALLS.clear()
    RAN.clear()
    with Flow("validated") as flow:
        mapped = times_ten.map([1, 2], p=unmapped(Parameter("p", default=2)))
    for _ in range(2):
        state = flow.run(record=False)
        children = state.result[mapped].map_states
        assert [(type(c), c.message, c.result) for c in children] == [
            (Cached, "Task run succeeded.", 10), (Cached, "Task run succeeded.", 20)]
    assert RAN == [1, 2, 2]  # as on Prefect 1.4.1
    # The second run offers each child its own entries (Prefect offers child 2 child 1's
    # entry first, which the validator refuses too).
    assert CALLS == [
        (Cached, "Task run succeeded.", 10, {"x": 1, "p": 2}, {"p": 2}, {"p": 2}, True, True, {}),
        (Cached, "Task run succeeded.", 20, {"x": 2, "p": 2}, {"p": 2}, {"p": 2}, True, True, {}),
    ]


class ParametrizedValidator:
    """As the iguazu project's: combines Prefect's validators, called as functions."""

    def __init__(self, use_inputs=True, use_parameters=True, force=False):
        self.use_inputs = use_inputs
        self.use_parameters = use_parameters
        self.force = force

    def __call__(self, state, inputs, parameters):
        if self.force:
            return False
        return all_inputs(state, inputs, parameters) and all_parameters(state, inputs, parameters)


@task(cache_for=HOUR, cache_validator=ParametrizedValidator())
def label(file_id, standard):
    RAN.append(file_id)
    if os.environ.get("RAN_FILE"):  # (a worker process's runs)
        with open(os.environ["RAN_FILE"], "a") as f:
            f.write(f"{file_id}\n")
    return f"{file_id} in {standard}"


def _labelled():
    with Flow("galvanic") as flow:
        done = label.map(["a", "b"], standard=unmapped(Parameter("standard", default="bio")))
    return flow, done


def test_a_callable_object_combining_prefects_validators():
    RAN.clear()
    flow, done = _labelled()
    flow.run(record=False)
    again = flow.run(record=False)
    assert RAN == ["a", "b"]
    assert [c.result for c in again.result[done].map_states] == ["a in bio", "b in bio"]
    raw = flow.run(standard="raw", record=False)  # new parameters: not valid
    assert RAN == ["a", "b", "a", "b"] and raw.result[done].result == ["a in raw", "b in raw"]
    flow.run(standard="raw", record=False)
    assert len(RAN) == 4  # both entries are candidates now


def test_a_validator_runs_in_worker_processes(tmp_path, monkeypatch):
    assert pickle.loads(pickle.dumps(ParametrizedValidator(force=True))).force
    ran = tmp_path / "ran"
    monkeypatch.setenv("RAN_FILE", str(ran))
    flow, done = _labelled()
    state = flow.run(executor="processes", record=False)
    assert sorted(ran.read_text().split()) == ["a", "b"]
    state = flow.run(executor="processes", record=False)
    assert [type(c) for c in state.result[done].map_states] == [Cached, Cached]
    assert sorted(ran.read_text().split()) == ["a", "b"]  # the workers' validator took the entries
    flow.run(standard="raw", executor="processes", record=False)
    assert sorted(ran.read_text().split()) == ["a", "a", "b", "b"]  # and refused them for new parameters


def test_a_validator_that_raises_fails_the_task_run():
    def broken(state, inputs, parameters):
        raise ValueError("cannot judge")

    @task(cache_for=HOUR, cache_validator=broken)
    def one():
        return 1

    with Flow("broken") as flow:
        done = one()
    assert flow.run(record=False).result[done].result == 1  # nothing to judge yet
    state = flow.run(record=False).result[done]
    assert type(state) is Failed and state.message == "Unexpected error: ValueError('cannot judge')"


def test_expired_candidates_are_not_offered_and_are_dropped(tmp_path):
    offered = []

    def record(state, inputs, parameters):
        offered.append(state.result)
        return False

    result = Result(str(tmp_path / "cache"))

    @task(cache_for=HOUR, cache_validator=record, result=result)
    def value():
        return len(offered)

    with Flow("expiring") as flow:
        value()
    flow.run(record=False)
    flow.run(record=False)
    assert offered == [0]
    [key] = [p.name[:-len(".candidates.json")] for p in (tmp_path / "cache" / "ferroflow-cache").iterdir()
             if p.name.endswith(".candidates.json")]
    candidates = load_cache_candidates(result.store, key)
    assert len(candidates) == 2
    # Make the first one expired: it is neither offered nor kept, and its value goes.
    import dataclasses

    from ferroflow.results.cache import save_cache_candidates

    first = dataclasses.replace(candidates[0], expiration=NOW - HOUR)
    save_cache_candidates(result.store, key, [first, candidates[1]])
    offered.clear()
    flow.run(record=False)
    assert offered == [1]
    kept = load_cache_candidates(result.store, key)
    assert [c.value_location for c in kept][:1] == [candidates[1].value_location] and len(kept) == 2
    assert not result.store.exists(first.value_location)


# ----- a Cached state given to flow.run(task_states=...) ----------------------------------

def _given_flow():
    @task(cache_for=HOUR)
    def plain():
        RAN.append("plain")
        return 1

    @task(cache_for=HOUR, cache_validator=all_inputs)
    def by_inputs(x):
        RAN.append("by_inputs")
        return x

    @task
    def uncached():
        RAN.append("uncached")
        return 2

    with Flow("given") as flow:
        a, b, c = plain(), by_inputs(3), uncached()
    return flow, a, b, c


def test_a_given_cached_state_is_offered_to_the_validator():
    # Prefect 1.4.1: g (duration_only) is Cached("given cached", 7) without running; h
    # (all_inputs, no inputs in the given state) and a task without cache_for run.
    RAN.clear()
    flow, a, b, c = _given_flow()
    given = Cached("given cached", 7)
    state = flow.run(task_states={a: given, b: given, c: given}, record=False)
    assert (type(state.result[a]), state.result[a].message, state.result[a].result) == (Cached, "given cached", 7)
    assert sorted(RAN) == ["by_inputs", "uncached"]
    assert state.result[b].result == 3 and state.result[c].result == 2


def test_an_expired_given_cached_state_runs_the_task():
    RAN.clear()
    flow, a, _, _ = _given_flow()
    state = flow.run(task_states={a: Cached("old", 7, cached_result_expiration=NOW - HOUR)}, record=False)
    assert "plain" in RAN and state.result[a].result == 1


def test_a_given_cached_state_with_matching_inputs_is_used():
    RAN.clear()
    flow, _, b, _ = _given_flow()
    given = Cached("same inputs", 30, hashed_inputs=hash_inputs({"x": 3}))
    state = flow.run(task_states={b: given}, record=False)
    assert state.result[b].result == 30 and "by_inputs" not in RAN


def test_validators_pickle_with_cloudpickle():
    local = lambda state, inputs, parameters: True  # noqa: E731 - a lambda: only cloudpickle takes it
    assert cloudpickle.loads(cloudpickle.dumps(local))(None, {}, {})
    assert cloudpickle.loads(cloudpickle.dumps(all_inputs + all_parameters)) == all_inputs + all_parameters

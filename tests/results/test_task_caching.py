"""Persisted caching: cache_for, cache_validator, cache_key, cache_key_fn."""

import datetime
import os
import subprocess
import sys
import textwrap

import pytest

from ferroflow import Flow, Parameter, task
from ferroflow.cache_validators import (
    all_inputs,
    all_parameters,
    duration_only,
    never_use,
    partial_inputs_only,
    partial_parameters_only,
    task_source,
)
from ferroflow.results import MemoryResultStore, Result


@pytest.fixture
def result():
    return Result(MemoryResultStore())


def counting(calls, **options):
    @task(name="work", **options)
    def work(x):
        calls.append(x)
        return x * 10

    return work


def run_twice(flow, **params):
    return flow.run(**params), flow.run(**params)


def test_a_second_run_is_cached_and_does_not_run(result):
    calls = []
    work = counting(calls, cache_for=datetime.timedelta(hours=1))
    with Flow("c", result=result) as flow:
        w = work(3)
    first, second = run_twice(flow)
    assert calls == [3]
    # As in Prefect 1, the run that fills the cache ends Cached too, with its own message.
    assert (type(first.result[w]).__name__, first.result[w].message) == ("Cached", "Task run succeeded.")
    assert type(second.result[w]).__name__ == "Cached" and second.result[w].result == 30


def test_all_inputs_reuses_only_for_equal_inputs(result):
    calls = []
    work = counting(calls, cache_for=3600, cache_validator=all_inputs)
    with Flow("c", result=result) as flow:
        ws = work.map(Parameter("xs"))
    flow.run(xs=[1, 2])
    state = flow.run(xs=[2, 3])
    assert calls == [1, 2, 3]  # 2 came from the cache
    assert [type(s).__name__ for s in state.result[ws].map_states] == ["Cached", "Cached"]  # (3 filled it)


def test_duration_only_keeps_mapped_children_apart(result):
    calls = []
    work = counting(calls, cache_for=3600, cache_validator=duration_only)
    with Flow("c", result=result) as flow:
        ws = work.map([1, 2])
    first, second = run_twice(flow)
    assert calls == [1, 2]
    assert [s.result for s in second.result[ws].map_states] == [10, 20]


@pytest.mark.parametrize("validator, params, reran", [
    (all_parameters, ({"p": 1, "q": 1}, {"p": 1, "q": 2}), True),
    (partial_parameters_only(["p"]), ({"p": 1, "q": 1}, {"p": 1, "q": 2}), False),
    (partial_parameters_only(["p"]), ({"p": 1, "q": 1}, {"p": 2, "q": 1}), True),
])
def test_parameter_validators(result, validator, params, reran):
    calls = []
    work = counting(calls, cache_for=3600, cache_validator=validator)
    with Flow("c", result=result) as flow:
        work(1, upstream_tasks=[Parameter("p"), Parameter("q")])
    flow.run(**params[0])
    flow.run(**params[1])
    assert len(calls) == (2 if reran else 1)


def test_partial_inputs_only(result):
    calls = []

    @task(cache_for=3600, cache_validator=partial_inputs_only(["x"]))
    def add(x, noise):
        calls.append((x, noise))
        return x

    with Flow("c", result=result) as flow:
        add(Parameter("x"), Parameter("noise"))
    flow.run(x=1, noise=1)
    flow.run(x=1, noise=2)
    flow.run(x=2, noise=2)
    assert calls == [(1, 1), (2, 2)]


def test_never_use_always_runs(result):
    calls = []
    work = counting(calls, cache_for=3600, cache_validator=never_use)
    with Flow("c", result=result) as flow:
        work(1)
    run_twice(flow)
    assert calls == [1, 1]


def test_an_expired_entry_is_not_used(result):
    calls = []
    work = counting(calls, cache_for=datetime.timedelta(microseconds=1))
    with Flow("c", result=result) as flow:
        work(1)
    run_twice(flow)
    assert calls == [1, 1]


def test_cache_key_is_shared_between_tasks_and_flows(result):
    calls = []
    first = counting(calls, cache_for=3600, cache_key="shared", cache_validator=all_inputs)
    second = counting(calls, cache_for=3600, cache_key="shared", cache_validator=all_inputs)
    with Flow("one", result=result) as f1:
        first(5)
    with Flow("two", result=result) as f2:
        s = second(5)
    f1.run()
    state = f2.run()
    assert calls == [5] and state.result[s].result == 50


def test_task_source_invalidates_the_cache_when_the_code_changes(result):
    calls = []

    def make(body_factor):
        namespace = {}
        exec(textwrap.dedent(f'''
            def work(x):
                calls.append(x)
                return x * {body_factor}
        '''), {"calls": calls}, namespace)
        return task(namespace["work"], name="work", cache_for=3600, cache_key="src",
                    cache_validator=all_inputs + task_source)

    for factor, expected_calls in [(10, 1), (10, 1), (11, 2)]:
        with Flow("c", result=result) as flow:
            make(factor)(1)
        flow.run()
        assert len(calls) == expected_calls


def test_cache_key_fn(result):
    calls = []

    def key(context, inputs):
        return None if inputs["x"] < 0 else f"{context['flow_name']}-{inputs['x'] % 2}"

    work = counting(calls, cache_key_fn=key)
    with Flow("c", result=result) as flow:
        ws = work.map(Parameter("xs"))
    flow.run(xs=[1, -1])
    state = flow.run(xs=[3, -1])
    assert calls == [1, -1, -1]  # 3 shares 1's key; negative inputs are never cached
    assert [s.result for s in state.result[ws].map_states] == [10, -10]


def test_a_cache_key_fn_that_raises_fails_that_run_with_a_clear_message(result):
    def key(context, inputs):
        raise RuntimeError("no key today")

    work = counting([], cache_key_fn=key)
    with Flow("c", result=result) as flow:
        w = work(1)
    state = flow.run()
    assert state.result[w].is_failed() and "no key today" in state.result[w].message


def test_the_cache_survives_the_process(tmp_path):
    script = textwrap.dedent('''
        import sys
        from ferroflow import Flow, task
        @task(cache_for=3600)
        def slow():
            print("RAN")
            return 42
        with Flow("persisted") as flow:
            s = slow()
        state = flow.run()
        print(type(state.result[s]).__name__, state.result[s].result)
    ''')
    env = {**os.environ, "FERROFLOW_HOME": str(tmp_path)}  # no result given: $FERROFLOW_HOME/cache
    outs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
            for _ in range(2)]
    assert [o.returncode for o in outs] == [0, 0], outs[0].stderr + outs[1].stderr
    assert outs[0].stdout.split() == ["RAN", "Cached", "42"]
    assert outs[1].stdout.split() == ["Cached", "42"]
    assert (tmp_path / "cache" / "ferroflow-cache").is_dir()


@pytest.mark.parametrize("options, error, match", [
    ({"cache_for": "1h"}, TypeError, "cache_for must be"),
    ({"cache_for": -1}, ValueError, "cache_for must be positive"),
    ({"cache_for": float("nan")}, ValueError, "Task 't': cache_for must be a finite number of seconds, got nan"),
    ({"cache_for": float("inf")}, ValueError, "cache_for must be a finite number of seconds, got inf"),
    ({"cache_for": 1e300}, ValueError, "Task 't': cache_for is too long: 1e\\+300 seconds"),
    ({"cache_for": 1, "cache_validator": "all_inputs"}, TypeError, "cache_validator must be one of .* or a callable"),
    ({"cache_validator": all_inputs}, ValueError, "cache_for must be set"),
    ({"cache_key": "k"}, ValueError, "cache_for must be set"),
    ({"cache_for": 1, "cache_key": ""}, TypeError, "cache_key must be"),
    ({"cache_key_fn": "k"}, TypeError, "cache_key_fn must be a callable"),
])
def test_bad_cache_options_are_clear_errors(options, error, match):
    with pytest.raises(error, match=match):
        task(lambda: 1, name="t", **options)


def test_validators_combine_and_reject_nonsense():
    combined = all_inputs + task_source + partial_parameters_only(["p"])
    assert (combined.inputs, combined.parameters, combined.source) == ("all", frozenset({"p"}), True)
    with pytest.raises(ValueError, match="never_use cannot be combined"):
        never_use + all_inputs
    with pytest.raises(TypeError, match="takes a list of names"):
        partial_inputs_only("x")

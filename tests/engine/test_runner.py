"""The engine end to end on the local executor: results, lazy child states, retries,
failures kept with their tracebacks, cancellation and engine errors."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from ferroflow import Flow, Parameter, signals, states, task, triggers, unmapped
from ferroflow.errors import CycleError, ParameterError
from ferroflow.executors.local import LocalExecutor
from ferroflow.testing.conformance import add, inc, total  # shared trivial tasks


def test_linear_flow_results():
    with Flow("linear") as flow:
        a = inc(1)
        b = add(a, 10)
    state = flow.run()
    assert state.is_successful()
    assert state.message == "All reference tasks succeeded."
    assert state.result[a].result == 2
    assert state.result[b].result == 12
    assert isinstance(state.result[b], states.Success)


def test_map_reduce_and_lazy_children():
    n = 100_000
    with Flow("map") as flow:
        m = inc.map(list(range(n)))
        t = total(m)
    state = flow.run()
    assert state.result[t].result == n * (n + 1) // 2
    mapped = state.result[m]
    assert mapped.is_mapped()
    children = mapped.map_states
    # Children are built on demand, not stored as a list of a hundred thousand objects.
    assert not isinstance(children, list)
    assert len(children) == n
    assert children[5].result == 6 and children[-1].result == n
    assert children.counts() == {"Success": n}
    assert mapped.result[:3] == [1, 2, 3]


def test_mapped_to_mapped_chain_with_unmapped_and_parameter():
    with Flow("chain") as flow:
        k = Parameter("k", default=3)
        xs = Parameter("xs")
        a = add.map(xs, unmapped(k))
        b = inc.map(a)
        t = total(b)
    state = flow.run(xs=[1, 2, 3])
    assert state.result[b].result == [5, 6, 7]
    assert state.result[t].result == 18
    state = flow.run(parameters={"xs": [0]}, k=0)
    assert state.result[t].result == 1


def test_failure_keeps_exception_and_traceback():
    @task
    def boom(x):
        if x == 2:
            raise ValueError(f"bad item {x}")
        return x

    with Flow("fail") as flow:
        m = boom.map([1, 2, 3])
        t = total(m)
    state = flow.run()
    assert state.is_failed()
    assert state.message == "Some reference tasks failed."
    child = state.result[m].map_states[1]
    assert isinstance(child, states.Failed)
    assert isinstance(child.result, ValueError) and str(child.result) == "bad item 2"
    assert "raise ValueError" in child.traceback and "bad item 2" in child.traceback
    assert child.message == "Error during execution of task: ValueError('bad item 2')"
    reduce_state = state.result[t]
    assert isinstance(reduce_state, states.TriggerFailed)
    assert reduce_state.message == 'Trigger was "all_successful" but some of the upstream tasks failed.'


def test_all_finished_reduce_receives_exceptions():
    @task
    def boom(x):
        if x:
            raise KeyError(x)
        return x

    @task(trigger=triggers.all_finished)
    def collect(xs):
        return [type(x).__name__ for x in xs]

    with Flow("collect") as flow:
        c = collect(boom.map([0, 1]))
    assert flow.run().result[c].result == ["int", "KeyError"]


def test_retries_count_delay_and_retry_on():
    calls = []

    @task(max_retries=2, retry_delay=timedelta(milliseconds=200))
    def flaky():
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError("not yet")
        return "ok"

    with Flow("retry") as flow:
        f = flaky()
    state = flow.run()
    assert state.result[f].result == "ok"
    assert state.result[f].run_count == 3
    assert len(calls) == 3
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert all(g >= 0.2 for g in gaps), gaps


def test_retry_on_filters_exceptions():
    calls = {"n": 0}

    @task(max_retries=3, retry_delay=timedelta(0), retry_on=KeyError)
    def wrong_kind():
        calls["n"] += 1
        raise ValueError("not retried")

    with Flow("retry-on") as flow:
        w = wrong_kind()
    state = flow.run()
    assert calls["n"] == 1
    assert isinstance(state.result[w], states.Failed)


def test_mapped_children_retry_independently():
    attempts: dict = {}

    @task(max_retries=1, retry_delay=timedelta(0))
    def flaky(x):
        attempts[x] = attempts.get(x, 0) + 1
        if x % 2 and attempts[x] == 1:
            raise RuntimeError("first try fails")
        return x

    with Flow("child-retry") as flow:
        m = flaky.map(list(range(6)))
    state = flow.run()
    assert state.is_successful()
    assert attempts == {0: 1, 1: 2, 2: 1, 3: 2, 4: 1, 5: 2}
    children = state.result[m].map_states
    assert [c.run_count for c in children] == [1, 2, 1, 2, 1, 2]
    assert all(c.message == "Task run succeeded." for c in children)


def test_retry_signal_retries_beyond_max_retries():
    runs = []

    @task
    def again():
        runs.append(1)
        if len(runs) < 3:
            raise signals.RETRY("go again")
        return len(runs)

    with Flow("retry-signal") as flow:
        a = again()
    assert flow.run().result[a].result == 3


def test_custom_trigger_that_raises_fails_the_task_with_the_error():
    def broken_trigger(upstream_states):
        raise ZeroDivisionError("trigger bug")

    @task(trigger=broken_trigger)
    def guarded(x):
        return x

    with Flow("trigger-raises") as flow:
        g = guarded(inc(1))
    state = flow.run()
    st = state.result[g]
    assert isinstance(st, states.TriggerFailed)
    assert isinstance(st.result, ZeroDivisionError)
    assert "trigger bug" in st.traceback


def test_custom_trigger_sees_edges_and_states():
    seen = {}

    def only_if_first_failed(upstream_states):
        seen.update({e.key: type(s).__name__ for e, s in upstream_states.items()})
        return any(s.is_failed() for s in upstream_states.values())

    @task
    def fail():
        raise signals.FAIL("nope")

    @task(trigger=only_if_first_failed)
    def cleanup(a, b):
        return "cleaned"

    with Flow("custom") as flow:
        c = cleanup(fail(), b=5)
    state = flow.run()
    assert state.result[c].result == "cleaned"
    assert seen == {"a": "Failed", "b": "Success"}


def test_keyboard_interrupt_cancels_promptly():
    ran = []

    @task
    def interrupt():
        raise KeyboardInterrupt

    @task
    def after(x):
        ran.append(x)

    with Flow("ctrl-c") as flow:
        i = interrupt()
        a = after(i)
    state = flow.run()
    assert isinstance(state, states.Cancelled)
    assert ran == []
    assert isinstance(state.result[i], states.Cancelled)
    assert isinstance(state.result[a], states.Cancelled)


class BrokenExecutor(LocalExecutor):
    def wait(self):
        raise RuntimeError("executor lost its workers")


def test_engine_error_ends_failed_not_hanging():
    with Flow("broken") as flow:
        i = inc(1)
    state = flow.run(executor=BrokenExecutor())
    assert state.is_failed()
    assert "Unexpected error while running flow" in state.message
    assert "executor lost its workers" in state.message
    assert isinstance(state.result, RuntimeError)
    assert isinstance(state.task_states[i], states.Cancelled)


@pytest.mark.parametrize(
    "given, match",
    [
        ({"nn": 1}, r"unknown parameter\(s\) 'nn' \(did you mean 'n'\?\); its parameters are: 'n', 'x'"),
        ({}, r"missing required parameter\(s\): 'x'"),
    ],
)
def test_bad_parameters_raise_before_anything_runs(given, match):
    ran = []

    @task
    def record(n, x):
        ran.append((n, x))

    with Flow("params") as flow:
        record(Parameter("n", default=1), Parameter("x"))
    with pytest.raises(ParameterError, match=match):
        flow.run(parameters=given)
    assert ran == []


def test_cycle_error_names_the_cycle():
    flow = Flow("cyclic")
    a, b, c = inc.copy(name="a"), inc.copy(name="b"), inc.copy(name="c")
    for t in (a, b, c):
        flow.add_task(t)
    flow.add_edge(a, b, key="x")
    flow.add_edge(b, c, key="x")
    flow.add_edge(c, a, key="x")
    with pytest.raises(CycleError, match="a -> b -> c -> a") as info:
        flow.run()
    assert info.value.cycle == ["a", "b", "c", "a"]


def test_mapping_over_a_non_iterable_result_fails_clearly():
    @task
    def number():
        return 5

    with Flow("unmappable") as flow:
        m = inc.map(number())
    st = flow.run().result[m]
    assert isinstance(st, states.Failed)
    assert st.message == "At least one upstream state has an unmappable result."


def test_an_input_whose_len_raises_fails_the_mapped_task_not_the_engine():
    class Broken(list):
        def __len__(self):
            raise OSError("lazy sequence lost its connection")

    @task
    def source():
        return Broken([1, 2])

    with Flow("bad-len") as flow:
        m = inc.map(source())
    state = flow.run()
    st = state.result[m]
    assert isinstance(st, states.Failed)
    assert "lazy sequence lost its connection" in st.message
    assert isinstance(st.result, OSError) and "raise OSError" in st.traceback


def test_mapped_pipelines_run_depth_first():
    order = []

    @task
    def load(x):
        order.append(("load", x))
        return x

    @task
    def save(x):
        order.append(("save", x))
        return x

    n = 50_000
    with Flow("depth-first") as flow:
        save.map(load.map(list(range(n))))
    assert flow.run().is_successful()
    first_save = order.index(("save", 0))
    last_load = order.index(("load", n - 1))
    # save[0] ran long before the last load: children advance through the pipeline
    # in chunks instead of every load running before any save.
    assert first_save < last_load
    loads_before_first_save = sum(1 for kind, _ in order[:first_save] if kind == "load")
    assert loads_before_first_save <= 20_000

"""Task options result=, checkpoint=, target= and Flow(result=), end to end."""

import datetime

import pytest

from ferroflow import Flow, Parameter, task
from ferroflow.errors import FlowDefinitionError
from ferroflow.results import MemoryResultStore, Result, ResultStore


@pytest.fixture
def store():
    return MemoryResultStore()


def test_flow_result_checkpoints_every_task_run_and_states_know_where(store):
    @task
    def double(x):
        return 2 * x

    @task
    def total(xs):
        return sum(xs)

    result = Result(store, location="{task_name}/{map_index}.pkl")
    with Flow("ck", result=result) as flow:
        doubled = double.map([1, 2, 3])
        t = total(doubled)
    state = flow.run()
    assert state.result[t].result == 12
    children = state.result[doubled].map_states
    assert [c.location for c in children] == ["double/0.pkl", "double/1.pkl", "double/2.pkl"]
    assert [result.read_value(c.location) for c in children] == [2, 4, 6]
    assert state.result[t].location == "total/None.pkl"
    assert result.read_value("total/None.pkl") == 12


def test_task_result_overrides_the_flow_and_checkpoint_false_turns_it_off(store):
    other = MemoryResultStore()

    @task(result=Result(other, location="mine.pkl"))
    def mine():
        return "m"

    @task(checkpoint=False)
    def nothing():
        return "n"

    with Flow("ck", result=Result(store)) as flow:
        a, b = mine(), nothing()
    state = flow.run()
    assert state.result[a].location == "mine.pkl" and Result(other).read_value("mine.pkl") == "m"
    assert state.result[b].location is None
    assert all(not key.startswith("ck/") or "nothing" not in key for key in store.records)


def test_an_existing_target_makes_the_run_cached_and_it_does_not_run(store):
    calls = []

    @task(target="{task_name}/{x}.pkl")
    def square(x):
        calls.append(x)
        return x * x

    with Flow("targets", result=Result(store)) as flow:
        squares = square.map([2, 3])
    first = flow.run()
    assert calls == [2, 3] and [s.result for s in first.result[squares].map_states] == [4, 9]
    Result(store).write_to("square/3.pkl", "planted")
    calls.clear()
    second = flow.run()
    assert calls == []
    states = second.result[squares].map_states
    assert [type(s).__name__ for s in states] == ["Cached", "Cached"]
    assert [s.result for s in states] == [4, "planted"]
    assert "square/3.pkl" in states[1].message


def test_target_templated_from_parameters_and_context(store):
    @task(target="{flow_name}/{day}/{today}.txt")
    def stamp(day):
        return day

    with Flow("daily", result=Result(store, serializer="json")) as flow:
        s = stamp(Parameter("day"))
    state = flow.run(day="mon")
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    assert state.result[s].location == f"daily/mon/{today}.txt"


def test_a_target_without_a_result_is_a_clear_error():
    @task(target="x.pkl")
    def t():
        return 1

    with Flow("no-result") as flow:
        t()
    with pytest.raises(FlowDefinitionError, match=r"Task 't' has target='x.pkl' but no result.*no-result"):
        flow.run()


class BrokenStore(ResultStore):
    name = "broken"

    def write(self, location, data):
        raise OSError(28, "No space left on device")

    def read(self, location):
        raise AssertionError("not read")

    def exists(self, location):
        return False


def test_a_write_that_fails_fails_the_task_run_never_a_silent_success():
    @task
    def make(x):
        return x

    with Flow("full-disk", result=Result(BrokenStore(), location="{task_name}/{map_index}")) as flow:
        made = make.map([1, 2])
    state = flow.run()
    assert state.is_failed()
    child = state.result[made].map_states[1]
    assert child.is_failed()
    assert "Could not checkpoint" in child.message and "make/1" in child.message and "map index 1" in child.message
    assert "No space left" in child.message


@pytest.mark.parametrize("allowed", [False, True])
def test_a_write_that_fails_is_retried_as_the_retry_condition_says(allowed):
    asked = []

    def condition(task, state):
        asked.append(state.message)
        return allowed

    @task(max_retries=1, retry_delay=datetime.timedelta(0), retry_condition=condition)
    def make():
        return 1

    with Flow("full-disk", result=Result(BrokenStore(), location="{task_name}")) as flow:
        made = make()
    state = flow.run()
    assert state.result[made].is_failed() and state.result[made].run_count == (2 if allowed else 1)
    assert asked and all("Could not checkpoint" in m for m in asked)


def test_a_target_may_use_the_task_run_name(store):
    @task(task_run_name="item-{x}", target="{task_run_name}.bin", result=Result(store))
    def make(x):
        return x * 10

    with Flow("named") as flow:
        made = make.map([1, 2])
    state = flow.run()
    assert [c.location for c in state.result[made].map_states] == ["item-1.bin", "item-2.bin"]
    assert flow.run().result[made].map_states[1].is_cached()


def test_a_value_the_serializer_cannot_write_fails_the_task_run(store):
    @task
    def unjsonable():
        return {1, 2}

    with Flow("json", result=Result(store, serializer="json")) as flow:
        u = unjsonable()
    state = flow.run()
    assert state.result[u].is_failed()
    assert "json" in state.result[u].message and "set" in state.result[u].message


def test_a_corrupt_target_is_a_clear_error_naming_task_and_location(store):
    @task(target="t.pkl")
    def t():
        return 1

    store.records["t.pkl"] = b"not a ferroflow record"
    with Flow("corrupt", result=Result(store)) as flow:
        r = t()
    state = flow.run()
    assert state.result[r].is_failed()
    assert "t.pkl" in state.result[r].message and "task 't'" in state.result[r].message


@pytest.mark.parametrize("options, error, match", [
    ({"result": 3}, TypeError, "Task 't': result must be"),
    ({"checkpoint": "yes"}, TypeError, "Task 't': checkpoint must be"),
    ({"target": "{0}.pkl"}, ValueError, "Task 't': bad target"),
    ({"target": 3}, ValueError, "Task 't': bad target"),
    ({"result": Result("memory"), "target": "a", "checkpoint": False}, ValueError, "target needs checkpointing"),
])
def test_bad_options_are_clear_errors(options, error, match):
    with pytest.raises(error, match=match):
        task(lambda: 1, name="t", **options)


def test_a_flow_with_a_bad_result_is_a_clear_error():
    with pytest.raises(TypeError, match="Flow 'f': result must be"):
        Flow("f", result=42)

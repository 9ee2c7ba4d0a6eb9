"""``PrefectResult``: the value kept as the JSON text of its own location.

Prefect 1.4.1 (checkpointing on) gave, for ``@task(result=PrefectResult())`` returning
``[x, "a"]`` over ``map([1, 2])``, the locations ``'[1, "a"]'`` and ``'[2, "a"]'``;
for a task returning 3, ``_result.location == "3"``; and a value JSON cannot hold
(a set) failed the task run (``TypeError: Object of type set is not JSON serializable``).
"""

from __future__ import annotations

import os

import pytest

from ferroflow import Flow, task
from ferroflow.results import JSONSerializer, LocalResult, PrefectResult, ResultValue


@task(result=PrefectResult())
def pair(x):
    return [x, "a"]


@task(result=PrefectResult())
def a_set():
    return {1, 2}


@task
def add(x, y=1):
    return x + y


def test_values_are_kept_in_their_locations():
    with Flow("inline") as flow:
        pairs = pair.map([1, 2])
        bad = a_set()
    state = flow.run(record=False)
    assert [(c._result.location, c.result) for c in state.result[pairs].map_states] == [
        ('[1, "a"]', [1, "a"]), ('[2, "a"]', [2, "a"])]
    failed = state.result[bad]
    assert failed.is_failed() and "set" in failed.message and "JSON" in failed.message


def test_the_prefect_docs_flow_with_a_flow_result_and_a_task_result(tmp_path):
    # docs/core/concepts/results.md: Flow(result=LocalResult(dir)) and one task with
    # PrefectResult(); Prefect: first -> (3, an absolute file path), third -> (3, "3").
    flow = Flow("my handled flow!", result=LocalResult(dir=str(tmp_path)))
    with flow:
        first = add(1, y=2)
        second = add(x=first, y=100)
        third = add(1, y=2, task_args={"result": PrefectResult()})
    state = flow.run(record=False)
    assert state.result[second].result == 103
    one = state.result[first]._result
    assert one.value == 3 and os.path.isabs(one.location) and os.path.isfile(one.location)
    assert state.result[third]._result == ResultValue(3, "3")


def test_a_resumed_run_reads_the_value_from_its_location():
    calls, fail = [], [True]

    @task(result=PrefectResult())
    def first():
        calls.append(1)
        return {"n": 1}

    @task
    def second(x):
        if fail[0]:
            raise RuntimeError("not yet")
        return x["n"] + 1

    with Flow("resume-inline") as flow:
        s = second(first())
    broken = flow.run()
    fail[0] = False
    again = flow.run(resume=broken.flow_run_id)
    assert again.result[s].result == 2 and calls == [1]


def test_prefect_methods_and_serializer():
    result = PrefectResult()
    assert result.write({"a": [1, 2]}) == ResultValue({"a": [1, 2]}, '{"a": [1, 2]}')
    assert result.read("[1, 2]") == ResultValue([1, 2], "[1, 2]")
    assert result.exists("3") and not result.exists("{not json")
    assert isinstance(PrefectResult(serializer=JSONSerializer()).serializer, JSONSerializer)
    with pytest.raises(TypeError, match="only supports a JSONSerializer"):
        PrefectResult(serializer="cloudpickle")

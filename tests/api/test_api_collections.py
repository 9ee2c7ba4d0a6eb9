"""Constant and collection tasks: what their run() returns, and as_task."""

from __future__ import annotations

import pytest

from ferroflow.core import Constant, Dict, Flow, List, Set, Task, as_task, flatten, unmapped
from ferroflow.core import Tuple as TupleTask
from ferroflow.core.collections import NO_DEFAULT, is_constant


def test_constant_run_returns_value():
    value = object()
    assert Constant(value).run() is value
    assert Constant(value).value is value


@pytest.mark.parametrize(
    "task, inputs, expected",
    [
        (List(), {"arg_2": "b", "arg_1": "a", "arg_10": "j", **{f"arg_{i}": i for i in range(3, 10)}},
         ["a", "b", 3, 4, 5, 6, 7, 8, 9, "j"]),
        (List(), {}, []),
        (TupleTask(), {"arg_2": 2, "arg_1": 1}, (1, 2)),
        (Set(), {"arg_1": 1, "arg_2": 1, "arg_3": 2}, {1, 2}),
        (Dict(), {"keys": ["a", "b"], "values": [1, 2]}, {"a": 1, "b": 2}),
    ],
)
def test_collection_run(task, inputs, expected):
    assert task.run(**inputs) == expected


def test_dict_run_length_mismatch_names_the_task():
    with pytest.raises(ValueError, match="'Dict'.*2 keys but 1 values"):
        Dict().run(keys=["a", "b"], values=[1])


def test_gather_bind_rejects_keywords():
    with Flow("f"):
        with pytest.raises(TypeError, match="'List'.*positional"):
            List().bind(x=1)


@pytest.mark.parametrize(
    "value, expected",
    [
        (1, True),
        ([1, [2, (3,)]], True),
        ({"a": {1, 2}}, True),
        (Task(), False),
        ([1, Task()], False),
        ((1, (Task(),)), False),
        ({"a": Task()}, False),
        ({Task(): 1}, False),
        ([unmapped(1)], False),
        (frozenset({Task()}), False),
    ],
)
def test_is_constant(value, expected):
    assert is_constant(value) is expected


def test_as_task():
    t = Task()
    assert as_task(t) is t
    assert as_task(unmapped(t)) is t
    c = as_task([1, 2])
    assert isinstance(c, Constant) and c.value == [1, 2] and c.auto_generated
    assert isinstance(as_task(flatten(3)), Constant)
    flow = Flow("f")
    for value, cls in [([t], List), ((t,), TupleTask), ({t}, Set), ({"k": t}, Dict)]:
        made = as_task(value, flow=flow)
        assert isinstance(made, cls) and made.auto_generated and made in flow.tasks


def test_as_task_of_a_collection_with_tasks_needs_a_flow():
    with pytest.raises(ValueError, match="with Flow"):
        as_task([Task()])


def test_no_default_marker():
    assert repr(NO_DEFAULT) == "<no default>"
    assert not NO_DEFAULT
    import pickle

    assert pickle.loads(pickle.dumps(NO_DEFAULT)) is NO_DEFAULT

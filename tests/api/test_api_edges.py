"""Edge values and edge annotations."""

from __future__ import annotations

import pickle

import pytest

from ferroflow.core import Constant, Edge, Flow, List, Task, flatten, mapped, unmapped


@pytest.fixture
def ab():
    return Task(name="a"), Task(name="b")


def test_fields_and_defaults(ab):
    a, b = ab
    e = Edge(a, b)
    assert (e.upstream_task, e.downstream_task, e.key, e.mapped, e.flattened) == (a, b, None, False, False)
    assert e.tasks == {a, b}


@pytest.mark.parametrize(
    "left, right, equal",
    [
        (dict(), dict(), True),
        (dict(key="x"), dict(key="x"), True),
        (dict(key="x"), dict(key="y"), False),
        (dict(key="x"), dict(), False),
        (dict(mapped=True), dict(mapped=False), False),
        (dict(mapped=None), dict(mapped=False), True),
        (dict(flattened=True), dict(), False),
    ],
)
def test_equality_and_hash_follow_all_fields(ab, left, right, equal):
    a, b = ab
    e1, e2 = Edge(a, b, **left), Edge(a, b, **right)
    assert (e1 == e2) is equal
    assert (e1 != e2) is not equal
    if equal:
        assert hash(e1) == hash(e2)
        assert len({e1, e2}) == 1


def test_equality_uses_task_identity():
    a1, a2, b = Task(name="a"), Task(name="a"), Task(name="b")
    assert Edge(a1, b) != Edge(a2, b)
    assert Edge(a1, b) != Edge(b, a1)


def test_edges_are_not_tuples_and_have_no_order(ab):
    a, b = ab
    e = Edge(a, b, key="x")
    assert e != (a, b, "x", False, False)
    with Flow("f") as flow:
        with pytest.raises(TypeError):
            e < Edge(a, b, key="y")  # noqa: B015 - the comparison must raise
    assert len(flow.tasks) == 0  # no operator task was built


def test_edges_are_immutable(ab):
    e = Edge(*ab)
    with pytest.raises(AttributeError):
        e.key = "x"


@pytest.mark.parametrize(
    "up_wrap, down_wrap, kwargs, expected",
    [
        (unmapped, None, dict(mapped=True), (False, False)),
        (mapped, None, dict(), (True, False)),
        (flatten, None, dict(mapped=True), (True, True)),
        (None, mapped, dict(), (True, False)),
        (lambda t: unmapped(flatten(t)), None, dict(mapped=True), (False, True)),
    ],
)
def test_annotations_override_flags(ab, up_wrap, down_wrap, kwargs, expected):
    a, b = ab
    e = Edge(up_wrap(a) if up_wrap else a, down_wrap(b) if down_wrap else b, key="x", **kwargs)
    assert (e.upstream_task, e.downstream_task) == (a, b)
    assert (e.mapped, e.flattened) == expected


def test_constant_ends_are_converted(ab):
    a, _ = ab
    e = Edge(5, a, key="x")
    assert isinstance(e.upstream_task, Constant) and e.upstream_task.value == 5


def test_collections_with_tasks_are_bound_into_the_given_flow(ab):
    a, b = ab
    flow = Flow("f")
    e = Edge([a, 1], b, key="x", flow=flow)
    assert isinstance(e.upstream_task, List)
    assert e.upstream_task in flow.tasks


@pytest.mark.parametrize(
    "make, error, fragment",
    [
        (lambda a, b: Edge(a, a), ValueError, "'a' to itself"),
        (lambda a, b: Edge(a, b, key="not valid"), ValueError, "'not valid'"),
        (lambda a, b: Edge(a, b, key="class"), ValueError, "'class'"),
        (lambda a, b: Edge(a, b, key=3), ValueError, "3"),
    ],
)
def test_bad_edges(ab, make, error, fragment):
    with pytest.raises(error) as info:
        make(*ab)
    assert fragment in str(info.value)


def test_repr(ab):
    a, b = ab
    assert repr(Edge(a, b, key="x", mapped=True)) == "<Edge(key='x', mapped=True): a -> b>"
    assert repr(Edge(a, b)) == "<Edge(key=None): a -> b>"


def test_pickle_round_trip(ab):
    e = Edge(*ab, key="x", mapped=True, flattened=True)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is Edge
    assert (back.key, back.mapped, back.flattened) == ("x", True, True)
    assert back.upstream_task.name == "a"

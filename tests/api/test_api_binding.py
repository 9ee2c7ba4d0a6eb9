"""Calling, binding and mapping tasks: edges, constants, collections, annotations,
GetItem and operator tasks."""

from __future__ import annotations

import contextlib
import datetime
import importlib
import inspect

import cloudpickle
import pytest

from ferroflow.core import (
    Constant,
    Dict,
    Edge,
    Flow,
    FunctionTask,
    GetItem,
    List,
    Parameter,
    Set,
    Task,
    flatten,
    mapped,
    operators,
    tags,
    task,
    unmapped,
)
from ferroflow.core import Tuple as TupleTask


@task
def add(x, y=1):
    return x + y


@task
def one():
    return 1


@task
def collect(xs):
    return xs


@task
def kw(**values):
    return values


@task
def pair() -> tuple[int, str]:
    return 1, "a"


class Extract(Task):
    def run(self):
        return [1, 2]


def edges_into(flow, t):
    return {(e.upstream_task, e.key, e.mapped, e.flattened) for e in flow.edges_to(t)}


# ----------------------------------------------------------------------------- the plain call's fast path


def test_call_shows_its_keywords_in_its_signature():
    assert str(inspect.signature(Task.__call__)) == (
        "(self, *args: 'Any', mapped: 'bool' = False, task_args: 'dict | None' = None, "
        "upstream_tasks: 'Iterable[Any] | None' = None, flow: 'Flow | None' = None, **kwargs: 'Any') -> 'Task'"
    )


def _shape(flow):
    return ([(t.name, flow.slugs[t]) for t in flow.tasks],
            sorted((flow.slugs[e.upstream_task], flow.slugs[e.downstream_task], e.key) for e in flow.edges),
            {flow.slugs[t]: dict(c) for t, c in flow.constants.items() if c})


def test_a_call_spelling_out_the_default_keywords_builds_what_the_plain_call_does():
    with Flow("plain") as plain:
        a = one()
        add(add(a), 2)
    with Flow("spelled") as spelled:
        a = one(mapped=False, task_args={}, upstream_tasks=None, flow=spelled)
        add(add(a, flow=spelled, upstream_tasks=()), 2, mapped=False)
    assert _shape(plain) == _shape(spelled)


def test_a_run_argument_named_args_is_an_input():
    @task
    def takes_args(args, kwargs=0):
        return args

    with Flow("f") as flow:
        t = takes_args(args=1, kwargs=2)
        u = takes_args(3)
    assert flow.constants[t] == {"args": 1, "kwargs": 2} and flow.constants[u] == {"args": 3}


def test_a_task_class_copy_of_its_own_is_what_a_call_uses():
    copies = []

    class Counted(Task):
        def run(self, x):
            return x

        def copy(self, **task_args):
            copies.append(task_args)
            return super().copy(**task_args)

    class FromFunction(FunctionTask):
        def copy(self, **task_args):
            copies.append(task_args)
            return super().copy(**task_args)

    with Flow("f") as flow:
        a = Counted()(1)
        b = FromFunction(lambda x: x, name="g")(a)
    assert copies == [{}, {}] and flow.upstream_tasks(b) == {a} and flow.constants[a] == {"x": 1}


def _templates():
    def double(x, y=2):
        return x * y

    def triple(x):
        return 3 * x

    plain = task(double)
    tagged = task(double, tags=["a"], state_handlers=[print], max_retries=1, retry_delay=1)
    slugged = task(double, slug="own", nout=2)
    rerun = task(double)
    rerun.run = triple  # its run info, kept from before, is stale
    unpickled = cloudpickle.loads(cloudpickle.dumps(task(double)))  # no run info kept
    return [plain, tagged, slugged, rerun, unpickled]


@pytest.mark.parametrize("block", [False, True])
@pytest.mark.parametrize("index", range(5))
def test_a_call_copies_as_copy_does(index, block):
    template = _templates()[index]
    with Flow("f") as flow, (tags("b") if block else contextlib.nullcontext()):
        copied = template.copy()
        called = template(1)
    expected = {k: v for k, v in vars(copied).items() if k != "_ff_instance_run_info"}
    assert {k: v for k, v in vars(called).items() if k != "_ff_instance_run_info"} == expected
    assert type(called) is type(template) and called.tags is not template.tags
    assert called.state_handlers is not template.state_handlers or "state_handlers" not in vars(template)
    assert flow.constants[called] == {"x": 1} and called._run_info().func is template.run
    elsewhere = Flow("g")
    elsewhere.add_task(copied)
    assert flow.slugs[called] == elsewhere.slugs[copied]  # the first of its name and tags in each


def test_a_copy_that_returns_a_task_of_the_flow_binds_it_again():
    class Single(Task):
        def run(self, x):
            return x

        def copy(self, **task_args):
            return self

    single = Single()
    with Flow("f") as flow:
        a = one()
        assert single(a) is single
        with pytest.raises(ValueError, match="'x' of task 'Single' is already bound"):
            single(2)
        single(a)  # the very same input again
    assert list(flow.slugs.values()) == ["one-1", "Single-1"] and flow.upstream_tasks(single) == {a}


def test_function_tasks_have_no_new_setattr_or_copy_of_their_own():
    # Task.__call__'s fast path for FunctionTask copies without looking these up.
    assert FunctionTask.__new__ is object.__new__
    assert FunctionTask.__setattr__ is object.__setattr__
    assert FunctionTask.copy is Task.copy


def test_tags_blocks_reach_calls_after_the_first_one(monkeypatch):
    task_module = importlib.import_module("ferroflow.core.task")  # (ferroflow.core.task is the decorator)
    monkeypatch.setattr(task_module, "_tags_blocks_seen", False)
    with Flow("f"):
        before = add(1)
        with tags("t"):
            inside = add(before)
        after = add(inside)
    assert (before.tags, inside.tags, after.tags) == (set(), {"t"}, set())


# ----------------------------------------------------------------------------- call vs bind


def test_call_returns_a_bound_copy():
    with Flow("f") as flow:
        a = one()
        b = add(a)
    assert a is not one and b is not add
    assert isinstance(b, type(add))
    assert one not in flow.tasks and add not in flow.tasks
    assert list(flow.tasks) == [a, b]
    assert flow.edges == {Edge(a, b, key="x")}


def test_call_with_explicit_flow_outside_any_context():
    flow = Flow("f")
    b = add(1, flow=flow)
    assert b in flow.tasks
    assert flow.constants[b] == {"x": 1}


def test_bind_binds_the_instance_itself():
    with Flow("f") as flow:
        a = one()
        b = Extract()
        assert b.bind(upstream_tasks=[a]) is b
    assert flow.upstream_tasks(b) == {a}


@pytest.mark.parametrize(
    "call, name_in_message",
    [
        (lambda: add(1), "`add.run(...)`"),
        (lambda: Extract()(), "`Extract(...).run(...)`"),
        (lambda: add.map([1, 2]), "`add.run(...)`"),
        (lambda: Extract().bind(), "`Extract(...).run(...)`"),
        (lambda: add.set_upstream(one), "add"),
    ],
)
def test_calling_outside_a_flow_says_what_to_do(call, name_in_message):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "with Flow(" in message
    assert name_in_message in message


def test_run_directly_outside_a_flow():
    assert add.run(1, y=2) == 3
    assert Extract().run() == [1, 2]


@pytest.mark.parametrize(
    "call, error, fragments",
    [
        (lambda: add(), TypeError, ["'add'", "missing a required argument: 'x'"]),
        (lambda: add(1, z=3), TypeError, ["'add'", "'z'"]),
        (lambda: add(1, 2, 3), TypeError, ["'add'", "too many positional"]),
        (lambda: add(1, x=2), TypeError, ["'add'", "multiple values"]),
        (lambda: kw(**{"not valid": 1}), ValueError, ["'kw'", "'not valid'"]),
        (lambda: kw(**{"class": 1}), ValueError, ["'kw'", "'class'"]),
        (lambda: Extract()(1), TypeError, ["'Extract'", "too many positional"]),
    ],
)
def test_bad_arguments_name_the_task(call, error, fragments):
    with Flow("f") as flow:
        with pytest.raises(error) as info:
            call()
    for fragment in fragments:
        assert fragment in str(info.value)
    assert len(flow.tasks) == 0


def test_binding_a_key_twice_names_task_and_key():
    with Flow("f") as flow:
        a, b = one(), one()
        c = add(a)
        with pytest.raises(ValueError) as info:
            c.bind(x=b)
        assert "'x'" in str(info.value) and "'add'" in str(info.value)
        with pytest.raises(ValueError, match="'x'.*'add'"):
            c.bind(x=5)
        d = add(5)
        with pytest.raises(ValueError, match="'x'.*'add'"):
            d.bind(x=a)
        with pytest.raises(ValueError, match="'x'.*'add'"):
            flow.add_edge(b, c, key="x")
    assert edges_into(flow, c) == {(a, "x", False, False)}
    assert flow.constants[d] == {"x": 5}


def test_binding_the_very_same_input_again_is_a_no_op():
    with Flow("f") as flow:
        a = one()
        c = add(a)
        c.bind(x=a)
        flow.add_edge(a, c, key="x")
        value = object()
        d = add(value)
        d.bind(x=value)
    assert len(flow.edges) == 1
    assert flow.constants[d] == {"x": value}


def test_failed_call_leaves_nothing_behind():
    with Flow("f") as flow:
        Parameter("p")()
        with pytest.raises(ValueError, match='slug "p"'):
            add(Parameter("p"))  # a second parameter named p
    assert [t.name for t in flow.tasks] == ["p"]
    assert flow.edges == set()


def test_a_task_cannot_feed_itself():
    with Flow("f"):
        a = add(1)
        with pytest.raises(ValueError, match="'add' to itself"):
            a.set_upstream(a)


def test_var_keyword_arguments_become_separate_keys():
    with Flow("f") as flow:
        a = one()
        k = kw(first=a, second=2)
    assert edges_into(flow, k) == {(a, "first", False, False)}
    assert flow.constants[k] == {"second": 2}


def test_task_args_on_call():
    with Flow("f"):
        b = add(1, task_args=dict(name="renamed", max_retries=2, retry_delay=datetime.timedelta(1)))
        with pytest.raises(AttributeError, match="'add'.*'bogus'"):
            add(1, task_args=dict(bogus=True))
    assert (b.name, b.max_retries) == ("renamed", 2)
    assert add.name == "add" and add.max_retries == 0


def test_upstream_tasks_make_state_only_edges():
    with Flow("f") as flow:
        a, b = one(), one()
        c = add(1, upstream_tasks=[a, b])
    assert edges_into(flow, c) == {(a, None, False, False), (b, None, False, False)}


# ----------------------------------------------------------------------------- constants


@pytest.mark.parametrize(
    "value",
    [1, "text", None, 2.5, [1, 2, 3], (1, "a"), {"k": [1, 2]}, {1, 2}, range(3), object()],
    ids=lambda v: "object" if type(v) is object else repr(v),  # (the same in every test process)
)
def test_keyed_constants_are_stored_not_nodes(value):
    with Flow("f") as flow:
        b = add(value)
    assert list(flow.tasks) == [b]
    assert flow.edges == set()
    assert flow.constants[b]["x"] is value


def test_constants_and_task_inputs_mix():
    with Flow("f") as flow:
        a = one()
        b = add(a, y=10)
    assert flow.constants[b] == {"y": 10}
    assert edges_into(flow, b) == {(a, "x", False, False)}


@pytest.mark.parametrize(
    "build, flags",
    [
        (lambda: add.map([1, 2, 3]), (True, False)),
        (lambda: add(mapped([1, 2, 3])), (True, False)),
        (lambda: add.map(flatten([[1], [2, 3]])), (True, True)),
        (lambda: add(flatten([[1], [2]])), (False, True)),
        (lambda: add(x=[1, 2], mapped=True), (True, False)),
    ],
)
def test_mapped_or_flattened_constants_become_constant_nodes(build, flags):
    with Flow("f") as flow:
        b = build()
    (edge,) = flow.edges_to(b)
    assert isinstance(edge.upstream_task, Constant)
    assert edge.upstream_task in flow.tasks
    assert (edge.key, edge.mapped, edge.flattened) == ("x", *flags)
    assert flow.constants.get(b, {}) == {}


def test_unmapped_constant_in_map_is_stored():
    with Flow("f") as flow:
        b = add.map([1, 2], y=unmapped(10))
    assert flow.constants[b] == {"y": 10}
    assert [(e.key, e.mapped) for e in flow.edges_to(b)] == [("x", True)]


def test_explicit_constant_task_bound_to_a_key_is_stored():
    c = Constant(7)
    with Flow("f") as flow:
        b = add(c)
    assert flow.constants[b] == {"x": 7}
    assert c not in flow.tasks


def test_constant_names():
    assert Constant(1).name == "1"
    assert Constant("ab").name == "'ab'"
    assert Constant([1, 2]).name == "[1, 2]"
    assert Constant(list(range(10_000))).name == "Constant[list]"
    assert Constant("a long string").name == "Constant[str]"
    assert Constant(1, name="one").name == "one"


# ----------------------------------------------------------------------------- collections


@pytest.mark.parametrize(
    "make, cls",
    [(lambda a: [a, 2], List), (lambda a: (a, 2), TupleTask), (lambda a: {a, 2}, Set)],
)
def test_sequences_holding_tasks_become_collection_tasks(make, cls):
    with Flow("f") as flow:
        a = one()
        b = collect(make(a))
    (edge,) = flow.edges_to(b)
    gather = edge.upstream_task
    assert isinstance(gather, cls)
    assert gather.auto_generated
    assert edge.key == "xs"
    (item_edge,) = flow.edges_to(gather)
    assert item_edge.upstream_task is a
    constant_keys = set(flow.constants[gather])
    assert {item_edge.key} | constant_keys == {"arg_1", "arg_2"}
    assert list(flow.constants[gather].values()) == [2]
    if cls is not Set:  # ordered: items keep their positions
        assert item_edge.key == "arg_1"


def test_dict_holding_tasks_becomes_a_dict_task():
    with Flow("f") as flow:
        a = one()
        b = collect({"a": a, "b": 2})
    (edge,) = flow.edges_to(b)
    d = edge.upstream_task
    assert isinstance(d, Dict)
    keys_edges = {e.key: e.upstream_task for e in flow.edges_to(d)}
    assert set(keys_edges) == {"values"}  # the keys are constants
    assert flow.constants[d] == {"keys": ["a", "b"]}
    values = keys_edges["values"]
    assert isinstance(values, List)
    assert edges_into(flow, values) == {(a, "arg_1", False, False)}
    assert flow.constants[values] == {"arg_2": 2}


def test_nested_collections():
    with Flow("f") as flow:
        a = one()
        b = collect([[a], [1, 2]])
    (outer_edge,) = flow.edges_to(b)
    outer = outer_edge.upstream_task
    assert isinstance(outer, List)
    (inner_edge,) = flow.edges_to(outer)
    assert inner_edge.key == "arg_1" and isinstance(inner_edge.upstream_task, List)
    assert flow.constants[outer] == {"arg_2": [1, 2]}


def test_mapping_over_a_list_of_tasks():
    with Flow("f") as flow:
        a, b = one(), one()
        m = add.map([a, b])
    (edge,) = flow.edges_to(m)
    assert isinstance(edge.upstream_task, List) and edge.mapped
    assert all(not e.mapped for e in flow.edges_to(edge.upstream_task))


# ----------------------------------------------------------------------------- map


def test_map_marks_edges_mapped_and_clears_nout():
    with Flow("f") as flow:
        xs = Extract()()
        u = one()
        m = pair.map(upstream_tasks=[u])
        n = add.map(xs, y=unmapped(u))
    assert m.nout is None and pair.nout == 2
    assert edges_into(flow, m) == {(u, None, True, False)}
    assert edges_into(flow, n) == {(xs, "x", True, False), (u, "y", False, False)}


def test_map_upstream_tasks_can_be_unmapped():
    with Flow("f") as flow:
        u = one()
        m = add.map([1], upstream_tasks=[unmapped(u)])
    assert (u, None, False, False) in edges_into(flow, m)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: add.map(5), "'x'"),
        (lambda: add.map([1], y=3), "'y'"),
        (lambda: add.map({1, 2}), "'x'"),
        (lambda: add.map(x=None), "'x'"),
    ],
)
def test_map_over_non_subscriptable_names_task_and_argument(call, argument):
    with Flow("f") as flow:
        with pytest.raises(TypeError) as info:
            call()
    assert "'add'" in str(info.value) and argument in str(info.value)
    assert len(flow.tasks) == 0


@pytest.mark.parametrize(
    "value",
    [[1, 2], (1, 2), "ab", {"a": 1}, unmapped(5), flatten([[1]]), range(2)],
    ids=repr,
)
def test_map_accepts_subscriptables_and_annotations(value):
    with Flow("f") as flow:
        m = add.map(value)
    assert m in flow.tasks


def test_map_with_task_args():
    with Flow("f"):
        m = add.map([1], task_args=dict(name="mapped_add"))
    assert m.name == "mapped_add"


# ----------------------------------------------------------------------------- annotations


@pytest.mark.parametrize(
    "wrap, mapped_flag, flattened_flag",
    [
        (lambda t: t, False, False),
        (mapped, True, False),
        (flatten, False, True),
        (lambda t: mapped(flatten(t)), True, True),
        (lambda t: unmapped(flatten(t)), False, True),
        (lambda t: unmapped(mapped(t)), False, False),
    ],
)
def test_annotations_in_plain_calls(wrap, mapped_flag, flattened_flag):
    with Flow("f") as flow:
        a = Extract()()
        b = add(wrap(a))
    assert edges_into(flow, b) == {(a, "x", mapped_flag, flattened_flag)}


@pytest.mark.parametrize(
    "wrap, mapped_flag, flattened_flag",
    [
        (lambda t: t, True, False),
        (unmapped, False, False),
        (flatten, True, True),
        (lambda t: unmapped(flatten(t)), False, True),
    ],
)
def test_annotations_in_map(wrap, mapped_flag, flattened_flag):
    with Flow("f") as flow:
        a = Extract()()
        b = add.map(wrap(a))
    assert edges_into(flow, b) == {(a, "x", mapped_flag, flattened_flag)}


def test_annotation_repr_and_nesting():
    inner = flatten(3)
    outer = unmapped(inner)
    assert outer.value == 3
    assert outer.annotations == {"flattened": True, "mapped": False}
    assert repr(outer) == "unmapped(3)"


# ----------------------------------------------------------------------------- GetItem, nout


def test_getitem_creates_getitem_task():
    with Flow("f") as flow:
        p = pair()
        first = p[0]
        k = one()
        by_task = p[k]
    assert isinstance(first, GetItem)
    assert first.name == "pair[0]"
    assert edges_into(flow, first) == {(p, "task_result", False, False)}
    assert flow.constants[first] == {"key": 0}
    assert by_task.name == "pair[one]"
    assert edges_into(flow, by_task) == {(p, "task_result", False, False), (k, "key", False, False)}


def test_tuple_unpacking_uses_nout():
    with Flow("f") as flow:
        a, b = pair()
        x, y, z = task(nout=3)(lambda: (1, 2, 3))()
    assert [t.name for t in (a, b)] == ["pair[0]", "pair[1]"]
    assert flow.constants[b] == {"key": 1}
    assert z.name == "<lambda>[2]"


def test_iterating_without_nout_names_the_task():
    with Flow("f"):
        a = add(1)
        with pytest.raises(TypeError, match="'add' is not iterable.*nout"):
            x, y = a


def test_getitem_run():
    g = GetItem()
    assert g.run([1, 2], 1) == 2
    assert g.run({"a": 1}, "a") == 1
    with pytest.raises(KeyError):
        g.run({}, "a")
    assert GetItem(default=0).run({}, "a") == 0
    assert g.run({}, "a", default=5) == 5
    with pytest.raises(IndexError):
        GetItem(default=0).run([], 3)


# ----------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    "build, cls, x, y, result",
    [
        (lambda t: t + 2, operators.Add, 5, 2, 7),
        (lambda t: t - 2, operators.Sub, 5, 2, 3),
        (lambda t: t * 2, operators.Mul, 5, 2, 10),
        (lambda t: t / 2, operators.Div, 5, 2, 2.5),
        (lambda t: t // 2, operators.FloorDiv, 5, 2, 2),
        (lambda t: t % 2, operators.Mod, 5, 2, 1),
        (lambda t: t**2, operators.Pow, 5, 2, 25),
        (lambda t: t & 0, operators.And, 5, 0, 0),
        (lambda t: t > 2, operators.GreaterThan, 5, 2, True),
        (lambda t: t >= 5, operators.GreaterThanOrEqual, 5, 5, True),
        (lambda t: t < 2, operators.LessThan, 5, 2, False),
        (lambda t: t <= 2, operators.LessThanOrEqual, 5, 2, False),
        (lambda t: t.is_equal(5), operators.Equal, 5, 5, True),
        (lambda t: t.is_not_equal(5), operators.NotEqual, 5, 5, False),
        (lambda t: t.or_(0), operators.Or, 5, 0, 5),
    ],
)
def test_binary_operators(build, cls, x, y, result):
    with Flow("f") as flow:
        t = one()
        op = build(t)
    assert type(op) is cls
    assert edges_into(flow, op) == {(t, "x", False, False)}
    assert flow.constants[op] == {"y": y}
    assert op.run(x=x, y=y) == result


@pytest.mark.parametrize(
    "build, cls, result",
    [
        (lambda t: 10 + t, operators.Add, 11),
        (lambda t: 10 - t, operators.Sub, 9),
        (lambda t: 10 * t, operators.Mul, 10),
        (lambda t: 10 / t, operators.Div, 10.0),
        (lambda t: 10 // t, operators.FloorDiv, 10),
        (lambda t: 10 % t, operators.Mod, 0),
        (lambda t: 10**t, operators.Pow, 10),
        (lambda t: 10 & t, operators.And, 1),
    ],
)
def test_reflected_operators(build, cls, result):
    with Flow("f") as flow:
        t = one()
        op = build(t)
    assert type(op) is cls
    assert edges_into(flow, op) == {(t, "y", False, False)}
    assert flow.constants[op] == {"x": 10}
    assert op.run(x=10, y=1) == result


def test_not_operator():
    with Flow("f") as flow:
        t = one()
        n = t.not_()
    assert edges_into(flow, n) == {(t, "x", False, False)}
    assert n.run(x=0) is True


def test_pipe_operator_adds_state_dependencies():
    with Flow("f") as flow:
        a, b, c = one(), one(), one()
        assert (a | b) is b
        b | c
        assert (5 | a) is a  # a constant upstream becomes a Constant node
    assert flow.upstream_tasks(b) == {a}
    assert flow.upstream_tasks(c) == {b}
    (up,) = flow.upstream_tasks(a)
    assert isinstance(up, Constant) and up.value == 5


def test_equality_is_not_overloaded():
    with Flow("f") as flow:
        a = one()
        assert (a == a) is True
        assert (a == one) is False
    assert len(flow.tasks) == 1


def test_pipe_method():
    with Flow("f") as flow:
        a = one()
        b = a.pipe(add, y=3)
        c = Extract()().pipe(unmapped)
    assert flow.constants[b] == {"y": 3}
    assert edges_into(flow, b) == {(a, "x", False, False)}
    assert isinstance(c, Extract)

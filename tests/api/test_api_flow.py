"""Flows: the functional and imperative APIs, slugs, graph queries, validation."""

from __future__ import annotations

import pickle

import cloudpickle
import pytest

import ferroflow.engine
from ferroflow.core import (
    Constant,
    Edge,
    Flow,
    Parameter,
    Task,
    TaskSet,
    active_flow,
    task,
    unmapped,
)
from ferroflow.core.flow import TASK_ADDED_HOOK
from ferroflow.errors import CycleError


@task
def add(x, y=1):
    return x + y


@task
def one():
    return 1


@task
def kw(**values):
    return values


def named(name, **kw):
    return Task(name=name, **kw)


# ----------------------------------------------------------------------------- construction


@pytest.mark.parametrize("name", ["", "   ", None, 3, b"f"])
def test_flow_needs_a_non_empty_name(name):
    with pytest.raises(ValueError) as info:
        Flow(name)
    assert repr(name) in str(info.value)


def test_init_with_tasks_edges_and_reference_tasks():
    a, b, c = named("a"), named("b"), named("c")
    flow = Flow("f", tasks=[a], edges=[Edge(b, c)], reference_tasks=[c])
    assert list(flow.tasks) == [a, c, b] or list(flow.tasks) == [a, b, c]
    assert flow.edges == {Edge(b, c)}
    assert flow.reference_tasks() == {c}
    assert repr(flow) == '<Flow: name="f">'


# ----------------------------------------------------------------------------- functional API


def test_with_block_sets_the_active_flow():
    assert active_flow() is None
    with Flow("outer") as outer:
        assert active_flow() is outer
        with Flow("inner") as inner:
            assert active_flow() is inner
            b = add(1)
        assert active_flow() is outer
        a = add(1)
    assert active_flow() is None
    assert list(outer.tasks) == [a] and list(inner.tasks) == [b]


def test_active_flow_is_reset_after_an_error():
    with pytest.raises(RuntimeError):
        with Flow("f"):
            raise RuntimeError("boom")
    assert active_flow() is None


def test_flow_can_be_reentered():
    flow = Flow("f")
    with flow:
        a = add(1)
    with flow:
        b = add(a)
    assert flow.upstream_tasks(b) == {a}


# ----------------------------------------------------------------------------- tasks view


def test_tasks_view_is_ordered_and_set_like():
    a, b, c = named("a"), named("b"), named("c")
    flow = Flow("f", tasks=[c, a, b])
    tasks = flow.tasks
    assert list(tasks) == [c, a, b]
    assert len(tasks) == 3 and a in tasks and named("x") not in tasks
    assert tasks == {a, b, c} and {a, b, c} == tasks
    assert isinstance(tasks, TaskSet)
    assert list(tasks - {a}) == [c, b]
    assert list(tasks.difference([a])) == [c, b]
    assert list(tasks & {a, b}) == [a, b]
    assert list({a, b} & tasks) == [a, b]
    assert list(tasks | [named("d")])[:3] == [c, a, b]
    assert tasks.issubset({a, b, c, named("d")}) and tasks.issuperset([a])
    copy = tasks.copy()
    copy.add(named("d"))
    assert len(flow.tasks) == 3


@pytest.mark.parametrize(
    "mutate",
    [
        lambda ts, t: ts.add(t),
        lambda ts, t: ts.discard(t),
        lambda ts, t: ts.remove(t),
        lambda ts, t: ts.clear(),
        lambda ts, t: ts.__ior__({t}),
        lambda ts, t: ts.__isub__({t}),
    ],
)
def test_tasks_view_is_read_only(mutate):
    a = named("a")
    flow = Flow("f", tasks=[a])
    with pytest.raises(TypeError, match="read-only"):
        mutate(flow.tasks, a)
    assert list(flow.tasks) == [a]


def test_tasks_view_is_live():
    flow = Flow("f")
    view = flow.tasks
    flow.add_task(named("a"))
    assert len(view) == 1


# ----------------------------------------------------------------------------- add_task and slugs


def test_add_task_is_idempotent_and_returns_the_task():
    flow = Flow("f")
    a = named("a")
    assert flow.add_task(a) is a
    flow.add_task(a)
    assert list(flow.tasks) == [a]


def test_add_task_rejects_non_tasks():
    with pytest.raises(TypeError, match="'f'.*42"):
        Flow("f").add_task(42)


@pytest.mark.parametrize(
    "tasks, slugs",
    [
        ([named("a"), named("a"), named("b")], ["a-1", "a-2", "b-1"]),
        ([named("a", tags=["z", "m"]), named("a"), named("a", tags=["m", "z"])], ["a-m-z-1", "a-1", "a-m-z-2"]),
        ([named("a", slug="a-1"), named("a")], ["a-1", "a-2"]),
        ([named("a", slug="custom"), named("a")], ["custom", "a-1"]),
        ([Parameter("a"), named("a")], ["a", "a-1"]),
    ],
)
def test_generated_slugs(tasks, slugs):
    flow = Flow("f", tasks=tasks)
    assert [flow.slugs[t] for t in tasks] == slugs
    assert all(t.slug is None or t.slug == flow.slugs[t] for t in tasks)


def test_duplicate_explicit_slug_names_the_slug():
    flow = Flow("f", tasks=[named("a", slug="dup")])
    with pytest.raises(ValueError) as info:
        flow.add_task(named("b", slug="dup"))
    assert '"dup"' in str(info.value) and "'b'" in str(info.value)


def test_explicit_slug_equal_to_a_generated_one_is_a_duplicate():
    flow = Flow("f", tasks=[named("a")])
    with pytest.raises(ValueError, match='"a-1"'):
        flow.add_task(named("b", slug="a-1"))


def test_slugs_are_per_flow():
    a = named("a")
    f1 = Flow("f1", tasks=[named("a"), a])
    f2 = Flow("f2", tasks=[a])
    assert (f1.slugs[a], f2.slugs[a]) == ("a-2", "a-1")


# ----------------------------------------------------------------------------- slugs and edges filed when read


@task
def join(a, b, c):
    return (a, b, c)


def _imperative_twin(flow):
    """The flow built again, task by task and edge by edge, with the imperative API."""
    twin = Flow(flow.name)
    for t in flow.tasks:
        twin.add_task(t)
        for edge in flow._edges_in.get(t, {}).values():
            twin.add_edge(edge.upstream_task, t, key=edge.key)
        for key, value in flow.constants.get(t, {}).items():
            twin.constants[t][key] = value
    return twin


def _indexes(flow):
    return (list(flow.tasks), list(flow.slugs.items()), list(flow._slug_owner.items()),
            dict(flow._slug_counters), flow.edges, [(t, list(d.items())) for t, d in flow._edges_in.items()],
            [(t, list(e)) for t, e in flow._edges_out.items()], dict(flow.constants))


def test_a_flow_built_by_calls_has_the_indexes_of_one_built_task_by_task():
    with Flow("grid") as flow:
        layer = [join(i, 0, 0) for i in range(4)]
        for _ in range(3):
            layer = [join(layer[max(i - 1, 0)], layer[i], layer[min(i + 1, 3)]) for i in range(4)]
        mixed = join(layer[0], 5, c=layer[1])  # a keyword: bound at once
        join(mixed, layer[2], "x")
    assert [flow.slugs[t] for t in list(flow.tasks)[:5]] == ["join-1", "join-2", "join-3", "join-4", "join-5"]
    assert _indexes(flow) == _indexes(_imperative_twin(flow))
    assert len(flow.edges) == 3 * 12 + 2 + 2


def test_slugs_are_given_in_the_order_tasks_are_added_whatever_way():
    with Flow("f") as flow:
        first = join(1, 2, 3)
        flow.add_task(named("join", slug="join-2"))
        second = join(first, first, first)
        with pytest.raises(ValueError, match='"join-1"'):
            flow.add_task(named("other", slug="join-1"))
        tagged = join(second, 1, 2, task_args=dict(tags=["t"]))
        flow.add_task(named("join"))
    assert list(flow.slugs.values()) == ["join-1", "join-2", "join-3", "join-t-1", "join-4"]
    assert flow.get_tasks(slug="join-3") == [second] and flow.slugs[tagged] == "join-t-1"


def test_a_slug_is_what_the_task_was_when_added():
    with Flow("f") as flow:
        t = join(1, 2, 3)
        t.name = "renamed"
        t.tags.add("late")
        t.slug = "own"
    assert flow.slugs[t] == "join-1" and flow.get_tasks(slug="join-1") == [t]


def test_the_task_added_hook_sees_calls_from_the_first_time_it_is_set(monkeypatch):
    monkeypatch.setattr(TASK_ADDED_HOOK, "ever_set", False)  # as in a process that never set it
    seen = []
    with Flow("f") as flow:
        one()
        token = TASK_ADDED_HOOK.set(lambda f, t: seen.append((f, t.name)))
        try:
            add(1)
            flow.add_task(named("x"))
        finally:
            TASK_ADDED_HOOK.reset(token)
        one()
    assert seen == [(flow, "add"), (flow, "x")] and TASK_ADDED_HOOK.get() is None


def test_a_flow_with_bindings_not_yet_filed_copies_and_pickles_whole():
    with Flow("f") as flow:
        a = join(1, 2, 3)
        b = join(a, a, 1)
    state = flow.__getstate__()
    assert "_unfiled" not in state and state["slugs"] == {a: "join-1", b: "join-2"}
    with flow:
        c = join(b, a, 2)
    copied = flow.copy()
    back = pickle.loads(cloudpickle.dumps(flow))
    with copied:
        join(c, c, c)
    with back:
        join(*[t for t in back.tasks if t.name == "join"][:3])
    for other in (copied, back):
        assert len(other.tasks) == 4 and len(other.edges) == 7 and list(other.slugs.values())[-1] == "join-4"
    assert len(flow.tasks) == 3 and len(flow.edges) == 4


#: ``pickle.dumps(flow, protocol=4)`` made by ferroflow before slugs and edges were
#: filed when read (every index in the flow's ``__dict__``, no ``_unfiled``), of
#: ``q = FunctionTask(shlex.quote)`` and, in ``with Flow("old") as flow``,
#: ``p = Parameter("p", default="a b")``, ``x = q(p)``, ``y = q(x)``,
#: ``z = q(y, task_args=dict(name="last"))``.
_FLOW_PICKLED_BEFORE = (
    "gASV5AUAAAAAAACME2ZlcnJvZmxvdy5jb3JlLmZsb3eUjARGbG93lJOUKYGUfZQojARuYW1llIwDb2xklIwGcmVzdWx0lE6M"
    "DnN0YXRlX2hhbmRsZXJzlF2UjApvbl9mYWlsdXJllE6MFnRlcm1pbmFsX3N0YXRlX2hhbmRsZXKUTowIc2NoZWR1bGWUTowI"
    "ZXhlY3V0b3KUTowKcnVuX2NvbmZpZ5ROjAdzdG9yYWdllE6MDGtlZXBfcmVzdWx0c5SIjAZfdGFza3OUfZQojBNmZXJyb2Zs"
    "b3cuY29yZS50YXNrlIwMRnVuY3Rpb25UYXNrlJOUKYGUfZQojApfX21vZHVsZV9flIwFc2hsZXiUjAhfX25hbWVfX5SMBXF1"
    "b3RllIwMX19xdWFsbmFtZV9flGgbjAdfX2RvY19flIwxUmV0dXJuIGEgc2hlbGwtZXNjYXBlZCB2ZXJzaW9uIG9mIHRoZSBz"
    "dHJpbmcgKnMqLpSMD19fYW5ub3RhdGlvbnNfX5R9lIwLX193cmFwcGVkX1+UaBloG5OUjANydW6UaCJoBWgbjARzbHVnlE6M"
    "BHRhZ3OUj5SMC21heF9yZXRyaWVzlEsAjAtyZXRyeV9kZWxheZROjAhyZXRyeV9vbpQpjA9yZXRyeV9jb25kaXRpb26UTowH"
    "dHJpZ2dlcpSMEmZlcnJvZmxvdy50cmlnZ2Vyc5SMDmFsbF9zdWNjZXNzZnVslJOUjBVza2lwX29uX3Vwc3RyZWFtX3NraXCU"
    "iIwEbm91dJROjApsb2dfc3Rkb3V0lImMB3RpbWVvdXSUTmgIXZRoCk5oB06MCmNoZWNrcG9pbnSUTowGdGFyZ2V0lE6MCWNh"
    "Y2hlX2ZvcpROjA9jYWNoZV92YWxpZGF0b3KUTowJY2FjaGVfa2V5lE6MDGNhY2hlX2tleV9mbpROjA10YXNrX3J1bl9uYW1l"
    "lE51Yk6MGGZlcnJvZmxvdy5jb3JlLnBhcmFtZXRlcpSMCVBhcmFtZXRlcpSTlCmBlH2UKIwIcmVxdWlyZWSUiYwHZGVmYXVs"
    "dJSMA2EgYpRoBYwBcJRoJGhDaCWPlGgnSwBoKE5oKSloKk5oK2guaC+IaDBOaDGJaDJOaAhdlGgKTmgHTmg0Tmg1Tmg2Tmg3"
    "Tmg4Tmg5Tmg6TnViTmgVKYGUfZQoaBhoGWgaaBtoHGgbaB1oHmgfaCBoIWgiaCNoImgFaBtoJE5oJY+UaCdLAGgoTmgpKWgq"
    "TmgraC5oL4hoME5oMYloMk5oCF2UaApOaAdOaDROaDVOaDZOaDdOaDhOaDlOaDpOdWJOaBUpgZR9lChoGGgZaBpoG2gcaBto"
    "HWgeaB9oIGghaCJoI2giaAWMBGxhc3SUaCROaCWPlGgnSwBoKE5oKSloKk5oK2guaC+IaDBOaDGJaDJOaAhdlGgKTmgHTmg0"
    "Tmg1Tmg2Tmg3Tmg4Tmg5Tmg6TnViTnWMBWVkZ2VzlI+UKIwTZmVycm9mbG93LmNvcmUuZWRnZZSMEF9lZGdlX2Zyb21fcGFy"
    "dHOUk5QoaD5oFowBc5SJiXSUUpRoUyhoRmhKaFSJiXSUUpRoUyhoFmhGaFSJiXSUUpSQjAljb25zdGFudHOUjAtjb2xsZWN0"
    "aW9uc5SMC2RlZmF1bHRkaWN0lJOUjAhidWlsdGluc5SMBGRpY3SUk5SFlFKUjAVzbHVnc5R9lChoFowHcXVvdGUtMZRoPmhD"
    "aEaMB3F1b3RlLTKUaEqMBmxhc3QtMZR1jAtfc2x1Z19vd25lcpR9lChoZmgWaENoPmhnaEZoaGhKdYwOX3NsdWdfY291bnRl"
    "cnOUfZQoaBtLAmhMSwF1jAlfZWRnZXNfaW6UfZQoaBZ9lGhUaFZzaEZ9lGhUaFpzaEp9lGhUaFhzdYwKX2VkZ2VzX291dJR9"
    "lChoPl2UaFZhaBZdlGhaYWhGXZRoWGF1jBBfcmVmZXJlbmNlX3Rhc2tzlH2UjAZfY2FjaGWUfZSMD19jb250ZXh0X3Rva2Vu"
    "c5RdlHViLg=="
)


def test_a_flow_pickled_before_bindings_were_filed_lazily_still_loads():
    import base64
    import shlex

    flow = pickle.loads(base64.b64decode(_FLOW_PICKLED_BEFORE))
    x, p, y, z = flow.tasks  # x was added before its input p
    assert list(flow.slugs.values()) == ["quote-1", "p", "quote-2", "last-1"]
    assert flow.upstream_tasks(z) == {y} and len(flow.edges) == 3
    with flow:
        w = z.copy()(z)
    assert flow.slugs[w] == "last-2" and flow.upstream_tasks(w) == {z}
    assert flow.run(record=False).result[w].result == shlex.quote(shlex.quote(shlex.quote(shlex.quote("a b"))))


# ----------------------------------------------------------------------------- add_edge


def test_add_edge_adds_both_tasks_and_returns_the_edge():
    a, b = one.copy(), add.copy()
    flow = Flow("f")
    edge = flow.add_edge(a, b, key="x")
    assert edge == Edge(a, b, key="x")
    assert list(flow.tasks) == [b, a] or list(flow.tasks) == [a, b]
    assert flow.edges == {edge}


def test_add_edge_with_constant_upstream_stores_it():
    b = add.copy()
    flow = Flow("f")
    edge = flow.add_edge(5, b, key="x")
    assert isinstance(edge.upstream_task, Constant) and edge.upstream_task.value == 5
    assert list(flow.tasks) == [b]
    assert flow.constants[b] == {"x": 5}
    assert flow.edges == set()


def test_add_edge_with_mapped_constant_makes_a_node():
    b = add.copy()
    flow = Flow("f")
    edge = flow.add_edge([1, 2], b, key="x", mapped=True)
    assert edge.upstream_task in flow.tasks and edge.mapped


def test_add_edge_unkeyed_constant_is_a_node():
    b = add.copy()
    flow = Flow("f")
    edge = flow.add_edge(5, b)
    assert edge.upstream_task in flow.tasks


@pytest.mark.parametrize(
    "key, error, fragments",
    [
        ("z", TypeError, ["'add'", "'z'"]),
        ("not valid", ValueError, ["'add'", "'not valid'"]),
        ("def", ValueError, ["'add'", "'def'"]),
    ],
)
def test_add_edge_bad_keys(key, error, fragments):
    flow = Flow("f")
    with pytest.raises(error) as info:
        flow.add_edge(one.copy(), add.copy(), key=key)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert flow.edges == set()


def test_add_edge_any_key_for_var_keyword_run():
    flow = Flow("f")
    edge = flow.add_edge(one.copy(), kw.copy(), key="anything")
    assert edge.key == "anything"


def test_add_edge_annotations():
    a, b = one.copy(), add.copy()
    flow = Flow("f")
    edge = flow.add_edge(unmapped(a), b, key="x", mapped=True)
    assert not edge.mapped


def test_add_edge_to_itself():
    a = add.copy()
    with pytest.raises(ValueError, match="'add' to itself"):
        Flow("f").add_edge(a, a)


def test_duplicate_unkeyed_edges_collapse():
    a, b = named("a"), named("b")
    flow = Flow("f")
    flow.add_edge(a, b)
    flow.add_edge(a, b)
    assert len(flow.edges) == 1
    assert len(flow.edges_to(b)) == 1 and len(flow.edges_from(a)) == 1


# ----------------------------------------------------------------------------- set_dependencies / chain


def test_set_dependencies():
    a, b, c, d = one.copy(), one.copy(), add.copy(), named("d")
    flow = Flow("f")
    flow.set_dependencies(c, upstream_tasks=[a], downstream_tasks=[d], keyword_tasks=dict(x=b, y=3))
    assert flow.edges == {Edge(a, c), Edge(c, d), Edge(b, c, key="x")}
    assert flow.constants[c] == {"y": 3}


def test_set_dependencies_mapped():
    a, b, c = one.copy(), one.copy(), add.copy()
    flow = Flow("f")
    flow.set_dependencies(c, upstream_tasks=[a], keyword_tasks=dict(x=b, y=unmapped(a)), mapped=True)
    assert flow.edges == {Edge(a, c, mapped=True), Edge(b, c, key="x", mapped=True), Edge(a, c, key="y")}


def test_task_set_upstream_and_downstream():
    a, b, c = one.copy(), add.copy(), named("c")
    flow = Flow("f")
    b.set_upstream(a, flow=flow, key="x")
    b.set_downstream(c, flow=flow)
    a.set_downstream(c, flow=flow, mapped=True)
    with flow:
        c.set_upstream(named("e"))
    assert Edge(a, b, key="x") in flow.edges
    assert Edge(b, c) in flow.edges
    assert Edge(a, c, mapped=True) in flow.edges
    assert len(flow.edges) == 4


def test_chain():
    a, b, c = named("a"), named("b"), named("c")
    flow = Flow("f")
    edges = flow.chain(a, b, c)
    assert edges == [Edge(a, b), Edge(b, c)]
    assert flow.chain(named("alone")) == []
    assert len(flow.tasks) == 4
    assert flow.chain() == []


# ----------------------------------------------------------------------------- queries


@pytest.fixture
def diamond():
    a, b, c, d = named("a", tags=["x"]), named("b", tags=["x", "y"]), named("c"), named("d")
    flow = Flow("f")
    flow.chain(a, b, d)
    flow.chain(a, c, d)
    p = Parameter("p")
    flow.add_task(p)
    return flow, a, b, c, d, p


def test_root_terminal_and_reference_tasks(diamond):
    flow, a, b, c, d, p = diamond
    assert list(flow.root_tasks()) == [a, p]
    assert list(flow.terminal_tasks()) == [d, p]
    assert flow.reference_tasks() == {d, p}
    flow.set_reference_tasks([b])
    assert flow.reference_tasks() == {b}
    flow.set_reference_tasks([])
    assert flow.reference_tasks() == {d, p}


def test_reference_tasks_must_be_in_the_flow(diamond):
    flow = diamond[0]
    with pytest.raises(ValueError, match="'stranger'.*'f'"):
        flow.set_reference_tasks([named("stranger")])
    with pytest.raises(ValueError, match="stranger"):
        Flow("g", reference_tasks=[named("stranger")])


def test_query_results_are_copies(diamond):
    flow, a, b, c, d, p = diamond
    flow.root_tasks().discard(a)
    flow.edges_to(d).clear()
    flow.all_upstream_edges()[d].clear()
    assert a in flow.root_tasks()
    assert len(flow.edges_to(d)) == 2


def test_parameters(diamond):
    flow, *_, p = diamond
    assert flow.parameters() == {p}


@pytest.mark.parametrize(
    "kwargs, names",
    [
        (dict(), ["a", "b", "d", "c", "p"]),
        (dict(name="b"), ["b"]),
        (dict(tags=["x"]), ["a", "b"]),
        (dict(tags=["x", "y"]), ["b"]),
        (dict(tags=[]), ["a", "b", "d", "c", "p"]),
        (dict(slug="c-1"), ["c"]),
        (dict(slug="p"), ["p"]),
        (dict(slug="nope"), []),
        (dict(task_type=Parameter), ["p"]),
        (dict(name="a", tags=["y"]), []),
        (dict(name="b", tags=["y"], task_type=Task), ["b"]),
    ],
)
def test_get_tasks(diamond, kwargs, names):
    flow = diamond[0]
    assert [t.name for t in flow.get_tasks(**kwargs)] == names


def test_neighbourhood_queries(diamond):
    flow, a, b, c, d, p = diamond
    assert flow.upstream_tasks(d) == {b, c}
    assert flow.downstream_tasks(a) == {b, c}
    assert flow.edges_to(d) == {Edge(b, d), Edge(c, d)}
    assert flow.edges_from(a) == {Edge(a, b), Edge(a, c)}
    assert flow.upstream_tasks(p) == set() and flow.downstream_tasks(p) == set()
    assert flow.all_upstream_edges() == {
        a: set(), b: {Edge(a, b)}, c: {Edge(a, c)}, d: {Edge(b, d), Edge(c, d)}, p: set()
    }
    assert flow.all_downstream_edges()[a] == {Edge(a, b), Edge(a, c)}


@pytest.mark.parametrize(
    "query", ["edges_to", "edges_from", "upstream_tasks", "downstream_tasks"]
)
def test_queries_on_unknown_task_name_it(diamond, query):
    with pytest.raises(ValueError, match="'ghost'.*'f'"):
        getattr(diamond[0], query)(named("ghost"))


# ----------------------------------------------------------------------------- order, cycles, validate


def test_sorted_tasks(diamond):
    flow, a, b, c, d, p = diamond
    order = flow.sorted_tasks()
    assert isinstance(order, tuple) and set(order) == {a, b, c, d, p}
    assert order.index(a) < order.index(b) < order.index(d)
    assert order.index(c) < order.index(d)
    assert list(flow) == list(order)


def test_sorted_tasks_from_roots(diamond):
    flow, a, b, c, d, p = diamond
    assert flow.sorted_tasks(root_tasks=[b]) == (b, d)
    with pytest.raises(ValueError, match="ghost"):
        flow.sorted_tasks(root_tasks=[named("ghost")])


def test_sorted_tasks_sees_later_changes(diamond):
    flow, a, *_ = diamond
    flow.sorted_tasks()
    e = named("e")
    flow.add_edge(e, a)
    order = flow.sorted_tasks()
    assert order.index(e) < order.index(a)


def test_cycle_is_reported_by_name():
    a, b, c = named("extract"), named("transform"), named("load")
    flow = Flow("f")
    flow.chain(a, b, c)
    flow.add_edge(c, a)
    for check in (flow.validate, flow.sorted_tasks):
        with pytest.raises(CycleError) as info:
            check()
        assert set(info.value.cycle) == {"extract", "transform", "load"}
        assert "extract" in str(info.value)


def test_validate_with_cycle_flag_on_add_edge():
    a, b = named("a"), named("b")
    flow = Flow("f")
    flow.add_edge(a, b, validate=True)
    with pytest.raises(CycleError):
        flow.add_edge(b, a, validate=True)
    with pytest.raises(CycleError):
        flow.set_dependencies(a, upstream_tasks=[b], validate=True)


def test_validate_passes_on_a_good_flow(diamond):
    assert diamond[0].validate() is None


def test_validate_catches_edges_to_unknown_tasks(diamond):
    flow, a, *_ = diamond
    flow.edges.add(Edge(a, named("ghost")))  # bypasses the API on purpose
    with pytest.raises(ValueError, match="ghost"):
        flow.validate()


# ----------------------------------------------------------------------------- copy / update / replace


def test_copy_is_independent(diamond):
    flow, a, b, c, d, p = diamond
    flow.constants[d]["k"] = 1
    flow.set_reference_tasks([b])
    new = flow.copy()
    assert new.tasks == flow.tasks and new.edges == flow.edges
    assert new.reference_tasks() == {b} and new.slugs == flow.slugs
    e = named("e")
    new.add_edge(d, e)
    new.constants[d]["k"] = 2
    assert e not in flow.tasks and flow.downstream_tasks(d) == set()
    assert flow.constants[d] == {"k": 1}
    assert new.name == flow.name


def test_update_merges_tasks_edges_and_constants():
    a, b = one.copy(), add.copy()
    f1 = Flow("f1", tasks=[a])
    f2 = Flow("f2")
    f2.add_edge(a, b, key="x")
    f2.add_edge(10, b, key="y")
    f1.update(f2)
    assert f1.tasks == {a, b}
    assert f1.edges == {Edge(a, b, key="x")}
    assert f1.constants[b] == {"y": 10}


def test_update_merge_parameters_and_reference_tasks():
    p1, p2 = Parameter("p"), Parameter("p", default=2)
    b1, b2 = add.copy(), add.copy()
    f1, f2 = Flow("f1"), Flow("f2")
    f1.add_edge(p1, b1, key="x")
    f2.add_edge(p2, b2, key="x")
    f2.set_reference_tasks([p2])
    with pytest.raises(ValueError, match='slug "p"'):
        f1.copy().update(f2)
    f1.update(f2, merge_parameters=True, merge_reference_tasks=True)
    assert f1.parameters() == {p2}
    assert f1.upstream_tasks(b1) == {p2}
    # this flow's reference tasks (its terminal tasks, once merged) plus f2's
    assert f1.reference_tasks() == {b1, b2, p2}


def test_replace_moves_edges_constants_and_reference_status():
    a, b, c = one.copy(), add.copy(), named("c")
    flow = Flow("f")
    flow.add_edge(a, b, key="x")
    flow.add_edge(7, b, key="y")
    flow.add_edge(b, c)
    flow.set_reference_tasks([b])
    new = add.copy()
    flow.replace(b, new)
    assert b not in flow.tasks and b not in flow.slugs
    assert flow.edges == {Edge(a, new, key="x"), Edge(new, c)}
    assert flow.constants[new] == {"y": 7} and b not in flow.constants
    assert flow.reference_tasks() == {new}
    assert flow.edges_from(a) == {Edge(a, new, key="x")}
    with pytest.raises(ValueError, match="add"):
        flow.replace(b, add.copy())


# ----------------------------------------------------------------------------- run


def test_run_inside_the_with_block_is_an_error():
    with Flow("building") as flow:
        add(1)
        with pytest.raises(RuntimeError, match="'building'"):
            flow.run()


def test_run_delegates_to_the_engine(monkeypatch):
    calls = []

    def fake_run_flow(flow, parameters, executor, **options):
        calls.append((flow, parameters, executor, options))
        return "state"

    monkeypatch.setattr(ferroflow.engine, "run_flow", fake_run_flow)
    flow = Flow("f")
    executor = object()
    assert flow.run({"a": 1, "b": 2}, executor=executor, b=3, c=4) == "state"
    assert flow.run() == "state"
    options = {"record": None, "resume": None, "approve": None, "keep_results": True, "task_states": None,
               "server": None}
    assert calls == [(flow, {"a": 1, "b": 3, "c": 4}, executor, options), (flow, {}, None, options)]


def test_server_names_the_server_unless_the_flow_has_a_parameter_called_server(monkeypatch):
    calls = []

    def fake_run_flow(flow, parameters, executor, **options):
        calls.append((parameters, options["server"]))
        return "state"

    monkeypatch.setattr(ferroflow.engine, "run_flow", fake_run_flow)
    Flow("f").run(server="http://127.0.0.1:4300")
    flow = Flow("g")
    flow.add_task(Parameter("server"))
    flow.run(server="db-7")
    assert calls == [({}, "http://127.0.0.1:4300"), ({"server": "db-7"}, None)]


def test_run_end_to_end():
    with Flow("f") as flow:
        n = Parameter("n", default=2)
        total = add(add.map([1, 2, 3], y=unmapped(n)).pipe(task(lambda xs: sum(xs))), y=n)
    state = flow.run(n=10)
    assert state.is_successful()
    assert state.result[total].result == (11 + 12 + 13) + 10


# ----------------------------------------------------------------------------- pickling


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
def test_flows_pickle(diamond, dumps):
    flow = diamond[0]
    flow.sorted_tasks()  # fills the cache, which must not travel
    back = pickle.loads(dumps(flow))
    assert [t.name for t in back.tasks] == [t.name for t in flow.tasks]
    assert len(back.edges) == len(flow.edges)
    assert [t.name for t in back.sorted_tasks()] == [t.name for t in flow.sorted_tasks()]
    d = back.get_tasks(name="d")[0]
    assert {t.name for t in back.upstream_tasks(d)} == {"b", "c"}


# ----------------------------------------------------------------------------- scale


def test_building_large_flows():
    """100,000 tasks build and answer graph queries (timed in benches/, not here)."""
    with Flow("big") as flow:
        t = add(0)
        for _ in range(49_999):
            t = add(t)
        fan = [add(i, y=2) for i in range(50_000)]
    assert len(flow.tasks) == 100_000 and len(flow.edges) == 49_999
    assert len(flow.root_tasks()) == 50_001
    assert len(flow.terminal_tasks()) == 50_001
    assert all(not flow.edges_to(x) for x in fan[:1000])


# ----------------------------------------------------------------------------- Prefect 1's signature


def test_flow_takes_prefect_1_arguments_in_prefect_1_order():
    import inspect

    names = list(inspect.signature(Flow).parameters)
    assert names[:13] == ["name", "schedule", "executor", "run_config", "storage", "tasks", "edges",
                          "reference_tasks", "state_handlers", "on_failure", "validate", "result",
                          "terminal_state_handler"]
    import datetime as dt

    import pendulum

    from ferroflow.executors import LocalExecutor
    from ferroflow.schedules import IntervalSchedule

    schedule = IntervalSchedule(start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), interval=dt.timedelta(hours=1))
    executor = LocalExecutor()
    a = Task(name="a")
    flow = Flow("positional", schedule, executor, None, None, [a])
    assert flow.schedule is schedule and flow.executor is executor and a in flow.tasks


@pytest.mark.parametrize("what", ["run_config", "storage"])
def test_prefect_server_settings_are_refused_by_name(what):
    with pytest.raises(TypeError, match=rf"Flow 'f': {what} is a Prefect Server/Cloud setting"):
        Flow("f", **{what: object()})
    assert getattr(Flow("f", **{what: None}), what) is None


def test_validate_checks_the_seeded_flow_at_once():
    a, b = Task(name="a"), Task(name="b")
    edges = [Edge(a, b), Edge(b, a)]
    Flow("lazy", edges=edges)  # not checked until it runs
    with pytest.raises(CycleError, match="a -> b -> a|b -> a -> b"):
        Flow("eager", edges=edges, validate=True)


def test_flow_executor_runs_the_flow_unless_run_is_given_one():
    from ferroflow.executors import LocalExecutor

    class Counting(LocalExecutor):
        def __init__(self):
            super().__init__()
            self.units = 0

        def submit(self, unit):
            self.units += 1
            super().submit(unit)

    mine, given = Counting(), Counting()
    with Flow("exec", executor=mine) as flow:
        total = add(add.map([1, 2, 3]).pipe(task(lambda xs: sum(xs))))
    assert flow.run(record=False).result[total].result == 10
    assert mine.units > 0
    used = mine.units
    assert flow.run(executor=given, record=False).result[total].result == 10
    assert given.units == used and mine.units == used
    assert Flow("named", executor="threads").executor == "threads"
    with pytest.raises(TypeError, match="Flow 'bad': executor must be"):
        Flow("bad", executor=3)


def test_threads_reading_a_new_flows_indexes_at_once_file_them_once():
    # A call's slug and edges are filed when the indexes are first read; runs of one
    # flow started together in threads read them at once.
    import threading

    @task
    def one(x=0):
        return x

    with Flow("race") as flow:
        prev = one()
        for _ in range(20_000):  # long enough to be interrupted while filing
            prev = one(prev)
    start = threading.Barrier(4)
    errors = []

    def read():
        start.wait()
        try:
            flow.slugs, flow.edges  # noqa: B018
        except Exception as exc:  # pragma: no cover - the failure this test is about
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    slugs = list(flow.slugs.values())
    assert len(slugs) == len(set(slugs)) == 20_001
    assert len(flow.edges) == 20_000
    assert sum(len(out) for out in flow._edges_out.values()) == 20_000
    assert sum(len(into) for into in flow._edges_in.values()) == 20_000

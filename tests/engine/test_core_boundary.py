"""The typed boundary with the Rust core: task specs with named fields, checked when
made and shared by tasks that schedule alike, and the core's constants behind every
table of kinds, verdicts and states."""

from __future__ import annotations

import pytest

from ferroflow import Flow, _core, states, task, triggers
from ferroflow.engine.graph import freeze


def test_a_task_spec_has_named_fields_and_defaults():
    spec = _core.TaskSpec()
    assert (spec.trigger, spec.skip_on_upstream_skip, spec.max_retries, spec.retry_delays_ms, spec.decided) == (
        "all_successful", True, 0, [], None)
    spec = _core.TaskSpec("some_failed", at_most=0.5, max_retries=3, retry_delays_ms=[1, 2], retry_jitter=0.25,
                          retry_seed=9, n_constants=2, observed=True, decided=_core.SKIPPED)
    assert (spec.trigger, spec.at_least, spec.at_most, spec.max_retries, spec.retry_delays_ms, spec.retry_jitter,
            spec.retry_seed, spec.n_constants, spec.observed, spec.decided) == (
        "some_failed", None, 0.5, 3, [1, 2], 0.25, 9, 2, True, _core.SKIPPED)
    with pytest.raises(TypeError):
        _core.TaskSpec("all_successful", None)  # every field but the trigger is by name
    with pytest.raises(ValueError, match="unknown built-in trigger"):
        _core.TaskSpec("sometimes")


def test_every_built_in_trigger_is_one_the_core_knows():
    names = {getattr(getattr(triggers, name), "_ff_spec", ("custom",))[0]
             for name in dir(triggers)
             if callable(getattr(triggers, name)) and hasattr(getattr(triggers, name), "_ff_spec")}
    assert names and names <= set(_core.TRIGGERS)


def test_tasks_that_schedule_alike_share_one_spec():
    @task
    def a(x=1):
        return x

    @task(max_retries=2, retry_delay=0)
    def b():
        return 1

    with Flow("alike") as flow:
        plain = [a() for _ in range(50)]
        retried = [b() for _ in range(3)]
    frozen = freeze(flow)
    specs = dict(zip(frozen.tasks, frozen.specs(seed=1), strict=True))
    assert len({id(specs[t]) for t in plain}) == 1
    assert len({id(specs[t]) for t in retried}) == 1
    assert specs[retried[0]].max_retries == 2 and specs[plain[0]].max_retries == 0


def test_the_core_s_constants_behind_the_python_tables():
    assert sorted({_core.ITEM_RUN, _core.ITEM_PREPARE, _core.ITEM_DECIDED}) == [0, 1, 2]
    assert len({_core.VERDICT_ALL_SUCCEEDED, _core.VERDICT_SOME_FAILED, _core.VERDICT_NONE_FAILED}) == 3
    # One State class per state code, named as the core names the code.
    assert len(states.STATE_CLASSES) == len(_core.STATE_NAMES)
    for code, cls in states.STATE_CLASSES.items():
        assert _core.STATE_NAMES[code] == cls.__name__


def test_the_graph_is_read_from_the_flows_edges():
    @task
    def one(x=1):
        return x

    with Flow("edges") as flow:
        a = one()
        b = one.map([1, 2])
        c = one(one(a))
    frozen = freeze(flow)
    index = frozen.index
    assert frozen.graph.edge_count() == len(flow.edges)
    assert frozen.may_map == [t is b for t in frozen.tasks]
    order = [frozen.tasks[i] for i in frozen.graph.order()]
    assert order.index(a) < order.index(c)
    # An upstream task the index does not know is a KeyError (the flow's error says which).
    with pytest.raises(KeyError):
        _core.Graph.of_edges([t.name for t in frozen.tasks], frozen.in_edges, {t: i for t, i in index.items()
                                                                                 if t is not a})
    with pytest.raises(IndexError):
        _core.Graph.of_edges(["x"], [[("x", "y")]], {"x": 0})
    with pytest.raises(TypeError):
        _core.Graph.of_edges(["x"], [("not a list",)], {})


def test_an_edge_from_a_task_outside_the_flow_is_named():
    from ferroflow.errors import FlowDefinitionError

    @task
    def one(x=1):
        return x

    with Flow("outside") as flow:
        a = one()
        b = one(a)
    flow._tasks.pop(a)  # (a flow edited behind its back)
    with pytest.raises(FlowDefinitionError, match="whose task <Task: one> is not in the flow"):
        freeze(flow)
    assert b in flow._tasks


def test_tasks_share_an_options_key_only_while_their_options_are_the_same_objects():
    seen = []

    @task
    def one(x=1):
        return x

    with Flow("keys") as flow:
        a, b, c, d, e = one(), one(), one(), one(), one(task_args={"max_retries": 1, "retry_delay": 0})
    c.trigger = triggers.all_finished  # changed after the call, on one copy only
    d.state_handlers.append(lambda task, old, new: seen.append(type(new).__name__))
    frozen = freeze(flow)
    keys = dict(zip(frozen.tasks, frozen.option_keys, strict=True))
    assert keys[a] == keys[b] is type(a)
    assert len({keys[a], keys[c], keys[e]}) == 3
    specs = dict(zip(frozen.tasks, frozen.specs(seed=1), strict=True))
    assert specs[a] is specs[b]
    assert specs[c].trigger == "all_finished" and specs[a].trigger == "all_successful"
    assert specs[d].observed and not specs[a].observed
    assert specs[e].max_retries == 1 and specs[a].max_retries == 0
    assert flow.run(record=False).is_successful()
    assert seen == ["Running", "Success"]


def test_the_inputs_each_task_reads_whole_come_with_the_graph():
    from ferroflow import flatten

    @task
    def one(x=1):
        return x

    @task
    def two(a, b):
        return a

    with Flow("inputs") as flow:
        a = one()
        b = one()
        c = two(a, b, upstream_tasks=[one()])  # a state-only edge is no argument
        m = one.map([1, 2])
        from_mapped = two(m, a)  # reads a task that maps
        flat = one.map(flatten([[1], [2]]))
    frozen = freeze(flow)
    index = frozen.index
    whole = frozen.graph.whole_inputs()
    assert whole[index[c]] == (("a", index[a]), ("b", index[b]))
    assert whole[index[a]] == ()
    assert whole[index[from_mapped]] is None and whole[index[flat]] is None
    assert frozen.may_map[index[m]]  # (its own edge is mapped: it is never plain, whatever it reads)
    assert _core.Graph(["x"], []).whole_inputs() == []

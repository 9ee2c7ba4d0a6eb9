"""``merge``, ``switch`` and ``ifelse``."""

from __future__ import annotations

import pytest

from ferroflow import Flow, case, ifelse, merge, signals, switch, task, triggers
from ferroflow.control_flow import CompareValue, Merge

ALL_SKIPPED = "All upstreams were skipped"


@task
def value_of(v):
    return v


@task
def skipper():
    raise signals.SKIP("not today")


@task
def boom():
    raise ValueError("boom")


@task
def total(xs):
    return sum(xs)


# ----- merge --------------------------------------------------------------------------


def test_merge_task_options():
    with Flow("m") as flow:
        m = merge(value_of(1), value_of(2), name="joined")
    assert isinstance(m, Merge)
    assert m.name == "joined"
    assert m.trigger is triggers.not_all_skipped
    assert m.skip_on_upstream_skip is False
    assert sorted(e.key for e in flow.edges_to(m)) == ["task_1", "task_2"]


def test_merge_returns_first_not_none_in_argument_order():
    with Flow("order") as flow:
        branches = [value_of(None)] + [value_of(i) for i in range(2, 13)]
        m = merge(*branches)
    assert flow.run().result[m].result == 2


def test_merge_passes_over_skipped_branches():
    with Flow("skipped") as flow:
        m = merge(skipper(), value_of(None), value_of(7))
    state = flow.run()
    assert state.result[m].result == 7


def test_merge_all_none_gives_none():
    with Flow("none") as flow:
        m = merge(value_of(None), value_of(None))
    state = flow.run()
    assert state.result[m].is_successful() and not state.result[m].is_skipped()
    assert state.result[m].result is None


def test_merge_of_all_skipped_branches_skips():
    with Flow("all-skipped") as flow:
        m = merge(skipper(), skipper())
        after = value_of(m)
    state = flow.run()
    assert state.result[m].is_skipped()
    assert state.result[m].message == ALL_SKIPPED
    assert state.result[after].is_skipped()
    assert state.is_successful()


def test_merge_with_a_failed_branch_trigger_fails():
    with Flow("failed") as flow:
        m = merge(boom(), value_of(1))
    state = flow.run()
    assert state.is_failed()
    assert type(state.result[m]).__name__ == "TriggerFailed"
    assert state.result[m].message == 'Trigger was "not_all_skipped" but some of the upstream tasks failed.'


def test_merge_of_mapped_branches_child_by_child():
    @task
    def only_even(x):
        if x % 2:
            raise signals.SKIP("odd")
        return x

    @task
    def only_odd(x):
        if x % 2 == 0:
            raise signals.SKIP("even")
        return -x

    with Flow("mapped-merge") as flow:
        xs = value_of([1, 2, 3, 4])
        m = merge(only_even.map(xs), only_odd.map(xs), mapped=True)
        s = total(m)
    state = flow.run()
    assert state.result[m].result == [-1, 2, -3, 4]
    assert state.result[s].result == 2


def test_merge_of_mapped_branches_skipped_children():
    @task
    def keep_small(x):
        if x > 2:
            raise signals.SKIP("big")
        return x

    with Flow("mapped-merge-skip") as flow:
        xs = value_of([1, 2, 3])
        m = merge(keep_small.map(xs), keep_small.map(xs), mapped=True)
    state = flow.run()
    children = state.result[m].map_states
    assert [c.result for c in children] == [1, 2, None]
    assert children[2].is_skipped() and children[2].message == ALL_SKIPPED


def test_merge_unmapped_over_mapped_branches_gets_the_lists():
    with Flow("reduce-merge") as flow:
        a = value_of.map([1, 2])
        m = merge(skipper(), a)
    assert flow.run().result[m].result == [1, 2]


def test_merge_errors():
    with pytest.raises(ValueError, match="at least one branch"):
        with Flow("x"):
            merge()
    with pytest.raises(ValueError, match=r"merge\(\) adds tasks to a flow"):
        merge(value_of)
    with pytest.raises(ValueError, match="skip_on_upstream_skip=False"):
        Merge(skip_on_upstream_skip=True)


def test_merge_with_explicit_flow():
    flow = Flow("imperative")
    a = value_of.copy()
    flow.add_task(a)
    flow.constants[a]["v"] = 3
    m = merge(a, flow=flow)
    assert m in flow.tasks
    assert flow.run().result[m].result == 3


# ----- switch ---------------------------------------------------------------------------


def _routes(value):
    with Flow("switch") as flow:
        c = value_of(value)
        branches = {k: value_of(k.upper()) for k in "abc"}
        switch(c, branches)
        m = merge(*branches.values())
    return flow, branches, m


def test_switch_runs_the_matching_branch_only():
    flow, branches, m = _routes("b")
    state = flow.run()
    assert state.result[m].result == "B"
    assert state.result[branches["b"]].result == "B"
    for k in "ac":
        assert state.result[branches[k]].is_skipped()
    compares = flow.get_tasks(task_type=CompareValue)
    assert len(compares) == 3 and all(t.tags == {"switch"} for t in compares)
    (a_cmp,) = flow.get_tasks(name='CompareValue: "a"')
    assert state.result[a_cmp].message == 'Provided value "b" did not match "a"'


def test_switch_without_a_matching_case_skips_every_branch():
    flow, branches, m = _routes("z")
    state = flow.run()
    assert all(state.result[b].is_skipped() for b in branches.values())
    assert state.result[m].is_skipped() and state.result[m].message == ALL_SKIPPED
    assert state.is_successful()


def test_switch_mapped():
    @task
    def parity(x):
        return x % 2

    @task
    def half(x):
        return x // 2

    @task
    def triple(x):
        return 3 * x

    with Flow("switch-mapped") as flow:
        xs = value_of([1, 2, 3, 4])
        h, t = half.map(xs), triple.map(xs)
        switch(parity.map(xs), {0: h, 1: t}, mapped=True)
        m = merge(h, t, mapped=True)
    state = flow.run()
    assert state.result[m].result == [3, 1, 9, 2]
    assert [c.is_skipped() for c in state.result[h].map_states] == [True, False, True, False]


def test_switch_branch_value_may_be_a_collection():
    with Flow("switch-list") as flow:
        c = value_of(1)
        a, b = value_of("a"), value_of("b")
        switch(c, {1: [a, b], 2: value_of("c")})
    state = flow.run()
    assert state.is_successful()


def test_switch_errors():
    with Flow("bad"):
        c = value_of(1)
        with pytest.raises(TypeError, match="cases must be a dict"):
            switch(c, [value_of(1)])
        with pytest.raises(TypeError, match="plain value"):
            switch(c, {value_of(2): value_of(1)})
        with pytest.raises(TypeError, match=r"switch\(\): the condition must be a Task"):
            switch(1, {1: value_of(1)})
    with pytest.raises(ValueError, match=r"switch\(\) adds tasks to a flow"):
        switch(value_of, {1: value_of})


# ----- ifelse -----------------------------------------------------------------------------


@pytest.mark.parametrize("given, expected", [(True, "yes"), ([0], "yes"), (0, "no"), (None, "no")])
def test_ifelse_uses_truthiness(given, expected):
    with Flow("ifelse") as flow:
        yes, no = value_of("yes"), value_of("no")
        ifelse(value_of(given), yes, no)
        m = merge(yes, no)
    state = flow.run()
    assert state.result[m].result == expected
    (as_bool,) = flow.get_tasks(name="as_bool")
    assert state.result[as_bool].result is bool(given)


def test_ifelse_with_one_branch():
    with Flow("ifelse-one") as flow:
        yes = value_of("yes")
        ifelse(value_of(False), yes, None)
        after = value_of(yes)
    state = flow.run()
    assert state.result[yes].is_skipped() and state.result[after].is_skipped()


def test_ifelse_with_no_branch_adds_nothing():
    with Flow("ifelse-none") as flow:
        c = value_of(1)
        ifelse(c, None, None)
    assert list(flow.tasks) == [c]


def test_ifelse_mapped():
    @task
    def big(x):
        return x > 1

    with Flow("ifelse-mapped") as flow:
        xs = value_of([1, 2, 3])
        y, n = value_of.map(xs), value_of.map(xs)
        ifelse(big.map(xs), y, n, mapped=True)
        m = merge(y, n, mapped=True)
    state = flow.run()
    assert state.result[m].result == [1, 2, 3]
    assert [c.is_skipped() for c in state.result[y].map_states] == [True, False, False]
    assert [c.is_skipped() for c in state.result[n].map_states] == [False, True, True]


def test_ifelse_errors():
    with pytest.raises(ValueError, match=r"ifelse\(\) adds tasks"):
        ifelse(value_of, value_of, None)
    with Flow("bad"):
        with pytest.raises(TypeError, match=r"ifelse\(\): the condition must be a Task"):
            ifelse(lambda: True, value_of(1), None)


def test_case_and_switch_compose():
    with Flow("compose") as flow:
        outer = value_of("on")
        with case(outer, "on"):
            inner = value_of(2)
            a, b = value_of("a"), value_of("b")
            switch(inner, {1: a, 2: b})
        m = merge(a, b)
    assert flow.run().result[m].result == "b"

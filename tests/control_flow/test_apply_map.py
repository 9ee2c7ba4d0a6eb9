"""``apply_map``: mapping a function that builds tasks, conditional ones included."""

from __future__ import annotations

import pytest

from ferroflow import Flow, apply_map, case, flatten, ifelse, merge, signals, switch, task, unmapped
from ferroflow.testing.conformance import add, inc  # shared trivial tasks


@task
def value_of(v):
    return v


@task
def is_even(x):
    return x % 2 == 0


@task
def total(xs):
    return sum(xs)


def test_chain_becomes_mapped_pipeline():
    with Flow("chain") as flow:
        r = apply_map(lambda x: inc(inc(x)), [1, 2, 3])
        s = total(r)
    first, second = sorted(flow.get_tasks(name="inc"), key=lambda t: t is r)
    assert [e.mapped for e in flow.edges_to(second)] == [True]
    assert all(e.mapped for e in flow.edges_to(first))
    state = flow.run()
    assert state.result[r].result == [3, 4, 5]
    assert state.result[s].result == 12


def test_case_and_merge_inside_choose_per_element():
    def inc_if_even(x):
        with case(is_even(x), True):
            x2 = inc(x)
        return merge(x2, x)

    with Flow("per-element") as flow:
        r = apply_map(inc_if_even, [1, 2, 3, 4])
    state = flow.run()
    assert state.result[r].result == [1, 3, 3, 5]
    (compare,) = flow.get_tasks(name="case(True)")
    assert [c.is_skipped() for c in state.result[compare].map_states] == [True, False, True, False]
    (incs,) = flow.get_tasks(name="inc")
    assert [c.is_skipped() for c in state.result[incs].map_states] == [True, False, True, False]


def test_nested_case_switch_and_ifelse_inside():
    @task
    def tag(x, t):
        return f"{t}{x}"

    @task
    def kind(x):
        return "neg" if x < 0 else "pos"

    def f(x):
        k = kind(x)
        n, p = tag(x, "n"), tag(x, "p")
        switch(k, {"neg": n, "pos": p})
        with case(k, "pos"):
            odd, even = tag(x, "o"), tag(x, "e")
            ifelse(is_even(x), even, odd)
            parity = merge(even, odd)
        return merge(parity, n)

    with Flow("nested") as flow:
        r = apply_map(f, [-1, 1, 2])
    assert flow.run().result[r].result == ["n-1", "o1", "e2"]


def test_unmapped_inputs_and_kwargs():
    def f(x, y, z):
        return add(add(x, y), z)

    with Flow("kwargs") as flow:
        base = value_of(1000)
        r = apply_map(f, [1, 2, 3], y=unmapped(base), z=unmapped(5))
    assert flow.run().result[r].result == [1006, 1007, 1008]


def test_task_input_shortest_input_and_flatten():
    with Flow("inputs") as flow:
        xs = value_of([1, 2, 3])
        a = apply_map(lambda x, y: add(x, y), xs, [10, 20])
        b = apply_map(lambda x: inc(x), flatten(value_of([[1, 2], [3]])))
    state = flow.run()
    assert state.result[a].result == [11, 22]
    assert state.result[b].result == [2, 3, 4]


def test_flatten_inside_the_function():
    with Flow("flatten-inside") as flow:
        nested = value_of([[1, 2], [3]])
        r = apply_map(lambda x, y: add(x, total(flatten(y))), [10, 20], y=unmapped(nested))
    assert flow.run().result[r].result == [16, 26]
    with Flow("flatten-mapped"):
        with pytest.raises(ValueError, match="task 'value_of' flattens its argument v inside the function"):
            apply_map(lambda x: value_of(flatten(x)), [[[1], [2]]])


def test_a_task_without_inputs_runs_once_per_element():
    @task
    def one():
        return 1

    with Flow("roots") as flow:
        r = apply_map(lambda x: add(one(), x), [1, 2, 3])
    (o,) = flow.get_tasks(name="one")
    state = flow.run()
    assert state.result[o].result == [1, 1, 1]
    assert state.result[r].result == [2, 3, 4]


def test_a_list_of_tasks_is_mapped_over_its_elements():
    with Flow("list-of-tasks") as flow:
        r = apply_map(lambda x: inc(x), [value_of(1), value_of(2)])
    assert flow.run().result[r].result == [2, 3]


def test_skip_stays_within_its_element():
    @task
    def skip_2(x):
        if x == 2:
            raise signals.SKIP("two")
        return x

    with Flow("skip") as flow:
        r = apply_map(lambda x: inc(skip_2(x)), [1, 2, 3])
    children = flow.run().result[r].map_states
    assert [c.result for c in children] == [2, None, 4]
    assert children[1].is_skipped()


def test_inside_a_case_block_the_whole_map_is_conditional():
    with Flow("in-case") as flow:
        c = value_of(False)
        with case(c, True):
            r = apply_map(lambda x: inc(x), [1, 2])
        m = merge(r)
    state = flow.run()
    assert state.result[r].is_skipped()
    assert state.result[m].is_skipped()


def test_explicit_flow_is_passed_to_the_function():
    seen = []

    def f(x, flow):
        seen.append(flow)
        return inc.copy().bind(x, flow=flow)

    flow = Flow("imperative")
    r = apply_map(f, [1, 2], flow=flow)
    assert seen and seen[0] is not flow  # the scratch flow
    assert r in flow.tasks
    assert flow.run().result[r].result == [2, 3]


def test_errors_name_the_culprit():
    with pytest.raises(ValueError, match=r"apply_map\(.*\): no flow to add tasks to"):
        apply_map(lambda x: inc(x), [1])
    with Flow("errors"):
        with pytest.raises(TypeError, match=r"cannot map over argument 'y': int 5 is neither a task nor a sequence"):
            apply_map(lambda x, y: add(x, y), [1], y=5)
        with pytest.raises(ValueError, match="nothing to map over"):
            apply_map(lambda x: inc(x), unmapped([1]))
        with pytest.raises(ValueError, match=r"task 'inc' is mapped inside the function"):
            apply_map(lambda x: inc.map(x), [[1], [2]])
        with pytest.raises(ValueError, match=r"called inside the function mapped by apply_map\(outer\)"):
            def outer(x):
                return apply_map(lambda y: inc(y), [1])

            apply_map(outer, [1])
        with pytest.raises(TypeError, match="needs a function"):
            apply_map(5, [1])
        with pytest.raises(TypeError, match="flow must be a Flow"):
            apply_map(lambda x: inc(x), [1], flow="f")


def test_an_error_in_the_function_leaves_the_flow_untouched():
    def broken(x):
        inc(x)
        raise RuntimeError("broken builder")

    with Flow("untouched") as flow:
        base = value_of([1])
        with pytest.raises(RuntimeError, match="broken builder"):
            apply_map(broken, base)
    assert list(flow.tasks) == [base]

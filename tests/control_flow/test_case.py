"""``case`` blocks: which tasks become conditional, skip propagation, nesting, misuse."""

from __future__ import annotations

import pytest

from ferroflow import Flow, Parameter, case, merge, signals, task, unmapped
from ferroflow.control_flow import CompareValue
from ferroflow.core.collections import Constant
from ferroflow.core.flow import TASK_ADDED_HOOK

UPSTREAM_SKIPPED = "Upstream task was skipped"


@task
def value_of(v):
    return v


@task
def inc(x):
    return x + 1


@task
def one():
    return 1


def _compare(flow, name):
    (found,) = flow.get_tasks(name=name)
    assert isinstance(found, CompareValue)
    return found


@pytest.mark.parametrize("given, taken", [(True, "T"), (False, "F")])
def test_only_the_matching_block_runs(given, taken):
    with Flow("pair") as flow:
        c = value_of(given)
        with case(c, True):
            t = value_of("T")
        with case(c, False):
            f = value_of("F")
        m = merge(t, f)
    state = flow.run()
    assert state.is_successful()
    assert state.result[m].result == taken
    skipped = f if given else t
    assert state.result[skipped].is_skipped()
    assert state.result[skipped].message.startswith(UPSTREAM_SKIPPED)
    mismatch = _compare(flow, f"case({not given})")
    assert state.result[mismatch].is_skipped()
    assert state.result[mismatch].message == f'Provided value "{given}" did not match "{not given}"'
    assert state.result[_compare(flow, f"case({given})")].result is None


def test_only_block_roots_depend_on_the_comparison():
    with Flow("roots") as flow:
        c = value_of("a")
        outside = one()
        with case(c, "a"):
            x = one()
            y = inc(x)
            z = inc(outside)
        after = inc(y)
    compare = _compare(flow, "case(a)")
    assert flow.upstream_tasks(x) == {compare}
    assert flow.upstream_tasks(y) == {x}
    assert flow.upstream_tasks(z) == {outside, compare}
    assert flow.upstream_tasks(after) == {y}
    assert flow.upstream_tasks(compare) == {c}
    assert flow.edges_to(compare).pop().key == "value"


def test_mismatch_skips_the_block_and_everything_downstream():
    with Flow("skip") as flow:
        c = value_of("b")
        with case(c, "a"):
            x = one()
            y = inc(x)
        after = inc(y)

    @task(skip_on_upstream_skip=False)
    def sees(v):
        return ("saw", v)

    with flow:
        watcher = sees(y)
    state = flow.run()
    for t in (x, y, after):
        assert state.result[t].is_skipped()
        assert state.result[t].message.startswith(UPSTREAM_SKIPPED)
    assert state.result[watcher].result == ("saw", None)
    assert state.is_successful()


def test_nested_cases_chain_their_comparisons():
    with Flow("nested") as flow:
        a = value_of(1)
        b = value_of(2)
        with case(a, 1):
            outer = one()
            with case(b, 3):
                inner = one()
            beside = inc(outer)
    outer_cmp, inner_cmp = _compare(flow, "case(1)"), _compare(flow, "case(3)")
    assert flow.upstream_tasks(inner_cmp) == {b, outer_cmp}
    state = flow.run()
    assert state.result[outer].result == 1
    assert state.result[beside].result == 2
    assert state.result[inner].is_skipped()
    assert state.result[inner_cmp].message == 'Provided value "2" did not match "3"'


def test_outer_mismatch_skips_inner_block_without_comparing():
    with Flow("nested-outer") as flow:
        a = value_of(0)
        with case(a, 1):
            with case(a, 0):
                inner = one()
    state = flow.run()
    assert state.result[_compare(flow, "case(0)")].message.startswith(UPSTREAM_SKIPPED)
    assert state.result[inner].is_skipped()


def test_parameters_and_constants_are_never_conditional():
    with Flow("roots-stay") as flow:
        c = value_of(False)
        with case(c, True):
            p = Parameter("p", default=5)
            k = Constant(7)
            flow.add_task(k)
            r = inc(p)
    assert flow.upstream_tasks(p) == set()
    assert flow.upstream_tasks(k) == set()
    state = flow.run()
    assert state.result[p].result == 5
    assert state.result[r].is_skipped()


def test_parameter_condition():
    with Flow("param") as flow:
        mode = Parameter("mode", default="x")
        with case(mode, "x"):
            a = value_of("took x")
        with case(mode, "y"):
            b = value_of("took y")
        m = merge(a, b)
    assert flow.run().result[m].result == "took x"
    assert flow.run(mode="y").result[m].result == "took y"
    state = flow.run(mode="z")
    assert state.result[m].is_skipped()
    assert state.result[m].message == "All upstreams were skipped"


def test_failed_condition_fails_the_block():
    @task
    def broken():
        raise ValueError("no condition")

    with Flow("failed-cond") as flow:
        c = broken()
        with case(c, True):
            a = one()
        m = merge(a)
    state = flow.run()
    assert state.is_failed()
    assert state.result[a].is_failed() and type(state.result[a]).__name__ == "TriggerFailed"
    assert state.result[m].message == 'Trigger was "not_all_skipped" but some of the upstream tasks failed.'


def test_mapped_condition_is_compared_as_a_whole():
    with Flow("mapped-cond") as flow:
        c = value_of.map([1, 2])
        with case(c, 1):
            a = one()
        with case(c, [1, 2]):
            b = one()
    state = flow.run()
    assert state.result[a].is_skipped()
    assert state.result[b].result == 1


def test_mapped_task_in_a_block_skips_whole():
    with Flow("mapped-block") as flow:
        c = value_of("stop")
        xs = value_of([1, 2, 3])
        with case(c, "go"):
            ys = inc.map(xs, )
            zs = inc.map(ys)
        total = merge(zs)
    state = flow.run()
    assert state.result[ys].is_skipped()
    assert state.result[zs].is_skipped()
    assert state.result[total].is_skipped()


def test_imperative_tasks_added_in_the_block_are_conditional():
    flow = Flow("imperative")
    cond = value_of.copy()
    flow.add_task(cond)
    flow.constants[cond]["v"] = 3
    with case(cond, 4):
        branch = one.copy()
        flow.add_task(branch)
    assert _compare(flow, "case(4)") in flow.upstream_tasks(branch)
    assert flow.run().result[branch].is_skipped()


def test_empty_block_adds_nothing():
    with Flow("empty") as flow:
        c = value_of(1)
        with case(c, 1):
            pass
    assert list(flow.tasks) == [c]


def test_the_hook_is_restored_after_the_block_even_on_error():
    with Flow("restore") as flow:
        c = value_of(1)
        with pytest.raises(RuntimeError, match="inside"):
            with case(c, 1):
                one()
                raise RuntimeError("inside")
        assert TASK_ADDED_HOOK.get() is None
        after = one()
    assert flow.upstream_tasks(after) == set()
    assert not flow.get_tasks(name="case(1)")  # a failed block builds nothing


def test_value_must_not_be_a_task():
    with Flow("bad-value"):
        c = one()
        with pytest.raises(TypeError, match="value to compare with must be a plain value"):
            case(c, one())
        with pytest.raises(TypeError, match="plain value"):
            case(c, unmapped(c))


def test_condition_must_be_a_task():
    def not_a_task():
        return True

    with pytest.raises(TypeError, match=r"condition must be a Task.*forget @task"):
        case(not_a_task, True)
    with pytest.raises(TypeError,
                       match=r"condition must be a Task \(its result is compared at run time\), got bool True"):
        case(True, True)


def test_a_case_is_used_once():
    with Flow("twice"):
        block = case(one(), 1)
        with block:
            one()
        with pytest.raises(RuntimeError, match=r"case\(<Task: one>, 1\) was already used"):
            with block:
                pass


def test_outside_a_flow_without_tasks_is_an_error():
    with pytest.raises(ValueError, match="used outside a flow"):
        with case(one, 1):
            pass


def test_a_block_serves_one_flow():
    first, second = Flow("first"), Flow("second")
    with first:
        c = one()
        with pytest.raises(ValueError, match="flow 'second' inside a block whose tasks belong to flow 'first'"):
            with case(c, 1):
                second.add_task(inc.copy())


def test_tasks_called_in_a_block_outside_a_flow_name_the_task():
    with pytest.raises(ValueError, match="Task 'inc' was called outside a flow"):
        with case(one, 1):
            inc(1)


def test_skip_signal_in_block_task_is_not_confused_with_case():
    @task
    def skipper():
        raise signals.SKIP("mine")

    with Flow("own-skip") as flow:
        c = value_of(True)
        with case(c, True):
            s = skipper()
            after = inc(s)
    state = flow.run()
    assert state.result[s].message == "mine"
    assert state.result[after].message.startswith(UPSTREAM_SKIPPED)

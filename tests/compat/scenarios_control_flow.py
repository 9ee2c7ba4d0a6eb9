"""Control-flow and LOOP scenarios, run on Prefect 1.4.1 and on ferroflow.

A second scenario set beside ``scenarios.py`` (whose 472 recordings it leaves alone):
``case``, ``merge``, ``switch``, ``ifelse``, ``apply_map`` and ``signals.LOOP``. It
offers the interface ``record_prefect1.record_all`` expects (``SCENARIOS``,
``FERROFLOW_STATE_NAMES``, ``prefect_namespace``, ``run_scenario``) and reuses the
base module's normalization and state records, so both sets are compared the same way.

The namespace ``pf`` is the base one plus ``pf.case``, ``pf.merge``, ``pf.switch``,
``pf.ifelse``, ``pf.apply_map``, ``pf.signals.LOOP`` and three context readers:
``pf.loop_count()`` (1 in the first iteration), ``pf.loop_result(default)`` and
``pf.run_count()``.

Unlike the base set, an exception raised while *building* a flow is recorded too (as
``{"flow": {"raises": ...}, "phase": "build"}``), so misuse errors are compared.

This module must not import prefect or ferroflow at import time.
"""

from __future__ import annotations

import datetime
import importlib.util
import pathlib
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent


def _base():
    name = "ferroflow_compat_scenarios"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "scenarios.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


BASE = _base()
FERROFLOW_STATE_NAMES = BASE.FERROFLOW_STATE_NAMES
normalize = BASE.normalize

Build = Callable[[Any], tuple[Any, dict[str, Any], dict[str, Any]]]
SCENARIOS: dict[str, Build] = {}
SCENARIO_TAGS: dict[str, tuple[str, ...]] = {}
ZERO = datetime.timedelta(0)


def scenario(name: str, *tags: str):
    def register(fn: Build) -> Build:
        if name in SCENARIOS or name in BASE.SCENARIOS:
            raise ValueError(f"duplicate scenario {name!r}")
        SCENARIOS[name] = fn
        SCENARIO_TAGS[name] = tuple(tags)
        return fn

    return register


# ---------------------------------------------------------------------------
# namespaces
# ---------------------------------------------------------------------------

def _extend(pf, case, merge, switch, ifelse, apply_map, LOOP, loop_count, loop_result, run_count):
    signals = SimpleNamespace(**vars(pf.signals), LOOP=LOOP)
    return SimpleNamespace(**{**vars(pf), "signals": signals}, case=case, merge=merge, switch=switch,
                           ifelse=ifelse, apply_map=apply_map, loop_count=loop_count,
                           loop_result=loop_result, run_count=run_count)


def prefect_namespace() -> SimpleNamespace:
    import prefect
    from prefect import apply_map, case
    from prefect.engine.signals import LOOP
    from prefect.tasks.control_flow import ifelse, merge, switch

    return _extend(
        BASE.prefect_namespace(), case, merge, switch, ifelse, apply_map, LOOP,
        loop_count=lambda: prefect.context.get("task_loop_count", 1),
        loop_result=lambda default=None: prefect.context.get("task_loop_result", default),
        run_count=lambda: prefect.context.get("task_run_count"),
    )


def ferroflow_namespace() -> SimpleNamespace:
    from ferroflow import apply_map, case, context, ifelse, merge, switch
    from ferroflow.signals import LOOP

    return _extend(
        BASE.ferroflow_namespace(), case, merge, switch, ifelse, apply_map, LOOP,
        loop_count=lambda: context.loop_count,
        loop_result=lambda default=None: context.get("loop_result", default),
        run_count=lambda: context.task_run_count,
    )


# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------

def _raised(exc: BaseException, phase: str) -> dict[str, Any]:
    return {
        "flow": {"raises": {"type": type(exc).__name__,
                            "mro": [c.__name__ for c in type(exc).__mro__],
                            "message": str(exc)}},
        "phase": phase,
        "tasks": {},
    }


def run_scenario(pf: SimpleNamespace, name: str) -> dict[str, Any]:
    """Build and run scenario ``name`` with namespace ``pf``; return its record (the
    base set's record, or the exception building the flow raised)."""
    try:
        flow, run_kwargs, named = SCENARIOS[name](pf)
    except Exception as exc:
        return _raised(exc, "build")
    try:
        flow_state = flow.run(**run_kwargs)
    except Exception as exc:
        return _raised(exc, "run")
    all_states = flow_state.result
    record: dict[str, Any] = {
        "flow": {
            "state": type(flow_state).__name__,
            "message": flow_state.message,
            "result_inventory": sorted(
                [getattr(t, "name", repr(t)), type(s).__name__] for t, s in all_states.items()
            ),
        },
        "tasks": {},
    }
    for label, t in named.items():
        state = all_states.get(t)
        record["tasks"][label] = (
            {"state": None, "message": None, "message_kind": "missing", "result": None}
            if state is None else BASE._state_record(state)
        )
    return record


def _one(flow, name):
    """The task of ``flow`` named ``name`` (a CompareValue made by case/switch...)."""
    found = flow.get_tasks(name=name)
    if len(found) != 1:
        raise LookupError(f"{len(found)} tasks named {name!r}")
    return found[0]


# ---------------------------------------------------------------------------
# case
# ---------------------------------------------------------------------------

def _case_pair(pf, value):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return value

    @pf.task
    def when_true():
        return "T"

    @pf.task
    def when_false():
        return "F"

    with pf.Flow("case-pair") as flow:
        c = cond()
        with pf.case(c, True):
            t = when_true()
        with pf.case(c, False):
            f = when_false()
        m = pf.merge(t, f)
        after = lib.ident(m)
    return flow, {}, {"cond": c, "true": t, "false": f, "merge": m, "after": after,
                      "case(True)": _one(flow, "case(True)"), "case(False)": _one(flow, "case(False)")}


for _v in (True, False, None, 1, "yes"):
    SCENARIOS[f"case/pair_cond_{_v!r}"] = (lambda v: lambda pf: _case_pair(pf, v))(_v)
    SCENARIO_TAGS[f"case/pair_cond_{_v!r}"] = ()


@scenario("case/chain_inside_block_skips_whole_block")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return "b"

    with pf.Flow("case-chain") as flow:
        c = cond()
        with pf.case(c, "a"):
            x = lib.ok()
            y = lib.inc(x)
            z = lib.add(x, y)
        outside = lib.ident(z)
    return flow, {}, {"x": x, "y": y, "z": z, "outside": outside, "cmp": _one(flow, "case(a)")}


@scenario("case/chain_inside_block_runs")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return "a"

    with pf.Flow("case-chain-run") as flow:
        c = cond()
        with pf.case(c, "a"):
            x = lib.ok()
            y = lib.inc(x)
            z = lib.add(x, y)
        outside = lib.ident(z)
    return flow, {}, {"x": x, "y": y, "z": z, "outside": outside}


@scenario("case/block_task_with_outside_input")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return 0

    with pf.Flow("case-outside-input") as flow:
        c = cond()
        n = lib.const(41)
        with pf.case(c, 0):
            a = lib.inc(n)
        with pf.case(c, 1):
            b = lib.inc(n)
    return flow, {}, {"n": n, "a": a, "b": b}


@scenario("case/parameter_condition")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("case-param") as flow:
        p = pf.Parameter("mode", default="x")
        with pf.case(p, "x"):
            a = lib.const("took x")
        with pf.case(p, "y"):
            b = lib.const("took y")
        m = pf.merge(a, b)
    return flow, {"mode": "y"}, {"a": a, "b": b, "merge": m}


@scenario("case/nested_both_match")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def c1():
        return 1

    @pf.task
    def c2():
        return 2

    with pf.Flow("case-nested") as flow:
        a = c1()
        b = c2()
        with pf.case(a, 1):
            outer = lib.const("outer")
            with pf.case(b, 2):
                inner = lib.const("inner")
                deeper = lib.ident(inner)
    return flow, {}, {"outer": outer, "inner": inner, "deeper": deeper,
                      "case(1)": _one(flow, "case(1)"), "case(2)": _one(flow, "case(2)")}


@scenario("case/nested_outer_mismatch")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def c1():
        return 0

    @pf.task
    def c2():
        return 2

    with pf.Flow("case-nested-outer") as flow:
        a = c1()
        b = c2()
        with pf.case(a, 1):
            outer = lib.const("outer")
            with pf.case(b, 2):
                inner = lib.const("inner")
    return flow, {}, {"outer": outer, "inner": inner,
                      "case(1)": _one(flow, "case(1)"), "case(2)": _one(flow, "case(2)")}


@scenario("case/nested_inner_mismatch")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def c1():
        return 1

    @pf.task
    def c2():
        return 3

    with pf.Flow("case-nested-inner") as flow:
        a = c1()
        b = c2()
        with pf.case(a, 1):
            outer = lib.const("outer")
            with pf.case(b, 2):
                inner = lib.const("inner")
            after_inner = lib.ident(outer)
    return flow, {}, {"outer": outer, "inner": inner, "after_inner": after_inner}


@scenario("case/condition_failed")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("case-cond-fail") as flow:
        c = lib.fail()
        with pf.case(c, True):
            a = lib.ok()
        m = pf.merge(a)
    return flow, {}, {"a": a, "merge": m, "cmp": _one(flow, "case(True)")}


@scenario("case/condition_skipped")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("case-cond-skip") as flow:
        c = lib.skip()
        with pf.case(c, True):
            a = lib.ok()
        m = pf.merge(a)
    return flow, {}, {"a": a, "merge": m, "cmp": _one(flow, "case(True)")}


@scenario("case/mapped_condition_compares_the_list")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def is_even(x):
        return x % 2 == 0

    with pf.Flow("case-mapped-cond") as flow:
        c = is_even.map([1, 2])
        with pf.case(c, True):
            a = lib.ok()
        with pf.case(c, [False, True]):
            b = lib.ok()
    return flow, {}, {"a": a, "b": b}


@scenario("case/mapped_task_in_block")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return "go"

    with pf.Flow("case-mapped-in-block") as flow:
        c = cond()
        xs = lib.nums()
        with pf.case(c, "go"):
            ys = lib.inc.map(xs)
        with pf.case(c, "stop"):
            zs = lib.inc.map(xs)
        m = pf.merge(zs, ys)
    return flow, {}, {"ys": ys, "zs": zs, "merge": m}


@scenario("case/block_with_failure_then_merge")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return 1

    with pf.Flow("case-block-fail") as flow:
        c = cond()
        with pf.case(c, 1):
            a = lib.fail()
        with pf.case(c, 2):
            b = lib.ok()
        m = pf.merge(a, b)
    return flow, {}, {"a": a, "b": b, "merge": m}


@scenario("case/no_case_matches_merge_skips")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return 3

    with pf.Flow("case-none") as flow:
        c = cond()
        with pf.case(c, 1):
            a = lib.ok()
        with pf.case(c, 2):
            b = lib.ok()
        m = pf.merge(a, b)
        after = lib.ident(m)
    return flow, {}, {"a": a, "b": b, "merge": m, "after": after}


@scenario("case/value_task_is_rejected")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("case-value-task") as flow:
        c = lib.ok()
        with pf.case(c, lib.ok()):
            lib.ok()
    return flow, {}, {}


@scenario("case/reference_task_in_skipped_block")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return False

    with pf.Flow("case-ref") as flow:
        c = cond()
        with pf.case(c, True):
            a = lib.ok()
    flow.set_reference_tasks([a])
    return flow, {}, {"a": a}


# ---------------------------------------------------------------------------
# merge
# ---------------------------------------------------------------------------

@scenario("merge/first_non_none_in_order")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("merge-order") as flow:
        a = lib.noop()
        b = lib.const(2)
        c = lib.const(3)
        m = pf.merge(a, b, c)
    return flow, {}, {"merge": m}


@scenario("merge/all_none")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("merge-none") as flow:
        m = pf.merge(lib.noop(), lib.noop())
    return flow, {}, {"merge": m}


@scenario("merge/skipped_and_value")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("merge-skip") as flow:
        s = lib.skip()
        v = lib.const(7)
        m = pf.merge(s, v)
    return flow, {}, {"merge": m}


@scenario("merge/failed_branch_trigger_fails")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("merge-fail") as flow:
        m = pf.merge(lib.fail(), lib.const(7))
    return flow, {}, {"merge": m}


@scenario("merge/eleven_branches")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("merge-eleven") as flow:
        branches = [lib.noop()] + [lib.const(i) for i in range(2, 12)]
        m = pf.merge(*branches)
    return flow, {}, {"merge": m}


@scenario("merge/constant_branch")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("merge-const") as flow:
        m = pf.merge(lib.skip(), 5)
    return flow, {}, {"merge": m}


@scenario("merge/mapped_branches_reduced")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("merge-mapped-reduced") as flow:
        a = lib.skip_on_2.map([1, 2, 3])
        b = lib.inc.map([1, 2, 3])
        m = pf.merge(a, b)
    return flow, {}, {"a": a, "merge": m}


@scenario("merge/mapped_true_child_by_child")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def skip_odd(x):
        if x % 2:
            raise pf.signals.SKIP("odd")
        return x

    @pf.task
    def skip_even(x):
        if x % 2 == 0:
            raise pf.signals.SKIP("even")
        return -x

    with pf.Flow("merge-mapped") as flow:
        xs = lib.nums()
        a = skip_odd.map(xs)
        b = skip_even.map(xs)
        m = pf.merge(a, b, mapped=True)
        total = lib.total(m)
    return flow, {}, {"a": a, "b": b, "merge": m, "total": total}


# ---------------------------------------------------------------------------
# switch / ifelse
# ---------------------------------------------------------------------------

def _switch(pf, value, mapped=False):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return value

    @pf.task
    def branch(name):
        return name

    with pf.Flow("switch") as flow:
        c = cond()
        a = branch("a")
        b = branch("b")
        cc = branch("c")
        pf.switch(c, {"a": a, "b": b, "c": cc})
        m = pf.merge(a, b, cc)
        after = lib.ident(m)
    return flow, {}, {"a": a, "b": b, "c": cc, "merge": m, "after": after,
                      "cmp_a": _one(flow, 'CompareValue: "a"')}


for _v in ("a", "b", "z"):
    SCENARIOS[f"switch/value_{_v}"] = (lambda v: lambda pf: _switch(pf, v))(_v)
    SCENARIO_TAGS[f"switch/value_{_v}"] = ()


@scenario("switch/mapped")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def parity(x):
        return "even" if x % 2 == 0 else "odd"

    @pf.task
    def half(x):
        return x // 2

    @pf.task
    def triple(x):
        return 3 * x

    with pf.Flow("switch-mapped") as flow:
        xs = lib.nums()
        p = parity.map(xs)
        h = half.map(xs)
        t = triple.map(xs)
        pf.switch(p, {"even": h, "odd": t}, mapped=True)
        m = pf.merge(h, t, mapped=True)
    return flow, {}, {"p": p, "half": h, "triple": t, "merge": m}


@scenario("switch/list_case_value")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return 1

    with pf.Flow("switch-list") as flow:
        c = cond()
        a = lib.const("a")
        b = lib.const("b")
        pf.switch(c, {1: a, 2: b})
    return flow, {}, {"a": a, "b": b}


def _ifelse(pf, value):
    @pf.task
    def cond():
        return value

    @pf.task
    def yes():
        return "yes"

    @pf.task
    def no():
        return "no"

    with pf.Flow("ifelse") as flow:
        c = cond()
        y = yes()
        n = no()
        pf.ifelse(c, y, n)
        m = pf.merge(y, n)
    return flow, {}, {"yes": y, "no": n, "merge": m, "as_bool": _one(flow, "as_bool")}


for _label, _v in (("true", True), ("false", False), ("nonempty_list", [0]), ("zero", 0), ("none", None)):
    SCENARIOS[f"ifelse/{_label}"] = (lambda v: lambda pf: _ifelse(pf, v))(_v)
    SCENARIO_TAGS[f"ifelse/{_label}"] = ()


@scenario("ifelse/false_branch_none")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return False

    with pf.Flow("ifelse-none") as flow:
        c = cond()
        y = lib.const("y")
        pf.ifelse(c, y, None)
        after = lib.ident(y)
    return flow, {}, {"yes": y, "after": after}


@scenario("ifelse/mapped")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def big(x):
        return x > 1

    with pf.Flow("ifelse-mapped") as flow:
        xs = lib.nums()
        cond = big.map(xs)
        y = lib.inc.map(xs)
        n = lib.ident.map(xs)
        pf.ifelse(cond, y, n, mapped=True)
        m = pf.merge(y, n, mapped=True)
    return flow, {}, {"yes": y, "no": n, "merge": m}


# ---------------------------------------------------------------------------
# apply_map
# ---------------------------------------------------------------------------

@scenario("apply_map/chain")
def _(pf):
    lib = BASE._lib(pf)

    def twice(x):
        return lib.inc(lib.inc(x))

    with pf.Flow("am-chain") as flow:
        r = pf.apply_map(twice, [1, 2, 3])
        total = lib.total(r)
    return flow, {}, {"r": r, "total": total}


@scenario("apply_map/case_and_merge")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def is_even(x):
        return x % 2 == 0

    def inc_if_even(x):
        with pf.case(is_even(x), True):
            x2 = lib.inc(x)
        return pf.merge(x2, x)

    with pf.Flow("am-case") as flow:
        r = pf.apply_map(inc_if_even, [1, 2, 3, 4])
        total = lib.total(r)
    return flow, {}, {"r": r, "total": total, "cmp": _one(flow, "case(True)"),
                      "inc": _one(flow, "inc")}


@scenario("apply_map/task_input")
def _(pf):
    lib = BASE._lib(pf)

    def f(x):
        return lib.add(x, 100)

    with pf.Flow("am-task") as flow:
        xs = lib.nums()
        r = pf.apply_map(f, xs)
    return flow, {}, {"r": r}


@scenario("apply_map/unmapped_and_kwargs")
def _(pf):
    lib = BASE._lib(pf)

    def f(x, y, z):
        return lib.add(lib.add(x, y), z)

    with pf.Flow("am-kwargs") as flow:
        base = lib.const(1000)
        r = pf.apply_map(f, [1, 2, 3], y=pf.unmapped(base), z=pf.unmapped(5))
    return flow, {}, {"r": r}


@scenario("apply_map/shortest_input_wins")
def _(pf):
    lib = BASE._lib(pf)

    def f(x, y):
        return lib.add(x, y)

    with pf.Flow("am-short") as flow:
        r = pf.apply_map(f, [1, 2, 3], [10, 20])
    return flow, {}, {"r": r}


@scenario("apply_map/flatten_input")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def nested():
        return [[1, 2], [3]]

    def f(x):
        return lib.inc(x)

    with pf.Flow("am-flatten") as flow:
        r = pf.apply_map(f, pf.flatten(nested()))
    return flow, {}, {"r": r}


@scenario("apply_map/task_without_inputs_runs_per_element")
def _(pf):
    lib = BASE._lib(pf)

    def f(x):
        a = lib.ok()
        return lib.add(a, x)

    with pf.Flow("am-root") as flow:
        r = pf.apply_map(f, [1, 2, 3])
    return flow, {}, {"r": r, "ok": _one(flow, "ok")}


@scenario("apply_map/skip_stays_in_its_element")
def _(pf):
    lib = BASE._lib(pf)

    def f(x):
        return lib.inc(lib.skip_on_2(x))

    with pf.Flow("am-skip") as flow:
        r = pf.apply_map(f, [1, 2, 3])
        total = lib.total(r)
    return flow, {}, {"r": r, "total": total}


@scenario("apply_map/switch_inside")
def _(pf):
    @pf.task
    def kind(x):
        return "small" if x < 3 else "big"

    @pf.task
    def label(x, what):
        return f"{what}:{x}"

    def route(x):
        k = kind(x)
        s = label(x, "s")
        b = label(x, "b")
        pf.switch(k, {"small": s, "big": b})
        return pf.merge(s, b)

    with pf.Flow("am-switch") as flow:
        r = pf.apply_map(route, [1, 3, 5])
    return flow, {}, {"r": r}


@scenario("apply_map/ifelse_inside")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def odd(x):
        return x % 2

    def f(x):
        a = lib.inc(x)
        b = lib.ident(x)
        pf.ifelse(odd(x), a, b)
        return pf.merge(a, b)

    with pf.Flow("am-ifelse") as flow:
        r = pf.apply_map(f, [1, 2, 3])
    return flow, {}, {"r": r}


@scenario("apply_map/inside_case_block")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def cond():
        return False

    def f(x):
        return lib.inc(x)

    with pf.Flow("am-in-case") as flow:
        c = cond()
        with pf.case(c, True):
            r = pf.apply_map(f, [1, 2])
        m = pf.merge(r)
    return flow, {}, {"r": r, "merge": m}


@scenario("apply_map/nested_case")
def _(pf):
    @pf.task
    def positive(x):
        return x > 0

    @pf.task
    def even(x):
        return x % 2 == 0

    @pf.task
    def tag(x, t):
        return f"{t}{x}"

    def f(x):
        with pf.case(positive(x), True):
            with pf.case(even(x), True):
                a = tag(x, "pe")
            with pf.case(even(x), False):
                b = tag(x, "po")
            inner = pf.merge(a, b)
        with pf.case(positive(x), False):
            c = tag(x, "n")
        return pf.merge(inner, c)

    with pf.Flow("am-nested-case") as flow:
        r = pf.apply_map(f, [-1, 1, 2])
    return flow, {}, {"r": r}


@scenario("apply_map/map_inside_is_rejected")
def _(pf):
    lib = BASE._lib(pf)

    def f(x):
        return lib.inc.map(x)

    with pf.Flow("am-nested") as flow:
        pf.apply_map(f, [[1], [2]])
    return flow, {}, {}


@scenario("apply_map/not_a_sequence")
def _(pf):
    lib = BASE._lib(pf)
    with pf.Flow("am-bad") as flow:
        pf.apply_map(lambda x: lib.inc(x), 5)
    return flow, {}, {}


@scenario("apply_map/failed_input")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def bad():
        raise ValueError("no list")

    with pf.Flow("am-failed-input") as flow:
        r = pf.apply_map(lambda x: lib.inc(x), bad())
    return flow, {}, {"r": r}


# ---------------------------------------------------------------------------
# LOOP
# ---------------------------------------------------------------------------

@scenario("loop/accumulate")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def accumulate(x):
        current = pf.loop_result(x)
        if current < 20:
            raise pf.signals.LOOP(result=current + 5)
        return current

    with pf.Flow("loop-acc") as flow:
        a = accumulate(2)
        after = lib.inc(a)
    return flow, {}, {"a": a, "after": after}


@scenario("loop/count_and_results_seen")
def _(pf):
    seen = []

    @pf.task
    def looper():
        seen.append([pf.loop_count(), pf.loop_result("none")])
        if pf.loop_count() < 4:
            raise pf.signals.LOOP(f"iteration {pf.loop_count()}", result=pf.loop_count() * 10)
        return list(seen)

    with pf.Flow("loop-count") as flow:
        a = looper()
    return flow, {}, {"a": a}


@scenario("loop/default_loop_result")
def _(pf):
    seen = []

    @pf.task
    def looper():
        seen.append(pf.loop_result("none"))
        if pf.loop_count() == 1:
            raise pf.signals.LOOP()
        if pf.loop_count() == 2:
            raise pf.signals.LOOP("with message")
        return list(seen)

    with pf.Flow("loop-default") as flow:
        a = looper()
    return flow, {}, {"a": a}


@scenario("loop/mapped_children_loop_independently")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def countdown(n):
        left = pf.loop_result(n)
        if left > 0:
            raise pf.signals.LOOP(result=left - 1)
        return [n, pf.loop_count()]

    with pf.Flow("loop-mapped") as flow:
        c = countdown.map([0, 3, 1])
        total = lib.listify(c)
    return flow, {}, {"c": c, "total": total}


@scenario("loop/ends_failed")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def looper():
        if pf.loop_count() < 3:
            raise pf.signals.LOOP(result=pf.loop_count())
        raise ValueError(f"failed on loop {pf.loop_count()}")

    with pf.Flow("loop-fail") as flow:
        a = looper()
        after = lib.ident(a)
    return flow, {}, {"a": a, "after": after}


@scenario("loop/ends_skipped")
def _(pf):
    lib = BASE._lib(pf)

    @pf.task
    def looper():
        if pf.loop_count() < 2:
            raise pf.signals.LOOP(result=1)
        raise pf.signals.SKIP("enough looping")

    with pf.Flow("loop-skip") as flow:
        a = looper()
        after = lib.ident(a)
    return flow, {}, {"a": a, "after": after}


@scenario("loop/ends_with_success_signal")
def _(pf):
    @pf.task
    def looper():
        if pf.loop_count() < 2:
            raise pf.signals.LOOP(result="carried")
        raise pf.signals.SUCCESS("done", result=pf.loop_result())

    with pf.Flow("loop-success") as flow:
        a = looper()
    return flow, {}, {"a": a}


@scenario("loop/ends_with_fail_signal")
def _(pf):
    @pf.task
    def looper():
        if pf.loop_count() < 2:
            raise pf.signals.LOOP(result="carried")
        raise pf.signals.FAIL("gave up")

    with pf.Flow("loop-fail-signal") as flow:
        a = looper()
    return flow, {}, {"a": a}


@scenario("loop/retry_resumes_at_failed_iteration")
def _(pf):
    seen = []

    @pf.task(max_retries=2, retry_delay=ZERO)
    def looper(x):
        current = pf.loop_result(x)
        seen.append([pf.loop_count(), current])
        if len(seen) == 3:
            raise ValueError("flaky")
        if current < 4:
            raise pf.signals.LOOP(result=current + 1)
        return list(seen)

    with pf.Flow("loop-retry") as flow:
        a = looper(1)
    return flow, {}, {"a": a}


@scenario("loop/retry_counts_while_looping")
def _(pf):
    seen = []

    @pf.task(max_retries=1, retry_delay=ZERO)
    def looper():
        seen.append([pf.run_count(), pf.loop_count()])
        if len(seen) == 2:
            raise ValueError("flaky")
        if pf.loop_count() < 3:
            raise pf.signals.LOOP(result=pf.loop_count())
        return list(seen)

    with pf.Flow("loop-retry-count") as flow:
        a = looper()
    return flow, {}, {"a": a}


@scenario("loop/retries_exhausted")
def _(pf):
    @pf.task(max_retries=1, retry_delay=ZERO)
    def looper():
        if pf.loop_count() < 2:
            raise pf.signals.LOOP(result=0)
        raise ValueError(f"always at loop {pf.loop_count()}")

    with pf.Flow("loop-exhausted") as flow:
        a = looper()
    return flow, {}, {"a": a}


@scenario("loop/retry_signal_restarts_loop")
def _(pf):
    seen = []

    @pf.task
    def looper():
        seen.append(pf.loop_count())
        if len(seen) == 2:
            raise pf.signals.RETRY("again")
        if pf.loop_count() < 3:
            raise pf.signals.LOOP(result=pf.loop_count())
        return list(seen)

    with pf.Flow("loop-retry-signal") as flow:
        a = looper()
    return flow, {}, {"a": a}


@scenario("loop/mapped_child_retry_resumes")
def _(pf):
    seen = {}

    @pf.task(max_retries=1, retry_delay=ZERO)
    def looper(x):
        calls = seen.setdefault(x, [])
        calls.append(pf.loop_count())
        if x == 2 and len(calls) == 2:
            raise ValueError("flaky child")
        if pf.loop_count() < x:
            raise pf.signals.LOOP(result=x)
        return list(calls)

    with pf.Flow("loop-mapped-retry") as flow:
        a = looper.map([1, 2, 3])
    return flow, {}, {"a": a}


@scenario("loop/in_apply_map_with_case")
def _(pf):
    @pf.task
    def small(x):
        return x < 3

    @pf.task
    def grow(x):
        current = pf.loop_result(x)
        if current < 3:
            raise pf.signals.LOOP(result=current + 1)
        return current

    def f(x):
        with pf.case(small(x), True):
            g = grow(x)
        return pf.merge(g, x)

    with pf.Flow("loop-am") as flow:
        r = pf.apply_map(f, [0, 2, 5])
    return flow, {}, {"r": r}


@scenario("loop/retried_loop_respects_max_retries")
def _(pf):
    calls = []

    @pf.task(max_retries=1, retry_delay=ZERO)
    def looper():
        calls.append([pf.run_count(), pf.loop_count()])
        if len(calls) >= 9:
            return list(calls)
        if len(calls) % 2 == 0:
            raise ValueError(f"fails at call {len(calls)}")
        raise pf.signals.LOOP(result=len(calls))

    with pf.Flow("loop-max-retries") as flow:
        a = looper()
    return flow, {}, {"a": a}

"""Constant tasks and caching, run on Prefect 1.4.1 and on ferroflow.

A scenario set beside ``scenarios.py`` and ``scenarios_control_flow.py`` (whose
recordings it leaves alone), for two behaviours the base sets cannot show:

* **constant tasks**: Prefect's flow runner never runs a ``Constant`` (a literal list
  passed to ``.map``, a plain-value branch of ``ifelse``/``switch``, ``Constant(5)``
  made by hand): it is ``Success(message=None, result=value)`` whatever its upstream
  tasks, trigger or state handlers say;
* **caching** (``cache_for``, ``cache_validator``, ``cache_key``), which needs several
  runs of a flow in one cache and the transitions state handlers see.

A scenario is ``def _(pf, rec)``: it builds flows through the namespace ``pf`` (the
control-flow set's, plus ``pf.Constant``, ``pf.validators`` and ``pf.map_index()``)
and runs them with ``rec.run(flow, {label: task}, **parameters)``, as often as it
likes; ``rec.handler`` is a state handler recording every transition it sees and
``rec.call(what)`` notes a call of a task body. Every scenario starts with an empty
cache (``pf.fresh_cache()``: a new ``prefect.context.caches`` on Prefect, a new
``$FERROFLOW_HOME`` on ferroflow), as a new process would.

The record of a scenario: per run, the flow's state and message and every labelled
task's state record (the base set's ``_state_record``: class, message, normalized
result, children), the handler transitions (sorted by task and map index, in order
within a task run) and the calls.

This module must not import prefect or ferroflow at import time.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import pathlib
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent


def _load(name: str, file: str):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / file)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


BASE = _load("ferroflow_compat_scenarios", "scenarios.py")
CONTROL = _load("ferroflow_compat_control_flow", "scenarios_control_flow.py")
FERROFLOW_STATE_NAMES = BASE.FERROFLOW_STATE_NAMES

Scenario = Callable[[Any, "Recorder"], None]
SCENARIOS: dict[str, Scenario] = {}
SCENARIO_TAGS: dict[str, tuple[str, ...]] = {}
HOUR = datetime.timedelta(hours=1)
ZERO = datetime.timedelta(0)


def scenario(name: str, *tags: str):
    def register(fn: Scenario) -> Scenario:
        if name in SCENARIOS or name in BASE.SCENARIOS or name in CONTROL.SCENARIOS:
            raise ValueError(f"duplicate scenario {name!r}")
        SCENARIOS[name] = fn
        SCENARIO_TAGS[name] = tuple(tags)
        return fn

    return register


# ---------------------------------------------------------------------------
# namespaces
# ---------------------------------------------------------------------------

def _extend(pf, Constant, validators, map_index, fresh_cache):
    return SimpleNamespace(**vars(pf), Constant=Constant, validators=validators, map_index=map_index,
                           fresh_cache=fresh_cache)


def prefect_namespace() -> SimpleNamespace:
    import prefect
    from prefect.engine import cache_validators
    from prefect.tasks.core.constants import Constant

    @contextlib.contextmanager
    def fresh_cache():
        prefect.context.update(caches={})
        try:
            yield
        finally:
            prefect.context.update(caches={})

    return _extend(CONTROL.prefect_namespace(), Constant, cache_validators,
                   lambda: prefect.context.get("map_index"), fresh_cache)


def ferroflow_namespace() -> SimpleNamespace:
    from ferroflow import cache_validators, context
    from ferroflow.core.collections import Constant
    from tests.compat.ferroflow_home import fresh_home

    def fresh_cache():
        return fresh_home("ff-compat-cache-")

    return _extend(CONTROL.ferroflow_namespace(), Constant, cache_validators,
                   lambda: context.get("map_index"), fresh_cache)


# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------

class Recorder:
    """Runs a scenario's flows and keeps what both libraries are compared on."""

    def __init__(self, pf: SimpleNamespace):
        self.pf = pf
        self.runs: list[dict[str, Any]] = []
        self._transitions: list[list] = []
        self._calls: list[Any] = []

    def handler(self, task: Any, old: Any, new: Any) -> None:
        """A state handler: records ``[task, map index, old, new, message, result]``
        (the result only once ``new`` is finished)."""
        self._transitions.append([
            task.name, self.pf.map_index(), type(old).__name__, type(new).__name__,
            new.message if isinstance(new.message, (str, type(None))) else repr(new.message),
            BASE.normalize(new.result) if new.is_finished() else None,
        ])

    def call(self, what: Any) -> None:
        """Note that a task body ran (with ``what``)."""
        self._calls.append(BASE.normalize(what))

    def run(self, flow: Any, named: dict[str, Any], **parameters: Any) -> Any:
        """Run ``flow``, record it, and return its state."""
        self._transitions, self._calls = [], []
        state = flow.run(**parameters)
        transitions = sorted(self._transitions, key=lambda t: (t[0], -1 if t[1] is None else t[1]))
        results = state.result
        self.runs.append({
            "flow": [type(state).__name__, state.message],
            "tasks": {label: BASE._state_record(results[t]) for label, t in named.items()},
            "transitions": transitions,
            "calls": sorted(self._calls, key=repr),
        })
        return state


def run_scenario(pf: SimpleNamespace, name: str) -> dict[str, Any]:
    """Run scenario ``name`` with namespace ``pf`` in a fresh cache; return its record.

    ``tasks`` holds every run's task records under ``"<run>/<label>"`` (the shape the
    base recorder checks state names on)."""
    rec = Recorder(pf)
    with pf.fresh_cache():
        SCENARIOS[name](pf, rec)
    return {
        "flow": {},
        "tasks": {f"{i}/{label}": r for i, run in enumerate(rec.runs, 1) for label, r in run["tasks"].items()},
        "runs": [{k: v for k, v in run.items() if k != "tasks"} for run in rec.runs],
    }


def _one(flow: Any, name: str) -> Any:
    found = flow.get_tasks(name=name)
    if len(found) != 1:
        raise LookupError(f"{len(found)} tasks named {name!r}")
    return found[0]


def _value(pf, v):
    @pf.task
    def value():
        return v

    return value


# ---------------------------------------------------------------------------
# constant tasks
# ---------------------------------------------------------------------------

@scenario("const/ifelse_plain_values")
def _(pf, rec):
    for v in (True, False):
        with pf.Flow("ifelse-plain") as flow:
            pf.ifelse(_value(pf, v)(), "yes", "no")
        rec.run(flow, {"yes": _one(flow, "'yes'"), "no": _one(flow, "'no'"),
                       "compare_true": _one(flow, 'CompareValue: "True"'),
                       "compare_false": _one(flow, 'CompareValue: "False"')})


@scenario("const/switch_plain_values_none_match")
def _(pf, rec):
    with pf.Flow("switch-plain") as flow:
        pf.switch(_value(pf, "z")(), {"a": 1, "b": [2, 3]})
    rec.run(flow, {"a": _one(flow, "1"), "b": _one(flow, "[2, 3]")})


@scenario("const/switch_mapped_plain_values")
def _(pf, rec):
    @pf.task
    def parity(x):
        return x % 2

    with pf.Flow("switch-mapped-plain") as flow:
        pf.switch(parity.map([1, 2, 3]), {0: "even", 1: [1, 2]}, mapped=True)
    rec.run(flow, {"even": _one(flow, "'even'"), "odd": _one(flow, "[1, 2]"),
                   "compare_0": _one(flow, 'CompareValue: "0"'), "compare_1": _one(flow, 'CompareValue: "1"')})


@scenario("const/merge_of_constant_branches_takes_the_first")
def _(pf, rec):
    lib = BASE._lib(pf)
    with pf.Flow("merge-constants") as flow:
        yes, no = pf.Constant("yes"), pf.Constant("no")
        pf.ifelse(_value(pf, False)(), yes, no)
        m = lib.ident(pf.merge(yes, no))
    rec.run(flow, {"yes": yes, "no": no, "after": m})


@scenario("const/map_over_skipped_branch_runs")
def _(pf, rec):
    lib = BASE._lib(pf)
    with pf.Flow("map-skipped-branch") as flow:
        branch = pf.Constant([10, 20])
        pf.ifelse(_value(pf, True)(), 1, branch)
        out = lib.inc.map(branch)
        after = lib.ident(upstream_tasks=[branch], x=0)
    rec.run(flow, {"branch": branch, "out": out, "after": after})


@scenario("const/map_over_literal_in_case")
def _(pf, rec):
    lib = BASE._lib(pf)
    for v in (True, False):
        with pf.Flow("case-literal") as flow:
            with pf.case(_value(pf, v)(), True):
                out = lib.inc.map([1, 2, 3])
                flat = lib.inc.map(pf.flatten([[1], [2, 3]]))
        literals = sorted(flow.get_tasks(name="Constant[list]"), key=lambda t: repr(t.value))
        rec.run(flow, {"out": out, "flat": flat, "case": _one(flow, "case(True)"),
                       **{f"literal_{i}": t for i, t in enumerate(literals)}})


@scenario("const/never_runs_trigger_nor_handlers")
def _(pf, rec):
    lib = BASE._lib(pf)
    flow = pf.Flow("constant-guarded")
    k = pf.Constant(7, trigger=pf.triggers.all_failed, state_handlers=[rec.handler])
    flow.set_dependencies(k, upstream_tasks=[lib.ok])
    after = lib.ident.copy()
    flow.set_dependencies(after, keyword_tasks={"x": 1}, upstream_tasks=[k])
    rec.run(flow, {"k": k, "after": after})


@scenario("const/behind_failed_and_skipped_upstreams")
def _(pf, rec):
    lib = BASE._lib(pf)

    class Own(pf.Constant):
        pass

    flow = pf.Flow("constant-upstreams")
    behind_fail, behind_skip = pf.Constant(1, state_handlers=[rec.handler]), Own(2)
    flow.set_dependencies(behind_fail, upstream_tasks=[lib.fail])
    flow.set_dependencies(behind_skip, upstream_tasks=[lib.skip])
    over = lib.add.copy()
    flow.set_dependencies(over, keyword_tasks={"x": behind_fail, "y": behind_skip}, mapped=False)
    state_edge = lib.ident.copy()
    flow.set_dependencies(state_edge, upstream_tasks=[behind_skip], keyword_tasks={"x": 3})
    rec.run(flow, {"behind_fail": behind_fail, "behind_skip": behind_skip, "add": over,
                   "state_edge": state_edge})


@scenario("const/alone_in_a_flow")
def _(pf, rec):
    flow = pf.Flow("constant-alone")
    k = pf.Constant({"a": 1}, name="settings", state_handlers=[rec.handler])
    flow.add_task(k)
    rec.run(flow, {"k": k})


# ---------------------------------------------------------------------------
# caching
# ---------------------------------------------------------------------------

def _counted(pf, rec, name="work", factor=10, **options):
    """A task ``name(x) -> x * factor`` that notes its calls, with ``rec.handler``."""

    def body(x):
        rec.call([name, x])
        return x * factor

    return pf.task(body, name=name, state_handlers=[rec.handler], **options)


@scenario("cache/first_run_is_cached_then_reused")
def _(pf, rec):
    work = _counted(pf, rec, cache_for=HOUR)
    with pf.Flow("cache-plain") as flow:
        w = work(1)
        after = BASE._lib(pf).inc(w)
    for _ in range(3):
        rec.run(flow, {"work": w, "after": after})


@scenario("cache/without_handlers")
def _(pf, rec):
    def body(x):
        rec.call(x)
        return x + 1

    work = pf.task(body, name="work", cache_for=HOUR)
    each = pf.task(body, name="each", cache_for=HOUR, cache_validator=pf.validators.all_inputs)
    with pf.Flow("cache-no-handlers") as flow:
        w = work(1)
        m = each.map(pf.Parameter("xs"))
    rec.run(flow, {"work": w, "mapped": m}, xs=[1, 2])
    rec.run(flow, {"work": w, "mapped": m}, xs=[2, 1, 3])


@scenario("cache/all_inputs")
def _(pf, rec):
    work = _counted(pf, rec, cache_for=HOUR, cache_validator=pf.validators.all_inputs)
    with pf.Flow("cache-all-inputs") as flow:
        w = work(pf.Parameter("p"))
    for p in (1, 1, 2, 1):
        rec.run(flow, {"work": w}, p=p)


@scenario("cache/mapped_all_inputs")
def _(pf, rec):
    work = _counted(pf, rec, cache_for=HOUR, cache_validator=pf.validators.all_inputs)
    with pf.Flow("cache-mapped") as flow:
        ws = work.map(pf.Parameter("xs"))
        total = BASE._lib(pf).total(ws)
    rec.run(flow, {"work": ws, "total": total}, xs=[1, 2])
    rec.run(flow, {"work": ws, "total": total}, xs=[2, 3, 1])


@scenario("cache/mapped_duration_only")
def _(pf, rec):
    work = _counted(pf, rec, cache_for=HOUR)
    with pf.Flow("cache-mapped-duration") as flow:
        ws = work.map([1, 2, 3])
    rec.run(flow, {"work": ws})
    rec.run(flow, {"work": ws})


@scenario("cache/parameter_validators")
def _(pf, rec):
    v = pf.validators
    tasks = {
        "all_parameters": _counted(pf, rec, "all_parameters", cache_for=HOUR, cache_validator=v.all_parameters),
        "partial_parameters": _counted(pf, rec, "partial_parameters", cache_for=HOUR,
                                       cache_validator=v.partial_parameters_only(["p"])),
        "partial_inputs": _counted(pf, rec, "partial_inputs", cache_for=HOUR,
                                   cache_validator=v.partial_inputs_only(["x"])),
    }
    with pf.Flow("cache-parameters") as flow:
        p, q = pf.Parameter("p"), pf.Parameter("q")
        named = {label: t(p, upstream_tasks=[q]) for label, t in tasks.items()}
    for p_, q_ in ((1, 1), (1, 2), (2, 2), (1, 1)):
        rec.run(flow, named, p=p_, q=q_)


@scenario("cache/cache_key_shared_by_two_flows")
def _(pf, rec):
    one = _counted(pf, rec, "one", 1, cache_for=HOUR, cache_key="shared")
    two = _counted(pf, rec, "two", 2, cache_for=HOUR, cache_key="shared")
    with pf.Flow("first") as f1:
        a = one(5)
    with pf.Flow("second") as f2:
        b = two(5)
    rec.run(f1, {"one": a})
    rec.run(f2, {"two": b})


@scenario("cache/default_key_is_the_task_name")
def _(pf, rec):
    first = _counted(pf, rec, "same_name", 1, cache_for=HOUR)
    second = _counted(pf, rec, "same_name", 2, cache_for=HOUR)
    with pf.Flow("first") as f1:
        a = first(5)
    with pf.Flow("second") as f2:
        b = second(5)
    rec.run(f1, {"a": a})
    rec.run(f2, {"b": b})


@scenario("cache/retried_then_cached")
def _(pf, rec):
    attempts = []

    @pf.task(cache_for=HOUR, max_retries=1, retry_delay=ZERO, state_handlers=[rec.handler])
    def flaky():
        attempts.append(1)
        rec.call(len(attempts))
        if len(attempts) == 1:
            raise ValueError("once")
        return 5

    with pf.Flow("cache-retry") as flow:
        f = flaky()
    rec.run(flow, {"flaky": f})
    rec.run(flow, {"flaky": f})


@scenario("cache/mapped_child_retried_then_cached")
def _(pf, rec):
    failed = set()

    @pf.task(cache_for=HOUR, cache_validator=pf.validators.all_inputs, max_retries=1, retry_delay=ZERO,
             state_handlers=[rec.handler])
    def flaky(x):
        rec.call(x)
        if x == 2 and x not in failed:
            failed.add(x)
            raise ValueError("once")
        return x

    with pf.Flow("cache-retry-mapped") as flow:
        f = flaky.map([1, 2])
    rec.run(flow, {"flaky": f})
    rec.run(flow, {"flaky": f})


@scenario("cache/signals_and_failures")
def _(pf, rec):
    @pf.task(cache_for=HOUR, state_handlers=[rec.handler])
    def skips():
        rec.call("skips")
        raise pf.signals.SKIP("not today")

    @pf.task(cache_for=HOUR, state_handlers=[rec.handler])
    def succeeds():
        rec.call("succeeds")
        raise pf.signals.SUCCESS("fine", result=3)

    @pf.task(cache_for=HOUR, state_handlers=[rec.handler])
    def fails():
        rec.call("fails")
        raise ValueError("boom")

    with pf.Flow("cache-signals") as flow:
        named = {"skips": skips(), "succeeds": succeeds(), "fails": fails()}
    rec.run(flow, named)
    rec.run(flow, named)


@scenario("cache/upstream_skipped")
def _(pf, rec):
    lib = BASE._lib(pf)
    work = _counted(pf, rec, cache_for=HOUR)
    with pf.Flow("cache-upstream-skip") as flow:
        w = work(1, upstream_tasks=[lib.skip()])
    rec.run(flow, {"work": w})
    rec.run(flow, {"work": w})


@scenario("cache/reused_but_upstream_failed")
def _(pf, rec):
    fail = []

    @pf.task
    def up():
        if fail:
            raise ValueError("up")
        return 1

    work = _counted(pf, rec, cache_for=HOUR)
    with pf.Flow("cache-upstream-fails") as flow:
        w = work(1, upstream_tasks=[up()])
    rec.run(flow, {"work": w})
    fail.append(1)
    rec.run(flow, {"work": w})


@scenario("cache/never_use")
def _(pf, rec):
    never = pf.validators.never_use
    work = _counted(pf, rec, cache_for=HOUR, cache_validator=never)
    each = _counted(pf, rec, "each", cache_for=HOUR, cache_validator=never)
    with pf.Flow("cache-never") as flow:
        w = work(1)
        m = each.map([1, 2])
    rec.run(flow, {"work": w, "mapped": m})
    rec.run(flow, {"work": w, "mapped": m})


@scenario("cache/expired_entry_runs_again")
def _(pf, rec):
    work = _counted(pf, rec, cache_for=datetime.timedelta(microseconds=1))
    with pf.Flow("cache-expired") as flow:
        w = work(1)
    rec.run(flow, {"work": w})
    rec.run(flow, {"work": w})


@scenario("cache/handler_refuses_the_cached_state")
def _(pf, rec):
    def refuse(task, old, new):
        if type(new).__name__ == "Cached" and type(old).__name__ == "Success":
            return type(old)("refused", result=-1)
        return None

    def body(x):
        rec.call(x)
        return x

    work = pf.task(body, name="work", cache_for=HOUR, state_handlers=[refuse, rec.handler])
    with pf.Flow("cache-refused") as flow:
        w = work(1)
    rec.run(flow, {"work": w})
    rec.run(flow, {"work": w})


@scenario("handlers/mapped_parent")
def _(pf, rec):
    work = _counted(pf, rec)
    with pf.Flow("mapped-parent-handlers") as flow:
        ws = work.map([1, 2])
    rec.run(flow, {"work": ws})


@scenario("handlers/custom_trigger")
def _(pf, rec):
    def refuses(upstream_states):
        return False

    def skips(upstream_states):
        raise pf.signals.SKIP("not now")

    def raises(upstream_states):
        raise RuntimeError("trigger bug")

    lib = BASE._lib(pf)
    named = {}
    with pf.Flow("custom-triggers") as flow:
        for label, trigger in (("refuses", refuses), ("skips", skips), ("raises", raises)):
            t = _counted(pf, rec, label, trigger=trigger)
            named[label] = t(1, upstream_tasks=[lib.ok()])
        each = _counted(pf, rec, "each", trigger=refuses)
        named["mapped"] = each.map([1, 2])
    rec.run(flow, named)


@scenario("handlers/mapped_parent_refused")
def _(pf, rec):
    def to_failed(task, old, new):
        if type(new).__name__ == "Mapped":
            raise pf.signals.FAIL("no mapping today")

    def to_skipped(task, old, new):
        if type(new).__name__ == "Mapped":
            raise pf.signals.SKIP("not mapping")

    def body(x):
        rec.call(x)
        return x

    lib = BASE._lib(pf)
    failed = pf.task(body, name="failed", state_handlers=[to_failed, rec.handler])
    skipped = pf.task(body, name="skipped", state_handlers=[to_skipped, rec.handler])
    with pf.Flow("mapped-parent-refused") as flow:
        f = failed.map([1, 2])
        s = skipped.map([1, 2])
        named = {"failed": f, "skipped": s, "after_failed": lib.inc.map(f), "reduce_failed": lib.total(f),
                 "after_skipped": lib.inc.map(s)}
    rec.run(flow, named)

"""Scenarios shared by the Prefect 1.4.1 recorder and the ferroflow compat test.

Every scenario is a function ``build(pf) -> (flow, run_kwargs, named_tasks)``. It
builds a flow through the *namespace* ``pf`` only, so the very same code runs on
Prefect Core 1.4.1 (``prefect_namespace()``) and on ferroflow
(``ferroflow_namespace()``):

    pf.task, pf.Flow, pf.Parameter, pf.unmapped, pf.flatten, pf.mapped,
    pf.signals.{FAIL, SKIP, SUCCESS, RETRY, TRIGGERFAIL},
    pf.triggers.{all_successful, all_failed, any_successful, any_failed,
                 all_finished, always_run, some_successful, some_failed,
                 not_all_skipped}

plus the flow methods ``run``, ``set_reference_tasks``, ``add_task``, ``add_edge``,
``set_dependencies`` and ``chain``. ``named_tasks`` maps a label to a task whose
final state is reported. ``run_scenario`` runs one scenario and returns a JSON-able
record; both sides use it, so recording and checking cannot drift apart.

This module must not import prefect or ferroflow at import time.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

__all__ = [
    "SCENARIOS",
    "SCENARIO_TAGS",
    "FERROFLOW_STATE_NAMES",
    "PREFECT_TO_FERROFLOW_STATE",
    "SIGNAL_NAMES",
    "prefect_namespace",
    "ferroflow_namespace",
    "normalize",
    "run_scenario",
]

Build = Callable[[Any], tuple[Any, dict[str, Any], dict[str, Any]]]

SCENARIOS: dict[str, Build] = {}
# Free-form tags per scenario. "warns": the scenario may emit a warning by design.
SCENARIO_TAGS: dict[str, tuple[str, ...]] = {}

# ferroflow.states.__all__
FERROFLOW_STATE_NAMES = (
    "State", "Pending", "Scheduled", "Paused", "Retrying", "Running", "Finished",
    "Success", "Cached", "Mapped", "Skipped", "Failed", "TriggerFailed", "TimedOut",
    "Cancelled",
)
# Prefect 1.4.1 state classes without a ferroflow class of the same name. None of
# them can be reached by the scenarios below (the recorder refuses to write any state
# name outside FERROFLOW_STATE_NAMES); listed for reference.
PREFECT_TO_FERROFLOW_STATE = {
    "Submitted": None,        # backend-only (agent submission)
    "Queued": None,           # backend concurrency limits
    "Resume": None,           # manual_only / PAUSE resumption (not supported)
    "Looped": None,           # LOOP: see scenarios_control_flow.py
    "ClientFailed": None,     # backend API failure
    "ValidationFailed": None, # deprecated result validators
    "Cancelling": None,       # backend cancellation in progress
}
SIGNAL_NAMES = ("FAIL", "TRIGGERFAIL", "SKIP", "SUCCESS", "RETRY", "PAUSE", "LOOP",
                "VALIDATIONFAIL")

ZERO = datetime.timedelta(0)


# ---------------------------------------------------------------------------
# namespaces
# ---------------------------------------------------------------------------

def _namespace(lib, task, Flow, Parameter, unmapped, flatten, mapped, signals, triggers):
    return SimpleNamespace(
        lib=lib,
        task=task,
        Flow=Flow,
        Parameter=Parameter,
        unmapped=unmapped,
        flatten=flatten,
        mapped=mapped,
        signals=SimpleNamespace(
            FAIL=signals.FAIL,
            SKIP=signals.SKIP,
            SUCCESS=signals.SUCCESS,
            RETRY=signals.RETRY,
            TRIGGERFAIL=signals.TRIGGERFAIL,
        ),
        triggers=SimpleNamespace(
            all_successful=triggers.all_successful,
            all_failed=triggers.all_failed,
            any_successful=triggers.any_successful,
            any_failed=triggers.any_failed,
            all_finished=triggers.all_finished,
            always_run=triggers.always_run,
            some_successful=triggers.some_successful,
            some_failed=triggers.some_failed,
            not_all_skipped=triggers.not_all_skipped,
        ),
    )


def prefect_namespace() -> SimpleNamespace:
    from prefect import Flow, Parameter, flatten, mapped, task, triggers, unmapped
    from prefect.engine import signals

    return _namespace("prefect", task, Flow, Parameter, unmapped, flatten, mapped,
                      signals, triggers)


def ferroflow_namespace() -> SimpleNamespace:
    from ferroflow import Flow, Parameter, flatten, mapped, signals, task, triggers, unmapped

    return _namespace("ferroflow", task, Flow, Parameter, unmapped, flatten, mapped,
                      signals, triggers)


# ---------------------------------------------------------------------------
# normalization and recording (shared by both sides)
# ---------------------------------------------------------------------------

def normalize(value: Any) -> Any:
    """A JSON-able, library-independent rendering of a task result.

    * exceptions (incl. signals): ``{"__exception__": type name, "message": str(exc)}``
    * None, bool, int, str, finite float: as is
    * list: list; tuple: ``{"__tuple__": [...]}``; set/frozenset: ``{"__set__": sorted}``
    * dict: plain dict when every key is a str not starting with "__", else
      ``{"__dict__": [[key, value], ...]}`` sorted by repr of the normalized key
    * anything else: ``{"__repr__": repr(value)}``
    """
    if isinstance(value, BaseException):
        return {"__exception__": type(value).__name__, "message": str(value)}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__repr__": repr(value)}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [normalize(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((normalize(v) for v in value), key=repr)}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: normalize(v) for k, v in value.items()}
        items = [[normalize(k), normalize(v)] for k, v in value.items()]
        return {"__dict__": sorted(items, key=lambda kv: repr(kv[0]))}
    return {"__repr__": repr(value)}


ENGINE_MESSAGE_PREFIXES = (
    "Upstream task was skipped",
    "All upstreams were skipped",
    "No upstream states can be mapped over.",
    "At least one upstream state has an unmappable result.",
    "Trigger was ",
    "Trigger failed",
    "Unexpected error while checking task trigger",
)


GENERIC_MESSAGES = ("Task run succeeded.", "Ready to proceed with mapping.")


def message_kind(state: Any) -> str:
    """How a state's message came about (decides whether the test compares it).

    * ``engine``: generated by the engine's own logic (triggers, skip propagation,
      mapping checks) -- always compared;
    * ``user``: a failure from a user exception ("Error during execution of task:
      ValueError('boom')") -- compared through the result's type and str only;
    * ``generic``: fixed bookkeeping text ("Task run succeeded.", "Ready to proceed
      with mapping.", "Retrying Task (after attempt 1 of 2)") -- compared only with
      FERROFLOW_COMPAT_STRICT=1;
    * ``signal``: anything else, i.e. the message of a signal the user raised
      (``FAIL("x")`` -> "x", ``FAIL()`` -> None) -- always compared.
    """
    name = type(state).__name__
    msg = state.message
    if name == "TriggerFailed":
        return "engine"
    if isinstance(msg, str) and msg.startswith(ENGINE_MESSAGE_PREFIXES):
        return "engine"
    if isinstance(msg, str) and msg.startswith("Error during execution of task:"):
        return "user"
    if msg in GENERIC_MESSAGES or (
            isinstance(msg, str) and msg.startswith("Retrying Task (after attempt")):
        return "generic"
    return "signal"


def _state_record(state: Any) -> dict[str, Any]:
    rec = {
        "state": type(state).__name__,
        "message": state.message if isinstance(state.message, (str, type(None)))
        else repr(state.message),
        "message_kind": message_kind(state),
        "result": normalize(state.result),
    }
    if state.is_mapped():
        rec["children"] = [_state_record(child) for child in state.map_states]
    return rec


def run_scenario(pf: SimpleNamespace, name: str) -> dict[str, Any]:
    """Build and run scenario ``name`` with namespace ``pf``; return its record."""
    flow, run_kwargs, named = SCENARIOS[name](pf)
    try:
        flow_state = flow.run(**run_kwargs)
    except Exception as exc:  # flow.run itself refused (e.g. bad parameters)
        return {
            "flow": {
                "raises": {
                    "type": type(exc).__name__,
                    "mro": [c.__name__ for c in type(exc).__mro__],
                    "message": str(exc),
                }
            },
            "tasks": {},
        }
    all_states = flow_state.result
    if not (hasattr(all_states, "items") and hasattr(all_states, "get")):
        # an engine error instead of {task: state}
        all_states = {}
    record: dict[str, Any] = {
        "flow": {
            "state": type(flow_state).__name__,
            "message": flow_state.message,
            # (task name, state class) for every entry of flow_state.result; only
            # compared with FERROFLOW_COMPAT_STRICT=1 (see FINDINGS.md).
            "result_inventory": sorted(
                [getattr(t, "name", repr(t)), type(s).__name__]
                for t, s in all_states.items()
            ),
        },
        "tasks": {},
    }
    for label, t in named.items():
        state = all_states.get(t)
        record["tasks"][label] = (
            {"state": None, "message": None, "message_kind": "missing", "result": None}
            if state is None else _state_record(state)
        )
    return record


# ---------------------------------------------------------------------------
# registry helpers
# ---------------------------------------------------------------------------

def scenario(name: str, *tags: str):
    def register(fn: Build) -> Build:
        if name in SCENARIOS:
            raise ValueError(f"duplicate scenario {name!r}")
        SCENARIOS[name] = fn
        SCENARIO_TAGS[name] = tuple(tags)
        return fn

    return register


def _add(name: str, fn: Build, *tags: str) -> None:
    scenario(name, *tags)(fn)


# ---------------------------------------------------------------------------
# shared task templates
# ---------------------------------------------------------------------------

def _lib(pf) -> SimpleNamespace:
    """Fresh task templates bound to ``pf`` (fresh closures for every build)."""
    task = pf.task

    @task
    def ok():
        return 1

    @task
    def fail():
        raise ValueError("boom")

    @task
    def skip():
        raise pf.signals.SKIP("skip me")

    @task
    def trigfail():
        raise pf.signals.TRIGGERFAIL("forced trigger failure")

    @task
    def const(v):
        return v

    @task
    def inc(x):
        return x + 1

    @task
    def add(x, y):
        return x + y

    @task
    def total(xs):
        return sum(xs)

    @task
    def ident(x):
        return x

    @task
    def listify(xs):
        return list(xs)

    @task
    def nums():
        return [1, 2, 3]

    @task
    def empty():
        return []

    @task
    def fail_on_2(x):
        if x == 2:
            raise ValueError(f"bad {x}")
        return x * 10

    @task
    def skip_on_2(x):
        if x == 2:
            raise pf.signals.SKIP(f"skip {x}")
        return x * 10

    @task
    def rng(n):
        return list(range(n))

    @task
    def noop():
        return None

    return SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("pf", "task")})


# ---------------------------------------------------------------------------
# 1. trigger matrix
# ---------------------------------------------------------------------------

# upstream mixes: "const" is a keyed constant input; the others are upstream tasks
MIXES = {
    "none": (),
    "const": ("const",),
    "ok": ("ok",),
    "fail": ("fail",),
    "skip": ("skip",),
    "trigfail": ("trigfail",),
    "ok+ok": ("ok", "ok"),
    "ok+fail": ("ok", "fail"),
    "ok+skip": ("ok", "skip"),
    "fail+fail": ("fail", "fail"),
    "fail+skip": ("fail", "skip"),
    "skip+skip": ("skip", "skip"),
    "ok+trigfail": ("ok", "trigfail"),
    "const+fail": ("const", "fail"),
    "const+skip": ("const", "skip"),
    "ok+fail+skip": ("ok", "fail", "skip"),
}

MATRIX_TRIGGERS = {
    "all_successful": lambda pf: pf.triggers.all_successful,
    "all_failed": lambda pf: pf.triggers.all_failed,
    "any_successful": lambda pf: pf.triggers.any_successful,
    "any_failed": lambda pf: pf.triggers.any_failed,
    "all_finished": lambda pf: pf.triggers.all_finished,
    "not_all_skipped": lambda pf: pf.triggers.not_all_skipped,
    "some_successful(1,None)": lambda pf: pf.triggers.some_successful(at_least=1),
    "some_failed(1,None)": lambda pf: pf.triggers.some_failed(at_least=1),
}


def _probe(pf, trigger, skip_on_upstream_skip=True):
    @pf.task(trigger=trigger, skip_on_upstream_skip=skip_on_upstream_skip)
    def probe(a=None, b=None, c=None, d=None):
        # returns what it received, so the record shows how each upstream state's
        # result is passed downstream (exceptions, signals, None)
        return [a, b, c, d]

    return probe


def _matrix_data(trigger_name: str, mix: tuple[str, ...], sous: bool) -> Build:
    """Upstreams connected as *data* edges a, b, c, d."""

    def build(pf):
        lib = _lib(pf)
        probe = _probe(pf, MATRIX_TRIGGERS[trigger_name](pf), sous)
        named = {}
        with pf.Flow("matrix") as flow:
            kwargs = {}
            for key, kind in zip("abcd", mix, strict=False):
                if kind == "const":
                    kwargs[key] = 7
                else:
                    up = getattr(lib, kind)()
                    named[f"up_{key}_{kind}"] = up
                    kwargs[key] = up
            named["probe"] = probe(**kwargs)
        return flow, {}, named

    return build


def _matrix_state(trigger_name: str, mix: tuple[str, ...], sous: bool) -> Build:
    """Upstreams connected as state-only edges (upstream_tasks=[...])."""

    def build(pf):
        lib = _lib(pf)
        probe = _probe(pf, MATRIX_TRIGGERS[trigger_name](pf), sous)
        named = {}
        with pf.Flow("matrix-state") as flow:
            ups = []
            kwargs = {}
            for i, kind in enumerate(mix):
                if kind == "const":
                    kwargs["a"] = 7
                else:
                    up = getattr(lib, kind)()
                    named[f"up_{i}_{kind}"] = up
                    ups.append(up)
            named["probe"] = probe(upstream_tasks=ups, **kwargs)
        return flow, {}, named

    return build


for _tname in MATRIX_TRIGGERS:
    for _mname, _mix in MIXES.items():
        _add(f"trigger/{_tname}/data/{_mname}", _matrix_data(_tname, _mix, True))
        if "skip" in _mix:
            _add(f"trigger/{_tname}/data/{_mname}/no_skip_propagation",
                 _matrix_data(_tname, _mix, False))
    for _mname in ("ok+fail", "fail", "skip", "const+fail", "ok+trigfail"):
        _add(f"trigger/{_tname}/state_only/{_mname}",
             _matrix_state(_tname, MIXES[_mname], True))

# always_run is all_finished under another name; a few spot checks
for _mname in ("none", "const", "fail", "ok+fail", "skip"):
    def _always(pf, _mix=MIXES[_mname]):
        return _matrix_data("all_finished", _mix, True)(pf)
    _add(f"trigger/always_run/data/{_mname}", _always)


# ---------------------------------------------------------------------------
# 2. some_successful / some_failed thresholds
# ---------------------------------------------------------------------------

THRESHOLDS = {
    "1,None": (1, None),
    "None,1": (None, 1),
    "0.5,None": (0.5, None),
    "None,0.5": (None, 0.5),
    "2,2": (2, 2),
    "None,None": (None, None),
    "0,0": (0, 0),
    "0.75,1": (0.75, 1),
}
THRESHOLD_MIXES = {
    "none": (),
    "const": ("const",),
    "ok+fail": ("ok", "fail"),
    "ok+ok+fail": ("ok", "ok", "fail"),
    "ok+fail+fail+fail": ("ok", "fail", "fail", "fail"),
}


def _threshold(kind: str, bounds, mix) -> Build:
    def build(pf):
        lib = _lib(pf)
        factory = getattr(pf.triggers, kind)
        trigger = factory(at_least=bounds[0], at_most=bounds[1])
        probe = _probe(pf, trigger)
        named = {}
        with pf.Flow("thresholds") as flow:
            kwargs = {}
            for key, k in zip("abcd", mix, strict=False):
                kwargs[key] = 7 if k == "const" else getattr(lib, k)()
            named["probe"] = probe(**kwargs)
        return flow, {}, named

    return build


for _kind in ("some_successful", "some_failed"):
    for _bname, _bounds in THRESHOLDS.items():
        for _mname, _mix in THRESHOLD_MIXES.items():
            _add(f"threshold/{_kind}({_bname})/{_mname}", _threshold(_kind, _bounds, _mix))


# ---------------------------------------------------------------------------
# 3. skips and signals
# ---------------------------------------------------------------------------

@scenario("skip/chain_propagates")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("skip-chain") as flow:
        s = lib.skip()
        a = lib.ident(s)
        b = lib.ident(a)
    return flow, {}, {"skip": s, "a": a, "b": b}


@scenario("skip/propagates_through_state_only_edge")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("skip-state-edge") as flow:
        s = lib.skip()
        a = lib.ok(upstream_tasks=[s])
    return flow, {}, {"skip": s, "a": a}


@scenario("skip/no_skip_propagation_receives_signal")
def _(pf):
    lib = _lib(pf)

    @pf.task(skip_on_upstream_skip=False)
    def show(x):
        return x

    with pf.Flow("skip-sous") as flow:
        s = lib.skip()
        a = show(s)
        b = lib.ident(a)
    return flow, {}, {"skip": s, "a": a, "b": b}


@scenario("skip/no_skip_propagation_then_default")
def _(pf):
    lib = _lib(pf)

    @pf.task(skip_on_upstream_skip=False)
    def show(x):
        return "ran"

    with pf.Flow("skip-sous2") as flow:
        s = lib.skip()
        a = show(s)
        b = lib.ident(upstream_tasks=[a, s], x=1)
    return flow, {}, {"skip": s, "a": a, "b": b}


@scenario("skip/skip_with_result")
def _(pf):
    @pf.task
    def skipper():
        raise pf.signals.SKIP("skip with result", result=5)

    @pf.task(skip_on_upstream_skip=False)
    def show(x):
        return x

    with pf.Flow("skip-result") as flow:
        s = skipper()
        a = show(s)
    return flow, {}, {"skip": s, "a": a}


@scenario("skip/not_all_skipped_all_skipped")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.not_all_skipped, skip_on_upstream_skip=False)
    def merge(a, b):
        return [a, b]

    with pf.Flow("nas") as flow:
        m = merge(lib.skip(), lib.skip())
        after = lib.ident(m)
    return flow, {}, {"merge": m, "after": after}


@scenario("skip/not_all_skipped_one_branch")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.not_all_skipped, skip_on_upstream_skip=False)
    def merge(a, b):
        return a if a is not None and not isinstance(a, BaseException) else b

    with pf.Flow("nas2") as flow:
        m = merge(lib.skip(), lib.ok())
    return flow, {}, {"merge": m}


@scenario("skip/not_all_skipped_default_skip_on_upstream_skip")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.not_all_skipped)
    def merge(a, b):
        return "ran"

    with pf.Flow("nas3") as flow:
        m = merge(lib.skip(), lib.ok())
    return flow, {}, {"merge": m}


@scenario("signal/fail_with_message")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def failer():
        raise pf.signals.FAIL("custom failure")

    with pf.Flow("sig-fail") as flow:
        f = failer()
        d = lib.ident(f)
        c = lib.ident(f, task_args=dict(trigger=pf.triggers.all_failed))
    return flow, {}, {"fail": f, "downstream": d, "on_failure": c}


@scenario("signal/fail_without_message")
def _(pf):
    @pf.task
    def failer():
        raise pf.signals.FAIL()

    with pf.Flow("sig-fail-none") as flow:
        f = failer()
    return flow, {}, {"fail": f}


@scenario("signal/success_with_result")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def succeeder():
        raise pf.signals.SUCCESS("early success", result=42)

    with pf.Flow("sig-success") as flow:
        s = succeeder()
        d = lib.inc(s)
    return flow, {}, {"success": s, "downstream": d}


@scenario("signal/success_without_result")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def succeeder():
        raise pf.signals.SUCCESS("no result given")

    with pf.Flow("sig-success-none") as flow:
        s = succeeder()
        d = lib.ident(s)
    return flow, {}, {"success": s, "downstream": d}


@scenario("signal/success_result_none")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def succeeder():
        raise pf.signals.SUCCESS(result=None)

    with pf.Flow("sig-success-result-none") as flow:
        s = succeeder()
        d = lib.ident(s)
    return flow, {}, {"success": s, "downstream": d}


@scenario("signal/skip_in_middle")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def maybe(x):
        if x > 0:
            raise pf.signals.SKIP("positive")
        return x

    with pf.Flow("sig-skip") as flow:
        a = lib.ok()
        m = maybe(a)
        d = lib.ident(m)
        e = lib.ident(d, task_args=dict(trigger=pf.triggers.all_finished))
    return flow, {}, {"a": a, "maybe": m, "d": d, "e": e}


@scenario("signal/triggerfail_raised_in_task_downstream")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("sig-tf") as flow:
        t = lib.trigfail()
        d = lib.ident(t)
        f = lib.ident(t, task_args=dict(trigger=pf.triggers.all_failed))
    return flow, {}, {"trigfail": t, "downstream": d, "all_failed": f}


@scenario("signal/retry_once_then_succeed")
def _(pf):
    calls = []

    @pf.task
    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise pf.signals.RETRY("retry please")
        return len(calls)

    with pf.Flow("sig-retry") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("signal/retry_bypasses_max_retries")
def _(pf):
    calls = []

    @pf.task(max_retries=1, retry_delay=ZERO)
    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise pf.signals.RETRY("again")
        return len(calls)

    with pf.Flow("sig-retry-bypass") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("signal/retry_signal_consumes_retry_budget")
def _(pf):
    calls = []

    @pf.task(max_retries=1, retry_delay=ZERO)
    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise pf.signals.RETRY("explicit retry")
        if len(calls) == 2:
            raise ValueError(f"attempt {len(calls)}")
        return len(calls)

    with pf.Flow("sig-retry-budget") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("signal/fail_signal_is_retried")
def _(pf):
    calls = []

    @pf.task(max_retries=2, retry_delay=ZERO)
    def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise pf.signals.FAIL(f"attempt {len(calls)}")
        return len(calls)

    with pf.Flow("sig-fail-retried") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("signal/triggerfail_raised_in_task_with_retries")
def _(pf):
    calls = []

    @pf.task(max_retries=2, retry_delay=ZERO)
    def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise pf.signals.TRIGGERFAIL(f"attempt {len(calls)}")
        return len(calls)

    with pf.Flow("sig-tf-retried") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("signal/skip_not_retried")
def _(pf):
    calls = []

    @pf.task(max_retries=2, retry_delay=ZERO)
    def skipper():
        calls.append(1)
        raise pf.signals.SKIP(f"attempt {len(calls)}")

    with pf.Flow("sig-skip-noretry") as flow:
        t = skipper()
    return flow, {}, {"skipper": t}


# ---------------------------------------------------------------------------
# 4. retries
# ---------------------------------------------------------------------------

@scenario("retry/fails_twice_then_succeeds")
def _(pf):
    lib = _lib(pf)
    calls = []

    @pf.task(max_retries=2, retry_delay=ZERO)
    def flaky():
        calls.append(1)
        if len(calls) <= 2:
            raise ValueError(f"attempt {len(calls)}")
        return len(calls)

    with pf.Flow("retry-ok") as flow:
        t = flaky()
        d = lib.inc(t)
    return flow, {}, {"flaky": t, "downstream": d}


@scenario("retry/exhausted")
def _(pf):
    lib = _lib(pf)
    calls = []

    @pf.task(max_retries=2, retry_delay=ZERO)
    def flaky():
        calls.append(1)
        raise ValueError(f"attempt {len(calls)}")

    with pf.Flow("retry-exhausted") as flow:
        t = flaky()
        d = lib.inc(t)
    return flow, {}, {"flaky": t, "downstream": d}


@scenario("retry/one_retry_not_enough")
def _(pf):
    calls = []

    @pf.task(max_retries=1, retry_delay=ZERO)
    def flaky():
        calls.append(1)
        if len(calls) <= 2:
            raise ValueError(f"attempt {len(calls)}")
        return len(calls)

    with pf.Flow("retry-1") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("retry/tiny_delay")
def _(pf):
    calls = []

    @pf.task(max_retries=1, retry_delay=datetime.timedelta(milliseconds=1))
    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first")
        return len(calls)

    with pf.Flow("retry-tiny") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("retry/retry_on_matching")
def _(pf):
    calls = []

    @pf.task(max_retries=2, retry_delay=ZERO, retry_on=ValueError)
    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("match")
        return len(calls)

    with pf.Flow("retry-on-match") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("retry/retry_on_subclass_matching")
def _(pf):
    calls = []

    @pf.task(max_retries=2, retry_delay=ZERO, retry_on=LookupError)
    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("k")
        return len(calls)

    with pf.Flow("retry-on-sub") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("retry/retry_on_not_matching")
def _(pf):
    calls = []

    @pf.task(max_retries=2, retry_delay=ZERO, retry_on=KeyError)
    def flaky():
        calls.append(1)
        raise ValueError(f"attempt {len(calls)}")

    with pf.Flow("retry-on-nomatch") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("retry/retry_on_list")
def _(pf):
    calls = []

    @pf.task(max_retries=3, retry_delay=ZERO, retry_on=[KeyError, ValueError])
    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("one")
        if len(calls) == 2:
            raise ValueError("two")
        if len(calls) == 3:
            raise TypeError("three")
        return len(calls)

    with pf.Flow("retry-on-list") as flow:
        t = flaky()
    return flow, {}, {"flaky": t}


@scenario("retry/downstream_waits_for_retries")
def _(pf):
    calls = []

    @pf.task(max_retries=3, retry_delay=ZERO)
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("not yet")
        return len(calls)

    @pf.task
    def other():
        return "other"

    @pf.task
    def both(a, b):
        return [a, b]

    with pf.Flow("retry-downstream") as flow:
        f = flaky()
        o = other()
        b = both(f, o)
    return flow, {}, {"flaky": f, "other": o, "both": b}


@scenario("retry/triggerfailed_never_retried")
def _(pf):
    lib = _lib(pf)
    calls = []

    @pf.task(max_retries=2, retry_delay=ZERO)
    def down(x):
        calls.append(1)
        return len(calls)

    @pf.task(trigger=pf.triggers.all_finished)
    def count_calls(x):
        return len(calls)

    with pf.Flow("retry-tf") as flow:
        f = lib.fail()
        d = down(f)
        c = count_calls(d)
    return flow, {}, {"down": d, "calls": c}


@scenario("retry/mapped_child_retries")
def _(pf):
    attempts: dict[int, int] = {}

    @pf.task(max_retries=2, retry_delay=ZERO)
    def flaky(x):
        attempts[x] = attempts.get(x, 0) + 1
        if x == 2 and attempts[x] < 3:
            raise ValueError(f"child {x} attempt {attempts[x]}")
        return [x, attempts[x]]

    @pf.task
    def collect(xs):
        return xs

    with pf.Flow("retry-mapped") as flow:
        m = flaky.map([1, 2, 3])
        c = collect(m)
    return flow, {}, {"mapped": m, "collect": c}


@scenario("retry/mapped_child_exhausted")
def _(pf):
    attempts: dict[int, int] = {}

    @pf.task(max_retries=1, retry_delay=ZERO)
    def flaky(x):
        attempts[x] = attempts.get(x, 0) + 1
        if x == 2:
            raise ValueError(f"child {x} attempt {attempts[x]}")
        return [x, attempts[x]]

    @pf.task(trigger=pf.triggers.all_finished)
    def collect(xs):
        return xs

    with pf.Flow("retry-mapped-exhausted") as flow:
        m = flaky.map([1, 2, 3])
        c = collect(m)
    return flow, {}, {"mapped": m, "collect": c}


# ---------------------------------------------------------------------------
# 5. reference tasks and flow final state
# ---------------------------------------------------------------------------

@scenario("flow/empty")
def _(pf):
    flow = pf.Flow("empty")
    return flow, {}, {}


@scenario("flow/all_ok")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("ok") as flow:
        a = lib.ok()
        b = lib.inc(a)
    return flow, {}, {"a": a, "b": b}


@scenario("flow/terminal_failure")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("terminal-fail") as flow:
        a = lib.ok()
        b = lib.fail(upstream_tasks=[a])
    return flow, {}, {"a": a, "b": b}


@scenario("flow/terminal_skipped")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("terminal-skip") as flow:
        s = lib.skip()
    return flow, {}, {"skip": s}


@scenario("flow/nonterminal_failure_handled")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.any_failed)
    def handler():
        return "handled"

    with pf.Flow("handled") as flow:
        f = lib.fail()
        h = handler(upstream_tasks=[f])
    return flow, {}, {"fail": f, "handler": h}


@scenario("flow/reference_task_success_despite_failure")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("ref-ok") as flow:
        a = lib.ok()
        f = lib.fail()
    flow.set_reference_tasks([a])
    return flow, {}, {"a": a, "fail": f}


@scenario("flow/reference_task_failed_terminal_ok")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.all_finished)
    def cleanup():
        return "cleaned"

    with pf.Flow("ref-fail") as flow:
        f = lib.fail()
        c = cleanup(upstream_tasks=[f])
    flow.set_reference_tasks([f])
    return flow, {}, {"fail": f, "cleanup": c}


@scenario("flow/reference_task_skipped")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("ref-skip") as flow:
        s = lib.skip()
        f = lib.fail()
    flow.set_reference_tasks([s])
    return flow, {}, {"skip": s, "fail": f}


@scenario("flow/reference_task_triggerfailed")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.all_failed)
    def on_fail():
        return "x"

    with pf.Flow("ref-tf") as flow:
        a = lib.ok()
        t = on_fail(upstream_tasks=[a])
    flow.set_reference_tasks([t])
    return flow, {}, {"a": a, "on_fail": t}


@scenario("flow/reference_mapped_with_failed_child")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("ref-mapped") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
        c = lib.ok()
    flow.set_reference_tasks([m])
    return flow, {}, {"mapped": m, "c": c}


@scenario("flow/reference_mapped_zero_children")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("ref-mapped-empty") as flow:
        m = lib.inc.map(lib.empty())
        f = lib.fail()
    flow.set_reference_tasks([m])
    return flow, {}, {"mapped": m, "fail": f}


@scenario("flow/terminal_mapped_with_failed_child")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("terminal-mapped") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
    return flow, {}, {"mapped": m}


@scenario("flow/terminal_mapped_with_skipped_child")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("terminal-mapped-skip") as flow:
        m = lib.skip_on_2.map([1, 2, 3])
    return flow, {}, {"mapped": m}


@scenario("flow/set_reference_tasks_empty_list")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("ref-empty-list") as flow:
        f = lib.fail()
    flow.set_reference_tasks([])
    return flow, {}, {"fail": f}


@scenario("flow/only_parameter", "warns")
def _(pf):
    with pf.Flow("only-param") as flow:
        p = pf.Parameter("p", default=3)
    return flow, {}, {"p": p}


# ---------------------------------------------------------------------------
# 6. parameters
# ---------------------------------------------------------------------------

@scenario("param/default")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("param-default") as flow:
        p = pf.Parameter("x", default=2)
        r = lib.inc(p)
    return flow, {}, {"x": p, "r": r}


@scenario("param/passed_via_parameters")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("param-passed") as flow:
        p = pf.Parameter("x", default=2)
        r = lib.inc(p)
    return flow, {"parameters": {"x": 10}}, {"x": p, "r": r}


@scenario("param/passed_as_kwarg")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("param-kwarg") as flow:
        p = pf.Parameter("x", default=2)
        r = lib.inc(p)
    return flow, {"x": 20}, {"x": p, "r": r}


@scenario("param/required_passed")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("param-required") as flow:
        p = pf.Parameter("x")
        r = lib.inc(p)
    return flow, {"parameters": {"x": 1}}, {"x": p, "r": r}


@scenario("param/default_none")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("param-none") as flow:
        p = pf.Parameter("x", default=None)
        r = lib.ident(p)
    return flow, {}, {"x": p, "r": r}


@scenario("param/required_missing_raises")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("param-missing") as flow:
        p = pf.Parameter("x")
        r = lib.inc(p)
    return flow, {}, {"x": p, "r": r}


@scenario("param/unknown_raises")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("param-unknown") as flow:
        p = pf.Parameter("x", default=1)
        r = lib.inc(p)
    return flow, {"parameters": {"y": 1}}, {"x": p, "r": r}


@scenario("param/two_parameters")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("param-two") as flow:
        a = pf.Parameter("a", default=1)
        b = pf.Parameter("b", default=2)
        r = lib.add(a, b)
    return flow, {"parameters": {"b": 40}}, {"a": a, "b": b, "r": r}


@scenario("param/structured_value")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("param-structured") as flow:
        p = pf.Parameter("cfg", default={"k": [1, 2]})
        r = lib.ident(p)
    return flow, {"parameters": {"cfg": {"k": [3], "z": None}}}, {"cfg": p, "r": r}


# ---------------------------------------------------------------------------
# 7. mapping
# ---------------------------------------------------------------------------

@scenario("map/list")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-list") as flow:
        m = lib.inc.map([1, 2, 3])
    return flow, {}, {"mapped": m}


@scenario("map/empty_list")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-empty") as flow:
        m = lib.inc.map([])
        r = lib.listify(m)
    return flow, {}, {"mapped": m, "reduce": r}


@scenario("map/empty_task_result")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-empty-task") as flow:
        e = lib.empty()
        m = lib.inc.map(e)
        m2 = lib.inc.map(m)
        r = lib.total(m2)
    return flow, {}, {"empty": e, "mapped": m, "mapped2": m2, "reduce": r}


@scenario("map/over_task_result")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-task") as flow:
        n = lib.nums()
        m = lib.inc.map(n)
    return flow, {}, {"nums": n, "mapped": m}


@scenario("map/over_parameter")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-param") as flow:
        xs = pf.Parameter("xs", default=[1, 2])
        m = lib.inc.map(xs)
        r = lib.total(m)
    return flow, {"parameters": {"xs": [5, 6, 7]}}, {"xs": xs, "mapped": m, "reduce": r}


@scenario("map/over_parameter_default")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-param-default") as flow:
        xs = pf.Parameter("xs", default=[1, 2])
        m = lib.inc.map(xs)
    return flow, {}, {"xs": xs, "mapped": m}


@scenario("map/unequal_lengths_zip_shortest")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-unequal") as flow:
        m = lib.add.map([1, 2, 3], [10, 20])
    return flow, {}, {"mapped": m}


@scenario("map/unequal_lengths_mapped_upstreams")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-unequal-mapped") as flow:
        a = lib.inc.map([1, 2, 3, 4])
        b = lib.inc.map([10, 20])
        m = lib.add.map(a, b)
    return flow, {}, {"a": a, "b": b, "mapped": m}


@scenario("map/keyword_mapping")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-kw") as flow:
        m = lib.add.map(x=[1, 2], y=[3, 4])
    return flow, {}, {"mapped": m}


@scenario("map/chain")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-chain") as flow:
        a = lib.inc.map([1, 2, 3])
        b = lib.inc.map(a)
        c = lib.inc.map(b)
    return flow, {}, {"a": a, "b": b, "c": c}


@scenario("map/reduce")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-reduce") as flow:
        a = lib.inc.map([1, 2, 3])
        r = lib.total(a)
        listed = lib.listify(a)
    return flow, {}, {"a": a, "sum": r, "list": listed}


@scenario("map/failed_child_reduce_all_finished")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.all_finished)
    def collect(xs):
        return xs

    with pf.Flow("map-fail-reduce-af") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
        c = collect(m)
    return flow, {}, {"mapped": m, "collect": c}


@scenario("map/failed_child_reduce_all_successful")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-fail-reduce-as") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
        c = lib.listify(m)
    return flow, {}, {"mapped": m, "collect": c}


@scenario("map/failed_child_then_mapped")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-fail-chain") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
        m2 = lib.inc.map(m)
        m3 = lib.inc.map(m2)
    return flow, {}, {"mapped": m, "mapped2": m2, "mapped3": m3}


@scenario("map/failed_child_then_mapped_all_failed")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.all_failed)
    def recover(x):
        return f"recovered {x}"

    with pf.Flow("map-fail-recover") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
        r = recover.map(m)
    return flow, {}, {"mapped": m, "recover": r}


@scenario("map/children_any_failed")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.any_failed)
    def on_fail(x):
        return f"saw {x}"

    with pf.Flow("map-any-failed") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
        r = on_fail.map(m)
    return flow, {}, {"mapped": m, "on_fail": r}


@scenario("map/reduce_any_failed")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.any_failed)
    def on_fail(xs):
        return xs

    with pf.Flow("map-reduce-any-failed") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
        r = on_fail(m)
    return flow, {}, {"mapped": m, "reduce": r}


@scenario("map/reduce_some_successful_fraction")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.some_successful(at_least=0.6))
    def most(xs):
        return xs

    with pf.Flow("map-reduce-some") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
        r = most(m)
    return flow, {}, {"mapped": m, "reduce": r}


@scenario("map/reduce_some_failed_count")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.some_failed(at_most=1))
    def tolerant(xs):
        return xs

    with pf.Flow("map-reduce-some-failed") as flow:
        m = lib.fail_on_2.map([1, 2, 3, 2])
        r = tolerant(m)
    return flow, {}, {"mapped": m, "reduce": r}


@scenario("map/skipped_child")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-skip") as flow:
        m = lib.skip_on_2.map([1, 2, 3])
        m2 = lib.inc.map(m)
        r = lib.listify(m)
    return flow, {}, {"mapped": m, "mapped2": m2, "reduce": r}


@scenario("map/skipped_child_reduce_no_skip_propagation")
def _(pf):
    lib = _lib(pf)

    @pf.task(skip_on_upstream_skip=False)
    def collect(xs):
        return xs

    with pf.Flow("map-skip-sous") as flow:
        m = lib.skip_on_2.map([1, 2, 3])
        r = collect(m)
    return flow, {}, {"mapped": m, "reduce": r}


@scenario("map/skipped_child_mapped_no_skip_propagation")
def _(pf):
    lib = _lib(pf)

    @pf.task(skip_on_upstream_skip=False)
    def show(x):
        return x

    with pf.Flow("map-skip-sous-mapped") as flow:
        m = lib.skip_on_2.map([1, 2, 3])
        r = show.map(m)
    return flow, {}, {"mapped": m, "show": r}


@scenario("map/unmapped_constant")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-unmapped-const") as flow:
        m = lib.add.map([1, 2, 3], pf.unmapped(100))
    return flow, {}, {"mapped": m}


@scenario("map/unmapped_task")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-unmapped-task") as flow:
        o = lib.ok()
        m = lib.add.map(x=[1, 2, 3], y=pf.unmapped(o))
    return flow, {}, {"ok": o, "mapped": m}


@scenario("map/unmapped_list")
def _(pf):
    @pf.task
    def pair(x, ys):
        return [x, ys]

    with pf.Flow("map-unmapped-list") as flow:
        m = pair.map([1, 2], pf.unmapped([7, 8, 9]))
    return flow, {}, {"mapped": m}


@scenario("map/unmapped_mapped_task")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def pair(x, ys):
        return [x, ys]

    with pf.Flow("map-unmapped-mapped") as flow:
        a = lib.inc.map([1, 2])
        m = pair.map([10, 20, 30], pf.unmapped(a))
    return flow, {}, {"a": a, "mapped": m}


@scenario("map/unmapped_failed_task")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-unmapped-failed") as flow:
        f = lib.fail()
        m = lib.add.map([1, 2], pf.unmapped(f))
    return flow, {}, {"fail": f, "mapped": m}


@scenario("map/unmapped_failed_task_all_finished")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.all_finished)
    def pair(x, y):
        return [x, y]

    with pf.Flow("map-unmapped-failed-af") as flow:
        f = lib.fail()
        m = pair.map([1, 2], pf.unmapped(f))
    return flow, {}, {"mapped": m}


@scenario("map/mapped_annotation")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-mapped-annotation") as flow:
        m = lib.add(x=pf.mapped([1, 2, 3]), y=5)
    return flow, {}, {"mapped": m}


@scenario("map/mapped_annotation_task")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-mapped-annotation-task") as flow:
        n = lib.nums()
        m = lib.add(pf.mapped(n), 5)
    return flow, {}, {"mapped": m}


@scenario("map/flatten_list_of_lists")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-flatten-list") as flow:
        m = lib.inc.map(pf.flatten([[1, 2], [3], []]))
    return flow, {}, {"mapped": m}


@scenario("map/flatten_task_result")
def _(pf):
    @pf.task
    def nested():
        return [[1], [2, 3]]

    lib = _lib(pf)
    with pf.Flow("map-flatten-task") as flow:
        n = nested()
        m = lib.inc.map(pf.flatten(n))
    return flow, {}, {"nested": n, "mapped": m}


@scenario("map/flatten_mapped_children")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-flatten-children") as flow:
        r = lib.rng.map([1, 0, 3])
        m = lib.inc.map(pf.flatten(r))
    return flow, {}, {"ranges": r, "mapped": m}


@scenario("map/flatten_mapped_children_reduce")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-flatten-reduce") as flow:
        r = lib.rng.map([2, 3])
        t = lib.listify(pf.flatten(r))
    return flow, {}, {"ranges": r, "reduce": t}


@scenario("map/flatten_mapped_children_with_failed_child")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def rng_fail_on_2(n):
        if n == 2:
            raise ValueError("no range for 2")
        return list(range(n))

    @pf.task(trigger=pf.triggers.all_finished)
    def collect(xs):
        return xs

    with pf.Flow("map-flatten-failed-child") as flow:
        r = rng_fail_on_2.map([1, 2, 3])
        m = lib.inc.map(pf.flatten(r))
        c = collect(pf.flatten(r))
    return flow, {}, {"ranges": r, "mapped": m, "collect": c}


@scenario("map/flatten_mapped_children_with_skipped_child")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def rng_skip_on_2(n):
        if n == 2:
            raise pf.signals.SKIP("skip 2")
        return list(range(n))

    with pf.Flow("map-flatten-skipped-child") as flow:
        r = rng_skip_on_2.map([1, 2, 3])
        m = lib.inc.map(pf.flatten(r))
    return flow, {}, {"ranges": r, "mapped": m}


@scenario("map/flatten_reduce_trigger_counts_flattened")
def _(pf):
    @pf.task
    def rng_fail_on_2(n):
        if n == 2:
            raise ValueError("no range for 2")
        return list(range(n))

    @pf.task(trigger=pf.triggers.some_successful(at_least=0.6))
    def flat(xs):
        return xs

    @pf.task(trigger=pf.triggers.some_successful(at_least=0.6))
    def unflat(xs):
        return xs

    with pf.Flow("map-flatten-trigger") as flow:
        r = rng_fail_on_2.map([3, 2])
        f = flat(pf.flatten(r))
        u = unflat(r)
    return flow, {}, {"ranges": r, "flat": f, "unflat": u}


@scenario("map/flatten_strings_and_empty_children")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def chars(s):
        return s

    with pf.Flow("map-flatten-strings") as flow:
        c = chars.map(["ab", "", "c"])
        m = lib.ident.map(pf.flatten(c))
    return flow, {}, {"chars": c, "mapped": m}


@scenario("map/flatten_non_iterable_child", "warns")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-flatten-nonit") as flow:
        a = lib.inc.map([1, 2])
        m = lib.ident.map(pf.flatten(a))
    return flow, {}, {"a": a, "mapped": m}


@scenario("map/upstream_failed_no_upstream_states")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-upstream-failed") as flow:
        f = lib.fail()
        m = lib.inc.map(f)
        m2 = lib.inc.map(m)
        r = lib.listify(m)
        ra = lib.listify(m, task_args=dict(trigger=pf.triggers.all_finished))
    return flow, {}, {"fail": f, "mapped": m, "mapped2": m2, "reduce": r,
                      "reduce_all_finished": ra}


@scenario("map/upstream_triggerfailed")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-upstream-tf") as flow:
        f = lib.fail()
        n = lib.nums(upstream_tasks=[f])
        m = lib.inc.map(n)
    return flow, {}, {"nums": n, "mapped": m}


@scenario("map/two_mapped_upstreams_one_failed")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-two-one-failed") as flow:
        f = lib.fail()
        m = lib.add.map([1, 2, 3], f)
        af = lib.add.map([1, 2, 3], f, task_args=dict(trigger=pf.triggers.all_finished))
    return flow, {}, {"fail": f, "mapped": m, "mapped_all_finished": af}


@scenario("map/two_mapped_upstreams_both_failed")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-two-both-failed") as flow:
        m = lib.add.map(lib.fail(), lib.fail())
    return flow, {}, {"mapped": m}


@scenario("map/upstream_skipped")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-upstream-skipped") as flow:
        s = lib.skip()
        m = lib.inc.map(s)
        m2 = lib.inc.map(m)
    return flow, {}, {"skip": s, "mapped": m, "mapped2": m2}


@scenario("map/upstream_skipped_no_skip_propagation")
def _(pf):
    lib = _lib(pf)

    @pf.task(skip_on_upstream_skip=False)
    def show(x):
        return x

    with pf.Flow("map-upstream-skipped-sous") as flow:
        s = lib.skip()
        m = show.map(s)
    return flow, {}, {"skip": s, "mapped": m}


@scenario("map/non_subscriptable_result")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def five():
        return 5

    with pf.Flow("map-nonsub") as flow:
        f = five()
        m = lib.inc.map(f)
        r = lib.listify(m, task_args=dict(trigger=pf.triggers.all_finished))
    return flow, {}, {"five": f, "mapped": m, "reduce": r}


@scenario("map/non_subscriptable_none")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-nonsub-none") as flow:
        n = lib.noop()
        m = lib.ident.map(n)
    return flow, {}, {"mapped": m}


@scenario("map/over_string")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def word():
        return "abc"

    with pf.Flow("map-string") as flow:
        m = lib.ident.map(word())
    return flow, {}, {"mapped": m}


@scenario("map/over_tuple")
def _(pf):
    lib = _lib(pf)

    @pf.task
    def tup():
        return (1, 2)

    with pf.Flow("map-tuple") as flow:
        m = lib.inc.map(tup())
    return flow, {}, {"mapped": m}


@scenario("map/custom_trigger_on_children")
def _(pf):
    lib = _lib(pf)

    def only_if_failed_upstream(upstream_states):
        return any(s.is_failed() for s in upstream_states.values())

    @pf.task(trigger=only_if_failed_upstream)
    def rescue(x):
        return f"rescued {x}"

    with pf.Flow("map-custom-trigger") as flow:
        m = lib.fail_on_2.map([1, 2, 3])
        r = rescue.map(m)
    return flow, {}, {"mapped": m, "rescue": r}


@scenario("map/custom_trigger_sees_child_states_only")
def _(pf):
    lib = _lib(pf)

    def count_upstreams(upstream_states):
        n = len(upstream_states)
        if n != 2:
            raise pf.signals.TRIGGERFAIL(f"saw {n} upstream states")
        return True

    with pf.Flow("map-custom-trigger-count") as flow:
        a = lib.inc.map([1, 2])
        b = lib.inc.map([10, 20])
        m = lib.add.map(a, b, task_args=dict(trigger=count_upstreams))
    return flow, {}, {"mapped": m}


@scenario("map/reduce_zero_children_any_successful")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.any_successful)
    def collect(xs):
        return xs

    with pf.Flow("map-zero-any") as flow:
        m = lib.inc.map(lib.empty())
        r = collect(m)
    return flow, {}, {"mapped": m, "reduce": r}


@scenario("map/reduce_zero_children_triggers")
def _(pf):
    lib = _lib(pf)

    def mk(trigger):
        @pf.task(trigger=trigger)
        def collect(xs):
            return xs

        return collect

    with pf.Flow("map-zero-triggers") as flow:
        m = lib.inc.map(lib.empty())
        named = {"mapped": m}
        for label, trig in [
            ("all_successful", pf.triggers.all_successful),
            ("all_failed", pf.triggers.all_failed),
            ("any_successful", pf.triggers.any_successful),
            ("any_failed", pf.triggers.any_failed),
            ("all_finished", pf.triggers.all_finished),
            ("not_all_skipped", pf.triggers.not_all_skipped),
            ("some_successful_1", pf.triggers.some_successful(at_least=1)),
            ("some_failed_none", pf.triggers.some_failed()),
        ]:
            named[label] = mk(trig)(m)
    return flow, {}, named


@scenario("map/reduce_zero_children_state_only")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.any_successful)
    def after():
        return "after"

    with pf.Flow("map-zero-state-only") as flow:
        m = lib.inc.map([])
        r = after(upstream_tasks=[m])
    return flow, {}, {"mapped": m, "after": r}


@scenario("map/reduce_zero_children_plus_constant_any_successful")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.any_successful)
    def collect(xs, k):
        return [xs, k]

    with pf.Flow("map-zero-any-const") as flow:
        m = lib.inc.map([])
        r = collect(m, 3)
    return flow, {}, {"mapped": m, "reduce": r}


@scenario("map/state_only_upstream_is_mapped_over")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-upstream-tasks") as flow:
        n = lib.nums()  # [1, 2, 3] -> 3 children with upstream_tasks mapped over
        m = lib.inc.map([10, 20, 30, 40], upstream_tasks=[n])
    return flow, {}, {"mapped": m}


@scenario("map/state_only_upstream_unmappable")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-upstream-tasks-unmappable") as flow:
        o = lib.ok()  # 1: not subscriptable
        m = lib.inc.map([10, 20], upstream_tasks=[o])
    return flow, {}, {"mapped": m}


@scenario("map/state_only_upstream_unmapped")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-upstream-tasks-unmapped") as flow:
        o = lib.ok()
        m = lib.inc.map([10, 20], upstream_tasks=[pf.unmapped(o)])
    return flow, {}, {"mapped": m}


@scenario("map/state_only_upstream_unmapped_failed")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-upstream-tasks-unmapped-failed") as flow:
        f = lib.fail()
        m = lib.inc.map([10, 20], upstream_tasks=[pf.unmapped(f)])
    return flow, {}, {"mapped": m}


@scenario("map/over_list_of_tasks")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-list-of-tasks") as flow:
        m = lib.inc.map([lib.ok(), lib.inc(5)])
    return flow, {}, {"mapped": m}


@scenario("map/over_list_of_tasks_one_failed")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-list-of-tasks-failed") as flow:
        m = lib.inc.map([lib.ok(), lib.fail()])
    return flow, {}, {"mapped": m}


@scenario("map/mixed_mapped_and_unmapped_chain_reduce")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-mixed") as flow:
        p = pf.Parameter("k", default=10)
        a = lib.add.map([1, 2, 3], pf.unmapped(p))
        b = lib.fail_on_2.map([1, 2, 3])
        c = lib.add.map(a, b)
        r = lib.listify(c, task_args=dict(trigger=pf.triggers.all_finished))
    return flow, {"parameters": {"k": 100}}, {"a": a, "b": b, "c": c, "reduce": r}


@scenario("map/imperative_add_edge_mapped")
def _(pf):
    lib = _lib(pf)
    flow = pf.Flow("map-imperative")
    flow.add_edge(lib.nums, lib.inc, key="x", mapped=True)
    return flow, {}, {"nums": lib.nums, "mapped": lib.inc}


@scenario("map/parent_state_message_and_result")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("map-parent") as flow:
        m = lib.ident.map([None, "a", [1]])
    return flow, {}, {"mapped": m}


# ---------------------------------------------------------------------------
# 8. graph construction: imperative API, state-only edges, tuples, collections
# ---------------------------------------------------------------------------

@scenario("graph/imperative_add_edge_key")
def _(pf):
    lib = _lib(pf)
    flow = pf.Flow("imperative")
    flow.add_edge(lib.ok, lib.inc, key="x")
    return flow, {}, {"ok": lib.ok, "inc": lib.inc}


@scenario("graph/imperative_add_edge_no_key")
def _(pf):
    lib = _lib(pf)
    flow = pf.Flow("imperative-nokey")
    flow.add_edge(lib.fail, lib.ok)
    return flow, {}, {"fail": lib.fail, "ok": lib.ok}


@scenario("graph/imperative_add_task_only")
def _(pf):
    lib = _lib(pf)
    flow = pf.Flow("imperative-add-task")
    flow.add_task(lib.ok)
    flow.add_task(lib.fail)
    return flow, {}, {"ok": lib.ok, "fail": lib.fail}


@scenario("graph/set_dependencies")
def _(pf):
    lib = _lib(pf)
    flow = pf.Flow("set-deps")
    flow.set_dependencies(task=lib.add, upstream_tasks=[lib.noop],
                          keyword_tasks={"x": lib.ok, "y": 5})
    return flow, {}, {"ok": lib.ok, "noop": lib.noop, "add": lib.add}


@scenario("graph/set_dependencies_downstream")
def _(pf):
    lib = _lib(pf)
    flow = pf.Flow("set-deps-down")
    flow.set_dependencies(task=lib.ok, downstream_tasks=[lib.noop])
    flow.set_dependencies(task=lib.inc, keyword_tasks={"x": lib.ok})
    return flow, {}, {"ok": lib.ok, "noop": lib.noop, "inc": lib.inc}


@scenario("graph/set_dependencies_mapped")
def _(pf):
    lib = _lib(pf)
    flow = pf.Flow("set-deps-mapped")
    flow.set_dependencies(task=lib.inc, keyword_tasks={"x": lib.nums}, mapped=True)
    return flow, {}, {"inc": lib.inc}


@scenario("graph/chain")
def _(pf):
    lib = _lib(pf)
    flow = pf.Flow("chain")
    flow.chain(lib.ok, lib.noop, lib.empty)
    return flow, {}, {"ok": lib.ok, "noop": lib.noop, "empty": lib.empty}


@scenario("graph/chain_with_failure")
def _(pf):
    lib = _lib(pf)
    flow = pf.Flow("chain-fail")
    flow.chain(lib.ok, lib.fail, lib.noop, lib.empty)
    return flow, {}, {"ok": lib.ok, "fail": lib.fail, "noop": lib.noop,
                      "empty": lib.empty}


@scenario("graph/upstream_tasks_ordering_only")
def _(pf):
    order = []

    @pf.task
    def first():
        order.append("first")
        return "first"

    @pf.task
    def second():
        order.append("second")
        return list(order)

    with pf.Flow("upstream-tasks") as flow:
        a = first()
        b = second(upstream_tasks=[a])
    return flow, {}, {"first": a, "second": b}


@scenario("graph/upstream_tasks_failed")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("upstream-tasks-failed") as flow:
        f = lib.fail()
        a = lib.ok(upstream_tasks=[f])
        b = lib.inc(a)
    return flow, {}, {"fail": f, "a": a, "b": b}


@scenario("graph/upstream_tasks_and_data")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("upstream-tasks-data") as flow:
        s = lib.skip()
        a = lib.inc(lib.ok(), upstream_tasks=[s])
    return flow, {}, {"a": a}


@scenario("graph/nout_tuple_unpacking")
def _(pf):
    lib = _lib(pf)

    @pf.task(nout=2)
    def pair():
        return 1, "two"

    with pf.Flow("nout") as flow:
        p = pair()
        a, b = p
        c = lib.inc(a)
    return flow, {}, {"pair": p, "a": a, "b": b, "c": c}


@scenario("graph/getitem_index")
def _(pf):
    lib = _lib(pf)

    @pf.task(nout=2)
    def pair():
        return (10, 20)

    with pf.Flow("getitem") as flow:
        p = pair()
        first = p[0]
        second = p[1]
        s = lib.add(first, second)
    return flow, {}, {"pair": p, "first": first, "second": second, "sum": s}


@scenario("graph/getitem_dict_key")
def _(pf):
    @pf.task
    def record():
        return {"name": "x", "n": 3}

    with pf.Flow("getitem-dict") as flow:
        r = record()
        n = r["n"]
    return flow, {}, {"record": r, "n": n}


@scenario("graph/getitem_missing_key")
def _(pf):
    @pf.task
    def record():
        return {"name": "x"}

    with pf.Flow("getitem-missing") as flow:
        r = record()
        n = r["n"]
    return flow, {}, {"n": n}


@scenario("graph/getitem_on_failed")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("getitem-failed") as flow:
        f = lib.fail()
        g = f[0]
    return flow, {}, {"fail": f, "item": g}


@scenario("graph/getitem_on_mapped")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("getitem-mapped") as flow:
        m = lib.inc.map([1, 2, 3])
        g = m[1]
    return flow, {}, {"mapped": m, "item": g}


@scenario("graph/list_argument")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("list-arg") as flow:
        a = lib.ok()
        b = lib.inc(a)
        t = lib.listify([a, b, 5])
    return flow, {}, {"a": a, "b": b, "list": t}


@scenario("graph/list_argument_with_failure")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.all_finished)
    def collect(xs):
        return xs

    with pf.Flow("list-arg-fail") as flow:
        a = lib.ok()
        f = lib.fail()
        t = collect([a, f])
    return flow, {}, {"a": a, "fail": f, "collect": t}


@scenario("graph/list_argument_with_skip")
def _(pf):
    lib = _lib(pf)

    @pf.task(skip_on_upstream_skip=False)
    def collect(xs):
        return xs

    with pf.Flow("list-arg-skip") as flow:
        t = collect([lib.ok(), lib.skip()])
    return flow, {}, {"collect": t}


@scenario("graph/dict_argument")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("dict-arg") as flow:
        a = lib.ok()
        d = lib.ident({"a": a, "k": 2})
    return flow, {}, {"dict": d}


@scenario("graph/tuple_argument")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("tuple-arg") as flow:
        a = lib.ok()
        d = lib.ident((a, 2))
    return flow, {}, {"tuple": d}


@scenario("graph/nested_collection_argument")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("nested-arg") as flow:
        a = lib.ok()
        d = lib.ident({"xs": [a, lib.inc(a)], "t": (a,)})
    return flow, {}, {"nested": d}


@scenario("graph/collection_of_constants_only")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("const-coll") as flow:
        d = lib.ident([1, [2, 3], {"a": (4,)}])
    return flow, {}, {"value": d}


@scenario("graph/same_task_twice_as_input")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("same-twice") as flow:
        a = lib.ok()
        s = lib.add(a, a)
    return flow, {}, {"a": a, "sum": s}


@scenario("graph/diamond_with_failure")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.all_finished)
    def join(a, b):
        return [a, b]

    with pf.Flow("diamond") as flow:
        r = lib.ok()
        left = lib.inc(r)
        right = lib.fail(upstream_tasks=[r])
        j = join(left, right)
    return flow, {}, {"root": r, "left": left, "right": right, "join": j}


@scenario("graph/triggerfailed_chain")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("tf-chain") as flow:
        f = lib.fail()
        a = lib.inc(f)
        b = lib.inc(a)
        c = lib.ident(b, task_args=dict(trigger=pf.triggers.all_failed))
        d = lib.ident(b, task_args=dict(trigger=pf.triggers.any_failed))
    return flow, {}, {"fail": f, "a": a, "b": b, "all_failed": c, "any_failed": d}


@scenario("graph/task_args_override")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("task-args") as flow:
        f = lib.fail()
        h = lib.ok(upstream_tasks=[f], task_args=dict(trigger=pf.triggers.all_failed))
    return flow, {}, {"fail": f, "handler": h}


@scenario("graph/template_reused_twice")
def _(pf):
    lib = _lib(pf)
    with pf.Flow("reuse") as flow:
        a = lib.inc(1)
        b = lib.inc(a)
        c = lib.inc(b)
    return flow, {}, {"a": a, "b": b, "c": c}


@scenario("graph/return_values_of_various_types")
def _(pf):
    @pf.task
    def values():
        return {"i": 1, "f": 1.5, "s": "x", "n": None, "b": True, "l": [1, (2, 3)],
                "set": {3, 1}, 5: "int key"}

    with pf.Flow("types") as flow:
        v = values()
    return flow, {}, {"values": v}


# ---------------------------------------------------------------------------
# 9. custom triggers
# ---------------------------------------------------------------------------

@scenario("custom_trigger/returns_false")
def _(pf):
    lib = _lib(pf)

    def never(upstream_states):
        return False

    @pf.task(trigger=never)
    def guarded(x):
        return x

    with pf.Flow("ct-false") as flow:
        g = guarded(lib.ok())
    return flow, {}, {"guarded": g}


@scenario("custom_trigger/returns_none")
def _(pf):
    lib = _lib(pf)

    def nothing(upstream_states):
        return None

    @pf.task(trigger=nothing)
    def guarded(x):
        return x

    with pf.Flow("ct-none") as flow:
        g = guarded(lib.ok())
    return flow, {}, {"guarded": g}


@scenario("custom_trigger/returns_truthy")
def _(pf):
    lib = _lib(pf)

    def truthy(upstream_states):
        return "yes"

    @pf.task(trigger=truthy)
    def guarded(x):
        return x

    with pf.Flow("ct-truthy") as flow:
        g = guarded(lib.fail())
    return flow, {}, {"guarded": g}


@scenario("custom_trigger/raises_exception")
def _(pf):
    lib = _lib(pf)

    def broken(upstream_states):
        raise RuntimeError("trigger exploded")

    @pf.task(trigger=broken)
    def guarded(x):
        return x

    with pf.Flow("ct-raises") as flow:
        g = guarded(lib.ok())
        after = lib.ident(g, task_args=dict(trigger=pf.triggers.all_finished))
    return flow, {}, {"guarded": g, "after": after}


@scenario("custom_trigger/raises_skip")
def _(pf):
    lib = _lib(pf)

    def skipper(upstream_states):
        raise pf.signals.SKIP("skipped by trigger")

    @pf.task(trigger=skipper)
    def guarded(x):
        return x

    with pf.Flow("ct-skip") as flow:
        g = guarded(lib.ok())
        after = lib.ident(g)
    return flow, {}, {"guarded": g, "after": after}


@scenario("custom_trigger/raises_fail_not_retried")
def _(pf):
    lib = _lib(pf)
    calls = []

    def failer(upstream_states):
        calls.append("trigger")
        raise pf.signals.FAIL("failed by trigger")

    @pf.task(trigger=failer, max_retries=2, retry_delay=ZERO)
    def guarded(x):
        return x

    @pf.task(trigger=pf.triggers.all_finished)
    def count(x):
        return list(calls)

    with pf.Flow("ct-fail") as flow:
        g = guarded(lib.ok())
        c = count(g)
    return flow, {}, {"guarded": g, "count": c}


@scenario("custom_trigger/raises_success")
def _(pf):
    lib = _lib(pf)

    def succeeder(upstream_states):
        raise pf.signals.SUCCESS("succeeded by trigger", result=99)

    @pf.task(trigger=succeeder)
    def guarded(x):
        return "ran"

    with pf.Flow("ct-success") as flow:
        g = guarded(lib.ok())
        after = lib.inc(g)
    return flow, {}, {"guarded": g, "after": after}


@scenario("custom_trigger/inspects_keys_and_states")
def _(pf):
    lib = _lib(pf)
    seen = []

    def recorder(upstream_states):
        seen.extend(sorted(
            [str(edge.key), type(state).__name__, state.is_successful()]
            for edge, state in upstream_states.items()
        ))
        return True

    @pf.task(trigger=recorder, skip_on_upstream_skip=False)
    def guarded(a, b, c):
        return list(seen)

    with pf.Flow("ct-inspect") as flow:
        f = lib.fail()
        g = guarded(a=lib.ok(), b=f, c=3, upstream_tasks=[lib.skip()])
    return flow, {}, {"guarded": g}


@scenario("custom_trigger/skip_checked_before_trigger")
def _(pf):
    lib = _lib(pf)
    seen = []

    def recorder(upstream_states):
        seen.append("called")
        return True

    @pf.task(trigger=recorder)
    def guarded(x):
        return x

    @pf.task(trigger=pf.triggers.all_finished, skip_on_upstream_skip=False)
    def report(x):
        return list(seen)

    with pf.Flow("ct-skip-first") as flow:
        g = guarded(lib.skip())
        r = report(g)
    return flow, {}, {"guarded": g, "report": r}


@scenario("custom_trigger/upstream_count_with_constants")
def _(pf):
    seen = []

    def recorder(upstream_states):
        seen.append(len(upstream_states))
        return True

    @pf.task(trigger=recorder)
    def guarded(a, b):
        return list(seen)

    with pf.Flow("ct-constants") as flow:
        g = guarded(1, [2, 3])
    return flow, {}, {"guarded": g}


@scenario("custom_trigger/sees_mapped_parent_for_reduce")
def _(pf):
    lib = _lib(pf)
    seen = []

    def recorder(upstream_states):
        for state in upstream_states.values():
            seen.append([type(state).__name__,
                         [type(s).__name__ for s in state.map_states]
                         if state.is_mapped() else None])
        return True

    @pf.task(trigger=recorder)
    def collect(xs):
        return list(seen)

    with pf.Flow("ct-reduce") as flow:
        m = lib.fail_on_2.map([1, 2])
        c = collect(m)
    return flow, {}, {"collect": c}


# ---------------------------------------------------------------------------
# 10. constants as trigger inputs (Prefect counts keyed constants as upstream
#     Success states; a constant-only task has a non-empty upstream_states)
# ---------------------------------------------------------------------------

@scenario("constants/any_failed_with_constant_only")
def _(pf):
    @pf.task(trigger=pf.triggers.any_failed)
    def on_failure(x):
        return x

    with pf.Flow("const-any-failed") as flow:
        t = on_failure(1)
    return flow, {}, {"task": t}


@scenario("constants/all_failed_with_constant_only")
def _(pf):
    @pf.task(trigger=pf.triggers.all_failed)
    def on_failure(x):
        return x

    with pf.Flow("const-all-failed") as flow:
        t = on_failure(1)
    return flow, {}, {"task": t}


@scenario("constants/all_failed_no_inputs")
def _(pf):
    @pf.task(trigger=pf.triggers.all_failed)
    def on_failure():
        return "ran"

    with pf.Flow("const-all-failed-noinput") as flow:
        t = on_failure()
    return flow, {}, {"task": t}


@scenario("constants/all_failed_failed_upstream_plus_constant")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.all_failed)
    def on_failure(x, k):
        return [x, k]

    with pf.Flow("const-all-failed-mixed") as flow:
        t = on_failure(lib.fail(), 3)
        u = on_failure(lib.fail(), k=None)
    return flow, {}, {"task": t, "task_none_const": u}


@scenario("constants/default_args_not_upstream")
def _(pf):
    @pf.task(trigger=pf.triggers.any_failed)
    def on_failure(x=1):
        return x

    with pf.Flow("const-default-arg") as flow:
        t = on_failure()
    return flow, {}, {"task": t}


@scenario("constants/mapped_constant_trigger")
def _(pf):
    @pf.task(trigger=pf.triggers.any_failed)
    def on_failure(x):
        return x

    with pf.Flow("const-mapped") as flow:
        t = on_failure.map([1, 2])
    return flow, {}, {"mapped": t}


@scenario("constants/unmapped_constant_trigger")
def _(pf):
    lib = _lib(pf)

    @pf.task(trigger=pf.triggers.some_failed(at_least=0.5))
    def half_failed(x, y):
        return [x, y]

    with pf.Flow("const-unmapped") as flow:
        t = half_failed.map(lib.fail_on_2.map([1, 2]), pf.unmapped(0))
    return flow, {}, {"mapped": t}


# --------------------------------------------------------- the same upstream on two edges


@scenario("map/same_list_on_two_mapped_edges_counts_twice")
def _(pf):
    # Each mapped edge from a non-mapped task gives a child its own copy of the
    # upstream state, so the two edges count as two successful upstream states.
    lib = _lib(pf)
    with pf.Flow("map-same-list-twice") as flow:
        nums = lib.nums()
        m = lib.add.map(nums, nums, task_args=dict(trigger=pf.triggers.some_successful(at_least=2)))
    return flow, {}, {"mapped": m}


@scenario("map/mapped_upstream_on_mapped_and_unmapped_edges")
def _(pf):
    # Child i of the upstream reaches the child through both edges but is one state.
    lib = _lib(pf)
    with pf.Flow("map-mapped-and-unmapped") as flow:
        a = lib.fail_on_2.map([1, 2, 3])
        m = lib.add.map(
            a, pf.unmapped(a), task_args=dict(trigger=pf.triggers.some_failed(at_most=1))
        )
    return flow, {}, {"upstream": a, "mapped": m}

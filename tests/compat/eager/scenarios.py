"""Eager-flow scenarios shared by the Prefect 3 recorder and the ferroflow compat test.

A scenario is a function ``scenario_fn(pf, obs) -> value``. It defines its tasks and
flows through the namespace ``pf`` only, runs them, and returns a JSON-able value
(built with ``flow_state``, ``call`` and ``state_record`` below); while running, the
task and hook bodies write what they saw into the dict ``obs`` (``bump``, ``note``).
The same code runs on Prefect 3.8 (``prefect_namespace()``) and on ferroflow
(``ferroflow_namespace()``):

    pf.flow, pf.task, pf.unmapped, pf.get_run_logger, pf.wait, pf.allow_failure,
    pf.Completed, pf.Failed, pf.INPUTS, pf.TASK_SOURCE, pf.NO_CACHE,
    pf.task_input_hash

plus ``pf.fresh_cache()`` (every scenario runs in an empty result/cache store) and
``pf.run_loggers`` (the logger names a run's logs and ``log_prints`` go to).
Exceptions are recorded by class name and ``str``, never imported.

``run_scenario`` runs one scenario and returns its record; both sides use it, so the
recording and the check cannot drift apart. This module must not import prefect or
ferroflow at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib.util
import io
import logging
import pathlib
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

__all__ = [
    "SCENARIOS",
    "prefect_namespace",
    "ferroflow_namespace",
    "run_scenario",
    "flow_state",
    "call",
    "state_record",
    "norm",
]

HERE = pathlib.Path(__file__).resolve().parent

Scenario = Callable[[Any, dict[str, Any]], Any]
SCENARIOS: dict[str, Scenario] = {}

HOUR = datetime.timedelta(hours=1)


def _base_scenarios():
    """tests/compat/scenarios.py (for its ``normalize``); the directory is no package."""
    name = "ferroflow_compat_scenarios"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE.parent / "scenarios.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


# ---------------------------------------------------------------------------
# namespaces
# ---------------------------------------------------------------------------

def _namespace(lib: str, fresh_cache, run_loggers, **names) -> SimpleNamespace:
    return SimpleNamespace(lib=lib, fresh_cache=fresh_cache, run_loggers=run_loggers, **names)


def prefect_namespace() -> SimpleNamespace:
    import prefect.runtime as runtime
    from prefect import flow, get_run_logger, task, unmapped
    from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE
    from prefect.futures import wait
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.states import Completed, Failed
    from prefect.tasks import task_input_hash
    from prefect.utilities.annotations import allow_failure

    @contextlib.contextmanager
    def fresh_cache() -> Iterator[None]:
        with tempfile.TemporaryDirectory(prefix="p3-compat-storage-") as tmp:
            with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: pathlib.Path(tmp)}):
                yield

    return _namespace(
        "prefect", fresh_cache, ("prefect.flow_runs", "prefect.task_runs"),
        flow=flow, task=task, unmapped=unmapped, get_run_logger=get_run_logger,
        wait=wait, allow_failure=allow_failure, Completed=Completed, Failed=Failed,
        INPUTS=INPUTS, TASK_SOURCE=TASK_SOURCE, NO_CACHE=NO_CACHE,
        task_input_hash=task_input_hash, runtime=runtime,
    )


def ferroflow_namespace() -> SimpleNamespace:
    import ferroflow.runtime as runtime
    from ferroflow import allow_failure, flow, get_run_logger, task, unmapped, wait
    from ferroflow.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE
    from ferroflow.eager.states import Completed, Failed
    from ferroflow.tasks import task_input_hash
    from tests.compat.ferroflow_home import fresh_home

    def fresh_cache() -> contextlib.AbstractContextManager:
        return fresh_home("ff-eager-compat-")

    return _namespace(
        "ferroflow", fresh_cache, ("ferroflow",),
        flow=flow, task=task, unmapped=unmapped, get_run_logger=get_run_logger,
        wait=wait, allow_failure=allow_failure, Completed=Completed, Failed=Failed,
        INPUTS=INPUTS, TASK_SOURCE=TASK_SOURCE, NO_CACHE=NO_CACHE,
        task_input_hash=task_input_hash, runtime=runtime,
    )


# ---------------------------------------------------------------------------
# recording helpers (shared by both sides)
# ---------------------------------------------------------------------------

# (a UUID as Prefect writes it, or as ferroflow writes its run ids: 32 hex digits)
_UUID = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b")
_ADDR = re.compile(r" at 0x[0-9a-f]+")
_PYDANTIC_URL = re.compile(r"https://errors\.pydantic\.dev/[0-9.]+/")


def clean(text: Any) -> Any:
    """A message without what differs between runs or installs (ids, addresses, the
    pydantic version in its error links)."""
    if not isinstance(text, str):
        return text
    text = _UUID.sub("<uuid>", text)
    text = _ADDR.sub(" at <addr>", text)
    return _PYDANTIC_URL.sub("https://errors.pydantic.dev/<v>/", text)


def _is_state(v: Any) -> bool:
    return (hasattr(v, "type") and hasattr(v, "is_completed") and hasattr(v, "name")
            and callable(getattr(v, "result", None)))


def _is_future(v: Any) -> bool:
    return (not _is_state(v) and callable(getattr(v, "wait", None))
            and callable(getattr(v, "result", None)) and hasattr(v, "state"))


def exc_record(exc: BaseException) -> dict[str, Any]:
    return {"__exception__": type(exc).__name__, "message": clean(str(exc))}


def norm(v: Any) -> Any:
    """JSON-able, library-independent rendering of a value: states become their
    ``state_record``, exceptions their type name and ``str``, containers are walked,
    other values go through ``tests/compat/scenarios.py``'s ``normalize``."""
    if isinstance(v, BaseException):
        return exc_record(v)
    if _is_state(v):
        return {"__state__": state_record(v)}
    if _is_future(v):
        return {"__future__": True}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, tuple):
        return {"__tuple__": [norm(x) for x in v]}
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {k: norm(x) for k, x in v.items()}
    return _base_scenarios().normalize(v)


def state_record(state: Any, result: bool = True) -> dict[str, Any]:
    """A state as ``{"type", "name", "message", "result"}``; ``result`` is
    ``state.result(raise_on_failure=False)`` normalized (or what that call raised,
    as ``{"raised": ...}``)."""
    rec: dict[str, Any] = {
        "type": str(state.type.name),
        "name": state.name,
        "message": clean(state.message),
    }
    if result:
        try:
            rec["result"] = norm(state.result(raise_on_failure=False))
        except Exception as exc:  # recorded
            rec["result"] = {"raised": exc_record(exc)}
    return rec


def flow_state(flow: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call ``flow`` with ``return_state=True``; its final state's record (or what
    the call raised, as ``{"raised": ...}``)."""
    try:
        state = flow(*args, return_state=True, **kwargs)
    except Exception as exc:  # recorded
        return {"raised": exc_record(exc)}
    return state_record(state)


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call ``fn``: ``{"returned": value}`` or ``{"raised": {type, message}}``."""
    try:
        value = fn(*args, **kwargs)
        if asyncio.iscoroutine(value):
            value = asyncio.run(value)
    except Exception as exc:  # recorded
        return {"raised": exc_record(exc)}
    return {"returned": norm(value)}


_LOCK = threading.Lock()


def bump(obs: dict[str, Any], key: str) -> int:
    """Count a body run (thread-safe: ``.submit`` and ``.map`` run in threads)."""
    with _LOCK:
        obs[key] = obs.get(key, 0) + 1
        return obs[key]


def note(obs: dict[str, Any], key: str, value: Any) -> None:
    """Append ``value`` to the list ``obs[key]``."""
    with _LOCK:
        obs.setdefault(key, []).append(norm(value))


def hook(obs: dict[str, Any], label: str) -> Callable[..., None]:
    """A hook ``(task_or_flow, run, state)`` that notes ``label`` and the state's
    type, name and message in ``obs["hooks"]``."""
    def on_state(_obj: Any, _run: Any, state: Any) -> None:
        note(obs, "hooks", [label, str(state.type.name), state.name, clean(state.message)])
    return on_state


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname}:{record.getMessage()}")


@contextlib.contextmanager
def capture(pf, obs: dict[str, Any]) -> Iterator[None]:
    """Record stdout (``obs["stdout"]``) and the INFO+ records of the run loggers
    (``obs["logs"]``) while the block runs."""
    handler = _Capture()
    loggers = [logging.getLogger(n) for n in pf.run_loggers]
    levels = [lg.level for lg in loggers]
    out = io.StringIO()
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(out):
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
        obs["stdout"] = out.getvalue().splitlines()
        obs["logs"] = [line for line in handler.lines
                       if line.split(":", 1)[1].startswith("user:")]


def run_scenario(pf: SimpleNamespace, name: str) -> dict[str, Any]:
    """Run scenario ``name`` with namespace ``pf`` in a fresh cache; its record."""
    obs: dict[str, Any] = {}
    with pf.fresh_cache():
        try:
            value = {"returned": norm(SCENARIOS[name](pf, obs))}
        except Exception as exc:  # recorded
            value = {"raised": exc_record(exc)}
    return {"value": value, "obs": norm(obs)}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        if name in SCENARIOS:
            raise ValueError(f"duplicate scenario {name!r}")
        SCENARIOS[name] = fn
        return fn
    return register


def _sleep(seconds: float) -> None:
    """Sleep in small steps (a timeout that interrupts between bytecodes stops it)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)


# ---------------------------------------------------------------------------
# 1. plain calls and return values
# ---------------------------------------------------------------------------

@scenario("basic/task_value")
def _(pf, obs):
    @pf.task
    def add(x, y):
        return x + y

    @pf.flow
    def f():
        return add(1, 2)

    return flow_state(f)


@scenario("basic/chain_of_tasks")
def _(pf, obs):
    @pf.task
    def inc(x):
        return x + 1

    @pf.task
    def double(x):
        return 2 * x

    @pf.flow
    def f(n):
        a = inc(n)
        b = double(a)
        return [a, b, inc(b)]

    return flow_state(f, 3)


@scenario("basic/flow_plain_call_value")
def _(pf, obs):
    @pf.task
    def shout(s):
        return s.upper()

    @pf.flow
    def f(s="hi"):
        return {"s": shout(s), "n": len(s)}

    return [call(f), call(f, "hello"), call(f, s="x")]


@scenario("basic/flow_returns_none")
def _(pf, obs):
    @pf.task
    def noop():
        bump(obs, "ran")

    @pf.flow
    def f():
        noop()

    return [flow_state(f), call(f)]


@scenario("basic/python_control_flow")
def _(pf, obs):
    @pf.task
    def is_even(x):
        return x % 2 == 0

    @pf.task
    def half(x):
        return x // 2

    @pf.task
    def triple_plus_one(x):
        return 3 * x + 1

    @pf.flow
    def collatz(n):
        seq = [n]
        while n != 1:
            n = half(n) if is_even(n) else triple_plus_one(n)
            seq.append(n)
        return seq

    return flow_state(collatz, 6)


@scenario("basic/task_returns_containers")
def _(pf, obs):
    @pf.task
    def make():
        return {"a": [1, 2], "b": (3, 4), "c": None, "d": 1.5}

    @pf.flow
    def f():
        return make()

    return flow_state(f)


@scenario("basic/task_kwargs_and_defaults")
def _(pf, obs):
    @pf.task
    def fmt(a, b=2, *rest, c=3, **more):
        return [a, b, list(rest), c, sorted(more.items())]

    @pf.flow
    def f():
        return [fmt(1), fmt(1, 5, 6, 7, c=8, z=9)]

    return flow_state(f)


@scenario("basic/same_task_called_many_times")
def _(pf, obs):
    @pf.task
    def sq(x):
        bump(obs, "ran")
        return x * x

    @pf.flow
    def f():
        return sum(sq(i) for i in range(10))

    return flow_state(f)


@scenario("basic/task_with_name_option")
def _(pf, obs):
    @pf.task(name="renamed")
    def t():
        return 1

    @pf.flow(name="my-flow")
    def f():
        return t()

    return [flow_state(f), t.name, f.name]


@scenario("basic/flow_name_defaults")
def _(pf, obs):
    @pf.task
    def my_task():
        return 1

    @pf.flow
    def my_flow_fn():
        return my_task()

    return [my_task.name, my_flow_fn.name]


@scenario("basic/async_flow_sync_tasks")
def _(pf, obs):
    @pf.task
    def inc(x):
        return x + 1

    @pf.flow
    async def f(n):
        return inc(inc(n))

    return [call(f, 1), flow_state_async(f, 1)]


@scenario("basic/async_flow_async_task")
def _(pf, obs):
    @pf.task
    async def inc(x):
        await asyncio.sleep(0)
        return x + 1

    @pf.flow
    async def f(n):
        a = await inc(n)
        return await inc(a)

    return call(f, 1)


def flow_state_async(flow: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``flow_state`` for an ``async def`` flow (the call returns a coroutine)."""
    try:
        state = asyncio.run(flow(*args, return_state=True, **kwargs))
    except Exception as exc:  # recorded
        return {"raised": exc_record(exc)}
    return state_record(state)


@scenario("basic/star_args_submit_and_retries")
def _(pf, obs):
    @pf.task(retries=1, retry_delay_seconds=0)
    def gather(first, *rest, scale=1):
        if bump(obs, f"calls-{first}") == 1 and first == 1:
            raise ValueError("first attempt fails")
        return [first * scale, [x * scale for x in rest]]

    @pf.flow
    def f():
        future = gather.submit(2, 3, 4, scale=10)
        return [gather(1, 5), future.result(), gather(7)]

    return flow_state(f)


@scenario("async/task_retries")
def _(pf, obs):
    @pf.task(retries=2, retry_delay_seconds=0)
    async def flaky(x):
        await asyncio.sleep(0)
        if bump(obs, "attempts") < 3:
            raise ValueError(f"attempt {obs['attempts']}")
        return x * 2

    @pf.flow
    async def f():
        return await flaky(21)

    return flow_state_async(f)


@scenario("async/task_failure_return_state")
def _(pf, obs):
    @pf.task
    async def boom():
        await asyncio.sleep(0)
        raise KeyError("missing")

    @pf.flow
    async def f():
        st = await boom(return_state=True)
        note(obs, "task_state", [st.type.name, st.name, clean(st.message)])  # (result(): a coroutine here)
        return "after"

    return flow_state_async(f)


@scenario("async/gather")
def _(pf, obs):
    @pf.task
    async def square(x):
        await asyncio.sleep(0.01 * (3 - x))
        return x * x

    @pf.flow
    async def f():
        return list(await asyncio.gather(*(square(i) for i in range(3))))

    return flow_state_async(f)


@scenario("async/task_times_out")
def _(pf, obs):
    @pf.task(timeout_seconds=0.2)
    async def slow():
        bump(obs, "started")
        await asyncio.sleep(2)
        bump(obs, "finished")
        return 1

    @pf.flow
    async def f():
        st = await slow(return_state=True)
        note(obs, "task_state", [st.type.name, st.name, clean(st.message)])  # (result(): a coroutine here)
        return "after"

    return flow_state_async(f)


@scenario("async/submit_and_map_from_a_sync_flow")
def _(pf, obs):
    @pf.task
    async def double(x):
        await asyncio.sleep(0)
        return 2 * x

    @pf.flow
    def f():
        return [double.submit(4).result(), double.map([1, 2, 3]).result()]

    return flow_state(f)


@scenario("async/flow_completion_hook")
def _(pf, obs):
    @pf.task
    async def ok():
        return 1

    @pf.flow(on_completion=[hook(obs, "flow done")])
    async def f():
        return await ok()

    return flow_state_async(f)


def flow_run_facts(pf) -> dict[str, Any]:
    """What ``runtime.flow_run`` says where it is read (ids as whether they are set)."""
    fr = pf.runtime.flow_run
    return {"name": fr.name, "flow_name": fr.flow_name, "parameters": fr.parameters, "run_count": fr.run_count,
            "has_id": isinstance(fr.id, str), "has_parent": fr.parent_flow_run_id is not None,
            "root_is_self": fr.root_flow_run_id == fr.id, "tags": list(fr.tags),
            "scheduled_is_datetime": hasattr(fr.scheduled_start_time, "year")}


@scenario("runtime/flow_run_name_template")
def _(pf, obs):
    @pf.task
    def t(x):
        tr = pf.runtime.task_run
        note(obs, "task", {"task_name": tr.task_name, "parameters": tr.parameters, "run_count": tr.run_count,
                           "has_id": isinstance(tr.id, str), "name_starts": str(tr.name).startswith("t-"),
                           "flow_run": pf.runtime.flow_run.name})
        return x

    @pf.flow(flow_run_name="etl-{day}-{n}")
    def etl(day: str, n: int = 2):
        note(obs, "flow", flow_run_facts(pf))
        return t(n)

    return flow_state(etl, "mon")


@scenario("runtime/flow_run_name_callable")
def _(pf, obs):
    def name_it():
        return f"from-callable-{pf.runtime.flow_run.parameters['n']}"

    @pf.flow(flow_run_name=name_it)
    def f(n: int):
        note(obs, "flow", pf.runtime.flow_run.name)
        return n

    return flow_state(f, 3)


@scenario("runtime/flow_run_name_missing_key")
def _(pf, obs):
    @pf.flow(flow_run_name="etl-{missing}")
    def f(n: int):
        bump(obs, "body ran")
        return n

    return flow_state(f, 3)


@scenario("runtime/flow_run_name_callable_not_a_string")
def _(pf, obs):
    @pf.flow(flow_run_name=lambda: 5)
    def f():
        bump(obs, "body ran")
        return 1

    return flow_state(f)


@scenario("runtime/subflow_and_retries")
def _(pf, obs):
    @pf.flow(flow_run_name="child-{x}")
    def child(x: int):
        note(obs, "child", flow_run_facts(pf))
        return x

    @pf.flow(retries=1, retry_delay_seconds=0)
    def parent():
        facts = flow_run_facts(pf)
        note(obs, "parent", {k: facts[k] for k in ("run_count", "has_parent", "root_is_self")})
        if bump(obs, "attempts") == 1:
            raise ValueError("first attempt fails")
        return child(7)

    return flow_state(parent)


@scenario("runtime/outside_any_run")
def _(pf, obs):
    fr, tr = pf.runtime.flow_run, pf.runtime.task_run
    return {"flow_run": [fr.id, fr.name, fr.flow_name, fr.parameters, fr.run_count, list(fr.tags),
                         fr.parent_flow_run_id],
            "task_run": [tr.id, tr.name, tr.task_name, tr.parameters, tr.run_count, list(tr.tags)]}


# ---------------------------------------------------------------------------
# 2. failures
# ---------------------------------------------------------------------------

@scenario("fail/task_raises_flow_fails")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        boom()
        bump(obs, "after")
        return 1

    return flow_state(f)


@scenario("fail/task_raises_plain_call")
def _(pf, obs):
    @pf.task
    def boom(x):
        raise KeyError(x)

    @pf.flow
    def f():
        return boom("k")

    return call(f)


@scenario("fail/flow_catches_task_exception")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        try:
            boom()
        except ValueError as exc:
            return f"caught {exc}"
        return "not raised"

    return flow_state(f)


@scenario("fail/flow_body_raises")
def _(pf, obs):
    @pf.flow
    def f():
        raise RuntimeError("in the flow")

    return [flow_state(f), call(f)]


@scenario("fail/custom_exception_type")
def _(pf, obs):
    class MyError(Exception):
        pass

    @pf.task
    def boom():
        raise MyError("mine")

    @pf.flow
    def f():
        return boom()

    return [flow_state(f), call(f)]


@scenario("fail/exception_without_message")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError()

    @pf.flow
    def f():
        return boom()

    return flow_state(f)


@scenario("fail/task_return_state_failed")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        st = boom(return_state=True)
        note(obs, "task_state", st)
        note(obs, "predicates", [st.is_failed(), st.is_completed(), st.is_crashed(),
                                 st.is_final()])
        return "done"

    return flow_state(f)


@scenario("fail/task_return_state_completed")
def _(pf, obs):
    @pf.task
    def ok():
        return 41

    @pf.flow
    def f():
        st = ok(return_state=True)
        note(obs, "task_state", st)
        note(obs, "predicates", [st.is_failed(), st.is_completed(), st.is_final()])
        return st.result() + 1

    return flow_state(f)


@scenario("fail/returned_failed_task_state_fails_flow")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        return boom(return_state=True)

    return [flow_state(f), call(f)]


@scenario("fail/returned_list_of_states")
def _(pf, obs):
    @pf.task
    def ok():
        return 1

    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        return [ok(return_state=True), boom(return_state=True), ok(return_state=True)]

    return flow_state(f)


@scenario("fail/returned_all_completed_states")
def _(pf, obs):
    @pf.task
    def ok(x):
        return x

    @pf.flow
    def f():
        return [ok(1, return_state=True), ok(2, return_state=True)]

    return [flow_state(f), call(f)]


@scenario("fail/flow_state_result_raises")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        return boom()

    st = f(return_state=True)
    return [call(st.result), call(st.result, raise_on_failure=False)]


@scenario("fail/error_after_success")
def _(pf, obs):
    @pf.task
    def ok():
        bump(obs, "ok")
        return 1

    @pf.task
    def boom(x):
        raise ZeroDivisionError(f"{x}/0")

    @pf.task
    def never():
        bump(obs, "never")

    @pf.flow
    def f():
        boom(ok())
        never()

    return flow_state(f)


# ---------------------------------------------------------------------------
# 3. states returned by tasks and flows
# ---------------------------------------------------------------------------

@scenario("states/task_returns_completed_with_data")
def _(pf, obs):
    @pf.task
    def t():
        return pf.Completed(message="all good", data=5)

    @pf.flow
    def f():
        note(obs, "state", t(return_state=True))
        return t()

    return flow_state(f)


@scenario("states/task_returns_completed_custom_name")
def _(pf, obs):
    @pf.task
    def t():
        return pf.Completed(message="nothing to do", data=None, name="Skipped")

    @pf.flow
    def f():
        note(obs, "state", t(return_state=True))
        return t()

    return flow_state(f)


@scenario("states/task_returns_failed")
def _(pf, obs):
    @pf.task
    def t():
        return pf.Failed(message="refused")

    @pf.flow
    def f():
        note(obs, "state", t(return_state=True))
        return t()

    return flow_state(f)


@scenario("states/task_returns_failed_caught")
def _(pf, obs):
    @pf.task
    def t():
        return pf.Failed(message="refused")

    @pf.flow
    def f():
        try:
            t()
        except Exception as exc:  # recorded
            return norm(exc)
        return "no exception"

    return flow_state(f)


@scenario("states/flow_returns_completed")
def _(pf, obs):
    @pf.flow
    def f():
        return pf.Completed(message="custom", data=[1, 2])

    return [flow_state(f), call(f)]


@scenario("states/flow_returns_failed")
def _(pf, obs):
    @pf.flow
    def f():
        return pf.Failed(message="flow says no")

    return [flow_state(f), call(f)]


@scenario("states/constructors")
def _(pf, obs):
    c = pf.Completed()
    c2 = pf.Completed(message="m", data=3)
    fl = pf.Failed(message="x")
    return [state_record(c), state_record(c2), state_record(fl, result=False),
            [c.is_completed(), c.is_failed(), fl.is_failed(), fl.is_final()]]


@scenario("states/returned_completed_without_data")
def _(pf, obs):
    @pf.task
    def t():
        return pf.Completed(message="task done")

    @pf.flow
    def f():
        st = t(return_state=True)
        note(obs, "task_state", state_record(st))
        return pf.Completed(message="flow done")

    return [flow_state(f), call(f)]


class Point(BaseModel):
    """A flow parameter's model (module-level: the hint is resolved in this module)."""

    x: int
    y: float = 0.0


@scenario("params/pydantic_model_from_a_dict")
def _(pf, obs):
    @pf.flow
    def f(p: Point):
        return [type(p).__name__, p.x, p.y]

    return [flow_state(f, {"x": "3"}), flow_state(f, p={"x": "three"}), flow_state(f, Point(x=1, y=2))]


@scenario("futures/map_over_a_future")
def _(pf, obs):
    @pf.task
    def numbers(fail: bool):
        if fail:
            raise ValueError("no numbers")
        return [1, 2, 3]

    @pf.task
    def double(x):
        return 2 * x

    @pf.flow
    def f(fail: bool):
        return double.map(numbers.submit(fail)).result()

    return [flow_state(f, False), flow_state(f, True)]


@scenario("retries/jitter_factor")
def _(pf, obs):
    @pf.task(retries=2, retry_delay_seconds=0.01, retry_jitter_factor=0.5)
    def flaky():
        if bump(obs, "attempts") < 3:
            raise ValueError("again")
        return "ok"

    @pf.flow
    def f():
        return flaky()

    return flow_state(f)


# ---------------------------------------------------------------------------
# 4. retries
# ---------------------------------------------------------------------------

def _flaky(pf, obs, fail_times, **options):
    @pf.task(retries=2, retry_delay_seconds=0, **options)
    def flaky():
        n = bump(obs, "attempts")
        if n <= fail_times:
            raise ValueError(f"attempt {n}")
        return f"ok on {n}"
    return flaky


@scenario("retries/succeeds_second_attempt")
def _(pf, obs):
    flaky = _flaky(pf, obs, 1)

    @pf.flow
    def f():
        return flaky()

    return flow_state(f)


@scenario("retries/succeeds_third_attempt")
def _(pf, obs):
    flaky = _flaky(pf, obs, 2)

    @pf.flow
    def f():
        st = flaky(return_state=True)
        note(obs, "task_state", st)
        return st.result()

    return flow_state(f)


@scenario("retries/exhausted")
def _(pf, obs):
    flaky = _flaky(pf, obs, 5)

    @pf.flow
    def f():
        return flaky()

    return flow_state(f)


@scenario("retries/exhausted_return_state")
def _(pf, obs):
    flaky = _flaky(pf, obs, 5)

    @pf.flow
    def f():
        note(obs, "task_state", flaky(return_state=True))
        return "continued"

    return flow_state(f)


@scenario("retries/hooks_on_each_attempt")
def _(pf, obs):
    flaky = _flaky(pf, obs, 5, on_failure=[hook(obs, "task_failure")],
                   on_completion=[hook(obs, "task_completion")])

    @pf.flow
    def f():
        return flaky()

    return flow_state(f)


@scenario("retries/hooks_retry_then_success")
def _(pf, obs):
    flaky = _flaky(pf, obs, 1, on_failure=[hook(obs, "task_failure")],
                   on_completion=[hook(obs, "task_completion")])

    @pf.flow
    def f():
        return flaky()

    return flow_state(f)


@scenario("retries/on_running_each_attempt")
def _(pf, obs):
    flaky = _flaky(pf, obs, 2, on_running=[hook(obs, "task_running")],
                   on_failure=[hook(obs, "task_failure")],
                   on_completion=[hook(obs, "task_completion")])

    @pf.flow(on_running=[hook(obs, "flow_running")])
    def f():
        return flaky()

    return flow_state(f)


@scenario("retries/with_options_method")
def _(pf, obs):
    @pf.task
    def flaky():
        n = bump(obs, "attempts")
        if n < 3:
            raise ValueError(f"attempt {n}")
        return n

    @pf.flow
    def f():
        return flaky.with_options(retries=3, retry_delay_seconds=0)()

    return flow_state(f)


@scenario("retries/flow_retries")
def _(pf, obs):
    @pf.task
    def t():
        bump(obs, "task")
        return 1

    @pf.flow(retries=1, retry_delay_seconds=0)
    def f():
        n = bump(obs, "flow_attempts")
        t()
        if n == 1:
            raise ValueError("first flow attempt")
        return n

    return flow_state(f)


@scenario("retries/retry_condition_fn")
def _(pf, obs):
    def only_value_errors(task, task_run, state):
        try:
            state.result()
        except ValueError:
            return True
        except Exception:  # any other error: no retry
            return False
        return False

    @pf.task(retries=3, retry_delay_seconds=0, retry_condition_fn=only_value_errors)
    def t():
        n = bump(obs, "attempts")
        if n == 1:
            raise ValueError("retry me")
        raise KeyError("do not retry")

    @pf.flow
    def f():
        return t()

    return flow_state(f)


# ---------------------------------------------------------------------------
# 5. timeouts
# ---------------------------------------------------------------------------

@scenario("timeout/task_times_out")
def _(pf, obs):
    @pf.task(timeout_seconds=0.2)
    def slow():
        bump(obs, "started")
        _sleep(2)
        bump(obs, "finished")
        return 1

    @pf.flow
    def f():
        st = slow(return_state=True)
        note(obs, "task_state", st)
        return "after"

    return flow_state(f)


@scenario("timeout/task_timeout_fails_flow")
def _(pf, obs):
    @pf.task(timeout_seconds=0.2)
    def slow():
        _sleep(2)
        return 1

    @pf.flow
    def f():
        return slow()

    return [flow_state(f)]


@scenario("timeout/task_timeout_caught")
def _(pf, obs):
    @pf.task(timeout_seconds=0.2)
    def slow():
        _sleep(2)
        return 1

    @pf.flow
    def f():
        try:
            slow()
        except TimeoutError as exc:
            return ["TimeoutError caught", type(exc).__name__, clean(str(exc))]
        return "no timeout"

    return flow_state(f)


@scenario("timeout/task_within_timeout")
def _(pf, obs):
    @pf.task(timeout_seconds=5)
    def quick():
        return "fast"

    @pf.flow
    def f():
        return quick()

    return flow_state(f)


@scenario("timeout/task_timeout_with_retries")
def _(pf, obs):
    @pf.task(timeout_seconds=0.2, retries=1, retry_delay_seconds=0)
    def slow():
        n = bump(obs, "attempts")
        if n == 1:
            _sleep(2)
        return n

    @pf.flow
    def f():
        return slow()

    return flow_state(f)


@scenario("timeout/flow_times_out")
def _(pf, obs):
    @pf.task
    def slow():
        _sleep(2)
        return 1

    @pf.flow(timeout_seconds=0.3)
    def f():
        return slow()

    return [flow_state(f)]


@scenario("timeout/hooks_see_timed_out")
def _(pf, obs):
    @pf.task(timeout_seconds=0.2, on_failure=[hook(obs, "task_failure")])
    def slow():
        _sleep(2)

    @pf.flow
    def f():
        slow(return_state=True)
        return 1

    return flow_state(f)


# ---------------------------------------------------------------------------
# 6. submit, map, wait, wait_for, allow_failure
# ---------------------------------------------------------------------------

@scenario("futures/submit_result")
def _(pf, obs):
    @pf.task
    def inc(x):
        return x + 1

    @pf.flow
    def f():
        a = inc.submit(1)
        b = inc.submit(a)
        return [a.result(), b.result()]

    return flow_state(f)


@scenario("futures/submit_failure_result_raises")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        fut = boom.submit()
        fut.wait()
        note(obs, "future_state", fut.state)
        note(obs, "result_no_raise", fut.result(raise_on_failure=False))
        return fut.result()

    return flow_state(f)


@scenario("futures/submit_failure_unresolved")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        fut = boom.submit()
        fut.wait()
        return "ignored the future"

    return flow_state(f)


@scenario("futures/return_failed_future")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        return boom.submit()

    return [flow_state(f), call(f)]


@scenario("futures/return_completed_future")
def _(pf, obs):
    @pf.task
    def ok():
        return 7

    @pf.flow
    def f():
        return ok.submit()

    return [flow_state(f), call(f)]


@scenario("futures/map_results_in_order")
def _(pf, obs):
    @pf.task
    def sq(x):
        return x * x

    @pf.flow
    def f():
        futs = sq.map([3, 1, 2, 5])
        return [fut.result() for fut in futs]

    return flow_state(f)


@scenario("futures/map_list_result")
def _(pf, obs):
    @pf.task
    def sq(x):
        return x * x

    @pf.flow
    def f():
        futs = sq.map(range(5))
        note(obs, "len", len(futs))
        return futs.result()

    return flow_state(f)


@scenario("futures/map_unmapped")
def _(pf, obs):
    @pf.task
    def add(x, y):
        return x + y

    @pf.task
    def join(xs, sep):
        return sep.join(xs)

    @pf.flow
    def f():
        a = add.map([1, 2, 3], pf.unmapped(10)).result()
        b = add.map([1, 2, 3], y=pf.unmapped(100)).result()
        c = join.map([["a", "b"], ["c"]], pf.unmapped("-")).result()
        return [a, b, c]

    return flow_state(f)


@scenario("futures/map_two_iterables")
def _(pf, obs):
    @pf.task
    def add(x, y):
        return x + y

    @pf.flow
    def f():
        return add.map([1, 2, 3], [10, 20, 30]).result()

    return flow_state(f)


@scenario("futures/map_unmapped_list")
def _(pf, obs):
    @pf.task
    def count(x, xs):
        return xs.count(x)

    @pf.flow
    def f():
        return count.map([1, 2, 3], pf.unmapped([1, 1, 3])).result()

    return flow_state(f)


@scenario("futures/map_empty")
def _(pf, obs):
    @pf.task
    def sq(x):
        return x * x

    @pf.flow
    def f():
        futs = sq.map([])
        return [len(futs), futs.result()]

    return flow_state(f)


@scenario("futures/map_over_futures")
def _(pf, obs):
    @pf.task
    def inc(x):
        return x + 1

    @pf.task
    def total(xs):
        return sum(xs)

    @pf.flow
    def f():
        first = inc.map([1, 2, 3])
        second = inc.map(first)
        return total(second)

    return flow_state(f)


@scenario("futures/map_failing_child_result_list")
def _(pf, obs):
    @pf.task
    def pick(x):
        if x == 2:
            raise ValueError(f"bad {x}")
        return x * 10

    @pf.flow
    def f():
        futs = pick.map([1, 2, 3])
        futs.wait()
        note(obs, "child_states", [fut.state for fut in futs])
        return futs.result()

    return flow_state(f)


@scenario("futures/map_failing_child_each_result")
def _(pf, obs):
    @pf.task
    def pick(x):
        if x == 2:
            raise ValueError(f"bad {x}")
        return x * 10

    @pf.flow
    def f():
        out = []
        for fut in pick.map([1, 2, 3]):
            try:
                out.append(fut.result())
            except ValueError as exc:
                out.append(f"error: {exc}")
        return out

    return flow_state(f)


@scenario("futures/map_failing_child_returned")
def _(pf, obs):
    @pf.task
    def pick(x):
        if x == 2:
            raise ValueError(f"bad {x}")
        return x * 10

    @pf.flow
    def f():
        return pick.map([1, 2, 3])

    return [flow_state(f), call(f)]


@scenario("futures/map_failing_child_not_returned")
def _(pf, obs):
    @pf.task
    def pick(x):
        if x == 2:
            raise ValueError(f"bad {x}")
        return x * 10

    @pf.flow
    def f():
        futs = pick.map([1, 2, 3])
        futs.wait()
        return "ignored"

    return flow_state(f)


@scenario("futures/map_result_no_raise")
def _(pf, obs):
    @pf.task
    def pick(x):
        if x == 2:
            raise ValueError(f"bad {x}")
        return x * 10

    @pf.flow
    def f():
        return [fut.result(raise_on_failure=False) for fut in pick.map([1, 2, 3])]

    return flow_state(f)


@scenario("futures/map_return_state")
def _(pf, obs):
    @pf.task
    def pick(x):
        if x == 2:
            raise ValueError(f"bad {x}")
        return x * 10

    @pf.flow
    def f():
        states = pick.map([1, 2, 3], return_state=True)
        return [type(states).__name__ == "list", states]

    return flow_state(f)


@scenario("futures/wait")
def _(pf, obs):
    @pf.task
    def inc(x):
        return x + 1

    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        futs = [inc.submit(1), boom.submit(), inc.submit(2)]
        done = pf.wait(futs)
        note(obs, "done", len(done.done))
        note(obs, "not_done", len(done.not_done))
        return [fut.result(raise_on_failure=False) for fut in futs]

    return flow_state(f)


@scenario("futures/wait_for_success")
def _(pf, obs):
    @pf.task
    def first():
        note(obs, "order", "first")
        return 1

    @pf.task
    def second():
        note(obs, "order", "second")
        return 2

    @pf.flow
    def f():
        a = first.submit()
        b = second.submit(wait_for=[a])
        return b.result()

    return flow_state(f)


@scenario("futures/wait_for_failed_upstream")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.task
    def after():
        bump(obs, "after_ran")
        return 2

    @pf.flow
    def f():
        a = boom.submit()
        b = after.submit(wait_for=[a])
        b.wait()
        note(obs, "b_state", b.state)
        return "end"

    return flow_state(f)


@scenario("futures/wait_for_failed_upstream_result")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.task
    def after():
        bump(obs, "after_ran")
        return 2

    @pf.flow
    def f():
        a = boom.submit()
        return after.submit(wait_for=[a]).result()

    return flow_state(f)


@scenario("futures/wait_for_on_plain_call")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.task
    def after():
        bump(obs, "after_ran")
        return 2

    @pf.flow
    def f():
        a = boom.submit()
        return after(wait_for=[a])

    return flow_state(f)


@scenario("futures/allow_failure_wait_for")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.task
    def cleanup():
        bump(obs, "cleanup_ran")
        return "cleaned"

    @pf.flow
    def f():
        a = boom.submit()
        return cleanup.submit(wait_for=[pf.allow_failure(a)]).result()

    return flow_state(f)


@scenario("futures/allow_failure_as_argument")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.task
    def inspect_arg(x):
        note(obs, "received", x)
        return type(x).__name__

    @pf.flow
    def f():
        a = boom.submit()
        return inspect_arg(pf.allow_failure(a))

    return flow_state(f)


@scenario("futures/failed_future_as_argument")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @pf.task
    def use(x):
        bump(obs, "use_ran")
        return x

    @pf.flow
    def f():
        st = use(boom.submit(), return_state=True)
        note(obs, "use_state", st)
        return "end"

    return flow_state(f)


@scenario("futures/future_in_collection_argument")
def _(pf, obs):
    @pf.task
    def inc(x):
        return x + 1

    @pf.task
    def total(d):
        return d["a"] + sum(d["b"])

    @pf.flow
    def f():
        return total({"a": inc.submit(1), "b": [inc.submit(2), 10]})

    return flow_state(f)


# ---------------------------------------------------------------------------
# 7. subflows
# ---------------------------------------------------------------------------

@scenario("subflow/returns_value")
def _(pf, obs):
    @pf.task
    def inc(x):
        return x + 1

    @pf.flow
    def child(x):
        return inc(x) * 10

    @pf.flow
    def parent():
        return [child(1), child(2)]

    return flow_state(parent)


@scenario("subflow/failure_propagates")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("child boom")

    @pf.flow
    def child():
        return boom()

    @pf.flow
    def parent():
        child()
        bump(obs, "after_child")

    return flow_state(parent)


@scenario("subflow/failure_caught")
def _(pf, obs):
    @pf.flow
    def child():
        raise ValueError("child boom")

    @pf.flow
    def parent():
        try:
            child()
        except ValueError as exc:
            return f"caught {exc}"

    return flow_state(parent)


@scenario("subflow/return_state")
def _(pf, obs):
    @pf.flow
    def child(x):
        if x:
            raise ValueError("child boom")
        return "fine"

    @pf.flow
    def parent():
        note(obs, "ok", child(0, return_state=True))
        note(obs, "bad", child(1, return_state=True))
        return "parent done"

    return flow_state(parent)


@scenario("subflow/nested_three_levels")
def _(pf, obs):
    @pf.task
    def leaf(x):
        return x + 1

    @pf.flow
    def inner(x):
        return leaf(x)

    @pf.flow
    def middle(x):
        return inner(x) * 2

    @pf.flow
    def outer():
        return middle(1) + middle(2)

    return flow_state(outer)


@scenario("subflow/child_returns_failed_state")
def _(pf, obs):
    @pf.flow
    def child():
        return pf.Failed(message="child refused")

    @pf.flow
    def parent():
        child()
        return "unreached"

    return flow_state(parent)


# ---------------------------------------------------------------------------
# 8. hooks
# ---------------------------------------------------------------------------

@scenario("hooks/task_completion")
def _(pf, obs):
    @pf.task(on_completion=[hook(obs, "c1"), hook(obs, "c2")],
             on_failure=[hook(obs, "f")])
    def ok():
        note(obs, "hooks", "body")
        return 1

    @pf.flow
    def f():
        ok()
        note(obs, "hooks", "after call")
        return 1

    return flow_state(f)


@scenario("hooks/task_failure")
def _(pf, obs):
    @pf.task(on_completion=[hook(obs, "c")], on_failure=[hook(obs, "f1"), hook(obs, "f2")])
    def boom():
        raise ValueError("boom")

    @pf.flow
    def f():
        boom(return_state=True)
        note(obs, "hooks", "after call")

    return flow_state(f)


@scenario("hooks/flow_completion")
def _(pf, obs):
    @pf.task(on_completion=[hook(obs, "task_c")])
    def ok():
        return 1

    @pf.flow(on_completion=[hook(obs, "flow_c")], on_failure=[hook(obs, "flow_f")])
    def f():
        return ok()

    return flow_state(f)


@scenario("hooks/flow_failure")
def _(pf, obs):
    @pf.task(on_failure=[hook(obs, "task_f")])
    def boom():
        raise ValueError("boom")

    @pf.flow(on_completion=[hook(obs, "flow_c")], on_failure=[hook(obs, "flow_f")])
    def f():
        return boom()

    return flow_state(f)


@scenario("hooks/decorator_style")
def _(pf, obs):
    @pf.task
    def boom():
        raise ValueError("boom")

    @boom.on_failure
    def _failed(task, run, state):
        note(obs, "hooks", ["decorated", state.name])

    @pf.flow
    def f():
        boom(return_state=True)
        return 1

    return flow_state(f)


@scenario("hooks/decorator_style_every_kind")
def _(pf, obs):
    @pf.task
    def ok():
        return 1

    @ok.on_running
    def _running(task, run, state):
        note(obs, "hooks", ["task running", state.name])

    @ok.on_completion
    def _done(task, run, state):
        note(obs, "hooks", ["task completed", state.name, state.result()])

    @pf.task
    def boom():
        raise ValueError("boom")

    @boom.on_failure
    def _first(task, run, state):
        note(obs, "hooks", ["task failed 1", state.name])

    @boom.on_failure
    def _second(task, run, state):
        note(obs, "hooks", ["task failed 2", state.name])

    @pf.flow
    def good():
        return ok()

    @good.on_running
    def _flow_running(flow, run, state):
        note(obs, "hooks", ["flow running", state.name])

    @good.on_completion
    def _flow_done(flow, run, state):
        note(obs, "hooks", ["flow completed", state.name])

    @pf.flow
    def bad():
        return boom()

    @bad.on_failure
    def _flow_failed(flow, run, state):
        note(obs, "hooks", ["flow failed", state.name])

    returned = [_running.__name__, _flow_failed.__name__]  # (the decorator returns the hook)
    return [returned, flow_state(good), flow_state(bad)]


@scenario("hooks/hook_raises")
def _(pf, obs):
    def bad_hook(task, run, state):
        note(obs, "hooks", "bad hook ran")
        raise RuntimeError("hook broke")

    @pf.task(on_completion=[bad_hook, hook(obs, "second")])
    def ok():
        return 1

    @pf.flow
    def f():
        return ok()

    return flow_state(f)


@scenario("hooks/subflow_hooks")
def _(pf, obs):
    @pf.flow(on_failure=[hook(obs, "child_f")], on_completion=[hook(obs, "child_c")])
    def child(x):
        if x:
            raise ValueError("x")
        return 1

    @pf.flow(on_completion=[hook(obs, "parent_c")])
    def parent():
        child(0)
        try:
            child(1)
        except ValueError:
            note(obs, "hooks", "parent caught")
        return 2

    return flow_state(parent)


# ---------------------------------------------------------------------------
# 9. caching
# ---------------------------------------------------------------------------

def _counted(pf, obs, key="ran", **options):
    @pf.task(**options)
    def work(x):
        bump(obs, key)
        return x * 10
    return work


@scenario("cache/default_no_caching")
def _(pf, obs):
    work = _counted(pf, obs)

    @pf.flow
    def f():
        return [work(1), work(1)]

    return [flow_state(f), flow_state(f)]


@scenario("cache/inputs_within_run")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS)

    @pf.flow
    def f():
        note(obs, "states", work(1, return_state=True))
        note(obs, "states", work(1, return_state=True))
        note(obs, "states", work(2, return_state=True))
        return [work(1), work(2), work(3)]

    return flow_state(f)


@scenario("cache/inputs_across_runs")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS)

    @pf.flow
    def f(x):
        return work(x)

    return [flow_state(f, 1), flow_state(f, 1), flow_state(f, 2), obs.get("ran")]


@scenario("cache/inputs_shared_between_tasks")
def _(pf, obs):
    a = _counted(pf, obs, "a", cache_policy=pf.INPUTS)

    @pf.task(cache_policy=pf.INPUTS)
    def b(x):
        bump(obs, "b")
        return x * 1000

    @pf.flow
    def f():
        return [a(1), b(1)]

    return flow_state(f)


@scenario("cache/task_input_hash_across_runs")
def _(pf, obs):
    work = _counted(pf, obs, cache_key_fn=pf.task_input_hash)

    @pf.flow
    def f(x):
        note(obs, "states", work(x, return_state=True))
        return work(x)

    return [flow_state(f, 1), flow_state(f, 1), flow_state(f, 2)]


@scenario("cache/task_input_hash_kwargs_vs_positional")
def _(pf, obs):
    work = _counted(pf, obs, cache_key_fn=pf.task_input_hash)

    @pf.flow
    def f():
        return [work(1), work(x=1)]

    return flow_state(f)


@scenario("cache/task_input_hash_one_function_two_tasks")
def _(pf, obs):
    # two task objects made from one function (same name, same code)
    a = _counted(pf, obs, "a", cache_key_fn=pf.task_input_hash)
    b = _counted(pf, obs, "b", cache_key_fn=pf.task_input_hash)

    @pf.flow
    def f():
        return [a(1), b(1)]

    return flow_state(f)


@scenario("cache/task_input_hash_distinct_tasks")
def _(pf, obs):
    @pf.task(cache_key_fn=pf.task_input_hash)
    def a(x):
        bump(obs, "a")
        return x * 10

    @pf.task(cache_key_fn=pf.task_input_hash)
    def b(x):
        bump(obs, "b")
        return x * 1000

    @pf.flow
    def f():
        return [a(1), b(1), a(1)]

    return flow_state(f)


@scenario("cache/custom_cache_key_fn")
def _(pf, obs):
    def by_parity(context, parameters):
        return f"parity-{parameters['x'] % 2}"

    work = _counted(pf, obs, cache_key_fn=by_parity)

    @pf.flow
    def f():
        return [work(1), work(3), work(2), work(4), work(5)]

    return flow_state(f)


@scenario("cache/expiration_long")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS, cache_expiration=HOUR)

    @pf.flow
    def f():
        return [work(1), work(1)]

    return [flow_state(f), flow_state(f)]


@scenario("cache/expiration_zero")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS,
                    cache_expiration=datetime.timedelta(seconds=0))

    @pf.flow
    def f():
        return [work(1), work(1)]

    return [flow_state(f), flow_state(f)]


@scenario("cache/task_source")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.TASK_SOURCE)

    @pf.flow
    def f():
        return [work(1), work(2)]

    return [flow_state(f), flow_state(f)]


@scenario("cache/task_source_distinct_sources")
def _(pf, obs):
    @pf.task(cache_policy=pf.TASK_SOURCE)
    def a(x):
        bump(obs, "a")
        return x + 1

    @pf.task(cache_policy=pf.TASK_SOURCE)
    def b(x):
        bump(obs, "b")
        return x + 2

    @pf.flow
    def f():
        return [a(1), b(1), a(5), b(5)]

    return flow_state(f)


@scenario("cache/inputs_plus_task_source")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS + pf.TASK_SOURCE)

    @pf.flow
    def f():
        return [work(1), work(1), work(2)]

    return [flow_state(f), flow_state(f)]


@scenario("cache/no_cache")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.NO_CACHE)

    @pf.flow
    def f():
        note(obs, "states", work(1, return_state=True))
        return [work(1), work(1)]

    return [flow_state(f), flow_state(f)]


@scenario("cache/failure_not_cached")
def _(pf, obs):
    @pf.task(cache_policy=pf.INPUTS)
    def flaky(x):
        n = bump(obs, "ran")
        if n == 1:
            raise ValueError("first time")
        return x

    @pf.flow
    def f():
        first = flaky(1, return_state=True)
        return [first.name, flaky(1), flaky(1)]

    return flow_state(f)


@scenario("cache/mapped_children")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS)

    @pf.flow
    def f(xs):
        # children run concurrently: equal inputs in one map would race for the key
        return work.map(xs).result()

    return [flow_state(f, [1, 2, 3]), obs.get("ran"), flow_state(f, [3, 4, 1])]


@scenario("cache/persist_result_false")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS, persist_result=False)

    @pf.flow
    def f():
        return [work(1), work(1)]

    return [flow_state(f), flow_state(f)]


@scenario("cache/refresh_cache")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS)

    @pf.flow
    def f():
        a = work(1)
        b = work.with_options(refresh_cache=True)(1)
        c = work(1)
        return [a, b, c]

    return flow_state(f)


@scenario("cache/unhashable_input")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS)

    @pf.task(cache_policy=pf.INPUTS)
    def uses_lock(lock, x):
        bump(obs, "lock_ran")
        return x

    @pf.flow
    def f():
        return [work([1, 2]), work([1, 2]), uses_lock(threading.Lock(), 1),
                uses_lock(threading.Lock(), 1)]

    return flow_state(f)


# ---------------------------------------------------------------------------
# 10. parameters
# ---------------------------------------------------------------------------

def _typed_flow(pf, obs):
    @pf.flow
    def f(x: int, y: float = 1.0, tags: list[str] | None = None):
        bump(obs, "body")
        return [x, type(x).__name__, y, type(y).__name__, tags]
    return f


@scenario("params/coerced_from_str")
def _(pf, obs):
    f = _typed_flow(pf, obs)
    return [flow_state(f, "3"), call(f, "3", y="2.5")]


@scenario("params/bad_value")
def _(pf, obs):
    f = _typed_flow(pf, obs)
    return [flow_state(f, "abc"), call(f, "abc")]


@scenario("params/bad_nested_value")
def _(pf, obs):
    f = _typed_flow(pf, obs)
    return [call(f, 1, tags=["a", 2]), call(f, 1, tags="ab")]


@scenario("params/missing_argument")
def _(pf, obs):
    f = _typed_flow(pf, obs)
    return [flow_state(f), call(f)]


@scenario("params/unexpected_argument")
def _(pf, obs):
    f = _typed_flow(pf, obs)
    return [call(f, 1, z=3), call(f, 1, 2.0, None, 4)]


@scenario("params/validate_parameters_false")
def _(pf, obs):
    @pf.flow(validate_parameters=False)
    def f(x: int):
        bump(obs, "body")
        return [x, type(x).__name__]

    return [call(f, "3"), call(f, "abc")]


@scenario("params/float_to_int")
def _(pf, obs):
    f = _typed_flow(pf, obs)
    return [call(f, 3.0), call(f, 3.5), call(f, True)]


@scenario("params/task_hints_not_validated")
def _(pf, obs):
    @pf.task
    def t(x: int):
        return [x, type(x).__name__]

    @pf.flow
    def f():
        return t("abc")

    return flow_state(f)


@scenario("params/defaults_and_kwargs")
def _(pf, obs):
    @pf.flow
    def f(a: int, b: int = 2, *, c: str = "c"):
        return [a, b, c]

    return [call(f, 1), call(f, 1, 3, c="z"), call(f, a="5", b="6")]


# ---------------------------------------------------------------------------
# 11. logging, results, outside a flow
# ---------------------------------------------------------------------------

@scenario("logging/log_prints_task")
def _(pf, obs):
    @pf.task(log_prints=True)
    def t():
        print("user: hello from task")
        return 1

    @pf.task
    def quiet():
        print("user: plain print")
        return 2

    @pf.flow
    def f():
        return [t(), quiet()]

    with capture(pf, obs):
        return flow_state(f)


@scenario("logging/log_prints_flow")
def _(pf, obs):
    @pf.task
    def t():
        print("user: print in task")
        return 1

    @pf.flow(log_prints=True)
    def f():
        print("user: print in flow")
        return t()

    with capture(pf, obs):
        return flow_state(f)


@scenario("logging/log_prints_task_overrides_flow")
def _(pf, obs):
    @pf.task(log_prints=False)
    def t():
        print("user: task says")
        return 1

    @pf.flow(log_prints=True)
    def f():
        return t()

    with capture(pf, obs):
        return flow_state(f)


@scenario("async/log_prints")
def _(pf, obs):
    @pf.task(log_prints=False)
    async def quiet():
        print("user: quiet task says")
        return 1

    @pf.task(log_prints=False, retries=1, retry_delay_seconds=0)
    async def quiet_retried():
        print("user: quiet retried task says")
        return 2

    @pf.task
    async def loud():
        print("user: loud task says")
        return 3

    @pf.flow(log_prints=True)
    async def f():
        print("user: flow says")
        return await quiet() + await quiet_retried() + await loud()

    with capture(pf, obs):
        return flow_state_async(f)


@scenario("logging/log_prints_submitted_mapped_and_hooks")
def _(pf, obs):
    @pf.task
    def shout(x):
        print(f"user: task says {x}")
        return x

    def done(flow, run, state):
        print("user: hook says done")

    @pf.flow(log_prints=True, on_completion=[done])
    def f():
        return [shout.submit(1).result(), shout.map([2, 3]).result()]

    with capture(pf, obs):
        record = flow_state(f)
    obs["logs"] = sorted(obs["logs"])  # (submitted and mapped calls log from other threads)
    return record


@scenario("runtime/task_run_name_callables")
def _(pf, obs):
    def from_runtime():
        return f"load-{pf.runtime.task_run.parameters['x']}"

    def from_parameters(parameters):
        return f"save-{parameters['x']}"

    @pf.task(task_run_name=from_runtime)
    def load(x):
        return pf.runtime.task_run.name

    @pf.task(task_run_name=from_parameters)
    def save(x):
        return pf.runtime.task_run.name

    @pf.task(task_run_name="fmt-{x}-{y}")
    def fmt(x, y=2):
        return pf.runtime.task_run.name

    @pf.flow
    def f():
        return [load(1), save(2), fmt(3), load.submit(4).result()]

    return flow_state(f)


@scenario("logging/get_run_logger")
def _(pf, obs):
    @pf.task
    def t():
        pf.get_run_logger().info("user: task info")
        pf.get_run_logger().debug("user: task debug")
        return 1

    @pf.flow
    def f():
        pf.get_run_logger().warning("user: flow warning")
        return t()

    with capture(pf, obs):
        return flow_state(f)


@scenario("logging/get_run_logger_outside_run")
def _(pf, obs):
    return call(pf.get_run_logger)


@scenario("results/persist_result_true")
def _(pf, obs):
    @pf.task(persist_result=True)
    def t(x):
        bump(obs, "ran")
        return {"x": x}

    @pf.flow(persist_result=True)
    def f():
        st = t(1, return_state=True)
        return [st.result(), t(1)]

    return [flow_state(f), flow_state(f)]


@scenario("results/persist_result_inputs_across_runs")
def _(pf, obs):
    work = _counted(pf, obs, cache_policy=pf.INPUTS, persist_result=True)

    @pf.flow
    def f():
        return work(4)

    return [flow_state(f), flow_state(f)]


@scenario("outside/task_called_outside_flow")
def _(pf, obs):
    @pf.task
    def inc(x):
        return x + 1

    return call(inc, 1)


@scenario("outside/task_fn_attribute")
def _(pf, obs):
    @pf.task
    def inc(x):
        return x + 1

    @pf.flow
    def f(x):
        return x * 2

    return [inc.fn(1), f.fn(4)]

"""The executor conformance suite: what every executor, built in or from a plugin, must
get right.

Subclass :class:`ExecutorConformance` in a test module and say how to build your
executor; pytest collects the class (its name must start with ``Test``) and runs every
test below against it::

    from ferroflow.testing.conformance import ExecutorConformance

    class TestMyExecutor(ExecutorConformance):
        executor_factory = MyExecutor              # or a function: lambda: MyExecutor(workers=2)

or, without a class statement::

    from ferroflow.testing.conformance import executor_conformance

    TestMyExecutor = executor_conformance(lambda: MyExecutor(workers=2))

``executor_factory`` is called with no arguments once per flow run and must return a
new, unstarted executor. The tests run real flows through ``flow.run(executor=...)``:
single and mapped task runs (results in order even when units finish out of order),
failures with their tracebacks, retries, signals, loops (a retried loop resumes at
its failed iteration), timeouts (``TimedOut``, never a
success; hard or soft), state handlers, ``ferroflow.context``, logs kept with the run,
a 20,000-child map, ``start``/``shutdown`` called once even after an error, and an
executor error or Ctrl-C ending the run (``Failed`` / ``Cancelled``) without hanging
on task runs still in flight.

Every test bounds its own time (no pytest-timeout needed) and records runs into a
temporary ``FERROFLOW_HOME``, never the user's ``~/.ferroflow/runs.db``: see
:mod:`ferroflow.testing.kit`.

Tasks here only use what crosses a process boundary: they are module-level, their
arguments and results pickle, and they record side effects in files (a task may run
in another process), so the suite fits executors that run task runs anywhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ferroflow import Flow, Parameter, context, get_logger, signals, states, task, unmapped
from ferroflow.executors.base import Executor
from ferroflow.testing.kit import ConformanceKit, time_limit

__all__ = ["ExecutorConformance", "executor_conformance", "Spy"]

#: Children of the large map.
LARGE_MAP = 20_000
#: Seconds a timed-out task run would sleep: far past its timeout, so only the timeout ends it.
NEVER = 60.0


# ----- tasks (module level, so that they travel to other processes) ------------------


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
def combine(x, y, k):
    return (x, y, k)


@task
def late_first(x, n):
    """Early items take longer, so units finish in a different order than they started."""
    time.sleep(0.01 * (8 - x) if x < 8 else 0)
    return x * 10


@task
def explode_on_3(x):
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


@task(max_retries=2, retry_delay=timedelta(0))
def flaky(x):
    if x % 2 and context.task_run_count < 2:
        raise RuntimeError(f"first attempt of {x} fails")
    return (x, context.task_run_count)


@task(max_retries=2, retry_delay=timedelta(0))
def always_fails():
    raise RuntimeError(f"attempt {context.task_run_count} failed")


@task(max_retries=1, retry_delay=timedelta(0))
def loops_then_fails_once(x):
    """Loops 5 times; its first attempt fails in the third iteration. The retry must
    resume there: the history it returns says which attempt ran which iteration."""
    history = context.get("loop_result", [])
    count = context.loop_count
    if count == 3 and context.task_run_count == 1:
        raise RuntimeError("fails in iteration 3")
    if count < 5:
        raise signals.LOOP(result=history + [(context.task_run_count, count)])
    return history


@task
def signalling(kind):
    if kind == "skip":
        raise signals.SKIP("nothing to do")
    if kind == "fail":
        raise signals.FAIL("refused")
    if kind == "success":
        raise signals.SUCCESS("done early", result="early")
    return kind


@task(timeout=0.5)
def sleeper(seconds):
    time.sleep(seconds)
    return seconds


@task(timeout=0.5, max_retries=1, retry_delay=timedelta(0))
def slow_then_fast():
    if context.task_run_count == 1:
        time.sleep(NEVER)
    return "second attempt"


@task
def who(x):
    return {
        "flow_name": context.flow_name,
        "flow_run_id": context.flow_run_id,
        "task_name": context.task_name,
        "task_full_name": context.task_full_name,
        "map_index": context.map_index,
        "task_run_count": context.task_run_count,
        "parameters": context.parameters,
        "team": context.get("team"),
    }


@task(log_stdout=True)
def chatty(x):
    get_logger().info("working on %s", x)
    print(f"printed {x}")
    if x == 2:
        get_logger().error("item %s is bad", x)
        raise ValueError("bad")
    return x


@task
def nap(x):
    time.sleep(x)
    return x


def transitions_to(path: str) -> Callable[..., Any]:
    """A state handler that appends ``Old->New`` lines to ``path`` and turns a failed
    run into ``Success("recovered")``."""

    def handler(task_, old, new):
        with open(path, "a") as f:
            f.write(f"{getattr(context, 'task_full_name', task_.name)} {type(old).__name__}->{type(new).__name__}\n")
        if new.is_failed():
            return states.Success("recovered", result=-1)
        return new

    return handler


# ----- a spy around the executor under test --------------------------------------------


class Spy(Executor):
    """Wraps an executor: counts ``start``/``shutdown`` calls and can make ``wait()``
    raise ``error`` on its ``fail_at``-th call (before asking the wrapped executor),
    as a broken executor or a Ctrl-C would."""

    def __init__(self, inner: Executor, fail_at: int | None = None, error: BaseException | None = None):
        self.inner = inner
        self.batches = getattr(inner, "batches", False)
        self.name = f"spy({getattr(inner, 'name', type(inner).__name__)})"
        self.fail_at = fail_at
        self.error = error
        self.calls = {"start": 0, "shutdown": 0, "submit": 0, "wait": 0}

    def start(self) -> None:
        self.calls["start"] += 1
        self.inner.start()

    def slots(self) -> int:
        return self.inner.slots()

    def submit(self, unit: Any) -> None:
        self.calls["submit"] += 1
        self.inner.submit(unit)

    def wait(self) -> list:
        self.calls["wait"] += 1
        if self.fail_at is not None and self.calls["wait"] >= self.fail_at:
            raise self.error if self.error is not None else RuntimeError("injected executor failure")
        return self.inner.wait()

    def shutdown(self) -> None:
        self.calls["shutdown"] += 1
        self.inner.shutdown()


# ----- the suite ---------------------------------------------------------------------------


class ExecutorConformance(ConformanceKit):
    """Tests every executor must pass; see the module docstring. Set
    ``executor_factory`` in a subclass named ``Test...``.

    Each test has a time limit of its own (:attr:`default_time_limit`, 120 s; the large map
    300 s; an executor error or Ctrl-C with task runs in flight 30 s, half the time
    those task runs would sleep, so a ``shutdown()`` that waits for them fails) and
    runs with a private ``FERROFLOW_HOME`` (:class:`ferroflow.testing.kit.ConformanceKit`).
    """

    #: Called with no arguments: returns a new executor. Required.
    executor_factory: Callable[[], Executor] | None = None

    def make_executor(self) -> Executor:
        factory = type(self).executor_factory
        if factory is None:
            raise TypeError(f"{type(self).__name__} must set executor_factory (a callable returning an executor)")
        return factory()

    def run(self, flow: Flow, executor: Executor | None = None, **parameters: Any) -> states.State:
        return flow.run(parameters=parameters, executor=executor if executor is not None else self.make_executor())

    # ----- running and results -------------------------------------------------

    def test_executor_has_slots(self):
        executor = self.make_executor()
        executor.start()
        try:
            slots = executor.slots()
        finally:
            executor.shutdown()
        assert isinstance(slots, int) and slots >= 1, f"slots() must be a positive int, got {slots!r}"

    def test_single_tasks(self):
        with Flow("single") as flow:
            n = Parameter("n", default=1)
            a = inc(n)
            b = add(a, 10)
            c = add(b, y=a)
        state = self.run(flow, n=5)
        assert state.is_successful(), state.message
        assert [state.result[t].result for t in (a, b, c)] == [6, 16, 22]
        assert all(isinstance(state.result[t], states.Success) for t in (a, b, c))

    def test_mapped_results_are_in_order(self):
        with Flow("mapped") as flow:
            m = inc.map(list(range(1000)))
            m2 = inc.map(m)
            pairs = combine.map(list(range(50)), list(range(100, 150)), k=unmapped("k"))
            t = total(m2)
        state = self.run(flow)
        assert state.is_successful(), state.message
        assert state.result[m].result == list(range(1, 1001))
        assert state.result[m2].result == list(range(2, 1002))
        assert state.result[pairs].result == [(i, 100 + i, "k") for i in range(50)]
        assert state.result[t].result == sum(range(2, 1002))
        children = state.result[m].map_states
        assert len(children) == 1000 and children[999].result == 1000

    def test_results_in_order_when_units_finish_out_of_order(self):
        n = 40
        with Flow("out-of-order") as flow:
            m = late_first.map(list(range(n)), n=unmapped(n))
        state = self.run(flow)
        assert state.result[m].result == [10 * i for i in range(n)]

    @time_limit(300)
    def test_large_map(self):
        with Flow("large") as flow:
            m = inc.map(list(range(LARGE_MAP)))
            m2 = add.map(m, m)
            t = total(m2)
        state = self.run(flow)
        assert state.is_successful(), state.message
        assert state.result[t].result == 2 * sum(range(1, LARGE_MAP + 1))
        values = state.result[m2].result
        assert len(values) == LARGE_MAP and values[:3] == [2, 4, 6] and values[-1] == 2 * LARGE_MAP
        assert state.result[m2].map_states.counts() == {"Success": LARGE_MAP}

    def test_the_executor_can_run_flows_again(self):
        executor = self.make_executor()
        with Flow("again") as flow:
            m = inc.map(list(range(100)))
        first = self.run(flow, executor=executor)
        second = self.run(flow, executor=executor)
        assert first.result[m].result == second.result[m].result == list(range(1, 101))

    # ----- failures, retries, signals ---------------------------------------------------

    def test_failures_keep_their_traceback(self):
        with Flow("failing") as flow:
            m = explode_on_3.map(list(range(6)))
            t = total(m)
        state = self.run(flow)
        assert state.is_failed()
        children = state.result[m].map_states
        bad = children[3]
        assert isinstance(bad, states.Failed) and not isinstance(bad, states.TimedOut)
        assert isinstance(bad.result, ValueError) and str(bad.result) == "bad item 3"
        assert bad.message is not None and "ValueError" in bad.message and "bad item 3" in bad.message
        assert bad.traceback is not None, "a failed task run must keep its traceback"
        assert "ValueError: bad item 3" in bad.traceback and "explode_on_3" in bad.traceback
        assert [children[i].result for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]
        assert children.counts() == {"Success": 5, "Failed": 1}
        assert isinstance(state.result[t], states.TriggerFailed)

    def test_retries(self):
        with Flow("retries") as flow:
            m = flaky.map(list(range(6)))
            f = always_fails()
        state = self.run(flow)
        assert state.result[m].result == [(x, 2 if x % 2 else 1) for x in range(6)]
        child = state.result[m].map_states[1]
        assert child.is_successful() and child.run_count == 2
        failed = state.result[f]
        assert failed.is_failed() and failed.run_count == 3
        assert str(failed.result) == "attempt 3 failed"

    def test_signals(self):
        with Flow("signals") as flow:
            m = signalling.map(["skip", "fail", "success", "plain"])
        state = self.run(flow)
        skip, fail, success, plain = state.result[m].map_states
        assert isinstance(skip, states.Skipped) and skip.message == "nothing to do"
        assert isinstance(fail, states.Failed) and fail.message == "refused"
        assert isinstance(success, states.Success) and success.result == "early"
        assert success.message == "done early"
        assert plain.result == "plain"

    def test_loops_and_retried_loops_resume(self):
        with Flow("loops") as flow:
            m = loops_then_fails_once.map([0, 1, 2])
            single = loops_then_fails_once(9)
        state = self.run(flow)
        expected = [(1, 1), (1, 2), (2, 3), (2, 4)]
        assert state.result[m].result == [expected] * 3
        assert state.result[single].result == expected and state.result[single].run_count == 2

    # ----- timeouts ------------------------------------------------------------------

    def test_timeouts_end_timed_out_never_success(self):
        with Flow("timeouts") as flow:
            m = sleeper.map([0, NEVER])
        state = self.run(flow)
        fast, slow = state.result[m].map_states
        assert fast.is_successful() and fast.result == 0
        assert isinstance(slow, states.TimedOut), f"expected TimedOut, got {slow!r}"
        assert slow.is_failed() and not slow.is_successful()
        assert state.is_failed()

    def test_timed_out_runs_are_retried(self):
        with Flow("timeout-retry") as flow:
            s = slow_then_fast()
        state = self.run(flow)
        assert state.result[s].result == "second attempt" and state.result[s].run_count == 2

    # ----- state handlers, context, logs ------------------------------------------

    def test_state_handlers(self, tmp_path):
        path = tmp_path / "transitions.txt"
        observed = explode_on_3.copy(state_handlers=[transitions_to(str(path))])
        with Flow("handlers") as flow:
            m = observed.map([2, 3])
        state = self.run(flow)
        children = state.result[m].map_states
        assert children[0].result == 2
        assert children[1].is_successful() and children[1].message == "recovered" and children[1].result == -1
        lines = path.read_text().splitlines()
        for name in ("explode_on_3[0]", "explode_on_3[1]"):
            assert f"{name} Pending->Running" in lines, lines
        assert "explode_on_3[0] Running->Success" in lines, lines
        assert "explode_on_3[1] Running->Failed" in lines, lines

    def test_context(self):
        with Flow("ctx") as flow:
            p = Parameter("p", default=1)
            m = who.map(list(range(3)), upstream_tasks=[unmapped(p)])
            s = who(7)
        with context(team="data"):
            state = self.run(flow, p=5)
        rows = state.result[m].result
        assert [r["map_index"] for r in rows] == [0, 1, 2]
        assert [r["task_full_name"] for r in rows] == ["who[0]", "who[1]", "who[2]"]
        single = state.result[s].result
        assert single["map_index"] is None and single["task_full_name"] == "who"
        for row in (*rows, single):
            assert row["flow_name"] == "ctx" and row["task_name"] == "who"
            assert row["parameters"] == {"p": 5} and row["task_run_count"] == 1
            assert row["team"] == "data", "values set with `with context(...)` must reach the task run"
        assert len({r["flow_run_id"] for r in (*rows, single)}) == 1

    def test_logs_reach_the_run(self):
        seen = []

        class Collect(logging.Handler):
            def emit(self, record):
                seen.append((getattr(record, "task_full_name", None), record.getMessage()))

        handler = Collect()
        logging.getLogger("ferroflow").addHandler(handler)
        try:
            with Flow("logs") as flow:
                m = chatty.map([1, 2, 3])
            state = self.run(flow)
        finally:
            logging.getLogger("ferroflow").removeHandler(handler)
        children = state.result[m].map_states
        assert [(e.level, e.message) for e in children[1].logs] == [
            ("INFO", "working on 2"), ("INFO", "printed 2"), ("ERROR", "item 2 is bad")]
        assert [e.message for e in children[0].logs] == ["working on 1", "printed 1"]
        assert [e.message for e in children[2].logs] == ["working on 3", "printed 3"]
        assert ("chatty[1]", "item 2 is bad") in seen and ("chatty[2]", "printed 3") in seen

    # ----- lifecycle, errors, cancellation --------------------------------------------

    def test_start_and_shutdown_are_called_once(self):
        with Flow("ok") as flow:
            inc.map(list(range(10)))
        with Flow("fails") as failing:
            explode_on_3.map(list(range(5)))
        for f, successful in ((flow, True), (failing, False)):
            spy = Spy(self.make_executor())
            state = self.run(f, executor=spy)
            assert state.is_successful() is successful
            assert spy.calls["start"] == 1 and spy.calls["shutdown"] == 1, spy.calls

    @time_limit(NEVER / 2)
    def test_an_executor_error_fails_the_run_without_hanging(self):
        spy = Spy(self.make_executor(), fail_at=2)
        state = self.run(self._in_flight_flow(), executor=spy)
        assert state.is_failed(), state
        assert state.message is not None and "injected executor failure" in state.message
        assert spy.calls["shutdown"] == 1, spy.calls

    @time_limit(NEVER / 2)
    def test_ctrl_c_cancels_the_run_without_hanging(self):
        spy = Spy(self.make_executor(), fail_at=2, error=KeyboardInterrupt())
        state = self.run(self._in_flight_flow(), executor=spy)
        assert state.is_cancelled(), state
        assert spy.calls["shutdown"] == 1, spy.calls

    @staticmethod
    def _in_flight_flow() -> Flow:
        """A first task, then long task runs that are in flight (on executors that run
        units in the background) when ``wait()`` fails: ``shutdown()`` must not wait
        for them."""
        with Flow("in-flight") as flow:
            first = inc(1)
            nap.map([NEVER, NEVER, NEVER], upstream_tasks=[unmapped(first)])
        return flow


def executor_conformance(factory: Callable[[], Executor], name: str | None = None) -> type:
    """The suite as a class bound to ``factory``; assign it to a ``Test...`` name in a
    test module: ``TestMine = executor_conformance(lambda: Mine(workers=2))``."""
    label = name or getattr(factory, "__name__", "Executor").replace("<lambda>", "Executor")
    return type(f"Test{label}Conformance", (ExecutorConformance,), {"executor_factory": staticmethod(factory)})


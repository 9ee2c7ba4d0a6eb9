"""Constant tasks are never run: as Prefect 1's flow runner does with a ``Constant``, the
engine makes them ``Success`` with their value and no message from the start of the
run, whatever their upstream tasks, trigger, state handlers or result say (the
differential scenarios in tests/compat/scenarios_constants_caching.py compare this with
Prefect 1.4.1 itself)."""

from __future__ import annotations

from ferroflow import Flow, ifelse, signals, task, triggers
from ferroflow.core.collections import Constant
from ferroflow.engine.graph import freeze
from ferroflow.engine.runner import FlowRun
from ferroflow.executors.local import LocalExecutor
from ferroflow.results import MemoryResultStore, Result
from ferroflow.store import SQLiteRunStore


class NeverRun(Constant):
    """A constant whose run() must not be called."""

    def run(self):
        raise AssertionError("a constant task was run")


@task
def cond():
    return True


@task
def skips():
    raise signals.SKIP("no")


@task
def inc(x):
    return x + 1


class CountingExecutor(LocalExecutor):
    """The local executor, remembering the task of every unit it was given."""

    def __init__(self):
        super().__init__()
        self.labels = []

    def submit(self, unit):
        self.labels.append(unit.label)
        super().submit(unit)


def test_a_constant_behind_a_skipped_branch_succeeds_without_running():
    seen = []
    branch = NeverRun([10, 20], trigger=triggers.all_failed,
                      state_handlers=[lambda t, old, new: seen.append((old, new))])
    executor = CountingExecutor()
    with Flow("branches") as flow:
        ifelse(cond(), 1, branch)
        out = inc.map(branch)
    state = flow.run(executor=executor)
    got = state.result[branch]
    assert (type(got).__name__, got.message, got.result) == ("Success", None, [10, 20])
    assert state.result[out].result == [11, 21]  # its downstream tasks run as usual
    assert seen == [] and branch.name not in executor.labels


def test_a_constant_with_a_failed_and_a_skipped_upstream():
    flow = Flow("upstreams")
    k = NeverRun(5)
    flow.set_dependencies(k, upstream_tasks=[skips, task(lambda: 1 / 0, name="fails")])
    after = inc.copy()
    flow.set_dependencies(after, upstream_tasks=[k], keyword_tasks={"x": 1})
    state = flow.run()
    assert (type(state.result[k]).__name__, state.result[k].result) == ("Success", 5)
    assert type(state.result[after]).__name__ == "Success"


def test_a_constant_is_never_checkpointed_and_is_recorded_with_no_message(tmp_path):
    store = Result(MemoryResultStore())
    k = Constant(7, result=store, target="never-written")
    with Flow("kept", result=store) as flow:
        flow.add_task(k)
    runs = SQLiteRunStore(tmp_path / "runs.db")
    state = FlowRun(freeze(flow), {}, LocalExecutor(), store=runs).execute()
    assert state.result[k].result == 7 and state.result[k].location is None
    assert not store.store.exists("never-written")
    runs.flush()
    [recorded] = runs.task_states(state.flow_run_id)
    assert (recorded.state, recorded.message) == ("Success", None)
    runs.close()

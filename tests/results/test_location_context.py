"""What a result location (template or callable) and a target are formatted with: the
task run's context, as Prefect 1's ``{**parameters, **prefect.context, **inputs}``,
with ``ferroflow.context`` itself set to that task run while they are formatted (a
looping task's last ``task_loop_count`` included)."""

from __future__ import annotations

import os
import uuid

import cloudpickle

from ferroflow import Flow, Parameter, context, signals, task
from ferroflow.results import LocalResult

#: The keys Prefect 1.4.1 passed to a location callable of a task ``plain(x)`` in a
#: local run with parameters ``m`` (given) and ``n`` (default), checkpointing on
#: (checked in /work/p1venv).
PREFECT_KEYS = {
    "caches", "checkpointing", "config", "date", "flow_id", "flow_name", "flow_run_id", "flow_run_name",
    "logger", "m", "map_index", "n", "parameters", "scheduled_start_time", "task_full_name", "task_id",
    "task_name", "task_run_count", "task_run_id", "task_slug", "task_tags", "today", "today_nodash",
    "tomorrow", "tomorrow_nodash", "x", "yesterday", "yesterday_nodash",
}
#: Prefect's own machinery, which ferroflow has no counterpart of.
PREFECT_ONLY = {"caches", "checkpointing", "config"}
#: ferroflow's own context keys.
FERROFLOW_ONLY = {"loop_count", "resume"}


def test_a_looping_tasks_location_sees_its_last_iteration(tmp_path):
    # The real flow schematics_looper_local_result: Prefect 1.4.1 writes <dir>/7.prefect.
    seen = []

    def location(**kwargs):
        seen.append((kwargs["task_loop_count"], kwargs["task_loop_result"]))
        return f"{context.get('task_loop_count')}.prefect"

    @task(result=LocalResult(dir=str(tmp_path), location=location))
    def loop_test():
        n = context.get("task_loop_result", 0)
        if n > 5:
            return n
        raise signals.LOOP(result=n + 1)

    with Flow("looper") as flow:
        looped = loop_test()
    state = flow.run(record=False)
    assert state.result[looped].result == 6
    assert state.result[looped]._result.location == f"{tmp_path}/7.prefect"
    assert os.path.isfile(tmp_path / "7.prefect")
    assert seen == [(7, 6)]


def test_a_location_callable_reading_the_context_sees_each_child(tmp_path):
    def location(**kwargs):
        assert kwargs["map_index"] == context.map_index
        return f"{context.task_full_name}-{context.get('x', 'no x')}.out"

    @task(result=LocalResult(dir=str(tmp_path), location=location))
    def double(x):
        return 2 * x

    with Flow("children") as flow:
        doubled = double.map([10, 20, 30])
    state = flow.run(record=False)
    assert [s._result.location for s in state.result[doubled].map_states] == [
        f"{tmp_path}/double[{i}]-no x.out" for i in range(3)]


def test_a_target_callable_reading_the_context_sees_each_child(tmp_path):
    (tmp_path / "t-1").write_bytes(cloudpickle.dumps("b, earlier"))  # a LocalResult file

    def target(**kwargs):
        return f"t-{context.map_index}"

    calls = []

    @task(result=LocalResult(dir=str(tmp_path)), target=target)
    def make(x):
        calls.append(x)
        return x

    with Flow("targets") as flow:
        made = make.map(["a", "b"])
    state = flow.run(record=False)
    children = state.result[made].map_states
    assert calls == ["a"]  # child 1's target exists: it is not run
    assert [type(c).__name__ for c in children] == ["Success", "Cached"]
    assert [c.result for c in children] == ["a", "b, earlier"]
    assert os.path.isfile(tmp_path / "t-0")


def test_the_keys_are_prefects(tmp_path):
    seen = {}

    def location(**kwargs):
        seen.update(kwargs)
        return "plain.out"

    @task(result=LocalResult(dir=str(tmp_path), location=location))
    def plain(x):
        return x

    with Flow("keys") as flow:
        m, n = Parameter("m"), Parameter("n", default=3)
        plain(n, upstream_tasks=[m])
    state = flow.run(m=5, record=False)
    assert state.is_successful()
    assert set(seen) == (PREFECT_KEYS - PREFECT_ONLY) | FERROFLOW_ONLY
    assert (seen["m"], seen["n"], seen["x"], seen["parameters"]) == (5, 3, 3, {"m": 5, "n": 3})
    assert (seen["flow_id"], seen["task_id"], seen["map_index"]) == ("keys", "plain-1", None)
    assert seen["flow_run_name"] == seen["flow_run_id"] == state.flow_run_id
    assert seen["logger"].name == "ferroflow.task.plain"
    assert uuid.UUID(seen["task_run_id"])


def test_user_context_values_reach_templates(tmp_path):
    @task(result=LocalResult(dir=str(tmp_path), location="{region}/{task_name}.out"))
    def sales():
        return 1

    with Flow("regions") as flow:
        done = sales()
    with context(region="eu"):
        state = flow.run(record=False)
    assert state.result[done]._result.location == f"{tmp_path}/eu/sales.out"


def test_task_run_ids_are_per_task_and_shared_by_children():
    @task
    def ids(x):
        return context.task_run_id

    @task
    def one_id():
        return context.task_run_id

    with Flow("ids") as flow:
        mapped = ids.map([1, 2, 3])
        single = one_id()
    state = flow.run(record=False)
    children = state.result[mapped].result
    assert len(set(children)) == 1 and children[0] != state.result[single].result
    again = flow.run(record=False)
    assert again.result[mapped].result[0] != children[0]  # per flow run
    on_processes = flow.run(executor="processes", record=False)
    assert len(set(on_processes.result[mapped].result)) == 1  # computed alike in every worker

"""``ferroflow.runtime.flow_run`` and ``task_run`` (Prefect 3's ``prefect.runtime``) and
``flow_run_name``: read where the code runs, on every path a call can take (plain,
retried, submitted to threads and processes, mapped, awaited), in subflows, in hooks,
and in deferred flows; outside any run they say so."""

from __future__ import annotations

import asyncio

import pytest

from ferroflow import Flow, context, flow, task
from ferroflow.executors import ProcessesExecutor
from ferroflow.runtime import flow_run, task_run


def facts() -> dict:
    """What a task call reads (module-level: it travels to another process)."""
    return {"flow_run": flow_run.name, "task_run": task_run.name, "task_name": task_run.task_name,
            "parameters": task_run.parameters, "run_count": task_run.run_count}


@task
def read_facts(x, y=1):
    return facts()


@pytest.mark.parametrize("executor", ["threads", ProcessesExecutor(max_workers=2)], ids=["threads", "processes"])
def test_submitted_and_mapped_calls_read_their_own_facts(executor):
    @flow(flow_run_name="daily-{day}", executor=executor)
    def f(day: str):
        return [read_facts.submit(5, y=6).result(), *read_facts.map([7, 8]).result()]

    submitted, first, second = f("mon")
    assert submitted == {"flow_run": "daily-mon", "task_run": "read_facts-0", "task_name": "read_facts",
                         "parameters": {"x": 5, "y": 6}, "run_count": 1}
    assert first["task_run"] == "read_facts-1" and first["parameters"] == {"x": 7, "y": 1}
    assert second["task_run"] == "read_facts-2" and second["parameters"] == {"x": 8, "y": 1}


def test_retries_task_run_name_and_ids():
    attempts = []

    @task(retries=1, task_run_name="load-{x}")
    def flaky(x):
        attempts.append((task_run.name, task_run.run_count, task_run.id))
        if len(attempts) == 1:
            raise ValueError("again")
        return task_run.tags

    @flow
    def f():
        return flaky(3), read_facts(1)

    tags, plain = f()
    assert tags == [] and plain["parameters"] == {"x": 1, "y": 1} and plain["run_count"] == 1
    (name1, count1, id1), (name2, count2, id2) = attempts
    assert (name1, count1, name2, count2) == ("load-3", 1, "load-3", 2)
    assert id1 == id2 and len(id1) == 36  # (one id per call, a UUID)


def test_async_tasks_and_flows_read_theirs():
    @task
    async def named(x):
        await asyncio.sleep(0)
        return task_run.name, task_run.parameters, flow_run.name

    @flow(flow_run_name=lambda: f"async-{flow_run.parameters['n']}")
    async def f(n: int):
        return [await named(n), await named(n + 1)]

    assert asyncio.run(f(4)) == [("named-0", {"x": 4}, "async-4"), ("named-1", {"x": 5}, "async-4")]


def test_a_subflow_knows_its_parent_and_root_and_flow_retries_count_attempts():
    seen = {}

    @flow(flow_run_name="child-{x}")
    def child(x: int):
        seen["child"] = (flow_run.name, flow_run.parent_flow_run_id, flow_run.root_flow_run_id, flow_run.id)
        return x

    @flow(retries=1, version="1.2")
    def parent():
        seen.setdefault("counts", []).append(flow_run.run_count)
        seen["parent"] = (flow_run.id, flow_run.name, flow_run.flow_version, flow_run.parent_flow_run_id)
        if len(seen["counts"]) == 1:
            raise ValueError("first attempt fails")
        return child(7)

    assert parent() == 7
    parent_id, parent_name, version, grandparent = seen["parent"]
    assert seen["counts"] == [1, 2]
    assert parent_name == parent_id and version == "1.2" and grandparent is None  # (no name: the id)
    name, its_parent, root, child_id = seen["child"]
    assert name == "child-7" and its_parent == parent_id and root == parent_id and child_id != parent_id


def test_hooks_see_the_run_name():
    names = []

    @flow(flow_run_name="hooked-{n}", on_completion=[lambda fl, run, state: names.append(run.name)])
    def f(n: int):
        return n

    f(2)
    assert names == ["hooked-2"]


def test_a_bad_flow_run_name_is_refused():
    with pytest.raises(TypeError, match="flow_run_name must be a string template or a callable"):
        flow(flow_run_name=5)(lambda: 1)

    @flow(flow_run_name="{missing}")
    def missing():
        raise AssertionError("never runs")

    with pytest.raises(KeyError, match="missing"):
        missing(return_state=True)

    @flow(flow_run_name=lambda: None)
    def not_a_string():
        raise AssertionError("never runs")

    with pytest.raises(TypeError, match="returned type NoneType but a string is required"):
        not_a_string()


def test_deferred_flows_and_outside_any_run():
    @task
    def deferred_facts(x):
        return flow_run.id, flow_run.flow_name, task_run.name, task_run.parameters, context.flow_run_id

    with Flow("deferred") as fl:
        one = deferred_facts(1)
        mapped = deferred_facts.map([2, 3])
    state = fl.run()
    run_id, flow_name, name, parameters, context_id = state.result[one].result
    assert (run_id, flow_name, name, parameters) == (context_id, "deferred", "deferred_facts", {"x": 1})
    assert [r[2] for r in state.result[mapped].result] == ["deferred_facts-0", "deferred_facts-1"]
    assert (flow_run.id, flow_run.run_count, flow_run.parameters, task_run.id, task_run.run_count) == (
        None, 0, {}, None, 0)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = flow_run.nope


def test_server_urls_when_a_server_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("FERROFLOW_RECORD", "0")  # (no server listens there: nothing is sent)
    monkeypatch.setenv("FERROFLOW_API_URL", "http://127.0.0.1:4200/")

    @flow
    def f():
        return flow_run.ui_url, flow_run.api_url, flow_run.id

    ui, api, run_id = f()
    assert ui == f"http://127.0.0.1:4200/runs/{run_id}" and api == f"http://127.0.0.1:4200/api/v1/runs/{run_id}"
    monkeypatch.delenv("FERROFLOW_API_URL")
    assert f()[0] is None


def test_the_run_name_is_recorded_and_shown_by_the_cli(store, capsys):
    from ferroflow.cli import main

    @flow(flow_run_name="report-{region}")
    def report(region: str):
        return region

    @flow
    def unnamed():
        return 1

    report("emea")
    unnamed()
    runs = {run.flow_name: run for run in store().list_runs(limit=5)}
    assert runs["report"].run_name == "report-emea" and runs["unnamed"].run_name is None
    assert main(["runs", "show", runs["report"].run_id]) == 0
    assert "report-emea" in capsys.readouterr().out


def test_get_run_context_in_a_flow_a_task_a_cache_key_fn_and_outside():
    from ferroflow.errors import MissingContextError
    from ferroflow.runtime import get_run_context
    from ferroflow.runtime.run_context import FlowRunContext, TaskRunContext

    keys = []

    def per_run(context, parameters):
        keys.append((context.task_run.flow_run_id, context.task.name, context.get("task_name")))
        return f"{context.task_run.flow_run_id}-{parameters['x']}"

    @task(cache_key_fn=per_run)
    def cached(x):
        ctx = get_run_context()
        assert isinstance(ctx, TaskRunContext)
        return ctx.task_run.name, ctx.task_run.run_count, ctx.parameters, ctx.task.name

    @flow(flow_run_name="ctx-{n}")
    def f(n: int):
        ctx = get_run_context()
        assert isinstance(ctx, FlowRunContext)
        return ctx.flow_run.name, ctx.flow.name, ctx.parameters, cached(n), ctx.flow_run.id

    name, flow_name, parameters, in_task, run_id = f(3)
    assert (name, flow_name, parameters) == ("ctx-3", "f", {"n": 3})
    assert in_task == ("cached-0", 1, {"x": 3}, "cached")
    assert keys == [(run_id, "cached", "cached")]
    with pytest.raises(MissingContextError, match="No run context available"):
        get_run_context()


def test_a_task_run_name_callable_that_cannot_be_hashed_is_still_called():
    class Namer:
        __hash__ = None  # type: ignore[assignment]  # (a callable object defining __eq__ only)

        def __eq__(self, other):
            return isinstance(other, Namer)

        def __call__(self):
            return f"named-{task_run.parameters['x']}"

    @task(task_run_name=Namer())
    def named(x):
        return task_run.name

    @flow
    def f():
        return named(4)

    assert f() == "named-4"

"""task_run_name: a template or callable naming each task run, in the context and on
log records."""

import logging

import pytest

from ferroflow import Flow, context, get_logger, task
from ferroflow.results import MemoryResultStore, Result


def test_templates_see_inputs_and_context():
    @task(task_run_name="load-{region}-{map_index}")
    def load(region):
        return context.task_run_name

    @task(task_run_name=lambda flow_name, x, **_: f"{flow_name}:{x * 2}")
    def double(x):
        return context.task_run_name

    with Flow("names") as flow:
        loads = load.map(["eu", "us"])
        d = double(21)
    state = flow.run()
    assert [s.result for s in state.result[loads].map_states] == ["load-eu-0", "load-us-1"]
    assert state.result[d].result == "names:42"


def test_log_records_carry_the_run_name(caplog):
    @task(task_run_name="fetch {url}")
    def fetch(url):
        get_logger().info("fetching")

    with Flow("logs") as flow:
        fetch("http://127.0.0.1/x")
    with caplog.at_level(logging.INFO, logger="ferroflow.task"):
        flow.run()
    [record] = [r for r in caplog.records if r.getMessage() == "fetching"]
    assert record.task_run_name == "fetch http://127.0.0.1/x"


def test_a_template_that_fails_names_the_problem_and_the_task_still_runs():
    @task(task_run_name="{missing}")
    def t():
        return context.task_run_name

    with Flow("bad-name") as flow:
        r = t()
    name = flow.run().result[r].result
    assert name.startswith("t (task_run_name failed: KeyError('missing')")


def test_names_survive_targets_that_skip_some_children():
    store = MemoryResultStore()

    @task(task_run_name="child-{x}", target="{x}")
    def child(x):
        return context.task_run_name

    with Flow("subset", result=Result(store)) as flow:
        out = child.map([1, 2, 3])
    Result(store).write_to("2", "cached")
    state = flow.run()
    assert [s.result for s in state.result[out].map_states] == ["child-1", "cached", "child-3"]


@pytest.mark.parametrize("bad, error", [(3, TypeError), ("", TypeError), ("{0}", ValueError)])
def test_bad_task_run_names_are_clear_errors(bad, error):
    with pytest.raises(error, match="Task 't'"):
        task(lambda: 1, name="t", task_run_name=bad)

"""ferroflow.context, get_logger() and the logs kept with states."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from ferroflow import Flow, Parameter, context, get_logger, signals, task


def test_context_inside_tasks_and_children():
    @task
    def who(x):
        return (context.flow_name, context.task_name, context.task_full_name, context.map_index,
                context.parameters, context.task_run_count, len(context.flow_run_id))

    @task
    def single():
        return context.task_full_name, context.map_index, context.today == context.date.strftime("%Y-%m-%d")

    with Flow("ctx") as flow:
        p = Parameter("p", default=1)
        m = who.map([10, 20])
        s = single(upstream_tasks=[p])
    state = flow.run(p=5)
    assert state.result[m].result == [
        ("ctx", "who", "who[0]", 0, {"p": 5}, 1, 32),
        ("ctx", "who", "who[1]", 1, {"p": 5}, 1, 32),
    ]
    assert state.result[s].result == ("single", None, True)


def test_task_run_count_counts_attempts():
    seen = []

    @task(max_retries=2, retry_delay=timedelta(0))
    def flaky(x):
        seen.append((x, context.task_run_count))
        if context.task_run_count < 3 and x == 1:
            raise RuntimeError("again")
        return x

    with Flow("count") as flow:
        flaky.map([0, 1])
    assert flow.run().is_successful()
    assert sorted(seen) == [(0, 1), (1, 1), (1, 2), (1, 3)]


def test_context_outside_a_run_and_user_values():
    with pytest.raises(AttributeError, match="'Context' object has no attribute 'task_name'"):
        _ = context.task_name
    assert context.get("task_name", "none") == "none"
    with context(team="data"):
        assert context.team == "data"

        @task
        def read_team():
            return context.team

        with Flow("user") as flow:
            r = read_team()
        assert flow.run().result[r].result == "data"
    assert "team" not in context


def test_logs_are_kept_per_child_and_carry_context():
    records = []

    class Capture(logging.Handler):
        def emit(self, record):
            records.append((record.task_full_name, record.map_index, record.flow_name, record.getMessage()))

    handler = Capture()
    logging.getLogger("ferroflow").addHandler(handler)
    try:
        @task
        def work(x):
            get_logger().info("working on %s", x)
            if x == 2:
                get_logger().error("bad item %s", x)
                raise signals.FAIL("item 2 failed")
            return x

        with Flow("logs") as flow:
            m = work.map([1, 2, 3])
        state = flow.run()
    finally:
        logging.getLogger("ferroflow").removeHandler(handler)
    child = state.result[m].map_states[1]
    assert child.is_failed()
    assert [(e.level, e.message) for e in child.logs] == [("INFO", "working on 2"), ("ERROR", "bad item 2")]
    assert [e.message for e in state.result[m].map_states[0].logs] == ["working on 1"]
    assert ("work[1]", 1, "logs", "bad item 2") in records


def test_log_stdout_captures_print():
    @task(log_stdout=True)
    def chatty(x):
        print(f"hello {x}")
        return x

    @task
    def quiet():
        print("not captured")

    with Flow("stdout") as flow:
        m = chatty.map([1, 2])
        q = quiet()
    state = flow.run()
    assert [e.message for e in state.result[m].map_states[1].logs] == ["hello 2"]
    assert state.result[q].logs == ()


def test_context_is_per_thread():
    results = {}

    @task
    def name(x):
        return context.task_full_name

    def run(label):
        with Flow(label) as flow:
            m = name.map(list(range(50)))
        results[label] = flow.run().result[m].result

    threads = [threading.Thread(target=run, args=(f"f{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == [f"name[{i}]" for i in range(50)] for r in results.values())

"""The states of caching and retried task runs, as Prefect 1 gives them (compared with
Prefect 1.4.1 itself in tests/compat/test_prefect1_constants_caching.py): here what
only ferroflow can show -- a cache that outlives the process, other executors, the
store left untouched by ``never_use`` -- and the transitions handlers see."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import textwrap

from ferroflow import Flow, signals, states, task
from ferroflow.cache_validators import all_inputs, never_use
from ferroflow.results import MemoryResultStore, Result

HOUR = datetime.timedelta(hours=1)


def transitions(seen):
    def handler(task, old, new):
        seen.append((type(old).__name__, type(new).__name__, new.message))

    return handler


def test_a_retried_run_passes_failed_retrying_running_to_its_handlers():
    seen, attempts = [], []

    @task(max_retries=2, retry_delay=datetime.timedelta(milliseconds=1), state_handlers=[transitions(seen)])
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("once")
        return "ok"

    with Flow("retried") as flow:
        f = flaky()
    assert flow.run().result[f].result == "ok"
    assert seen == [
        ("Pending", "Running", "Starting task run."),
        ("Running", "Failed", "Error during execution of task: ValueError('once')"),
        ("Failed", "Retrying", "Retrying Task (after attempt 1 of 3)"),
        ("Retrying", "Running", "Starting task run."),
        ("Running", "Success", "Task run succeeded."),
    ]


def test_a_handler_that_refuses_the_retry_ends_the_run():
    calls = []

    def no_retry(task, old, new):
        if isinstance(new, states.Retrying):
            assert new.start_time is not None
            return states.Failed("no retries today")

    @task(max_retries=3, retry_delay=datetime.timedelta(0), state_handlers=[no_retry])
    def fails():
        calls.append(1)
        raise ValueError("x")

    with Flow("refused") as flow:
        f = fails()
    st = flow.run().result[f]
    assert (type(st).__name__, st.message, len(calls)) == ("Failed", "no retries today", 1)


def test_the_filling_run_and_a_reuse_in_another_process_say_the_same(tmp_path):
    script = textwrap.dedent('''
        from ferroflow import Flow, signals, task
        @task(cache_for=3600)
        def answer():
            print("RAN")
            raise signals.SUCCESS("found it", result=42)
        with Flow("persisted") as flow:
            a = answer()
        s = flow.run().result[a]
        print(type(s).__name__, repr(s.message), s.result)
    ''')
    env = {**os.environ, "FERROFLOW_HOME": str(tmp_path), "FERROFLOW_RECORD": "0"}
    outs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
            for _ in range(2)]
    assert [o.returncode for o in outs] == [0, 0], outs[0].stderr + outs[1].stderr
    assert outs[0].stdout.splitlines() == ["RAN", "Cached 'found it' 42"]
    assert outs[1].stdout.splitlines() == ["Cached 'found it' 42"]


def test_never_use_ends_cached_but_reads_and_stores_nothing():
    records: dict = {}
    calls = []

    @task(cache_for=HOUR, cache_validator=never_use)
    def work(x):
        calls.append(x)
        return x

    with Flow("never", result=Result(MemoryResultStore(records), location="{task_name}.pkl")) as flow:
        w = work(1)
    for _ in range(2):
        assert type(flow.run().result[w]).__name__ == "Cached"
    assert calls == [1, 1]
    assert list(records) == ["work.pkl"]  # the checkpoint only, no cache entry


def test_a_run_a_cache_key_fn_keeps_out_of_the_cache_ends_successful():
    @task(cache_key_fn=lambda context, inputs: None if inputs["x"] < 0 else str(inputs["x"]))
    def work(x):
        return x

    with Flow("keyed", result=Result(MemoryResultStore())) as flow:
        ws = work.map([1, -1])
    assert [type(s).__name__ for s in flow.run().result[ws].map_states] == ["Cached", "Success"]


def test_a_handler_failing_the_cached_state_is_retried_then_cached():
    seen, calls = [], []
    refused = []

    def refuse_once(task, old, new):
        if isinstance(new, states.Cached) and not refused:
            refused.append(1)
            raise signals.FAIL("not worth keeping")

    @task(cache_for=HOUR, max_retries=1, retry_delay=datetime.timedelta(0),
          state_handlers=[refuse_once, transitions(seen)])
    def work():
        calls.append(1)
        return 5

    with Flow("refuse-cache", result=Result(MemoryResultStore())) as flow:
        w = work()
    st = flow.run().result[w]
    assert (type(st).__name__, st.result, len(calls)) == ("Cached", 5, 2)
    assert seen == [
        ("Pending", "Running", "Starting task run."),
        ("Running", "Success", "Task run succeeded."),
        ("Failed", "Retrying", "Retrying Task (after attempt 1 of 2)"),  # FAIL came from refuse_once
        ("Retrying", "Running", "Starting task run."),
        ("Running", "Success", "Task run succeeded."),
        ("Success", "Cached", "Task run succeeded."),
    ]


def test_cached_children_on_the_threads_executor():
    seen = []

    @task(cache_for=HOUR, cache_validator=all_inputs, state_handlers=[transitions(seen)])
    def double(x):
        return 2 * x

    with Flow("threads-cache", result=Result(MemoryResultStore())) as flow:
        ds = double.map([1, 2, 3])
    flow.run(executor="threads")
    seen.clear()
    st = flow.run(executor="threads").result[ds]
    assert [(type(s).__name__, s.message, s.result) for s in st.map_states] == [
        ("Cached", "Task run succeeded.", 2),
        ("Cached", "Task run succeeded.", 4),
        ("Cached", "Task run succeeded.", 6)]
    assert seen == [("Pending", "Mapped", "Ready to proceed with mapping.")] + [
        ("Pending", "Cached", "Task run succeeded.")] * 3

"""signals.RETRY forces a retry at once: beyond max_retries, past retry_on and
retry_condition, and it counts as an attempt, so per-attempt delays continue from
the next attempt's delay."""

from __future__ import annotations

from ferroflow import Flow, context, signals, task
from ferroflow.retries import exponential_backoff


def test_retry_signal_retries_without_max_retries(scheduled):
    @task
    def twice():
        if context.task_run_count < 3:
            raise signals.RETRY("again")
        return context.task_run_count

    with Flow("signal") as flow:
        t = twice()
    state = flow.run()
    assert state.result[t].result == 3 and state.result[t].run_count == 3
    assert scheduled.waits(flow, t) == [0, 0], "forced retries do not wait"


def test_retry_signal_with_per_attempt_delays(scheduled):
    @task(retry_delay=[0.005, 0.010])
    def mixed():
        n = context.task_run_count
        if n == 1:
            raise signals.RETRY("at once")
        raise ValueError(n)

    with Flow("mixed") as flow:
        t = mixed()
    state = flow.run()
    # attempt 1: RETRY (no wait); attempt 2 fails and waits the 2nd delay; attempt 3
    # fails and is past max_retries (2)
    assert state.result[t].is_failed() and state.result[t].run_count == 3
    assert scheduled.waits(flow, t) == [0, 10]
    assert scheduled.attempts(flow, t) == [1, 2]


def test_retry_signal_beyond_max_retries_on_mapped_children(scheduled):
    @task(max_retries=1, retry_delay=exponential_backoff(base=0.002))
    def child(x):
        n = context.task_run_count
        if n == 1:
            raise ValueError(x)  # ordinary retry: waits 2 ms
        if n <= 2 + x:
            raise signals.RETRY()  # forced, past max_retries
        return n

    with Flow("children") as flow:
        m = child.map([0, 1, 2])
    state = flow.run()
    assert state.result[m].result == [3, 4, 5]
    assert [scheduled.waits(flow, m, i) for i in range(3)] == [[2, 0], [2, 0, 0], [2, 0, 0, 0]]


def test_retry_signal_ignores_retry_on_and_retry_condition(scheduled):
    asked = []

    @task(max_retries=1, retry_delay=0.001, retry_on=KeyError,
          retry_condition=lambda t, s: asked.append(s) or False)
    def forced():
        if context.task_run_count == 1:
            raise signals.RETRY()
        return "done"

    with Flow("forced") as flow:
        t = forced()
    assert flow.run().result[t].result == "done"
    assert asked == [] and scheduled.waits(flow, t) == [0]

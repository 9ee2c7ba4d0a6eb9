"""timeout=: hard in the main thread (SIGALRM), soft in other threads; TimedOut is
retried like a failure and never a success."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from ferroflow import Flow, states, task


@task(timeout=0.2)
def sleepy(x):
    time.sleep(x)
    return x


@task(timeout=timedelta(milliseconds=200))
def busy(x):
    end = time.monotonic() + x
    while time.monotonic() < end:  # pure-Python loop
        pass
    return x


@pytest.mark.parametrize("body", [sleepy, busy], ids=["sleep", "busy-loop"])
def test_hard_timeout_in_main_thread(body):
    with Flow("timeouts") as flow:
        m = body.map([0, 30])
    state = flow.run()
    fast, slow = state.result[m].map_states
    assert fast.is_successful() and fast.result == 0
    assert isinstance(slow, states.TimedOut) and slow.is_failed()
    assert slow.message == "Task timed out during execution."
    assert "timed out after 0.2 s" in str(slow.result)
    assert state.is_failed()


def test_timeout_is_retried():
    calls = []

    @task(timeout=0.2, max_retries=1, retry_delay=timedelta(0))
    def slow_then_fast():
        calls.append(1)
        if len(calls) == 1:
            time.sleep(30)
        return "second try"

    with Flow("retry-timeout") as flow:
        s = slow_then_fast()
    state = flow.run()
    assert state.result[s].result == "second try" and state.result[s].run_count == 2


def test_timeout_cannot_be_swallowed_by_except_exception():
    @task(timeout=0.2)
    def stubborn():
        try:
            time.sleep(30)
        except Exception:
            return "swallowed"
        return "finished"

    with Flow("stubborn") as flow:
        s = stubborn()
    assert isinstance(flow.run().result[s], states.TimedOut)


def test_soft_timeout_outside_the_main_thread(caplog):
    out = {}

    def run():
        with Flow("soft") as flow:
            sleepy.map([0, 2])
        out["state"] = flow.run()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    results = out["state"].result
    fast, slow = results[next(t for t in results if t.name == "sleepy")].map_states
    assert fast.is_successful()
    assert isinstance(slow, states.TimedOut)
    assert "soft timeout" in str(slow.result)
    assert any("soft timeout" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bad", [0, -1, "5", True])
def test_bad_timeout_is_a_clear_error(bad):
    with pytest.raises(TypeError, match="timeout must be None, a positive number of seconds"):
        task(timeout=bad)(lambda: None)


def test_a_timeout_keeps_an_outer_alarm_armed():
    """A task's timeout in the main thread must not cancel an alarm set outside the
    flow run (pytest-timeout's, an application's own watchdog)."""
    import signal

    from ferroflow import Flow, task

    @task(timeout=5)
    def quick():
        return 1

    with Flow("outer-alarm") as flow:
        quick()
    previous = signal.signal(signal.SIGALRM, lambda *a: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 60, 30)  # a repeating one
        assert flow.run().is_successful()
        left, interval = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left <= 60 and interval == 30  # still repeating
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

"""The ``threads`` executor beyond the conformance suite: units run concurrently,
prints of concurrent units stay apart, timeouts are soft, Ctrl-C returns at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ferroflow import Flow, context, states, task
from ferroflow.executors import ThreadsExecutor
from ferroflow.executors.threads import default_thread_workers
from ferroflow.plugins import get_executor

MEETING = threading.Barrier(2)


@task
def meet(name):
    # Both task runs must be inside wait() at the same time, or this raises
    # BrokenBarrierError (the timeout is a hang guard only).
    MEETING.wait(timeout=60)
    return threading.current_thread().name


def test_units_run_concurrently_on_worker_threads():
    MEETING.reset()
    with Flow("meet") as flow:
        a = meet("a")
        b = meet("b")
    state = flow.run(executor=ThreadsExecutor(max_workers=2))
    assert state.is_successful(), state.result
    names = {state.result[a].result, state.result[b].result}
    assert len(names) == 2 and all(n.startswith("ferroflow-threads-") for n in names)


PRINTING = threading.Barrier(2)


@task(log_stdout=True)
def printer(name):
    for i in range(50):
        print(f"{name} {i}")
        if i == 10:
            PRINTING.wait(timeout=60)  # both units are printing now
    return name


def test_concurrent_log_stdout_units_keep_their_own_prints():
    PRINTING.reset()
    stdout = sys.stdout
    with Flow("prints") as flow:
        a = printer("a")
        b = printer("b")
    state = flow.run(executor=ThreadsExecutor(max_workers=2))
    for t, name in ((a, "a"), (b, "b")):
        assert [e.message for e in state.result[t].logs] == [f"{name} {i}" for i in range(50)]
    assert sys.stdout is stdout, "sys.stdout must be restored after the run"


@task(timeout=0.2)
def overrun():
    time.sleep(2)
    return "late"


def test_timeouts_are_soft(caplog):
    with Flow("soft") as flow:
        o = overrun()
    state = flow.run(executor=ThreadsExecutor(max_workers=1))
    assert isinstance(state.result[o], states.TimedOut)
    assert "soft timeout" in str(state.result[o].result)
    assert any("soft timeout" in r.getMessage() for r in caplog.records)


@task
def raises_keyboard_interrupt():
    raise KeyboardInterrupt


def test_a_keyboard_interrupt_raised_by_a_task_cancels_the_run():
    with Flow("ki") as flow:
        raises_keyboard_interrupt()
    state = flow.run(executor=ThreadsExecutor(max_workers=2))
    assert state.is_cancelled()


@task
def thread_name(x):
    return threading.current_thread().name, context.map_index


def test_registered_by_name_with_options():
    executor = get_executor("threads", max_workers=3)
    assert isinstance(executor, ThreadsExecutor) and executor.slots() == 3
    assert ThreadsExecutor().slots() == default_thread_workers() == min(32, (os.cpu_count() or 1) + 4)
    with Flow("named") as flow:
        m = thread_name.map(list(range(5)))
    state = flow.run(executor="threads")
    assert [index for _, index in state.result[m].result] == list(range(5))
    assert all(name.startswith("ferroflow-threads-") for name, _ in state.result[m].result)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_bad_max_workers(bad):
    with pytest.raises(ValueError, match="max_workers must be a positive integer"):
        ThreadsExecutor(max_workers=bad)


def test_no_thread_is_left_after_a_run():
    before = set(threading.enumerate())
    with Flow("clean") as flow:
        thread_name.map(list(range(100)))
    flow.run(executor=ThreadsExecutor(max_workers=4))
    assert not [t for t in threading.enumerate() if t not in before and t.name.startswith("ferroflow-threads")]


SLEEPY_FLOW = """
import time
from ferroflow import Flow, task

@task
def sleepy(x):
    print("started", flush=True)
    time.sleep(3600)
    return x

with Flow("sleepy") as flow:
    sleepy.map(list(range(4)))
"""


def test_ctrl_c_returns_without_waiting_for_running_threads(tmp_path):
    path = tmp_path / "sleepy_threads.py"
    path.write_text(SLEEPY_FLOW)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferroflow", "run", str(path), "--no-progress", "--executor", "threads",
         "--executor-option", "max_workers=2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert "started" in proc.stdout.readline()  # both threads may print at once
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # a hang guard: the threads sleep for an hour
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Flow 'sleepy': Cancelled" in out

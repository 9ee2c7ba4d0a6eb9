"""A real Ctrl-C (SIGINT) sent to ``ferroflow run`` in the middle of a mapped flow:
the run stops early, unfinished task runs are Cancelled, the exit code is 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.support.processes import finish

SLOW_FLOW = textwrap.dedent(
    """
    import time
    from ferroflow import Flow, task

    @task
    def slow(x):
        if x == 0:
            print("started", flush=True)
        time.sleep(0.01)
        return x

    @task
    def total(xs):
        return sum(xs)

    with Flow("slow") as flow:
        total(slow.map(list(range(100_000))))
    """
)


@pytest.mark.usefixtures("engine")
def test_sigint_cancels_the_run_and_exits_130(tmp_path):
    path = tmp_path / "slow_flow.py"
    path.write_text(SLOW_FLOW)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferroflow", "run", str(path), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        proc.send_signal(signal.SIGINT)
        _, out, err = finish(proc, 120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert out.startswith("Flow 'slow': Cancelled - Interrupt signal raised")
    # Stopped early: most of the 100,000 children never ran and say so.
    slow_row = next(line for line in out.splitlines() if line.startswith("slow "))
    cancelled = int(slow_row.split("Cancelled ")[1].split()[0].replace(",", ""))
    assert cancelled > 50_000, slow_row

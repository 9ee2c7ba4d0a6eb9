"""A real SIGTERM sent to ``ferroflow run`` in the middle of a mapped flow is handled
like Ctrl-C: the run stops, unfinished task runs are Cancelled, the run is recorded
Cancelled (not left to be found Crashed), the exit code is 143, and ``--resume``
runs only what was not done. A second SIGTERM or SIGINT stops the process at once."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ferroflow.cli
from ferroflow import _core
from ferroflow.store import SQLiteRunStore
from tests.support.processes import finish

pytestmark = pytest.mark.usefixtures("engine")

N = 5_000

#: Each child appends its item to OUT/<pid>.txt, so a test knows which ran in which
#: process; with SLOW=1 the child of item 300 says so and every child sleeps a little.
MAPPED_FLOW = textwrap.dedent(
    f"""
    import os, time
    from ferroflow import Flow, task
    from ferroflow.results import Result

    SLOW = os.environ.get("SLOW") == "1"

    @task
    def numbers():
        return list(range({N}))

    @task
    def work(x):
        with open(os.path.join(os.environ["OUT"], f"{{os.getpid()}}.txt"), "a") as f:
            f.write(f"{{x}}\\n")
        if SLOW:
            if x == 300:
                print("halfway", flush=True)
            time.sleep(0.002)
        return x

    @task
    def total(xs):
        return sum(xs)

    with Flow("terminated", result=Result(base=os.environ["CKPT"], location="{{task_name}}/{{map_index}}.pkl")) as flow:
        total(work.map(numbers()))
    """
)

#: A flow whose handler, once the run is cancelled, takes its time: a second signal
#: must not wait for it.
SLOW_TO_STOP_FLOW = textwrap.dedent(
    """
    import time
    from ferroflow import Flow, task

    def linger(flow, old, new):
        if new.is_cancelled():
            print("stopping", flush=True)
            time.sleep(600)
        return new

    @task
    def work(x):
        if x == 0:
            print("started", flush=True)
        time.sleep(0.01)
        return x

    with Flow("lingering", state_handlers=[linger]) as flow:
        work.map(list(range(100_000)))
    """
)


def _env(tmp_path: Path, **extra: str) -> dict:
    env = dict(os.environ, FERROFLOW_HOME=str(tmp_path / "home"), CKPT=f"file://{tmp_path / 'ckpt'}",
               OUT=str(tmp_path / "out"), PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(ferroflow.cli.__file__).parents[2])]
                                        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _start(tmp_path: Path, flow: Path, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ferroflow", "run", str(flow), "--no-progress"],
                            cwd=tmp_path, env=_env(tmp_path, **extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _ran(tmp_path: Path, pid: int) -> list:
    return [int(line) for line in (tmp_path / "out" / f"{pid}.txt").read_text().split()]


def test_sigterm_cancels_records_and_exits_143_and_resume_runs_the_rest(tmp_path):
    (tmp_path / "out").mkdir()
    flow = tmp_path / "terminated_flow.py"
    flow.write_text(MAPPED_FLOW)
    proc = _start(tmp_path, flow, SLOW="1")
    try:
        assert proc.stdout.readline().strip() == "halfway"
        proc.send_signal(signal.SIGTERM)
        _, out, err = finish(proc, 120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert out.startswith("Flow 'terminated': Cancelled"), out
    work_row = next(line for line in out.splitlines() if line.startswith("work "))
    assert "Cancelled" in work_row  # stopped early: unfinished children say so

    with SQLiteRunStore(tmp_path / "home" / "runs.db") as store:
        (run,) = store.list_runs()
        assert run.state == "Cancelled"  # ended and recorded, not left Running to be found Crashed
        work = next(t for t in store.resume_info(run.run_id).tasks.values() if t.name == "work")
        done = {i for i in range(N) if (child := work.child(i)) is not None
                and child[0] == _core.SUCCESS and child[1] is not None}
        assert store.task_states(run.run_id)[1].counts.get("Cancelled", 0) > 0
    assert 0 < len(done) < N and done <= set(_ran(tmp_path, proc.pid))

    # stderr says how to go on; the command it gives is the one run here.
    (hint,) = [line for line in err.splitlines() if "cancelled by SIGTERM" in line]
    command = hint.split("`")[1]
    assert command == f"ferroflow run {flow} --resume {run.run_id[:12]}", hint
    resumed = subprocess.run([sys.executable, "-m", *shlex.split(command), "--no-progress"], cwd=tmp_path,
                             env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("Flow 'terminated': Success")
    (second,) = [int(p.stem) for p in (tmp_path / "out").glob("*.txt") if int(p.stem) != proc.pid]
    ran_again = _ran(tmp_path, second)
    assert len(ran_again) == len(set(ran_again))
    assert set(ran_again) == set(range(N)) - done  # only the rest, every one of them


@pytest.mark.parametrize("first, second", [(signal.SIGTERM, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT),
                                           (signal.SIGINT, signal.SIGINT)],
                         ids=["TERM-TERM", "TERM-INT", "INT-INT"])
def test_a_second_signal_stops_at_once(tmp_path, first, second):
    flow = tmp_path / "lingering_flow.py"
    flow.write_text(SLOW_TO_STOP_FLOW)
    proc = _start(tmp_path, flow)
    try:
        assert proc.stdout.readline().strip() == "started"
        proc.send_signal(first)
        assert proc.stdout.readline().strip() == "stopping"  # the first one stops the run gracefully
        proc.send_signal(second)
        finish(proc, 120)
    finally:
        proc.kill()
    assert proc.returncode == -second  # killed by it, without waiting for the handler

"""Reaping a live run never leads to double execution (issue 8, fault 7).

Each run row carries its recording process's lease (``runs.owner``); every commit of
that process's writer and every heartbeat is conditional on it, and reaping or
resuming a run revokes it in the same transaction. A process that was stopped
(SIGSTOP) long enough to be reaped learns it at its next commit or lease check, ends
its flow ``Cancelled`` and writes nothing more for that run; two resumes of one run
cannot both go ahead. Real processes, real signals; every child execution appends a
line to a side file (O_APPEND), so "ran twice" is counted, not guessed.
"""

import collections
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ferroflow.engine.runner import FIRST_UNIT_SIZE
from ferroflow.store import SQLiteRunStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP/SIGCONT")

#: Heartbeat period of every process of these tests: a run silent for 0.5 s may be reaped.
PERIOD = "0.25"
HANG_GUARD = 120.0  # seconds; only ever reached when something hangs

FLOW = textwrap.dedent('''
    import os, time
    from ferroflow import Flow, Parameter, task
    from ferroflow.results import Result

    def mark(line):
        fd = os.open(os.environ["MARKS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (line + "\\n").encode())
        os.close(fd)

    @task
    def items(n):
        return list(range(n))

    @task
    def work(x):
        mark(f"{os.getpid()} work {x}")
        time.sleep(float(os.environ.get("SLOW", "0")))
        gate = os.environ.get("GATE")
        deadline = time.monotonic() + 120  # a hang guard only
        while gate and not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
        return x * 10

    @task
    def total(xs):
        mark(f"{os.getpid()} total")
        return sum(xs)

    with Flow("fenced", result=Result(base=os.environ["RESULTS"])) as flow:
        total(work.map(items(Parameter("n", default=3))))
''')


@pytest.fixture
def lab(tmp_path):
    flow_file = tmp_path / "flow.py"
    flow_file.write_text(FLOW)
    marks = tmp_path / "marks"
    env = {**os.environ, "FERROFLOW_HOME": str(tmp_path / "home"), "RESULTS": (tmp_path / "results").as_uri(),
           "FERROFLOW_RECORD": "1", "FERROFLOW_HEARTBEAT_SECONDS": PERIOD, "MARKS": str(marks)}
    for name in ("SLOW", "GATE"):
        env.pop(name, None)
    return flow_file, env, marks, tmp_path / "home" / "runs.db"


def start(flow_file, env, *args, **extra):
    return subprocess.Popen([sys.executable, "-m", "ferroflow", "run", str(flow_file), "--no-progress", *args],
                            env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ferroflow(env, *args, **extra):
    return subprocess.run([sys.executable, "-m", "ferroflow", *args], env={**env, **extra}, capture_output=True,
                          text=True)


def executions(marks) -> list:
    """``(pid, what)`` per line of the side file, in order."""
    if not marks.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in marks.read_text().splitlines()]


def wait_for(condition, what: str, proc=None):
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended while waiting for {what}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"hang guard: never saw {what}"
        time.sleep(0.02)


def the_run(db):
    with SQLiteRunStore(db) as store:
        runs = store.list_runs()
    assert len(runs) == 1
    return runs[0]


def recorded(db, run_id):
    """What the store holds about a run: its row and its task states."""
    with SQLiteRunStore(db) as store:
        run = store.get_run(run_id)
        tasks = store.task_states(run_id)
    return (run.state, run.message, run.ended_at), [(t.name, t.code, t.counts) for t in tasks]


def stop_when_working(flow_file, env, marks, db, n):
    """Start a run of n slow children (0.05 s each); SIGSTOP it once 30 ran. By then the
    engine sizes work units from timings (about 0.1 s: two children; the first two units,
    sized before any timing, hold 8 and 16). Returns (proc, run id)."""
    first = start(flow_file, env, "-p", f"n={n}", SLOW="0.05")
    wait_for(lambda: len(executions(marks)) >= 30 and db.exists(), "thirty children run", first)
    first.send_signal(signal.SIGSTOP)
    return first, the_run(db).run_id


def end_of(proc):
    try:
        out, err = proc.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, out + err


def test_a_reaped_run_resumed_elsewhere_stops_when_it_continues(lab):
    flow_file, env, marks, db = lab
    n = 80
    first, run_id = stop_when_working(flow_file, env, marks, db, n)
    try:
        before_stop = len(executions(marks))
        # Silent past the timeout: reaped, though its process is alive (stopped).
        wait_for(lambda: run_id in ferroflow(env, "runs", "reap", "--timeout", "0.5").stdout, "the run reaped")
        reaped = recorded(db, run_id)
        assert reaped[0][0] == "Crashed"
        second = ferroflow(env, "run", str(flow_file), "--no-progress", "--resume", run_id)
        assert second.returncode == 0, second.stdout + second.stderr
    finally:
        first.send_signal(signal.SIGCONT)
    code, output = end_of(first)
    assert code == 130, output  # Cancelled
    assert f"run {run_id} was marked Crashed by another process" in output
    assert "stopped here so that no task run runs twice" in output
    # The first process ran nothing after it came back but the rest of the unit it was in
    # (a unit is never cut short; a first unit holds FIRST_UNIT_SIZE children).
    lines = executions(marks)
    first_pid = str(first.pid)
    after = [what for pid, what in lines[before_stop:] if pid == first_pid]
    assert len(after) <= FIRST_UNIT_SIZE, after
    runs_of = collections.Counter(what for _, what in lines if what.startswith("work"))
    twice = sorted(what for what, k in runs_of.items() if k > 1)
    assert set(runs_of) == {f"work {x}" for x in range(n)}
    # Ran twice: the unit in flight at the stop, and at most one unit it had reported
    # and not yet committed.
    assert len(twice) <= 2 * FIRST_UNIT_SIZE, twice
    assert [what for _, what in lines].count("total") == 1
    # It wrote nothing more: its run is as the reaper left it.
    assert recorded(db, run_id) == reaped
    with SQLiteRunStore(db) as store:
        resumed = store.list_runs(limit=1)[0]
    assert (resumed.state, resumed.resumed_from) == ("Success", run_id)


def test_a_run_marked_crashed_by_ferroflow_runs_stops_when_its_process_continues(lab):
    flow_file, env, marks, db = lab
    first, run_id = stop_when_working(flow_file, env, marks, db, 80)
    try:
        # A plain `ferroflow runs` reaps after six heartbeat periods of silence.
        wait_for(lambda: f"{run_id}  fenced  Crashed" in ferroflow(env, "runs").stdout, "the run shown Crashed")
        reaped = recorded(db, run_id)
        before = len(executions(marks))
    finally:
        first.send_signal(signal.SIGCONT)
    code, output = end_of(first)
    assert code == 130, output
    assert "was marked Crashed by another process" in output
    assert len(executions(marks)) - before <= FIRST_UNIT_SIZE
    assert "total" not in [what for _, what in executions(marks)]
    assert recorded(db, run_id) == reaped  # still Crashed, not Running again, nothing added


def test_two_resumes_at_once_one_wins(lab, tmp_path):
    flow_file, env, marks, db = lab
    gate = tmp_path / "gate"
    first = start(flow_file, env, "-p", "n=4", GATE=str(gate))
    try:
        wait_for(lambda: executions(marks) and db.exists(), "a child running", first)
        run_id = the_run(db).run_id
        # The original is alive: resuming it is refused.
        alive = ferroflow(env, "run", str(flow_file), "--no-progress", "--resume", run_id)
        assert alive.returncode == 2 and f"run {run_id} is still running (pid {first.pid}" in alive.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        first.stdout.close()
        first.stderr.close()
    resumes = [start(flow_file, env, "--resume", run_id, GATE=str(gate)) for _ in range(2)]
    try:
        wait_for(lambda: any(p.poll() is not None for p in resumes), "one resume to give up")
        (loser,) = [p for p in resumes if p.poll() is not None]
        (winner,) = [p for p in resumes if p is not loser]
        code, output = end_of(loser)
        assert code == 2, output
        assert f"run {run_id} is already being resumed by run " in output
        assert f"(pid {winner.pid} on " in output
    finally:
        gate.touch()
    code, output = end_of(winner)
    assert code == 0, output
    with SQLiteRunStore(db) as store:
        runs = store.list_runs()
    assert sorted((r.state, r.resumed_from) for r in runs) == [("Crashed", None), ("Success", run_id)]

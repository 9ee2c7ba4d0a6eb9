"""A run is in the store before any of its tasks runs (issue 8, fault 4).

The run's start (its row, parameters, pid and heartbeat) is committed synchronously,
so a process that dies at once (a task calling ``os._exit(1)``), or that a task keeps
from ever releasing the GIL (a catastrophic regex) and is then killed, still leaves a
run that ``ferroflow runs`` shows ``Crashed`` and that can be resumed.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from ferroflow.store import SQLiteRunStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

FLOW = textwrap.dedent('''
    import os, re, sqlite3, time
    from ferroflow import Flow, Parameter, task
    from ferroflow.results import Result

    def mark(line):
        fd = os.open(os.environ["MARKS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (line + "\\n").encode())
        os.close(fd)

    def wait_until_recorded(n):
        """Until the store holds the checkpoint locations of n children (read without
        flushing this process's writer: its own commits decide)."""
        db = os.path.join(os.environ["FERROFLOW_HOME"], "runs.db")
        deadline = time.monotonic() + 120  # a hang guard only
        while time.monotonic() < deadline:
            conn = sqlite3.connect(db)
            try:
                (k,) = conn.execute("SELECT count(*) FROM task_runs WHERE map_index >= 0 "
                                    "AND result_location IS NOT NULL").fetchone()
            finally:
                conn.close()
            if k >= n:
                return
            time.sleep(0.01)

    @task
    def first(n):
        mark("first")
        if os.environ.get("STOP_AT") == "first":
            os._exit(1)
        if os.environ.get("STOP_AT") == "regex":
            mark("regex")
            re.match(r"(a+)+$", "a" * 64 + "b")  # holds the GIL far longer than the test lives
        return list(range(n))

    @task
    def work(x):
        mark(f"work {x}")
        return x * 10

    @task
    def last(xs):
        mark("last")
        if os.environ.get("STOP_AT") == "last":
            wait_until_recorded(len(xs))
            os._exit(1)
        return sum(xs)

    with Flow("exits", result=Result(base=os.environ["RESULTS"])) as flow:
        last(work.map(first(Parameter("n", default=5))))
''')


@pytest.fixture
def setup(tmp_path):
    flow_file = tmp_path / "flow.py"
    flow_file.write_text(FLOW)
    env = {**os.environ, "FERROFLOW_HOME": str(tmp_path / "home"), "RESULTS": (tmp_path / "results").as_uri(),
           "FERROFLOW_RECORD": "1"}
    env.pop("STOP_AT", None)
    return flow_file, env, tmp_path / "home" / "runs.db"


def ferroflow(*args, env, marks):
    return subprocess.run([sys.executable, "-m", "ferroflow", *args], env={**env, "MARKS": str(marks)},
                          capture_output=True, text=True)


def lines(path) -> list:
    return path.read_text().splitlines() if path.exists() else []


def only_run(db):
    with SQLiteRunStore(db) as store:
        runs = store.list_runs()
    assert len(runs) == 1, f"expected the one run, found {runs}"
    return runs[0]


@pytest.mark.parametrize("executor", ["local", "threads"])
def test_a_task_calling_os_exit_leaves_a_crashed_run_that_resumes(setup, tmp_path, executor):
    flow_file, env, db = setup
    marks = tmp_path / "marks"
    died = ferroflow("run", str(flow_file), "--no-progress", "-e", executor, env={**env, "STOP_AT": "first"},
                     marks=marks)
    assert died.returncode == 1 and lines(marks) == ["first"], died.stderr
    assert db.exists(), "the run left no record"
    run = only_run(db)
    assert (run.state, run.parameters) == ("Running", {"n": 5})  # nobody ended it; the default is recorded
    listed = ferroflow("runs", env=env, marks=marks)
    assert listed.returncode == 0 and f"{run.run_id}  exits  Crashed" in listed.stdout, listed.stdout
    shown = ferroflow("runs", "show", run.run_id, env=env, marks=marks).stdout
    assert "ended without ending the run: it was killed or crashed" in shown
    marks.unlink()
    again = ferroflow("run", str(flow_file), "--no-progress", "-e", executor, "--resume", run.run_id, env=env,
                      marks=marks)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(lines(marks)) == sorted(["first", "last"] + [f"work {x}" for x in range(5)])


def test_a_run_that_died_later_resumes_from_its_checkpoints(setup, tmp_path):
    flow_file, env, db = setup
    marks = tmp_path / "marks"
    died = ferroflow("run", str(flow_file), "--no-progress", "-p", "n=6", env={**env, "STOP_AT": "last"},
                     marks=marks)
    assert died.returncode == 1, died.stderr
    assert lines(marks)[-1] == "last"
    run = only_run(db)
    assert ferroflow("runs", env=env, marks=marks).returncode == 0
    with SQLiteRunStore(db) as store:
        assert store.get_run(run.run_id).state == "Crashed"
    marks.unlink()
    again = ferroflow("run", str(flow_file), "--no-progress", "--resume", run.run_id, env=env, marks=marks)
    assert again.returncode == 0, again.stdout + again.stderr
    assert lines(marks) == ["last"]  # first and every work child came back from their checkpoints
    with SQLiteRunStore(db) as store:
        latest = store.list_runs(limit=1)[0]
    assert (latest.state, latest.resumed_from, latest.parameters) == ("Success", run.run_id, {"n": 6})


def test_a_run_is_visible_while_a_task_holds_the_gil(setup, tmp_path):
    flow_file, env, db = setup
    marks = tmp_path / "marks"
    stuck = subprocess.Popen([sys.executable, "-m", "ferroflow", "run", str(flow_file), "--no-progress"],
                             env={**env, "STOP_AT": "regex", "MARKS": str(marks)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    found = None
    try:
        deadline = time.monotonic() + 120  # a hang guard only: the regex outlives it
        while found is None and time.monotonic() < deadline:
            assert stuck.poll() is None, "the flow ended: the regex was not catastrophic enough"
            if "regex" in lines(marks) and db.exists():
                # Another process's view: a plain connection, nothing of the stuck writer's.
                conn = sqlite3.connect(db)
                try:
                    found = conn.execute("SELECT run_id, state, pid, heartbeat_at FROM runs").fetchone()
                except sqlite3.OperationalError:  # the schema is being created
                    pass
                finally:
                    conn.close()
            time.sleep(0.02)
    finally:
        stuck.send_signal(signal.SIGKILL)
        stuck.wait()
    assert found is not None, "the run never appeared while its task held the GIL"
    run_id, state, pid, beat = found
    assert (state, pid) == ("Running", stuck.pid) and beat is not None
    assert "regex" in lines(marks)
    listed = ferroflow("runs", env=env, marks=marks)
    assert f"{run_id}  exits  Crashed" in listed.stdout, listed.stdout

"""Resume after a crash: a real `ferroflow run` process is killed with SIGKILL in the
middle of a mapped flow; `ferroflow runs` then shows its run Crashed, and `ferroflow
run --resume RUN_ID` runs only the task runs whose checkpointed results were not
recorded, and the flow's result is right."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ferroflow.store import SQLiteRunStore

N = 40

FLOW = textwrap.dedent('''
    import os, time
    from pathlib import Path
    from ferroflow import Flow, Parameter, task
    from ferroflow.results import Result

    @task
    def items(n):
        return list(range(n))

    @task
    def work(x):
        (Path(os.environ["MARKS"]) / str(x)).touch()  # one file per execution
        time.sleep(float(os.environ["SLOW"]))
        return x * 10

    @task
    def total(xs):
        Path(os.environ["OUT"]).write_text(str(sum(xs)))
        return sum(xs)

    with Flow("resumable", result=Result(base=os.environ["RESULTS"])) as flow:
        n = Parameter("n", default=3)
        total(work.map(items(n)))
''')

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def recorded_checkpoints(db, run_id, task_name):
    """Indices of the children of `task_name` whose checkpoint location is recorded."""
    with SQLiteRunStore(db) as store:
        info = store.resume_info(run_id)
        (task,) = [t for t in info.tasks.values() if t.name == task_name]
        return {i for i, (code, location) in task.children.items() if location}


def test_resume_after_kill_9_runs_only_what_was_not_checkpointed(tmp_path):
    home, results = tmp_path / "home", tmp_path / "results"
    flow_file = tmp_path / "flow.py"
    flow_file.write_text(FLOW)
    marks1, marks2 = tmp_path / "marks1", tmp_path / "marks2"
    marks1.mkdir()
    marks2.mkdir()
    env = {**os.environ, "FERROFLOW_HOME": str(home), "RESULTS": results.as_uri(), "OUT": str(tmp_path / "out"),
           "FERROFLOW_RECORD": "1"}
    errors = (tmp_path / "first.err").open("w")
    first = subprocess.Popen(
        [sys.executable, "-m", "ferroflow", "run", str(flow_file), "--no-progress", "--param", f"n={N}"],
        env={**env, "MARKS": str(marks1), "SLOW": "0.05"}, stdout=subprocess.DEVNULL,
        stderr=errors)
    db = home / "runs.db"
    run_id = None
    try:
        # Wait (bounded only by the test timeout) until some children are checkpointed and recorded.
        while True:
            assert first.poll() is None, ("the flow ended before it could be killed: "
                                          + (tmp_path / "first.err").read_text())
            if db.exists():
                with SQLiteRunStore(db) as store:
                    runs = store.list_runs()
                if runs:
                    run_id = runs[0].run_id
                    if len(recorded_checkpoints(db, run_id, "work")) >= 8:
                        break
            time.sleep(0.02)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        errors.close()
    assert first.returncode == -signal.SIGKILL
    ran_first = {int(p.name) for p in marks1.iterdir()}
    assert len(ran_first) < N, "the kill came too late to test anything"
    with SQLiteRunStore(db) as store:
        assert store.get_run(run_id).state == "Running"  # it died: never ended
    # `ferroflow runs` finds it orphaned (its process is gone) and marks it Crashed.
    listed = subprocess.run([sys.executable, "-m", "ferroflow", "runs"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and run_id in listed.stdout and "Crashed" in listed.stdout, listed.stdout
    with SQLiteRunStore(db) as store:
        crashed = store.get_run(run_id)
    assert crashed.state == "Crashed" and crashed.ended_at is not None
    assert f"(pid {first.pid} on " in crashed.message and "ended without ending the run" in crashed.message
    assert f"--resume {run_id}" in crashed.message
    resumable = recorded_checkpoints(db, run_id, "work")
    assert resumable and resumable <= ran_first

    second = subprocess.run(
        [sys.executable, "-m", "ferroflow", "run", str(flow_file), "--no-progress", "--resume", run_id[:12]],
        env={**env, "MARKS": str(marks2), "SLOW": "0"}, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout + second.stderr
    ran_second = {int(p.name) for p in marks2.iterdir()}
    assert ran_second == set(range(N)) - resumable  # every other child ran again, and only those
    assert (tmp_path / "out").read_text() == str(sum(10 * x for x in range(N)))  # n=40 came from the first run
    with SQLiteRunStore(db) as store:
        latest = store.list_runs(limit=1)[0]
        assert (latest.state, latest.resumed_from) == ("Success", run_id)

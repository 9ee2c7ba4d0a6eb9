"""Cancelling a run through the server (issue 11): ``POST /api/v1/runs/{id}/cancel``
or ``ferroflow cancel RUN_ID`` marks a running run ``Cancelling``; the process
recording it learns so from the answer to its next batch or heartbeat, stops before its
next task runs as a Ctrl-C would, and records the end: the run ``Cancelled``, its
unfinished task runs ``Cancelled``, its finished ones as they were. Real server
(uvicorn on 127.0.0.1), real client process, both databases."""

from __future__ import annotations

import subprocess
import sys

from ferroflow.client.http import Client
from tests.support.servers import child_env, wait_for

STEPS = 400

#: A chain of short tasks recording through the server (FERROFLOW_API_URL): long
#: enough (about 20 s) that a cancel asked for after its first task lands in the middle.
CHAIN = f"""
import time
from ferroflow import Flow, task

@task
def step(previous, i):
    time.sleep(0.05)
    return i

with Flow("cancel-me") as flow:
    previous = None
    for i in range({STEPS}):
        previous = step(previous, i, task_args={{"name": f"step-{{i:03d}}"}})

state = flow.run()
print("ENDED", type(state).__name__, state.message, flush=True)
"""




def _start_chain(server, tmp_path) -> tuple[subprocess.Popen, str]:
    script = tmp_path / "chain.py"
    script.write_text(CHAIN)
    process = subprocess.Popen([sys.executable, str(script)], env=child_env(
        {"FERROFLOW_HOME": str(tmp_path / "home"), "FERROFLOW_API_URL": server.url}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with Client(server.url) as client:
        def first_done():
            for run in client.list_runs(flow="cancel-me").items:
                tasks = client.run_tasks(run.run_id)
                if any(t.state == "Success" for t in tasks):
                    return run.run_id
            return None

        try:
            run_id = wait_for(first_done, "the run's first task to succeed on the server")
        except BaseException:
            process.kill()
            process.communicate()
            raise
    return process, run_id


def _ended(process: subprocess.Popen) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=120)  # (only against a hang)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"the cancelled run's process did not end:\n{out}\n{err}") from None
    assert process.returncode == 0, err
    return out, err


def _check_cancelled(database_url: str, run_id: str, out: str) -> None:
    from ferroflow.store.sql import SQLRunStore

    assert "ENDED Cancelled" in out
    store = SQLRunStore(database_url)
    try:
        run = store.get_run(run_id)
        assert run.state == "Cancelled"
        assert "cancelled through the server" in run.message
        tasks = store.task_states(run_id)
    finally:
        store.close()
    by_state: dict = {}
    for t in tasks:
        by_state.setdefault(t.state, []).append(t.name)
    assert set(by_state) == {"Success", "Cancelled"}, by_state
    done, cancelled = len(by_state["Success"]), len(by_state["Cancelled"])
    assert done + cancelled == STEPS
    # The chain runs in order: the finished steps are the first ones, the rest cancelled.
    assert sorted(by_state["Success"]) == [f"step-{i:03d}" for i in range(done)]
    assert all(t.message == "Cancelled through the server." for t in tasks if t.state == "Cancelled")


def test_cancel_through_the_api_stops_the_run_and_records_its_end(server, database_url, tmp_path):
    process, run_id = _start_chain(server, tmp_path)
    with Client(server.url) as client:
        asked = client.cancel_run(run_id)
        assert asked.state == "Cancelling"
        out, _ = _ended(process)
        assert client.get_run(run_id).state == "Cancelled"
    _check_cancelled(database_url, run_id, out)


def test_ferroflow_cancel_stops_the_run(server, database_url, tmp_path):
    process, run_id = _start_chain(server, tmp_path)
    try:
        done = subprocess.run([sys.executable, "-m", "ferroflow", "cancel", run_id[:12], "--server", server.url],
                              env=child_env(), capture_output=True, text=True, timeout=120)
    except BaseException:
        process.kill()
        process.communicate()
        raise
    assert done.returncode == 0, done.stderr
    assert "Cancelling" in done.stdout and run_id in done.stdout
    out, _ = _ended(process)
    _check_cancelled(database_url, run_id, out)


def test_an_idle_run_learns_of_its_cancel_from_a_heartbeat(server, database_url, tmp_path, monkeypatch):
    """Nothing recorded after the cancel: only the heartbeat batches (at least every
    2 s while a run is live) can bring it; the end is then still taken."""
    import uuid

    from ferroflow.store import RunCancelledError
    from ferroflow.store.base import TaskList
    from ferroflow.store.remote import LIVE_HEARTBEAT_SECONDS, RemoteRunStore

    assert LIVE_HEARTBEAT_SECONDS <= 2.0
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    store = RemoteRunStore(server.url, flush_timeout=60, exit_timeout=5)
    run_id = uuid.uuid4().hex
    try:
        store.start_run(run_id, "idle", {}, TaskList([0], ["wait"], [None], b"\x00"))
        store.flush()
        store.check_lease(run_id)  # (not cancelled: nothing raised)
        with Client(server.url) as client:
            assert client.cancel_run(run_id).state == "Cancelling"

            def cancelled():
                try:
                    store.check_lease(run_id)
                except RunCancelledError as exc:
                    return exc
                return None

            error = wait_for(cancelled, "a heartbeat's answer to name the run")
            assert error.run_id == run_id and "cancelled through the server" in str(error)
            store.end_run(run_id, "Cancelled", "stopped on request")
            store.flush()
            run = client.get_run(run_id)
            assert (run.state, run.message) == ("Cancelled", "stopped on request")
        store.check_lease(run_id)  # (ended: nothing raised any more)
    finally:
        store.close()


def test_cancelling_a_scheduled_run_needs_no_process(server):
    with Client(server.url) as client:
        run, _ = client.create_run("never-started")
        assert run.state == "Scheduled"
        cancelled = client.cancel_run(run.run_id)
        assert cancelled.state == "Cancelled"
        assert client.get_run(run.run_id).state == "Cancelled"
    done = subprocess.run([sys.executable, "-m", "ferroflow", "cancel", run.run_id, "--server", server.url],
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "Cancelled" in done.stderr


def test_ferroflow_cancel_of_an_unknown_run_says_so(server):
    done = subprocess.run([sys.executable, "-m", "ferroflow", "cancel", "ab" * 16, "--server", server.url],
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "no run" in done.stderr

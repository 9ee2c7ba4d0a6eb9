"""Workers end to end (issue 11): real server and ``ferroflow worker`` processes on
127.0.0.1, both databases. Runs of deployments are claimed once and run in processes of
their own; a crashed process makes its run ``Crashed`` and a retry resumes it; a cancel
stops a run, killing a process that ignores the interrupt, with nothing left behind;
SIGTERM lets runs finish, then cancels them; a deployment that does not import or gets
parameters its flow refuses fails that run alone; a pool nobody deploys to is waited on."""

from __future__ import annotations

import signal
import time

import pytest

from ferroflow.client.http import Client
from tests.support.servers import wait_for
from tests.support.workers import WorkerProcess, deploy, pid_alive, run_deployment, start_server, wait_ended

FLOWS = """
import os, signal, subprocess, sys, time
from ferroflow import Flow, Parameter, task

@task
def note(tag, out):
    with open(out, "a") as f:
        f.write(f"{tag}\\n")
    return tag

with Flow("note") as note_flow:
    note(Parameter("tag", default="x"), Parameter("out"))

@task
def crash():
    os._exit(9)

@task
def crash_once(marker):
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    return "second time lucky"

with Flow("crash-once") as crash_once_flow:
    crash_once(Parameter("marker"))

with Flow("crash") as crash_flow:
    crash()

@task
def stubborn(pidfile):
    # (SIGINT blocked: only the worker's kill stops this task; a grandchild too)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"])
    with open(pidfile, "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    time.sleep(1000)

@task
def after(x):
    return x

with Flow("stubborn") as stubborn_flow:
    after(stubborn(Parameter("pidfile")))

@task
def nap(seconds):
    time.sleep(seconds)
    return seconds

with Flow("nap") as nap_flow:
    nap(Parameter("seconds"))
"""


@pytest.fixture
def server(database_url, tmp_path):
    found = start_server(database_url, tmp_path)
    yield found
    found.stop()


@pytest.fixture
def workers(server, project, tmp_path):
    made: list[WorkerProcess] = []

    def start(pool="default", *args, name=None):
        worker = WorkerProcess(server.url, project, tmp_path / f"worker-{len(made)}.log", pool, *args)
        made.append(worker)
        return worker

    yield start
    for worker in made:
        worker.stop(timeout=30)


def test_runs_are_claimed_once_and_run_in_their_own_processes(server, workers, project):
    out = project / "out.txt"
    with Client(server.url) as client:
        deploy(client, "note", "flows.py:note_flow", parameters={"out": str(out)})
        ids = [run_deployment(client, "note", tag=f"t{i}") for i in range(12)]
        first, second = workers("default", "--concurrency", "2"), workers("default", "--concurrency", "3")
        ended = [wait_ended(client, run_id) for run_id in ids]
        assert [r.state for r in ended] == ["Success"] * 12, [r.message for r in ended]
        assert sorted(out.read_text().split()) == sorted(f"t{i}" for i in range(12)), "each run once"
        pids = {r.pid for r in ended}
        assert len(pids) == 12 and first.process.pid not in pids, "a process of its own per run"
        workers_seen = client.get("/api/v1/workers")
        assert sorted(w["concurrency"] for w in workers_seen) == [2, 3] and all(w["healthy"] for w in workers_seen)
    assert first.stop() == 0 and second.stop() == 0
    assert "stopped" in first.log()


def test_a_crashed_process_is_retried_from_its_run(server, workers, project):
    with Client(server.url) as client:
        deploy(client, "crash", "flows.py:crash_flow", retries=2)
        run_id = run_deployment(client, "crash")
        worker = workers()
        crashed = wait_ended(client, run_id)
        # (told by its worker, or by the server's reaper finding the process gone: whichever is first)
        assert crashed.state == "Crashed" and ("exit code 9" in crashed.message
                                               or "ended without ending the run" in crashed.message), crashed.message
        attempts = wait_for(lambda: (found := client.list_runs(flow="crash", states=["Crashed"]).items)
                            and len(found) == 3 and found, "three attempts, each crashed")
        chain = [r for r in attempts if r.resumed_from is None]
        while len(chain) < 3:
            (following,) = [r for r in attempts if r.resumed_from == chain[-1].run_id]
            chain.append(following)
        assert chain[0].run_id == run_id, "each retry resumes the attempt before it"
        time.sleep(1.5)  # (no fourth attempt: retries=2)
        assert len(client.list_runs(flow="crash").items) == 3
        assert worker.process.poll() is None, "the worker goes on"


def test_a_cancel_stops_a_stubborn_run_and_leaves_no_process(server, workers, project, tmp_path):
    pidfile = tmp_path / "pids"
    with Client(server.url) as client:
        deploy(client, "stubborn", "flows.py:stubborn_flow", parameters={"pidfile": str(pidfile)})
        run_id = run_deployment(client, "stubborn")
        worker = workers("default", "--cancel-grace", "2")
        wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2, "the task to start")
        pids = [int(p) for p in pidfile.read_text().split()]
        asked = time.monotonic()
        client.cancel_run(run_id)
        run = wait_ended(client, run_id, timeout=60)
        took = time.monotonic() - asked
        print(f"cancel took {took:.1f} s")
        assert run.state == "Cancelled", run.message
        tasks = {t.name: t.state for t in client.run_tasks(run_id)}
        assert tasks == {"pidfile": "Success", "stubborn": "Cancelled", "after": "Cancelled"}, tasks
        wait_for(lambda: not any(pid_alive(p) for p in pids), "the run's processes to be gone", timeout=30)
        assert "killing its processes" in worker.log()


def test_sigterm_lets_runs_finish_then_cancels_the_rest(server, workers, project):
    with Client(server.url) as client:
        deploy(client, "nap", "flows.py:nap_flow", parameters={"seconds": 1})
        short = run_deployment(client, "nap", seconds=1)
        long = run_deployment(client, "nap", seconds=600)
        worker = workers("default", "--concurrency", "2", "--grace", "3", "--cancel-grace", "3")
        wait_for(lambda: all(client.get_run(r).state == "Running" for r in (short, long)), "both runs to start")
        worker.signal(signal.SIGTERM)
        assert worker.process.wait(60) == 0
        assert client.get_run(short).state == "Success"
        cancelled = wait_ended(client, long)
        assert cancelled.state == "Cancelled", cancelled.message
        assert "no more claims" in worker.log()
        (seen,) = client.get("/api/v1/workers")
        assert seen["state"] == "stopped"


def test_a_run_that_cannot_start_fails_alone(server, workers, project):
    out = project / "out.txt"
    with Client(server.url) as client:
        deploy(client, "missing", "nowhere/missing.py:flow")
        deploy(client, "bad-params", "flows.py:note_flow", parameters={"out": str(out), "colour": "red"})
        deploy(client, "good", "flows.py:note_flow", parameters={"out": str(out)})
        missing = run_deployment(client, "missing")
        bad = run_deployment(client, "bad-params")
        good = run_deployment(client, "good", tag="fine")
        worker = workers()
        assert wait_ended(client, good).state == "Success"
        failed = wait_ended(client, missing)
        assert failed.state == "Failed" and "missing.py" in failed.message, failed.message
        refused = wait_ended(client, bad)
        assert refused.state == "Failed" and "colour" in refused.message, refused.message
        assert out.read_text().split() == ["fine"]
        assert worker.process.poll() is None


def test_a_worker_of_a_pool_nobody_uses_waits_for_one(server, workers, project):
    out = project / "out.txt"
    worker = workers("later")
    wait_for(lambda: "no deployment uses pool 'later'" in worker.log(), "the worker's warning")
    with Client(server.url) as client:
        deploy(client, "later", "flows.py:note_flow", parameters={"out": str(out)}, pool="later")
        assert wait_ended(client, run_deployment(client, "later", tag="came")).state == "Success"
    assert out.read_text().split() == ["came"]


def test_run_deployment_wait_follows_a_crashed_run_into_its_retry(server, workers, project, tmp_path):
    import subprocess
    import sys

    from tests.support.servers import child_env

    with Client(server.url) as client:
        deploy(client, "once", "flows.py:crash_once_flow", parameters={"marker": str(tmp_path / "marker")},
               retries=1)
    workers()
    done = subprocess.run([sys.executable, "-m", "ferroflow", "run", "--deployment", "once", "--wait",
                           "--no-progress", "--server", server.url], env=child_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "crashed: retried as run" in done.stdout and "(attempt 2 of 2)" in done.stdout

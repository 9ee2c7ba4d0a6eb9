"""Workers surviving what goes wrong (issue 11), real server and worker processes, both
databases:

* ``kill -9`` of a worker in the middle of a checkpointed 10^4-child run: the run's
  process dies with it, the server marks the run ``Crashed``, another worker resumes it,
  and no child whose checkpoint was recorded is computed again;
* the server away for 30 s while a worker's run goes on: the run completes and every
  record arrives (a server that restarts gives silent runs a full heartbeat timeout
  before taking them for dead)."""

from __future__ import annotations

import time

from ferroflow.client.http import Client
from tests.support.servers import free_port, wait_for
from tests.support.workers import WorkerProcess, deploy, pid_alive, run_deployment, start_server, wait_ended

CHILDREN = 10_000

FLOWS = """
import os, time
from ferroflow import Flow, Parameter, task, unmapped
from ferroflow.results import Result

HERE = os.path.dirname(os.path.abspath(__file__))

@task
def numbers(n):
    return list(range(n))

@task
def work(i, log):
    with open(log, "a") as f:
        f.write(f"{i}\\n")
    time.sleep(0.001)
    return i * 2

@task
def total(values):
    return sum(values)

with Flow("big", result=Result(base="file://" + os.path.join(HERE, "results"))) as big:
    total(work.map(numbers(Parameter("n")), unmapped(Parameter("log"))))

@task
def step(previous, i):
    time.sleep(1)
    return i

with Flow("chain") as chain:
    previous = None
    for i in range(int(os.environ.get("CHAIN_STEPS", "40"))):
        previous = step(previous, i, task_args={"name": f"step-{i:02d}"})
"""


def _lines(path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_a_worker_killed_mid_run_is_resumed_elsewhere_without_recomputing(database_url, tmp_path, project):
    log = project / "computed.txt"
    server = start_server(database_url, tmp_path)
    first = second = None
    try:
        with Client(server.url) as client:
            deploy(client, "big", "flows.py:big", parameters={"n": CHILDREN, "log": str(log)}, retries=1)
            run_id = run_deployment(client, "big")
            first = WorkerProcess(server.url, project, tmp_path / "first.log", "default", "--launcher", "fork")
            wait_for(lambda: len(_lines(log)) >= CHILDREN // 4, "a quarter of the children to be computed",
                     timeout=300, every=0.05)
            running = client.get_run(run_id)
            assert running.state == "Running"
            first.kill()
            wait_for(lambda: not pid_alive(running.pid), "the run's process to die with its worker", timeout=30)
            computed_first = len(_lines(log))
            crashed = wait_ended(client, run_id, timeout=60)
            assert crashed.state == "Crashed", crashed.message
            (work,) = [t for t in client.run_tasks(run_id) if t.name == "work"]
            recorded = work.counts.get("Success", 0)
            assert 0 < recorded <= computed_first < CHILDREN

            second = WorkerProcess(server.url, project, tmp_path / "second.log")
            retry = wait_for(lambda: [r for r in client.list_runs(flow="big").items if r.resumed_from == run_id],
                             "the retry of the crashed run", timeout=60)[0]
            done = wait_ended(client, retry.run_id, timeout=300)
            assert done.state == "Success", done.message
            computed = _lines(log)
            assert sorted(set(computed)) == list(range(CHILDREN))
            again = len(computed) - computed_first
            print(f"first attempt computed {computed_first}, recorded {recorded}; the retry computed {again}")
            assert again == CHILDREN - recorded, "no child whose checkpoint was recorded is computed again"
            (total,) = [t for t in client.run_tasks(retry.run_id) if t.name == "total"]
            assert total.state == "Success"
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop(timeout=30)
        server.stop()


def test_a_run_goes_on_while_the_server_is_away_for_30_s(database_url, tmp_path, project):
    port = free_port()
    server = start_server(database_url, tmp_path, port=port)
    worker = None
    try:
        with Client(server.url) as client:
            deploy(client, "chain", "flows.py:chain")
            run_id = run_deployment(client, "chain")
            worker = WorkerProcess(server.url, project, tmp_path / "worker.log", "default",
                                   env={"CHAIN_STEPS": "40"})
            wait_for(lambda: any(t.state == "Success" for t in client.run_tasks(run_id)),
                     "the run's first step", timeout=120)
        server.kill()
        time.sleep(30)
        server = start_server(database_url, tmp_path, port=port)
        with Client(server.url) as client:
            done = wait_ended(client, run_id, timeout=180)
            assert done.state == "Success", done.message
            states = [t.state for t in client.run_tasks(run_id)]
            assert states == ["Success"] * 40
        assert worker.process.poll() is None, "the worker waited for the server"
        assert "cannot reach the server" in worker.log()
        wait_for(lambda: "the server answers again" in worker.log(), "the worker to find the server back")
    finally:
        if worker is not None:
            worker.stop(timeout=30)
        server.stop()

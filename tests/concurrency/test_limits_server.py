"""Tag concurrency limits across flow runs in separate processes recording through a
real server (SQLite and PostgreSQL): three concurrent runs of a mapped task tagged
``db`` with a limit of 2 never run more than 2 of its children at once, and every child
runs; a run killed with ``kill -9`` while holding a slot gives it back once the
server's reaper marked it ``Crashed``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from ferroflow.store import concurrency as cl
from ferroflow.store.database import make_engine
from ferroflow.store.migrations import migrate
from tests.concurrency.test_limits_engine import max_overlap
from tests.support.servers import Server, child_env

FLOW = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path

    from ferroflow import Flow, task
    from ferroflow.executors import ProcessesExecutor, ThreadsExecutor

    SPANS = Path(os.environ["SPANS"])

    @task(tags=["db"])
    def query(i):
        start = time.time()
        (SPANS / f"started-{os.getpid()}-{i}").write_text("")
        time.sleep(float(os.environ.get("HOLD", "0.2")))
        (SPANS / f"db-{os.getpid()}-{i}.json").write_text(json.dumps([start, time.time()]))
        return i

    @task
    def plain(i):
        return i

    with Flow("limited") as flow:
        query.map(list(range(int(os.environ.get("CHILDREN", "8")))))
        plain.map(list(range(20)))

    if __name__ == "__main__":
        executor = ProcessesExecutor(max_workers=3) if sys.argv[1] == "processes" else ThreadsExecutor(max_workers=4)
        state = flow.run(executor=executor)
        print("RUN", state.flow_run_id, state.is_successful(), flush=True)
        sys.exit(0 if state.is_successful() else 1)
""")


@pytest.fixture
def world(database_url, tmp_path):
    engine = make_engine(database_url)
    migrate(engine)
    (tmp_path / "flow.py").write_text(FLOW)
    spans = tmp_path / "spans"
    spans.mkdir()
    server = Server(database_url, tmp_path / "server.log", env={"FERROFLOW_HEARTBEAT_SECONDS": "0.3"}).start()
    try:
        yield engine, server, tmp_path, spans
    finally:
        server.stop()
        engine.dispose()


def _flow_process(server, folder, spans, executor="threads", **env):
    extra = {"FERROFLOW_API_URL": server.url, "SPANS": str(spans), **{k: str(v) for k, v in env.items()}}
    return subprocess.Popen([sys.executable, str(folder / "flow.py"), executor], cwd=folder, env=child_env(extra),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _in_use(server) -> int:
    return httpx.get(f"{server.url}/api/v1/concurrency-limits/db", timeout=30).json()["in_use"]


def _wait_for(predicate, what, timeout=90.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.1)


def test_concurrent_runs_through_a_server_never_exceed_the_limit(world):
    engine, server, folder, spans = world
    assert httpx.put(f"{server.url}/api/v1/concurrency-limits/db", json={"slots": 2}, timeout=30).status_code == 201
    flows = [_flow_process(server, folder, spans, executor) for executor in ("threads", "threads", "processes")]
    outputs = [p.communicate(timeout=300)[0] for p in flows]
    for p, out in zip(flows, outputs, strict=True):
        assert p.returncode == 0, out
    found = [json.loads(p.read_text()) for p in spans.glob("db-*.json")]
    assert len(found) == 3 * 8, "every child of every run ran once"
    assert max_overlap(found) <= 2
    assert max_overlap(found) == 2  # (the runs did overlap: the limit was what held them)
    run_ids = [line.split()[1] for out in outputs for line in out.splitlines() if line.startswith("RUN ")]
    assert len(run_ids) == 3
    for run_id in run_ids:
        run = httpx.get(f"{server.url}/api/v1/runs/{run_id}", timeout=30).json()
        assert run["state"] == "Success"
    _wait_for(lambda: _in_use(server) == 0, "the slots to be free")


def test_the_slot_of_a_run_killed_with_kill_9_is_freed_by_the_reaper(world):
    engine, server, folder, spans = world
    cl.set_limit(engine, "db", 1)
    doomed = _flow_process(server, folder, spans, CHILDREN=1, HOLD=600)
    try:
        _wait_for(lambda: any(spans.glob("started-*")), "the child to start")
        assert _in_use(server) == 1
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(30)
    finally:
        if doomed.poll() is None:
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(30)
        assert doomed.stdout is not None
        doomed.stdout.close()
    _wait_for(lambda: _in_use(server) == 0, "the reaper to free the slot of the killed run")
    runs = httpx.get(f"{server.url}/api/v1/runs", timeout=30).json()
    assert [r["state"] for r in runs["items"]] == ["Crashed"]
    # the tag runs again
    after = _flow_process(server, folder, spans, CHILDREN=2, HOLD=0.05)
    out = after.communicate(timeout=300)[0]
    assert after.returncode == 0, out
    assert len(list(spans.glob("db-*.json"))) == 2


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_a_run_waiting_for_a_slot_is_cancelled_through_the_server(world, executor):
    engine, server, folder, spans = world
    cl.set_limit(engine, "db", 0)  # nothing of the tag runs
    waiting = _flow_process(server, folder, spans, executor, CHILDREN=3)
    try:
        def run_id():
            items = httpx.get(f"{server.url}/api/v1/runs", timeout=30).json()["items"]
            return items[0]["run_id"] if items and items[0]["state"] == "Running" else None

        _wait_for(lambda: run_id() is not None, "the run to start")
        time.sleep(0.5)  # (its children are waiting for a slot by now)
        answer = httpx.post(f"{server.url}/api/v1/runs/{run_id()}/cancel", timeout=30)
        assert answer.status_code == 200, answer.text
        out = waiting.communicate(timeout=120)[0]
    finally:
        if waiting.poll() is None:
            os.killpg(waiting.pid, signal.SIGKILL)
            waiting.communicate(timeout=30)
    assert waiting.returncode == 1, out
    runs = httpx.get(f"{server.url}/api/v1/runs", timeout=30).json()["items"]

    def state():
        return httpx.get(f"{server.url}/api/v1/runs/{runs[0]['run_id']}", timeout=30).json()["state"]

    _wait_for(lambda: state() == "Cancelled", lambda: f"the run to be recorded Cancelled (it is {state()}): {out}")
    assert not list(spans.glob("started-*")), "a child of a tag limited to 0 ran"
    assert _in_use(server) == 0

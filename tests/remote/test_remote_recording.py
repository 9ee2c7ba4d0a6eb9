"""Recording through a real ferroflow server (uvicorn on 127.0.0.1, httpx), on SQLite
and PostgreSQL: what arrives is what the embedded store records for the same run; a
server killed with ``kill -9`` in the middle of a run and started again loses nothing
and does not fail the run; records wait in a spool file when the server is gone at
exit and are delivered later; a batch sent twice counts once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import pytest

from ferroflow import Flow, task
from ferroflow.store import SQLiteRunStore
from ferroflow.store.wire import batch_body
from tests.support.processes import finish
from tests.support.servers import child_env, wait_for

N = 2_000
BAD = {i for i in range(N) if i % 97 == 13}


@task
def numbers(n):
    return list(range(n))


@task(max_retries=1, retry_delay=0)
def work(x):
    import ferroflow

    if x in BAD:
        ferroflow.context.logger.warning("child %d is about to fail", x)
        raise ValueError(f"bad item {x}")
    return x * 2


@task(trigger=lambda states: True)
def total(xs):
    return len(xs)


def build() -> Flow:
    with Flow("remote-e2e") as flow:
        total(work.map(numbers(N)))
    return flow


def open_store(database_url):
    from ferroflow.store.sql import SQLRunStore

    return SQLRunStore(database_url)


def summary(store, run_id) -> dict:
    """What a store holds of a run, without its times."""
    run = store.get_run(run_id)
    tasks = [(t.name, t.state, t.width, dict(t.counts), t.failed_count,
              [(c.map_index, c.state, c.message) for c in t.failed_children])
             for t in store.task_states(run_id, failed_limit=None)]
    logs = sorted((line.task_name, line.map_index, line.levelname, line.message)
                  for line in store.logs(run_id))
    return {"run": (run.flow_name, run.state, run.message, run.parameters, run.executor, run.run_name),
            "tasks": tasks,
            "logs": logs}


def test_a_mapped_run_arrives_as_the_embedded_store_records_it(server, database_url, tmp_path, monkeypatch):
    flow = build()
    state = flow.run(server=server.url)
    assert state.is_successful()  # (the reduce runs whatever its inputs did)
    remote_id = state.flow_run_id
    # The same run into an embedded store of its own, for comparison.
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    local_state = flow.run()
    local = SQLiteRunStore(tmp_path / "home" / "runs.db")
    with open_store(database_url) as store:
        got = summary(store, remote_id)
        failed = {c.map_index: c for t in store.task_states(remote_id, failed_limit=None)
                  for c in t.failed_children}
    assert got == summary(local, local_state.flow_run_id)
    assert got["run"][-2:] == ("local", None)  # (schema 10: the executor travels with the start; a deferred
    # run has no name, schema 12)
    local.close()
    assert set(failed) == BAD
    assert all("ValueError: bad item" in (c.traceback or "") for c in failed.values())
    # Records travel in batches: a handful of requests for thousands of task runs.
    posts = server.log().count("POST /api/v1/records")
    assert 0 < posts < 50, posts


def test_a_server_killed_mid_run_loses_nothing_and_fails_nothing(server, database_url, caplog):
    @task
    def slow(x):
        time.sleep(0.002)
        return x

    with Flow("survives-restart") as flow:
        total(slow.map(numbers(1500)))

    def restart():
        time.sleep(1.0)
        server.kill()
        time.sleep(1.5)
        server.start()

    bouncer = threading.Thread(target=restart)
    bouncer.start()
    state = flow.run(server=server.url)
    bouncer.join()
    assert state.is_successful()
    # The server was gone while the run recorded, and came back before it ended.
    assert "cannot be reached" in caplog.text and "takes records again" in caplog.text
    from ferroflow.store.config import get_run_store

    get_run_store(server=server.url).flush()
    with open_store(database_url) as store:
        run = store.get_run(state.flow_run_id)
        assert (run.state, run.record_error) == ("Success", None)
        tasks = {t.name: t for t in store.task_states(state.flow_run_id)}
    assert tasks["slow"].counts == {"Success": 1500}
    assert tasks["total"].state == "Success"


SPOOLED = """
import os, sys
from ferroflow import Flow, task

@task
def inc(x):
    return x + 1

with Flow("spooled") as flow:
    inc.map(list(range(300)))
state = flow.run()
print(state.flow_run_id)
"""


@pytest.mark.parametrize("delivery", ["push-spool", "next run"])
def test_records_spooled_at_exit_are_delivered_later(database_url, tmp_path, delivery):
    from tests.support.servers import Server, free_port

    port = free_port()
    home = tmp_path / "home"
    env = child_env({"FERROFLOW_HOME": str(home), "FERROFLOW_API_URL": f"http://127.0.0.1:{port}",
                     "FERROFLOW_API_FLUSH_TIMEOUT": "0.5", "FERROFLOW_API_EXIT_TIMEOUT": "0.5"})
    script = tmp_path / "spooled.py"
    script.write_text(SPOOLED)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    assert "kept in" in done.stderr and "push-spool" in done.stderr
    spooled = list((home / "spool").glob("*.spool"))
    assert len(spooled) == 1
    assert oct(spooled[0].stat().st_mode & 0o777) == "0o600"

    server = Server(database_url, tmp_path / "server.log", port=port).start()
    try:
        if delivery == "push-spool":
            pushed = subprocess.run([sys.executable, "-m", "ferroflow", "server", "push-spool"], env=env,
                                    capture_output=True, text=True, timeout=120)
        else:  # the next process that records to the server sends it
            pushed = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                                    timeout=120)
        assert pushed.returncode == 0, pushed.stderr
        assert not list((home / "spool").glob("*.spool"))
        with open_store(database_url) as store:
            run = store.get_run(run_id)
            assert run.state == "Success"
            assert {t.name: t.counts for t in store.task_states(run_id)}["inc"] == {"Success": 300}
    finally:
        server.stop()


def test_a_batch_sent_twice_counts_once(server, database_url):
    from ferroflow import _core
    from ferroflow.store import items
    from ferroflow.store.base import TaskList

    run_id = "b" * 32
    token = items.new_token()
    start = items.start(run_id, "twice", {}, TaskList([0], ["m"], [None], b"\x01"), pid=1, token=token)
    raw = batch_body("1" * 32, {run_id: token},
                     [start, items.width(run_id, 0, 10),
                      items.report(run_id, [(0, range(0, 10), bytes([_core.SUCCESS]) * 10)])])
    for expected in (True, False):
        answer = httpx.post(server.url + "/api/v1/records", content=raw,
                            headers={"Content-Type": "application/json"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["applied"] is expected
    with open_store(database_url) as store:
        (only,) = store.task_states(run_id)
    assert only.counts == {"Success": 10}


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "not JSON"),
    (b'{"batch_id": "zz", "tokens": {}, "items": []}', 422, "batch_id"),
    (b'{"batch_id": "12345678", "tokens": {}, "items": [], "extra": 1}', 422, "extra"),
    (b'{"batch_id": "12345678", "tokens": {}, "items": [{"$t": ["drop", "x"]}]}', 422, "items[0]"),
    (b'{"batch_id": "12345678", "tokens": {}, "items": [{"$t": ["end", "nope"]}]}', 422, "32 hex digits"),
    (b'{"batch_id": "12345678", "tokens": {}, "items": [{"$t": ["end", "' + b"ab" * 16 + b'"]}]}', 422,
     "without its lease"),
    (b'{"batch_id": "12345678", "tokens": {"' + b"ab" * 16 + b'": "t"}, "items": [{"$t": ["end", "' + b"ab" * 16
     + b'"]}]}', 422, "missing 3 required"),
])
def test_malformed_batches_are_refused_by_name(server, body, status, words):
    _post_and_check(server, body, status, words)


def _hostile(run_id: str, item: list) -> bytes:
    return json.dumps({"batch_id": "abcdef12", "tokens": {run_id: "t"}, "items": [{"$t": item}]}).encode()


@pytest.mark.parametrize("item, words", [
    (["width", "ab" * 16, 0, 10 ** 12], "at most 100,000,000 children"),
    (["report", "ab" * 16, [{"$t": [0, {"$r": [0, 10 ** 12, 1]}, {"$b": ""}]}], 1.0, None, False],
     "child indices from 0"),
    (["report", "ab" * 16, [{"$t": [0, [5, 10 ** 12], {"$b": "AAE="}]}], 1.0, None, False], "child indices from 0"),
    (["report", "ab" * 16, [{"$t": [10 ** 9, None, 1]}], 1.0, None, False], "task ids below"),
    (["states", "ab" * 16, [{"$t": [0, 10 ** 10, 1, 1, None, None]}], 1.0], "child indices below"),
    (["logs", "ab" * 16, [{"$t": ["x", -1, 1.0, 20, "l", "m"]}]], "task ids below"),
    (["width", "ab" * 16], "wrong shape"),
    (["start", "ab" * 16, "f", "{}", [], {"$t": ["[]", "[]", "[]", {"$b": ""}, {"$b": ""}, None]}, 0, 1.0, None,
      "h", 1, "t", "x" * 5000], "the executor is null or a description of at most 1,000 characters"),
    (["start", "ab" * 16, "f", "{}", [], {"$t": ["[]", "[]", "[]", {"$b": ""}, {"$b": ""}, None]}, 0, 1.0, None,
      "h", 1, "t", ["not", "text"]], "the executor is null or a description"),
])
def test_a_batch_that_would_make_the_server_allocate_without_bound_is_refused(server, item, words):
    """(the run's record holds a byte per task and per child while a batch is applied)"""
    _post_and_check(server, _hostile("ab" * 16, item), 422, words)
    assert httpx.get(server.url + "/api/v1/health", timeout=10).status_code == 200


def _post_and_check(server, body, status, words):
    answer = httpx.post(server.url + "/api/v1/records", content=body, headers={"Content-Type": "application/json"},
                        timeout=30)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert words in json.dumps(answer.json())
    assert "sqlite" not in answer.text and "postgresql" not in answer.text  # the database stays unnamed


def test_a_run_goes_on_when_no_server_ever_answers(tmp_path):
    """A server URL nobody listens on: the run succeeds; the records are kept."""
    from tests.support.flows import one_task_flow
    from tests.support.servers import free_port

    code = one_task_flow("alone") + "print(flow.run().is_successful())\n"
    env = child_env({"FERROFLOW_HOME": str(tmp_path / "h"), "FERROFLOW_API_URL": f"http://127.0.0.1:{free_port()}",
                     "FERROFLOW_API_FLUSH_TIMEOUT": "0.2", "FERROFLOW_API_EXIT_TIMEOUT": "0.2"})
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert "cannot be reached" in done.stderr


HANGS = """
import time
from ferroflow import Flow, task

@task
def hang():
    time.sleep(600)

with Flow("hangs") as flow:
    hang()
flow.run()
"""


def test_a_run_whose_process_was_killed_is_marked_crashed_by_the_server(database_url, tmp_path):
    import os
    import signal

    from tests.support.servers import Server

    beat = {"FERROFLOW_HEARTBEAT_SECONDS": "0.3"}
    server = Server(database_url, tmp_path / "server.log", env=beat).start()
    try:
        script = tmp_path / "hangs.py"
        script.write_text(HANGS)
        client = subprocess.Popen([sys.executable, str(script)], env=child_env(
            {**beat, "FERROFLOW_HOME": str(tmp_path / "h"), "FERROFLOW_API_URL": server.url}))
        try:
            run = wait_for(lambda: _runs(server.url, "hangs"), "the run to reach the server")[0]
            assert run["state"] == "Running"
        finally:
            os.kill(client.pid, signal.SIGKILL)
            client.wait()
        crashed = wait_for(lambda: [r for r in _runs(server.url, "hangs") if r["state"] == "Crashed"],
                            "the server to mark the run Crashed")
        assert crashed[0]["run_id"] == run["run_id"]
        assert "marked 1 run(s)" in server.log()
    finally:
        server.stop()


LONG_TASK = """
import time
from ferroflow import Flow, task

@task
def slow():
    time.sleep(4)  # silent for longer than the heartbeat timeout (6 x 0.3 s)
    return 1

with Flow("slow") as flow:
    slow()
state = flow.run()
print("ENDED", type(state).__name__, flush=True)
"""


def test_a_run_silent_in_a_long_task_keeps_beating_through_the_server(database_url, tmp_path):
    """Heartbeat batches carry the live runs' tokens: while a task sends nothing for
    longer than the heartbeat timeout, the run's heartbeat in the database goes on (a
    server on another host would otherwise reap it; on this one the live pid saves it)."""
    from tests.support.databases import query
    from tests.support.servers import Server

    beat = {"FERROFLOW_HEARTBEAT_SECONDS": "0.3"}
    server = Server(database_url, tmp_path / "server.log", env=beat).start()
    try:
        script = tmp_path / "slow.py"
        script.write_text(LONG_TASK)
        client = subprocess.Popen([sys.executable, str(script)], env=child_env(
            {**beat, "FERROFLOW_HOME": str(tmp_path / "h"), "FERROFLOW_API_URL": server.url}),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Beating while the task is silent: a heartbeat more than 2 s after the start
            # (the task sleeps 4 s) while the run still runs.
            wait_for(lambda: query(database_url, "SELECT 1 FROM runs WHERE flow_name = 'slow' AND state = "
                                                  "'Running' AND heartbeat_at > started_at + 2"),
                      "a heartbeat while the task is silent")
        finally:
            _, out, err = finish(client, 120)
        assert "ENDED Success" in out, out + err
        (run,) = _runs(server.url, "slow")
        assert run["state"] == "Success"
        assert "marked 1 run(s)" not in server.log()
    finally:
        server.stop()


def _runs(url: str, flow: str) -> list:
    return httpx.get(f"{url}/api/v1/runs", params={"flow": flow}, timeout=10).json()["items"]




DISK_FULL = """
import resource, signal, sys
from ferroflow import _core
from ferroflow.store import items
from ferroflow.store.base import TaskList
from ferroflow.store.remote import RemoteRunStore

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
store = RemoteRunStore(sys.argv[1], max_memory=1, flush_timeout=120, exit_timeout=5, interval=0.01)
resource.setrlimit(resource.RLIMIT_FSIZE, (400, 400))  # no file of this process grows past 400 bytes
run_id = "cd" * 16
store.start_run(run_id, "disk-full", {}, TaskList([0], ["m"], [None], b"\\x01"))
store.record_width(run_id, 0, 300)
for i in range(300):
    store.record_logs(run_id, [(0, i, 1.0 + i, "INFO", "l", f"line {i:03d}")])
    store.record_report(run_id, [(0, [i], bytes([_core.SUCCESS]))])
    store.flush() if i == 299 else None  # (returns once the server took everything)
    if i == 10:
        print("recorded", flush=True)
store.end_run(run_id, "Success")
store.flush()
print("flushed", flush=True)
"""


def test_a_spool_that_cannot_grow_keeps_the_records_in_memory_in_order(database_url, tmp_path):
    """The disk is "full" for the client (RLIMIT_FSIZE: its files cannot grow past 400
    bytes) and the server is away: the batches it cannot spool wait in memory, behind
    the spooled ones, and all arrive in order once a server answers."""
    from tests.support.servers import Server, free_port

    port = free_port()
    script = tmp_path / "disk_full.py"
    script.write_text(DISK_FULL)
    client = subprocess.Popen([sys.executable, str(script), f"http://127.0.0.1:{port}"], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=child_env({"FERROFLOW_HOME": str(tmp_path / "h")}))
    try:
        assert client.stdout.readline().strip() == "recorded"
        time.sleep(0.5)  # (the server stays away a while: batches pile up)
        server = Server(database_url, tmp_path / "server.log", port=port).start()
        try:
            _, out, err = finish(client, 120)
        finally:
            server.stop()
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, err
    assert "flushed" in out
    assert "cannot write the spool file" in err and "kept in memory" in err
    with open_store(database_url) as store:
        assert store.get_run("cd" * 16).state == "Success"
        lines = [line.message for line in store.logs("cd" * 16)]
        (task,) = store.task_states("cd" * 16)
    assert lines == [f"line {i:03d}" for i in range(300)]  # every one, in order
    assert task.counts == {"Success": 300}


def test_a_server_that_never_answers_delays_nothing_for_long(tmp_path):
    """A server that takes connections and never answers (hung): the run ends when its
    flush time is up, the process exits when its exit time is up, and the records are in
    the spool file."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepted by the kernel, never answered
    try:
        code = textwrap.dedent("""
            from ferroflow import Flow, task
            @task
            def inc(x):
                return x + 1
            with Flow("hung") as flow:
                inc.map(list(range(50)))
            print(flow.run().is_successful(), flush=True)
        """)
        env = child_env({"FERROFLOW_HOME": str(tmp_path / "h"),
                         "FERROFLOW_API_URL": f"http://127.0.0.1:{listener.getsockname()[1]}",
                         "FERROFLOW_API_FLUSH_TIMEOUT": "0.5", "FERROFLOW_API_EXIT_TIMEOUT": "0.5"})
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert "kept in" in done.stderr
    (spool,) = (tmp_path / "h" / "spool").glob("*.spool")
    assert len(spool.read_bytes().splitlines()) >= 3  # the server's URL, then the batches (start ... end)

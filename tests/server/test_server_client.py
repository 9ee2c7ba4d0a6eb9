"""``ferroflow.client.http.Client`` against a real server: typed answers, problems as
ClientError, a server that is not there or never answers as Unreachable (timeouts)."""

from __future__ import annotations

import socket
import threading

import pytest

from ferroflow import _core
from ferroflow.client.http import Client, ClientError, Unreachable
from ferroflow.store.queries import ChildInfo, RunInfo, TaskInfo
from tests.support.server_data import write_sample


def test_the_clients_typed_methods(engine, server):
    sample = write_sample(engine)
    with Client(server.url) as client:
        assert client.health()["status"] == "ok" and client.version()["api"] == "v1"
        run, created = client.create_run("etl", {"n": 2}, tags=["a"], idempotency_key="k")
        assert created and isinstance(run, RunInfo) and run.state == "Scheduled" and run.tags == ("a",)
        assert client.create_run("etl", {"n": 2}, tags=["a"], idempotency_key="k") == (run, False)
        running = client.set_state(run.run_id, "Running", expected_version=0)
        assert (running.state, running.state_version) == ("Running", 1)
        with pytest.raises(ClientError) as lost:
            client.set_state(run.run_id, "Failed", expected_version=0)
        assert lost.value.status == 409 and lost.value.problem["state"] == "Running"
        assert client.cancel_run(run.run_id).state == "Cancelling"
        assert [r.run_id for r in client.iter_runs(page_size=1, flow="etl")] == [sample.run_id, run.run_id]
        assert client.get_run("0" * 32) is None
        assert [f.name for f in client.list_flows().items] == ["etl"] and client.get_flow("nope") is None
        tasks = client.run_tasks(sample.run_id)
        assert all(isinstance(t, TaskInfo) for t in tasks)
        assert tasks[1].state == "Mapped" and tasks[1].counts["Failed"] == 9 and tasks[2].code == _core.PAUSED
        page = client.children(sample.run_id, "work", states=["Success"], limit=3)
        assert [c.map_index for c in page.items] == [1, 2, 3] and page.next_cursor
        assert client.children(sample.run_id, "work", states=["Success"], limit=3,
                               cursor=page.next_cursor).items[0].map_index == 4
        failed = client.failed_children(sample.run_id, "work", limit=2)
        assert isinstance(failed.items[0], ChildInfo) and failed.items[0].traceback.startswith("Traceback")
        assert client.child(sample.run_id, "work", 7).state == "Failed"
        assert client.child(sample.run_id, "work", 11) is None
        assert [line.message for line in client.iter_logs(sample.run_id, page_size=2, min_level="WARNING")] == [
            "child 7 failed: ValueError", "work is slow"]
        assert client.approve(sample.run_id, "deploy")["approved"] == ["deploy"]
        assert "Client" in repr(client)


def test_a_key_is_sent_and_never_shown(engine, database_url, tmp_path, monkeypatch):
    from ferroflow.store.keys import create_key
    from tests.support.servers import Server

    with engine.begin() as conn:
        key = create_key(conn, "reader", "read")[0]
    server = Server(database_url, tmp_path / "server.log", args=("--auth",)).start()
    try:
        with pytest.raises(ClientError) as refused, Client(server.url, api_key="") as anonymous:
            anonymous.list_runs()
        assert refused.value.status == 401 and "Bearer" in refused.value.detail
        monkeypatch.setenv("FERROFLOW_API_KEY", key)
        with Client(server.url) as client:
            assert client.list_runs().items == []
            with pytest.raises(ClientError) as weak:
                client.create_run("etl")
            assert weak.value.status == 403 and key not in str(weak.value) and key not in repr(client)
    finally:
        server.kill()


def test_no_server_configured_is_said():
    with pytest.raises(ValueError, match="FERROFLOW_API_URL"):
        Client()


def test_a_server_that_is_not_there_or_never_answers_is_unreachable():
    from tests.support.servers import free_port

    with pytest.raises(Unreachable, match="cannot reach the ferroflow server"), \
            Client(f"http://127.0.0.1:{free_port()}") as nobody:
        nobody.list_runs()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    accepted: list = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    try:
        with pytest.raises(Unreachable, match="Timeout"), \
                Client(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5) as mute:
            mute.list_runs()
    finally:
        for conn, _ in accepted:
            conn.close()
        silent.close()

"""The server as a user meets it: ``ferroflow server start`` (uvicorn on 127.0.0.1) and
real HTTP. Keys made with the command line; ``ferroflow runs``, ``runs show`` and ``logs``
read the same from a server as from the local store; a server killed with ``kill -9``
and started again serves everything it had."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from ferroflow import Flow, Parameter, cli, context, task
from ferroflow.store import default_store_path
from tests.support.server_data import copy_local_runs, write_sample
from tests.support.servers import Server, child_env


def ferroflow(*argv, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ferroflow", *argv], capture_output=True, text=True,
                          env=child_env(env), timeout=120)


def test_health_version_and_openapi_over_http(engine, server):
    assert httpx.get(server.url + "/api/v1/health").json() == {
        "status": "ok", "database": engine.dialect.name, "schema_version": 12}
    assert httpx.get(server.url + "/api/v1/version").json()["api"] == "v1"
    document = httpx.get(server.url + "/api/v1/openapi.json").json()
    assert "/api/v1/runs/{run_id}/tasks/{task}/children" in document["paths"]
    assert "server-timing" in httpx.get(server.url + "/api/v1/runs").headers


def test_keys_from_the_command_line_guard_a_server_started_with_auth(database_url, engine, tmp_path):
    made = ferroflow("server", "create-key", "--name", "ci bot", "--role", "run", "--database", database_url)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("ffk_") and len(key) > 40 and "shown" in made.stderr
    with engine.connect() as conn:  # only its hash and a prefix are kept
        stored = " ".join(str(v) for row in conn.exec_driver_sql("SELECT * FROM api_keys") for v in row)
    assert key not in stored and key[:12] in stored
    server = Server(database_url, tmp_path / "server.log", args=("--auth",)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/api/v1/health").status_code == 200  # public
            assert client.get("/api/v1/runs").status_code == 401
            headers = {"Authorization": f"Bearer {key}"}
            assert client.post("/api/v1/runs", json={"flow_name": "etl"}, headers=headers).status_code == 201
            assert client.get("/api/v1/keys", headers=headers).status_code == 403
        listed = ferroflow("server", "keys", "--database", database_url)
        assert "ci bot" in listed.stdout and key[:12] in listed.stdout and key not in listed.stdout
        revoked = ferroflow("server", "revoke-key", key[:12], "--database", database_url)
        assert revoked.returncode == 0 and "Revoked" in revoked.stdout
        assert httpx.get(server.url + "/api/v1/runs", headers=headers).status_code == 401
    finally:
        server.kill()
    assert key not in server.log()  # never logged


def test_auth_is_on_when_listening_beyond_loopback():
    from ferroflow.cli.server import needs_auth

    assert needs_auth("0.0.0.0", False) and needs_auth("::", False) and needs_auth("10.1.2.3", False)
    assert needs_auth("my-host.example", False)
    assert not needs_auth("127.0.0.1", False) and not needs_auth("::1", False) and not needs_auth("localhost", False)
    assert needs_auth("127.0.0.1", True)


def test_auth_cannot_be_turned_off_beyond_loopback(monkeypatch):
    from ferroflow.cli.server import needs_auth

    monkeypatch.setenv("FERROFLOW_SERVER_AUTH", "0")
    assert needs_auth("0.0.0.0", False)
    monkeypatch.setenv("FERROFLOW_SERVER_AUTH", "1")
    assert needs_auth("127.0.0.1", False)


def test_a_database_that_cannot_be_opened_is_said_and_nothing_is_served(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    started = ferroflow("server", "start", "--port", "1", "--database", str(blocked / "runs.db"))
    assert started.returncode == 1 and "cannot use the database" in started.stderr
    wrong = ferroflow("server", "migrate", "--database", "postgresql://nobody@127.0.0.1:1/none")
    assert wrong.returncode == 1 and "cannot use the database" in wrong.stderr


def test_migrate_creates_the_schema_and_says_so(database_url):
    done = ferroflow("server", "migrate", "--database", database_url)
    assert done.returncode == 0 and "schema 12" in done.stdout
    assert ferroflow("server", "migrate", "--database", database_url).returncode == 0  # again: nothing to do


@task
def numbers(n):
    return list(range(n))


@task
def work(x):
    context.logger.info("working on %s", x)
    if x % 4 == 3:
        raise ValueError(f"item {x} is bad")
    return x


@task
def total(xs):
    return sum(x for x in xs if isinstance(x, int))


def _record_local_runs(monkeypatch, home) -> list:
    monkeypatch.setenv("FERROFLOW_HOME", str(home))
    with Flow("cli-parity") as flow:
        total(work.map(numbers(Parameter("n", default=10))))
    first = flow.run(n=10)
    second = flow.run(n=6)
    return [first.flow_run_id, second.flow_run_id]


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_show_and_logs_read_the_same_from_a_server_as_from_the_local_store(
        engine, server, tmp_path, monkeypatch, capsys):
    first, second = _record_local_runs(monkeypatch, tmp_path / "home")
    monkeypatch.delenv("FERROFLOW_API_URL", raising=False)
    copied = copy_local_runs(default_store_path(), engine)
    assert sorted(copied) == sorted([first, second])
    commands = [
        ("runs",), ("runs", "--flow", "cli-parity", "--limit", "1"),
        ("runs", "show", first), ("runs", "show", first[:8]), ("runs", "show", first, "--failed", "1"),
        ("logs", first), ("logs", first[:6], "--task", "work", "--map-index", "3"),
        ("logs", second, "--task", "work"),
    ]
    for argv in commands:
        local = _cli(capsys, *argv)
        remote = _cli(capsys, *argv, "--server", server.url)
        assert local[0] == 0, (argv, local)
        assert remote == local, argv
    # and with FERROFLOW_API_URL instead of --server
    monkeypatch.setenv("FERROFLOW_API_URL", server.url)
    assert _cli(capsys, "runs", "show", second) == (0, *_local(capsys, monkeypatch, "runs", "show", second)[1:])
    unknown = _cli(capsys, "runs", "show", "ffffffff")
    assert unknown[0] == 2 and "no run with id 'ffffffff'" in unknown[2] and server.url in unknown[2]


def _local(capsys, monkeypatch, *argv):
    with monkeypatch.context() as local:
        local.delenv("FERROFLOW_API_URL")
        return _cli(capsys, *argv)


def test_a_server_that_cannot_be_reached_or_refuses_the_key_is_an_error_exit_1(capsys, tmp_path):
    from tests.support.servers import free_port

    code, out, err = _cli(capsys, "runs", "--server", f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "cannot reach the ferroflow server" in err


def test_a_server_killed_mid_use_and_started_again_serves_everything(database_url, engine, tmp_path):
    server = Server(database_url, tmp_path / "server.log").start()
    try:
        written = [write_sample(engine).run_id for _ in range(3)]
        with httpx.Client(base_url=server.url, timeout=30) as client:
            made = [client.post("/api/v1/runs", json={"flow_name": "etl", "idempotency_key": f"k{i}"}).json()["run_id"]
                    for i in range(5)]
            server.kill()
            with pytest.raises(httpx.TransportError):
                client.get("/api/v1/runs")
            server.start()
            listed = {r["run_id"] for r in client.get("/api/v1/runs", params={"limit": 100}).json()["items"]}
            assert listed == set(written) | set(made)
            again = client.post("/api/v1/runs", json={"flow_name": "etl", "idempotency_key": "k2"})
            assert again.status_code == 200 and again.json()["run_id"] == made[2]
            tasks = client.get(f"/api/v1/runs/{written[0]}/tasks").json()
            assert tasks[1]["failed_count"] == 9
    finally:
        server.kill()


def test_a_server_listening_beyond_loopback_requires_keys(database_url, tmp_path):
    server = Server(database_url, tmp_path / "server.log", args=("--host", "0.0.0.0")).start()
    try:
        assert httpx.get(server.url + "/api/v1/health").status_code == 200
        refused = httpx.get(server.url + "/api/v1/runs")
        assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
        assert "no API key exists yet" in server.log() and "API keys required" in server.log()
    finally:
        server.kill()


def test_health_is_503_until_the_database_is_migrated(database_url):
    from ferroflow.store.database import make_engine
    from ferroflow.store.migrations import migrate
    from tests.support.server_data import client_of

    engine = make_engine(database_url)
    try:
        with client_of(engine, auth=False) as client:
            waiting = client.get("/api/v1/health")
            assert waiting.status_code == 503 and "ferroflow server migrate" in waiting.json()["detail"]
            assert waiting.headers["retry-after"] == "5"
            migrate(engine)
            assert client.get("/api/v1/health").status_code == 200
    finally:
        engine.dispose()


def test_a_task_approved_through_the_api_goes_on_when_the_run_is_resumed(engine, tmp_path, monkeypatch):
    """A run that paused is recorded locally and copied to the server's database; a person
    approves its paused task through the API; the approval (run_tasks.approved, copied back
    to the local store, which is where a resume reads it until runs record through the
    server) lets ``flow.run(resume=RUN_ID)`` go on with no ``approve=``."""
    import sqlite3

    from sqlalchemy import select

    from ferroflow import pause_task
    from ferroflow.store.schema import run_tasks, runs
    from tests.support.server_data import client_of

    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))

    @task
    def build():
        return "v42"

    @task
    def deploy(version):
        pause_task("deploy to production?")
        return f"deployed {version}"

    with Flow("release") as flow:
        deployed = deploy(build())
    paused = flow.run()
    assert paused.is_paused()
    copy_local_runs(default_store_path(), engine)
    with client_of(engine, auth=False) as api:
        answer = api.post(f"/api/v1/runs/{paused.flow_run_id}/approvals", json={"task": "deploy"})
        assert answer.status_code == 200 and answer.json()["approved"] == ["deploy"]
    with engine.connect() as conn:
        approved = conn.execute(select(run_tasks.c.approved).join(runs, runs.c.id == run_tasks.c.run)
                                .where(runs.c.run_id == paused.flow_run_id)).scalar_one()
    with sqlite3.connect(default_store_path()) as local:
        local.execute("UPDATE run_tasks SET approved = ? WHERE run = (SELECT id FROM runs WHERE run_id = ?)",
                      (approved, paused.flow_run_id))
    resumed = flow.run(resume=paused.flow_run_id)
    assert resumed.is_successful(), resumed.message
    assert resumed.result[deployed].result == "deployed v42"

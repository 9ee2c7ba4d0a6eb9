"""``ferroflow concurrency-limit`` on a database and through a real server with keys,
and the ``/api/v1/concurrency-limits`` routes with hostile input, on SQLite and
PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from ferroflow.cli import main
from ferroflow.store import concurrency as cl
from ferroflow.store.database import make_engine
from ferroflow.store.keys import create_key
from ferroflow.store.migrations import migrate
from tests.support.servers import Server, child_env


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_limits_on_a_database(database_url, capsys, monkeypatch):
    monkeypatch.delenv("FERROFLOW_API_URL", raising=False)
    db = ("--database", database_url)
    code, out, _ = cli(capsys, "concurrency-limit", *db)
    assert code == 0 and out.startswith("No concurrency limits")
    code, out, err = cli(capsys, "concurrency-limit", "set", "db", "2", *db)
    assert code == 0, err
    assert out == "Concurrency limit set: at most 2 task runs of tag 'db' at once (0 in use now).\n"
    code, out, _ = cli(capsys, "concurrency-limit", "set", "db", "3", *db)
    assert code == 0 and out.startswith("Concurrency limit changed: at most 3 task runs")
    code, out, _ = cli(capsys, "concurrency-limit", "set", "frozen", "0", *db)
    assert code == 0 and "no task run of tag 'frozen'" in out
    engine = make_engine(database_url)
    try:
        migrate(engine)
        assert cl.acquire_slots(engine, "a" * 32, "h", ["db"]).acquired
    finally:
        engine.dispose()
    code, out, _ = cli(capsys, "concurrency-limit", "ls", *db)
    assert code == 0 and out.splitlines() == ["TAG     LIMIT  IN USE", "db      3      1", "frozen  0      0"]
    assert cli(capsys, "concurrency-limit", "rm", "frozen", *db)[0] == 0
    code, _, err = cli(capsys, "concurrency-limit", "rm", "frozen", *db)
    assert code == 2 and "there is no concurrency limit for tag 'frozen'" in err
    code, _, err = cli(capsys, "concurrency-limit", "set", "x" * 101, "1", *db)
    assert code == 2 and "a tag is 1 to 100 characters" in err
    code, _, err = cli(capsys, "concurrency-limit", "set", "db", "-1", *db)
    assert code == 2 and "expected a whole number of slots" in err
    assert cli(capsys, "concurrency-limit", "set", "db", "many", *db)[0] == 2
    assert cli(capsys, "concurrency-limit", *db)[1].splitlines()[1:] == ["db   3      1"]


@pytest.fixture
def keyed_server(database_url, tmp_path):
    engine = make_engine(database_url)
    migrate(engine)
    with engine.begin() as conn:
        keys = {role: create_key(conn, role, role)[0] for role in ("read", "run", "admin")}
    server = Server(database_url, tmp_path / "server.log", args=("--auth",)).start()
    try:
        yield server, keys, engine
    finally:
        server.stop()
        engine.dispose()


def test_limits_through_a_real_server_with_keys(keyed_server):
    server, keys, engine = keyed_server

    def ferroflow(*argv, key="admin"):
        return subprocess.run([sys.executable, "-m", "ferroflow", "concurrency-limit", *argv], capture_output=True,
                              text=True, timeout=120,
                              env=child_env({"FERROFLOW_API_URL": server.url, "FERROFLOW_API_KEY": keys[key]}))

    made = ferroflow("set", "db", "2")
    assert made.returncode == 0 and "Concurrency limit set: at most 2" in made.stdout, made.stderr
    refused = ferroflow("set", "db", "5", key="run")
    assert refused.returncode == 1 and "role 'admin'" in refused.stderr and keys["run"] not in refused.stderr
    assert cl.get_limit(engine, "db").slots == 2
    listed = ferroflow("ls", key="read")
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].split() == ["db", "2", "0"]
    bad = ferroflow("set", "x" * 101, "1")
    assert bad.returncode == 2, bad.stderr
    assert ferroflow("rm", "db", key="read").returncode == 1
    assert ferroflow("rm", "db").returncode == 0
    gone = ferroflow("rm", "db")
    assert gone.returncode == 2 and "there is no concurrency limit for tag 'db'" in gone.stderr
    assert cl.list_limits(engine) == []


def test_the_api_takes_and_frees_slots_and_refuses_hostile_input(keyed_server):
    server, keys, engine = keyed_server

    def call(method, path, body=None, key="admin"):
        return httpx.request(method, f"{server.url}/api/v1/concurrency-limits{path}", json=body, timeout=30,
                             headers={"Authorization": f"Bearer {keys[key]}"})

    assert call("PUT", "/db", {"slots": 1}).status_code == 201
    assert call("PUT", "/db", {"slots": 1}).status_code == 200
    for body in ({"slots": -1}, {"slots": "2"}, {"slots": 1.5}, {}, {"slots": 1, "extra": 1}, {"slots": 10**7}):
        assert call("PUT", "/db", body).status_code == 422, body
    assert call("PUT", "/" + "x" * 101, {"slots": 1}).status_code == 422
    assert call("GET", "/nope", key="read").status_code == 404
    run = "b" * 32
    first = call("POST", "/acquire", {"run_id": run, "holder": "one", "tags": ["db", "free"]}, key="run")
    assert first.status_code == 200 and first.json() == {"acquired": True, "blocked_by": [], "run_state": None}
    second = call("POST", "/acquire", {"run_id": run, "holder": "two", "tags": ["db"]}, key="run")
    assert second.json() == {"acquired": False, "blocked_by": ["db"], "run_state": None}
    assert call("GET", "/db", key="read").json()["in_use"] == 1
    for body in ({"run_id": "nothex", "holder": "h", "tags": ["db"]}, {"run_id": run, "holder": "", "tags": []},
                 {"run_id": run, "holder": "h", "tags": [""]}, {"run_id": run, "holder": "h", "tags": ["a\x00"]},
                 {"run_id": run, "holder": "h", "tags": ["t"] * 101}):
        assert call("POST", "/acquire", body, key="run").status_code == 422, body
    assert call("POST", "/release", {}, key="run").status_code == 422
    assert call("POST", "/release", {"holder": "one", "run_id": run}, key="run").status_code == 422
    assert call("POST", "/release", {"holder": "one"}, key="run").json() == {"released": 1}
    assert call("POST", "/acquire", {"run_id": run, "holder": "two", "tags": ["db"]}, key="run").json()["acquired"]
    assert call("POST", "/release", {"run_id": run}, key="run").json() == {"released": 1}
    assert call("DELETE", "/db", key="run").status_code == 403
    assert call("DELETE", "/db").status_code == 204
    assert call("DELETE", "/db").status_code == 404

"""Deployments through ``ferroflow deploy`` / ``ferroflow deployments`` (on a database,
and through a real server process with keys), the HTTP API, and ``Flow.deploy``, on
SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx
import pytest

from ferroflow.cli import main
from ferroflow.store import deployments as store
from ferroflow.store.database import make_engine
from ferroflow.store.keys import create_key
from ferroflow.store.migrations import migrate
from tests.support.servers import Server, child_env

FLOW = textwrap.dedent("""
    from ferroflow import Flow, Parameter, task

    @task
    def double(n):
        return 2 * n

    with Flow("etl") as flow:
        n = Parameter("n", default=1)
        label = Parameter("label", default="x")
        double(n)
        double(label)
""")


@pytest.fixture
def flow_dir(tmp_path, monkeypatch):
    (tmp_path / "etl.py").write_text(FLOW)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERROFLOW_API_URL", raising=False)
    return tmp_path


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stored(database_url):
    engine = make_engine(database_url)
    try:
        migrate(engine)
        return store.list_deployments(engine)
    finally:
        engine.dispose()


def test_deploy_and_manage_on_a_database(database_url, flow_dir, capsys):
    db = ("--database", database_url)
    code, out, err = cli(capsys, "deploy", "etl.py:etl", "--name", "nightly", "--cron", "0 3 * * *", "--param",
                         "n=5", "--tag", "a", *db)
    assert code == 0, err
    assert out == "Deployment nightly created: flow 'etl' from etl.py:etl, pool default, schedule: cron '0 3 * * *'.\n"
    code, out, err = cli(capsys, "deploy", "etl.py:flow", "--name", "nightly", "--interval", "60", "--pool", "big",
                         "--description", "the nightly load", *db)
    assert code == 0 and "Deployment nightly updated" in out and "every 60 s" in out, err
    (only,) = stored(database_url)
    assert (only.entrypoint, only.flow_name, only.parameters, only.pool, only.tags, only.description) == (
        "etl.py:flow", "etl", {}, "big", [], "the nightly load")
    assert only.schedule["clocks"][0]["interval"] == 60

    code, out, _ = cli(capsys, "deployments", *db)
    assert code == 0 and out.splitlines() == ["NAME     FLOW  POOL  SCHEDULE    PAUSED",
                                              "nightly  etl   big   every 60 s  no"]
    code, out, _ = cli(capsys, "deployments", "show", "nightly", *db)
    assert code == 0 and "flow:        etl (etl.py:flow)" in out and "description: the nightly load" in out
    assert cli(capsys, "deployments", "pause", "nightly", *db)[0] == 0
    assert cli(capsys, "deployments", "ls", *db)[1].splitlines()[1].endswith("yes")
    assert cli(capsys, "deployments", "show", "nightly", *db)[1].startswith("Deployment nightly (paused)")
    assert cli(capsys, "deployments", "resume", "nightly", *db)[0] == 0
    assert not stored(database_url)[0].paused
    code, out, _ = cli(capsys, "deployments", "delete", "nightly", *db)
    assert code == 0 and out == "Deployment nightly deleted (its runs stay).\n"
    code, _, err = cli(capsys, "deployments", "show", "nightly", *db)
    assert code == 2 and err == "ferroflow: error: there is no deployment 'nightly' (see `ferroflow deployments ls`)\n"
    assert cli(capsys, "deployments", *db)[1].startswith("No deployments")


@pytest.mark.parametrize(("argv", "message"), [
    (("etl.py:etl", "--name", "d", "--param", "m=1"), "flow 'etl' has no parameter 'm' (its parameters: label, n)"),
    (("etl.py", "--name", "d"), "entrypoint 'etl.py': expected path/to/file.py:flow_name"),
    (("etl.py:nope", "--name", "d"), "No flow named 'nope' in 'etl.py'"),
    (("missing.py:etl", "--name", "d"), "missing.py"),
    (("etl.py:etl", "--name", "d", "--cron", "99 * * * *"), "invalid cron string '99 * * * *'"),
    (("etl.py:etl", "--name", "a/b"), "a deployment's name is 1 to 200 printable characters without '/'"),
    (("etl.py:etl", "--name", "d", "--param", "n"), "--param 'n': expected KEY=VALUE"),
])
def test_deploy_refuses_bad_input_by_name(database_url, flow_dir, capsys, argv, message):
    code, out, err = cli(capsys, "deploy", *argv, "--database", database_url)
    assert code == 2 and out == "" and message in err, err
    assert stored(database_url) == []


def test_deploy_an_interval_of_zero_is_a_usage_error(flow_dir, capsys):
    code, _, err = cli(capsys, "deploy", "etl.py:etl", "--name", "d", "--interval", "0")
    assert code == 2 and "expected a number of seconds above 0" in err


def test_flow_deploy_finds_its_file_and_updates(database_url, flow_dir):
    import datetime as dt

    from ferroflow.cli.loader import load_module
    from ferroflow.schedules import IntervalClock

    flow = load_module("etl.py").flow
    made = flow.deploy("py", parameters={"n": 3}, schedule=IntervalClock(dt.timedelta(minutes=5)),
                       tags=["t"], database=database_url)
    again = flow.deploy("py", parameters={"label": "y"}, database=database_url)
    assert (made.entrypoint, made.flow_name, made.parameters, made.tags) == ("etl.py:flow", "etl", {"n": 3}, ["t"])
    assert made.schedule["clocks"][0]["interval"] == 300
    assert again.id == made.id and again.parameters == {"label": "y"} and again.schedule is None
    with pytest.raises(store.DeploymentError, match=r"flow 'etl' has no parameter 'size'"):
        flow.deploy("py", parameters={"size": 1}, database=database_url)
    assert [d.name for d in stored(database_url)] == ["py"]


def test_deploy_through_a_real_server_with_keys(database_url, flow_dir, tmp_path):
    engine = make_engine(database_url)
    migrate(engine)
    with engine.begin() as conn:
        keys = {role: create_key(conn, role, role)[0] for role in ("read", "run", "admin")}
    server = Server(database_url, tmp_path / "server.log", args=("--auth",)).start()
    try:
        def ferroflow(*argv, key="run"):
            return subprocess.run([sys.executable, "-m", "ferroflow", *argv], cwd=flow_dir, capture_output=True,
                                  text=True, timeout=120, env=child_env({"FERROFLOW_API_URL": server.url,
                                                                         "FERROFLOW_API_KEY": keys[key]}))

        made = ferroflow("deploy", "etl.py:etl", "--name", "nightly", "--cron", "0 3 * * *", "--param", "n=5",
                         "--tag", "a")
        assert made.returncode == 0 and "Deployment nightly created" in made.stdout, made.stderr
        again = ferroflow("deploy", "etl.py:etl", "--name", "nightly", "--param", "n=6", "--tag", "a")
        assert again.returncode == 0 and "Deployment nightly updated" in again.stdout, again.stderr
        refused = ferroflow("deploy", "etl.py:etl", "--name", "other", key="read")
        assert refused.returncode == 1 and "role 'run'" in refused.stderr
        bad = ferroflow("deploy", "etl.py:etl", "--name", "d", "--cron", "99 * * * *")
        assert bad.returncode == 2 and "invalid cron string" in bad.stderr
        listed = ferroflow("deployments", key="read")
        assert listed.returncode == 0 and listed.stdout.splitlines()[1].split() == ["nightly", "etl", "default", "-",
                                                                                   "no"]
        assert ferroflow("deployments", "pause", "nightly").returncode == 0
        assert store.get_deployment(engine, "nightly").paused
        unknown = ferroflow("deployments", "show", "nope", key="read")
        assert unknown.returncode == 2 and "there is no deployment 'nope'" in unknown.stderr

        def call(method, path, key, body=None):
            return httpx.request(method, f"{server.url}/api/v1/deployments{path}", json=body, timeout=30,
                                 headers={"Authorization": f"Bearer {keys[key]}"})

        run = call("POST", "/nightly/runs", "run", {"parameters": {"label": "y"}})
        assert run.status_code == 201, run.text
        assert (run.json()["state"], run.json()["flow_name"], run.json()["parameters"], run.json()["tags"]) == (
            "Scheduled", "etl", {"n": 6, "label": "y"}, ["a"])
        assert run.headers["location"] == f"/api/v1/runs/{run.json()['run_id']}"
        new = call("PUT", "/api-made", "run", {"entrypoint": "pkg.flows:etl", "schedule": {"v": 1}})
        assert new.status_code == 422 and new.json()["detail"].startswith("schedule: ")
        new = call("PUT", "/api-made", "run", {"entrypoint": "pkg.flows:etl", "parameters": {"n": 1}})
        assert new.status_code == 201 and new.json()["flow_name"] == "etl"
        assert call("PUT", "/api-made", "run", {"entrypoint": "pkg.flows:etl"}).status_code == 200
        assert call("GET", "/nope", "read").status_code == 404
        assert call("POST", "/nope/runs", "run").status_code == 404
        assert call("DELETE", "/api-made", "run").status_code == 403
        assert call("DELETE", "/api-made", "admin").status_code == 204
        assert [d["name"] for d in call("GET", "", "read").json()] == ["nightly"]
    finally:
        server.kill()
        engine.dispose()


def test_the_api_filters_by_pool_and_refuses_unknown_fields(engine):
    from tests.support.server_data import client_of

    store.deploy(engine, "a", "a.py:f", pool="p1")
    store.deploy(engine, "b", "a.py:f")
    with client_of(engine, auth=False) as client:
        assert [d["name"] for d in client.get("/api/v1/deployments?pool=p1").json()] == ["a"]
        assert [d["name"] for d in client.get("/api/v1/deployments").json()] == ["a", "b"]
        assert client.put("/api/v1/deployments/c", json={"entrypoint": "x.py:f", "bogus": 1}).status_code == 422
        assert client.put("/api/v1/deployments/c", json={"entrypoint": "x.py:f", "retries": -1}).status_code == 422
        made = client.post("/api/v1/deployments/a/runs")
        assert made.status_code == 201 and made.json()["state"] == "Scheduled"
    assert [d.name for d in store.list_deployments(engine)] == ["a", "b"]

"""``ferroflow run --deployment NAME [--param] [--wait]`` against a real server process
and on both databases. Until workers exist, a subprocess plays the worker's part: it
reads the run made (its parameters) and runs the flow with ``run_flow(..., run_id=)``,
recording through the server (or into the database), which reopens the Scheduled run."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from ferroflow.cli import main
from ferroflow.client.http import Client, ClientError
from ferroflow.store import deployments as store
from ferroflow.store.database import make_engine
from ferroflow.store.migrations import migrate
from ferroflow.store.queries import list_runs
from tests.support.processes import finish
from tests.support.servers import Server, child_env

FLOW = textwrap.dedent("""
    from ferroflow import Flow, Parameter, task

    @task
    def check(n):
        if n == 3:
            raise ValueError("three is not allowed")
        return n

    @task
    def total(values):
        return sum(values)

    with Flow("etl") as flow:
        n = Parameter("n", default=1)
        total(check.map([n, n, n, n]))
""")

# The worker's part: run the run RUN_ID with its own parameters, recording it through
# the server in FERROFLOW_API_URL, else into the database in FERROFLOW_DATABASE_URL.
WORKER = textwrap.dedent("""
    import os, sys
    from ferroflow.cli.loader import load_flow
    from ferroflow.engine.runner import run_flow

    run_id = sys.argv[1]
    server = os.environ.get("FERROFLOW_API_URL")
    if server:
        from ferroflow.client.http import Client, ClientError
        with Client(server) as client:
            parameters = client.get_run(run_id).parameters
    else:
        from ferroflow.store.database import make_engine
        from ferroflow.store.queries import get_run
        engine = make_engine(os.environ["FERROFLOW_DATABASE_URL"])
        with engine.connect() as conn:
            parameters = get_run(conn, run_id).parameters
        engine.dispose()
    state = run_flow(load_flow("etl.py:flow"), parameters, server=server, run_id=run_id)
    print(type(state).__name__)
""")


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "etl.py").write_text(FLOW)
    (tmp_path / "worker.py").write_text(WORKER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERROFLOW_API_URL", raising=False)
    return tmp_path


@pytest.fixture
def server(database_url, tmp_path):
    engine = make_engine(database_url)
    migrate(engine)
    store.deploy(engine, "etl", "etl.py:flow", flow_name="etl", parameters={"n": 1}, tags=["nightly"], pool="big",
                 retries=1)
    engine.dispose()
    found = Server(database_url, tmp_path / "server.log").start()
    yield found
    found.kill()


def start_waiting(project, *argv, env=None):
    """``ferroflow run --deployment ... --wait`` in a subprocess; (process, run id)."""
    process = subprocess.Popen([sys.executable, "-m", "ferroflow", "run", *argv, "--wait"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(env),
                               start_new_session=True)
    first = process.stdout.readline()
    assert first.startswith("Run "), first + process.stderr.read()
    return process, first.split()[1]


def work(project, run_id, env):
    """Run the run as a worker would; the flow's final state name."""
    done = subprocess.run([sys.executable, "worker.py", run_id], cwd=project, capture_output=True, text=True,
                          timeout=300, env=child_env(env))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_wait_follows_runs_through_a_server_to_their_exit_codes(project, server):
    env = {"FERROFLOW_API_URL": server.url}
    process, run_id = start_waiting(project, "--deployment", "etl", "--param", "n=2", env=env)
    assert work(project, run_id, env) == "Success"
    code, out, err = finish(process)
    assert code == 0, err
    lines = out.splitlines()
    # (the first line, naming the run, was read already; the run may end before a look sees it Running)
    assert lines[:2] in (["State Scheduled", "Scheduled -> Running"], ["State Scheduled", "Scheduled -> Success"])
    assert "Running -> Success" in lines or "Scheduled -> Success" in lines
    assert "Flow 'etl': Success" in out
    assert "\nExecutor: local\n" in out  # (as the worker recorded it)
    assert any(line.startswith("check ") and line.split()[1:] == ["Mapped", "4", "children:", "Success", "4"]
               for line in lines), out
    assert f"Flow run id: {run_id}" in out
    with Client(server.url) as client:
        run = client.get_run(run_id)
        assert (run.state, run.parameters, run.tags) == ("Success", {"n": 2}, ("nightly",))

    process, run_id = start_waiting(project, "--deployment", "etl", "-p", "n=3", "--server", server.url,
                                    "--no-progress")
    assert work(project, run_id, env) == "Failed"
    code, out, err = finish(process)
    assert code == 1, err
    assert "Running -> Failed" in out or "Scheduled -> Failed" in out
    assert "Flow 'etl': Failed" in out
    assert "4 children: Failed 4; first failure [0]:" in out and "three is not allowed" in out
    assert err == ""  # --no-progress: no live lines


def test_without_wait_the_run_waits_for_a_worker(project, server, capsys):
    code = main(["run", "--deployment", "etl", "--param", 'label="x"', "--param", "n=[1, 2]", "--server", server.url])
    out, err = capsys.readouterr()
    assert code == 0, err
    run_id = out.split()[1]
    assert out.splitlines()[0] == f"Run {run_id} of deployment etl created (Scheduled): flow 'etl', pool big."
    assert "ferroflow worker --pool big" in out
    with Client(server.url) as client:
        run = client.get_run(run_id)
        progress = client.run_progress(run_id)  # what --wait reads: the run and its tasks (none before it starts)
        with pytest.raises(ClientError) as unknown:
            client.run_progress("0" * 32)
    assert (run.state, run.parameters) == ("Scheduled", {"n": [1, 2], "label": "x"})
    assert progress == (run, [])
    assert unknown.value.status == 404 and "0" * 32 in unknown.value.detail


@pytest.mark.parametrize(("argv", "message"), [
    (("--deployment", "nope"), "there is no deployment 'nope' (see `ferroflow deployments ls`)"),
    (("--deployment", "nope", "--wait"), "there is no deployment 'nope'"),
    (("--deployment", "etl", "--param", "n"), "--param 'n': expected KEY=VALUE"),
    (("--deployment", "etl", "--param", "=1"), "--param '=1': the key before '=' is empty"),
    (("--deployment", "etl", "--param", "n=1", "--param", "n=2"), "'n' is given more than once"),
    (("--deployment", "etl", "--resume", "abc"), "--resume applies to a flow run here, not to a deployment's run"),
    (("--deployment", "etl", "--executor", "local"), "--executor applies to a flow run here"),
    (("etl.py", "--deployment", "etl"), "give either a flow file (etl.py) or --deployment NAME, not both"),
    (("etl.py", "--wait"), "--wait needs --deployment NAME"),
    ((), "give the flow file to run (FILE.py[:FLOW_NAME]) or --deployment NAME"),
])
def test_refused_without_making_a_run(project, server, capsys, argv, message):
    code = main(["run", *argv, "--server", server.url])
    out, err = capsys.readouterr()
    assert code == 2 and message in err and out == "", (out, err)
    with Client(server.url) as client:
        assert client.list_runs().items == []


def test_ctrl_c_stops_waiting_not_the_run_and_a_cancel_ends_the_wait(project, server):
    env = {"FERROFLOW_API_URL": server.url}
    process, run_id = start_waiting(project, "--deployment", "etl", env=env)
    assert process.stdout.readline() == "State Scheduled\n"
    process.send_signal(signal.SIGINT)
    code, out, err = finish(process)
    assert code == 130
    assert f"stopped waiting (SIGINT); run {run_id} goes on. Cancel it with `ferroflow cancel {run_id}`" in err
    with Client(server.url) as client:
        assert client.get_run(run_id).state == "Scheduled"

        # A run cancelled while followed ends the wait as a cancelled `ferroflow run` does.
        process, run_id = start_waiting(project, "--deployment", "etl", env=env)
        assert process.stdout.readline() == "State Scheduled\n"
        client.cancel_run(run_id)
        code, out, err = finish(process)
    assert code == 130, err
    assert "Scheduled -> Cancelled" in out and "Flow 'etl': Cancelled" in out


def test_the_wait_outlives_the_server_going_away(project, server, tmp_path):
    env = {"FERROFLOW_API_URL": server.url}
    process, run_id = start_waiting(project, "--deployment", "etl", env=env)
    assert process.stdout.readline() == "State Scheduled\n"
    server.kill()
    warning = process.stderr.readline()  # (blocks until the waiter finds the server gone)
    assert warning.startswith(f"ferroflow: warning: cannot read run {run_id} now (cannot reach the ferroflow "
                              f"server at {server.url}"), warning
    restarted = Server(server.database_url, tmp_path / "server2.log", port=server.port).start()
    try:
        assert work(project, run_id, env) == "Success"
        code, out, err = finish(process)
    finally:
        restarted.kill()
    assert code == 0, err
    assert f"ferroflow: run {run_id} can be read again" in err
    assert "Flow 'etl': Success" in out


def test_wait_on_a_database(project, database_url):
    engine = make_engine(database_url)
    migrate(engine)
    try:
        store.deploy(engine, "etl", "etl.py:flow", flow_name="etl", parameters={"n": 3})
        env = {"FERROFLOW_DATABASE_URL": database_url}
        process, run_id = start_waiting(project, "--deployment", "etl", "--database", database_url,
                                        "--param", "n=5", env=env)
        assert work(project, run_id, env) == "Success"
        code, out, err = finish(process)
        assert code == 0, err
        assert "Flow 'etl': Success" in out and "4 children: Success 4" in out
        assert "\nExecutor: local\n" in out
        process, run_id = start_waiting(project, "--deployment", "etl", "--database", database_url, env=env)
        assert work(project, run_id, env) == "Failed"
        code, out, err = finish(process)
        assert code == 1 and "Flow 'etl': Failed" in out, err
        with engine.connect() as conn:
            runs = list_runs(conn, limit=10).items
        assert sorted((r.state, r.parameters["n"]) for r in runs) == [("Failed", 3), ("Success", 5)]
        assert main(["run", "--deployment", "nope", "--database", database_url]) == 2
    finally:
        engine.dispose()

"""The built-in "process" launcher: it passes the launcher conformance suite; a launched
run's processes die with a worker killed by -9 (orphan protection); a claimed run
launched against a real server records there under its lease, and a wrong lease is
refused (exit 4, nothing recorded)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from ferroflow.client.http import Client
from ferroflow.launchers import (
    EXIT_CRASHED,
    EXIT_NOT_STARTED,
    EXIT_REFUSED,
    EXIT_SUCCESS,
    LaunchSpec,
    get_launcher,
)
from ferroflow.launchers.process import ProcessLauncher, launch_command, launch_environment
from ferroflow.plugins import get_registry, hookimpl, registered_plugin
from ferroflow.store.keys import create_key
from ferroflow.store.schema import runs
from ferroflow.testing.launchers import FLOW_FILE, LauncherConformance
from tests.support.servers import Server, child_env, wait_for


class TestProcessLauncher(LauncherConformance):
    launcher_factory = ProcessLauncher


class TestProcessLauncherWithLogDir(LauncherConformance):
    """The same suite with each run's output written to a file."""

    @staticmethod
    def launcher_factory():
        return ProcessLauncher(log_dir=os.path.join(os.environ["FERROFLOW_HOME"], "launch-logs"))


def _spec(workdir: Path, flow: str, parameters: dict, **fields) -> LaunchSpec:
    names = {"ok": "conformance-ok", "lingers": "conformance-lingers"}
    values = {"entrypoint": f"flows.py:{flow}", "working_dir": str(workdir), **fields}
    return LaunchSpec(run_id=secrets.token_hex(16), lease=secrets.token_hex(16), flow_name=names[flow],
                      parameters=parameters, **values)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "flows.py").write_text(FLOW_FILE)
    return work


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


# ----- the plugin registration and the spec -----------------------------------------------


def test_the_process_launcher_is_registered_and_the_default():
    assert get_registry("launchers")["process"].plugin == "ferroflow.launchers.process"
    assert isinstance(get_launcher(), ProcessLauncher)
    made = get_launcher("process", log_dir="/tmp/x")
    assert isinstance(made, ProcessLauncher) and str(made.log_dir) == "/tmp/x"


def test_a_plugin_registers_a_launcher():
    class Niced(ProcessLauncher):
        name = "niced"

    class Plugin:
        @hookimpl
        def register_launchers(self, register):
            register("niced", Niced)

    with registered_plugin(Plugin(), name="niced-plugin"):
        assert isinstance(get_launcher("niced"), Niced)
    from ferroflow.errors import PluginError

    with pytest.raises(PluginError, match="Unknown launcher 'niced'.*Available launchers: fork, process"):
        get_launcher("niced")


def test_the_spec_round_trips_without_its_key():
    spec = LaunchSpec(run_id="a" * 32, lease="tok", flow_name="f", entrypoint="pkg.mod:flow",
                      parameters={"x": [1, {"y": None}]}, executor="threads", executor_options={"workers": 2},
                      resume_from="b" * 32, server="http://127.0.0.1:1", api_key="k-secret", working_dir="/w",
                      env={"A": "1"})
    text = spec.to_json()
    assert "k-secret" not in text and "k-secret" not in repr(spec)
    back = LaunchSpec.from_json(text, api_key="k-secret")
    assert back == spec
    assert LaunchSpec.from_json(text).api_key is None


@pytest.mark.parametrize("bad, match", [
    ("not json", "JSON"), ("[]", "object"), ('{"run_id": "x"}', "missing"),
    (json.dumps({"run_id": "a" * 32, "lease": "t", "flow_name": "f", "entrypoint": "e", "rm": 1}), "unknown"),
    (json.dumps({"run_id": "A" * 32, "lease": "t", "flow_name": "f", "entrypoint": "e"}), "hex"),
    (json.dumps({"run_id": "a" * 32, "lease": "", "flow_name": "f", "entrypoint": "e"}), "lease"),
    (json.dumps({"run_id": "a" * 32, "lease": "t", "flow_name": "f", "entrypoint": "e", "parameters": [1]}),
     "parameters"),
    (json.dumps({"run_id": "a" * 32, "lease": "t", "flow_name": "f", "entrypoint": "e", "env": {"A": 1}}), "env"),
])
def test_a_bad_spec_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        LaunchSpec.from_json(bad)


def test_the_command_line_carries_nothing_of_the_run():
    spec = LaunchSpec(run_id="c" * 32, lease="lease-token", flow_name="f", entrypoint="f.py:flow", api_key="key-x")
    assert launch_command("/py") == ["/py", "-m", "ferroflow.launchers.execute"]
    env = launch_environment(spec, {"FERROFLOW_API_KEY": "worker-key", "PATH": "/bin"})
    assert env["FERROFLOW_API_KEY"] == "key-x" and env["FERROFLOW_LAUNCH_WATCH_STDIN"] == "1"
    assert json.loads(env["FERROFLOW_LAUNCH_SPEC"])["lease"] == "lease-token"


def test_a_process_without_a_spec_exits_2(tmp_path):
    env = child_env({"FERROFLOW_HOME": str(tmp_path)})
    env.pop("FERROFLOW_LAUNCH_SPEC", None)
    done = subprocess.run(launch_command(), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_CRASHED and "FERROFLOW_LAUNCH_SPEC" in done.stderr
    env["FERROFLOW_LAUNCH_SPEC"] = "{broken"
    done = subprocess.run(launch_command(), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_CRASHED and "bad launch spec" in done.stderr


def test_a_missing_working_directory_exits_3_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERROFLOW_API_URL", raising=False)
    spec = _spec(tmp_path / "nowhere", "ok", {"out": "x"})
    assert ProcessLauncher().launch(spec).wait(120) == EXIT_NOT_STARTED
    from ferroflow.store.sqlite import SQLiteRunStore

    store = SQLiteRunStore(str(tmp_path / "home" / "runs.db"))
    try:
        run = store.get_run(spec.run_id)
    finally:
        store.close()
    assert run.state == "Failed" and "nowhere" in run.message


def test_log_dir_gets_the_output_of_each_run(workdir, tmp_path, monkeypatch):
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    spec = _spec(workdir, "ok", {"out": "x.json"}, entrypoint="missing.py:ok")
    handle = ProcessLauncher(log_dir=tmp_path / "logs").launch(spec)
    assert handle.wait(120) == EXIT_NOT_STARTED
    log = tmp_path / "logs" / f"{spec.run_id}.log"
    assert str(log) in handle.description
    assert "missing.py" in log.read_text()
    assert (log.stat().st_mode & 0o777) == 0o600


# ----- orphan protection ---------------------------------------------------------------


WORKER = """
import json, os, sys, time
from ferroflow.launchers import LaunchSpec, get_launcher
spec = LaunchSpec.from_json(sys.argv[1])
handle = get_launcher("process").launch(spec)
print(handle.pid, flush=True)
time.sleep(600)
"""


def test_a_worker_killed_by_9_takes_its_launched_runs_with_it(workdir, tmp_path):
    pids = workdir / "pids"
    spec = _spec(workdir, "lingers", {"pids": str(pids)})
    worker = subprocess.Popen([sys.executable, "-c", WORKER, spec.to_json()], stdout=subprocess.PIPE, text=True,
                              env=child_env({"FERROFLOW_HOME": str(tmp_path / "home")}), start_new_session=True)
    try:
        launched_pid = int(worker.stdout.readline())
        wait_for(pids.exists, "the launched run to start its grandchild")
        flow_pid, child_pid = map(int, pids.read_text().split())
        assert flow_pid == launched_pid
        assert os.getpgid(flow_pid) == launched_pid != os.getpgid(worker.pid)  # (a group of its own)
        assert not _gone(flow_pid) and not _gone(child_pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(60)
        wait_for(lambda: _gone(flow_pid) and _gone(child_pid), "the orphaned run's processes to die")
    finally:
        worker.stdout.close()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        for pid_text in (pids.read_text().split() if pids.exists() else []):
            try:
                os.kill(int(pid_text), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_without_watching_stdin_the_run_survives_a_closed_pipe(workdir, tmp_path, monkeypatch):
    """The watch is what kills an orphan: with it off, closing stdin changes nothing (so
    the test above does not pass for another reason)."""
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    pids = workdir / "pids"
    spec = _spec(workdir, "lingers", {"pids": str(pids)})
    env = launch_environment(spec, child_env(), watch_stdin=False)
    process = subprocess.Popen(launch_command(), stdin=subprocess.PIPE, env=env, start_new_session=True)
    try:
        wait_for(pids.exists, "the launched run to start")
        process.stdin.close()
        time.sleep(1.0)  # (time for a watch to act, were there one)
        assert process.poll() is None
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# ----- a claimed run recording through a real server -----------------------------------


@pytest.fixture
def secured_server(engine, database_url, tmp_path):
    """A server with authentication on, and a key of role run to record with."""
    with engine.begin() as conn:
        run_key = create_key(conn, "worker", "run")[0]
    server = Server(database_url, tmp_path / "server.log", args=("--auth",)).start()
    yield server, run_key
    server.stop()


def _claim(engine, client: Client, flow_name: str, parameters: dict) -> tuple[str, str]:
    """A run created on the server and claimed as a worker would: Pending, owner = a
    lease token, worker 'w1' (the lead's claims module does this for real)."""
    made, _ = client.create_run(flow_name, parameters)
    lease = secrets.token_hex(16)
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.run_id == made.run_id).values(state="Pending", owner=lease,
                                                                             worker="w1"))
    return made.run_id, lease


def _ended(client: Client, run_id: str):
    return wait_for(lambda: (r := client.get_run(run_id)) is not None and r.state not in
                    ("Scheduled", "Pending", "Running") and r, f"run {run_id} to end on the server")


def test_a_claimed_run_records_through_the_server(secured_server, engine, workdir, tmp_path, monkeypatch):
    server, key = secured_server
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERROFLOW_API_KEY", raising=False)
    out = workdir / "out.json"
    with Client(server.url, api_key=key) as client:
        run_id, lease = _claim(engine, client, "conformance-ok", {"out": str(out), "value": 7})
        spec = LaunchSpec(run_id=run_id, lease=lease, flow_name="conformance-ok", entrypoint="flows.py:ok",
                          parameters={"out": str(out), "value": 7}, server=server.url, api_key=key,
                          working_dir=str(workdir))
        handle = ProcessLauncher(log_dir=tmp_path / "logs").launch(spec)
        assert handle.wait(120) == EXIT_SUCCESS, (tmp_path / "logs" / f"{run_id}.log").read_text()
        run = _ended(client, run_id)
        assert run.state == "Success", run
        assert json.loads(out.read_text())["value"] == 7
    assert key not in (tmp_path / "logs" / f"{run_id}.log").read_text()


def test_a_wrong_lease_is_refused_with_4_and_nothing_recorded(secured_server, engine, workdir, tmp_path,
                                                              monkeypatch):
    server, key = secured_server
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    out = workdir / "out.json"
    with Client(server.url, api_key=key) as client:
        run_id, lease = _claim(engine, client, "conformance-ok", {"out": str(out)})
        for entrypoint in ("flows.py:ok", "missing.py:ok"):  # (a run that would start, one that cannot)
            spec = LaunchSpec(run_id=run_id, lease=secrets.token_hex(16), flow_name="conformance-ok",
                              entrypoint=entrypoint, parameters={"out": str(out)}, server=server.url, api_key=key,
                              working_dir=str(workdir))
            assert ProcessLauncher().launch(spec).wait(120) == EXIT_REFUSED
            run = client.get_run(run_id)
            assert run.state == "Pending" and run.message is None, run
        assert not out.exists()


def test_a_claimed_run_that_cannot_start_is_recorded_failed_on_the_server(secured_server, engine, workdir,
                                                                          tmp_path, monkeypatch):
    server, key = secured_server
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    with Client(server.url, api_key=key) as client:
        run_id, lease = _claim(engine, client, "conformance-ok", {})
        spec = LaunchSpec(run_id=run_id, lease=lease, flow_name="conformance-ok", entrypoint="flows.py:ok",
                          parameters={"value": 1}, server=server.url, api_key=key, working_dir=str(workdir))
        assert ProcessLauncher().launch(spec).wait(120) == EXIT_NOT_STARTED
        run = _ended(client, run_id)
        assert run.state == "Failed" and "invalid parameters" in run.message and "'out'" in run.message, run


# ----- signals ---------------------------------------------------------------------------


def _recorded(home: Path, run_id: str):
    from ferroflow.store.sqlite import SQLiteRunStore

    path = home / "runs.db"
    if not path.exists():
        return None
    store = SQLiteRunStore(str(path))
    try:
        return store.get_run(run_id)
    finally:
        store.close()


def test_sigterm_stops_a_run_as_ctrl_c_does(workdir, tmp_path, monkeypatch):
    """``docker stop`` or a deleted pod send SIGTERM: the run ends Cancelled, exit 130."""
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    pids = workdir / "pids"
    spec = _spec(workdir, "lingers", {"pids": str(pids)})
    handle = ProcessLauncher().launch(spec)
    try:
        wait_for(pids.exists, "the run to start")
        os.kill(handle.pid, signal.SIGTERM)
        assert handle.wait(120) == 130
        assert _recorded(tmp_path / "home", spec.run_id).state == "Cancelled"
    finally:
        handle.kill()


def test_a_sigint_ignored_by_the_worker_still_interrupts_the_run(workdir, tmp_path, monkeypatch):
    """A worker that ignores SIGINT (its own Ctrl-C handling) passes SIG_IGN on to its
    children; the launched process sets its own handler back."""
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    pids = workdir / "pids"
    spec = _spec(workdir, "lingers", {"pids": str(pids)})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        handle = ProcessLauncher().launch(spec)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        wait_for(pids.exists, "the run to start")
        handle.interrupt()
        assert handle.wait(120) == 130
    finally:
        handle.kill()


def test_an_interrupt_at_once_never_leaves_the_run_half_recorded(workdir, tmp_path, monkeypatch):
    """Interrupted before the engine took over: either the run ends Cancelled (130), or the
    process died of the signal before it had a handler (-2: the worker treats it as a
    crash). Never Running, never another code."""
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    for _ in range(3):
        spec = _spec(workdir, "ok", {"out": "never.json"})
        handle = ProcessLauncher().launch(spec)
        handle.interrupt()
        code = handle.wait(120)
        run = _recorded(tmp_path / "home", spec.run_id)
        assert code in (130, -signal.SIGINT), code
        if code == 130:
            assert run is not None and run.state == "Cancelled", run
        else:
            assert run is None or run.state != "Running", run

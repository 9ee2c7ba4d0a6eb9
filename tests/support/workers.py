"""Workers for tests: a real ``ferroflow worker`` process on a real server, deployments
of flow files written to a project folder, and waits on runs' states."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ferroflow.client.http import Client
from tests.support.servers import Server, child_env, wait_for

#: Server and workers beat every second (the reaper too): a dead process is noticed
#: within seconds rather than a minute.
FAST = {"FERROFLOW_HEARTBEAT_SECONDS": "1"}
ENDED = {"Success", "Failed", "Cancelled", "Crashed", "Unknown"}


def start_server(database_url: str, tmp_path: Path, *args: str, port: int | None = None) -> Server:
    """A server with fast heartbeats on ``database_url``."""
    return Server(database_url, tmp_path / "server.log", port=port, args=args, env=dict(FAST)).start()


class WorkerProcess:
    """``ferroflow worker --pool POOL`` on ``server``, its output in ``log_path``."""

    def __init__(self, server_url: str, project: Path, log_path: Path, pool: str = "default", *args: str,
                 env: dict | None = None):
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ferroflow", "worker", "--pool", pool, "--server", server_url, "--dir",
                 str(project), "--poll", "0.1", *args],
                env=child_env({**FAST, "FERROFLOW_HOME": str(project / ".home"), **(env or {})}),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        os.kill(self.process.pid, sig)

    def kill(self) -> None:
        """``kill -9`` the worker alone (not its runs: they must notice on their own)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def deploy(client: Client, name: str, entrypoint: str, **recipe) -> dict:
    """Deploy through the API."""
    return client.put(f"/api/v1/deployments/{name}", {"entrypoint": entrypoint, **recipe})


def run_deployment(client: Client, name: str, **parameters) -> str:
    """A run of deployment ``name`` made now; its id."""
    return client.post(f"/api/v1/deployments/{name}/runs", {"parameters": parameters})["run_id"]


def wait_ended(client: Client, run_id: str, timeout: float = 180):
    """The run once it ended."""
    return wait_for(lambda: (run := client.get_run(run_id)) is not None and run.state in ENDED and run,
                    f"run {run_id} to end", timeout=timeout, every=0.1)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # (a zombie is gone for our purposes)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False

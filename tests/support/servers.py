"""A real ferroflow server for tests: ``ferroflow server start`` in a subprocess on a
free loopback port, waited for through ``GET /api/v1/health``; it can be killed
(``kill -9``) and started again on the same port and database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import ferroflow

PACKAGE_ROOT = Path(ferroflow.__file__).parents[1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra: dict | None = None) -> dict:
    """The environment of a ferroflow subprocess: this checkout first on its path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("FERROFLOW_API_URL", None)
    env.pop("FERROFLOW_SERVER_AUTH", None)
    env.update(extra or {})
    return env


class Server:
    """One server process on ``database_url``; ``url`` is its base URL, its output goes
    to ``log_path``. ``start()`` returns once it answers ``/api/v1/health``."""

    def __init__(self, database_url: str, log_path: Path, *, port: int | None = None, args: tuple = (),
                 env: dict | None = None, scheme: str = "http"):
        self.database_url = database_url
        self.scheme = scheme  # "https" when args give --tls-cert/--tls-key (certificates not verified here)
        self.chosen = port is None  # (a port picked here is picked again if another process took it)
        self.port = port or free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.args = tuple(args)
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> Server:
        for _ in range(5):
            try:
                return self._start(timeout)
            except RuntimeError as exc:
                # (free_port's port was free when asked; a test in another process may
                # have bound it since)
                if not (self.chosen and "address already in use" in str(exc)):
                    raise
                self.port = free_port()
                self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        return self._start(timeout)

    def _start(self, timeout: float) -> Server:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ferroflow", "server", "start", "--host", "127.0.0.1", "--port",
                 str(self.port), "--database", self.database_url, *self.args],
                env=child_env(self.env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=2, verify=False).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """``kill -9`` the server (its process group)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        """The end of the server's output."""
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""


def wait_for(probe, what: str, timeout: float = 120.0, every: float = 0.05):
    """Poll ``probe`` until it gives something true and return that (the timeout only
    keeps a broken test from hanging)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)

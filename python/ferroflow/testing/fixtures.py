"""pytest fixtures for testing ferroflow plugins against real servers on 127.0.0.1.

Import the fixtures a test module needs into its ``conftest.py``, and make the
isolating ones apply to every test there::

    import pytest
    from ferroflow.testing.fixtures import (  # noqa: F401
        clean_plugin_manager, http_server, no_proxy, refused_url, silent_server, warnings_log,
    )

    @pytest.fixture(autouse=True)
    def _isolated(no_proxy, clean_plugin_manager):
        yield

``require_installed(distribution, package)`` fails a test session early, naming the
install command, when a plugin under test is not installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ferroflow import plugins

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables; requests to 127.0.0.1 must go straight there."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clean_plugin_manager(monkeypatch: pytest.MonkeyPatch):
    """A fresh plugin manager (no disabled plugins) for the test, reset after it."""
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()


@pytest.fixture
def warnings_log(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """``warnings_log()``: the warnings logged on ``ferroflow.notifications`` so far."""
    caplog.set_level(logging.WARNING, logger="ferroflow.notifications")

    def messages() -> list[str]:
        return [r.getMessage() for r in caplog.records
                if r.name == "ferroflow.notifications" and r.levelno == logging.WARNING]

    return messages


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class _Handler(BaseHTTPRequestHandler):
    server: RecordingServer

    def do_POST(self) -> None:  # http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.requests.append(
            Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if self.server.hang:
            self.server.release.wait()
            self.close_connection = True
            return
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.server.reply)))
        self.end_headers()
        self.wfile.write(self.server.reply)

    def log_message(self, format: str, *args) -> None:  # silence the access log
        pass


class RecordingServer(ThreadingHTTPServer):
    """Records every request; answers ``status`` with ``reply``, or never (``hang``)."""

    daemon_threads = True

    def __init__(self, status: int = 200, reply: bytes = b"ok", hang: bool = False,
                 location: str | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = status
        self.reply = reply
        self.hang = hang
        self.location = location
        self.requests: list[Recorded] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def http_server():
    """``http_server(status=200, reply=b"ok", hang=False)``: a started RecordingServer."""
    started: list[tuple[RecordingServer, threading.Thread]] = []

    def start(**options) -> RecordingServer:
        server = RecordingServer(**options)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def refused_url() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/hook"


class SilentServer:
    """A TCP server on 127.0.0.1 that lets every client connect and never answers (a
    hung webhook or SMTP server): connections are completed by the kernel and left
    unanswered until :meth:`close`. :attr:`connections` counts them."""

    def __init__(self, backlog: int = 128) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self._socket.setblocking(False)
        self._accepted: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        """How many clients have connected so far (each one counted once)."""
        with self._lock:
            while True:
                try:
                    conn, _ = self._socket.accept()
                except BlockingIOError:  # none waiting
                    return len(self._accepted)
                self._accepted.append(conn)  # kept open: the client keeps waiting

    def close(self) -> None:
        with self._lock:
            for conn in self._accepted:
                conn.close()
            self._socket.close()


@pytest.fixture
def silent_server():
    """``silent_server()``: a started :class:`SilentServer`, closed after the test."""
    started: list[SilentServer] = []

    def start() -> SilentServer:
        server = SilentServer()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_installed(distribution: str, package: str, install: str | None = None) -> None:
    """Raise ImportError naming the install command unless ``distribution`` is
    installed and ``package`` imports (a plugin's entry point is part of what its tests
    test, so they fail rather than skip). ``install`` is the command the message
    suggests (default: the editable install of ``plugins/<distribution>`` from the
    ferroflow repository root, for the plugins kept there)."""
    try:
        importlib.metadata.distribution(distribution)
        importlib.import_module(package)
    except ImportError as exc:  # PackageNotFoundError is an ImportError
        how = (f"`{install}`" if install else
               f"`python -m pip install -e plugins/{distribution}` from the ferroflow repository root")
        raise ImportError(f"{distribution} is not installed in this environment ({exc}); "
                          f"install it with {how}") from None

"""The built-in ``"process"`` launcher: each run in a local subprocess of its own.

The subprocess is ``python -m ferroflow.launchers.execute`` (the same interpreter as
the worker's by default) in a new session, so it leads a process group of its own:
:meth:`ProcessLaunched.interrupt` sends SIGINT to that group (the run ends
``Cancelled``) and :meth:`ProcessLaunched.kill` SIGKILL (the run and every process it
started stop at once). Its stdin is a pipe the worker keeps open: when the worker dies
(even by ``kill -9``) the pipe closes and the launched process kills its own group
(``FERROFLOW_LAUNCH_WATCH_STDIN=1``), so no flow process outlives its worker.

The spec travels in ``FERROFLOW_LAUNCH_SPEC`` and the API key in ``FERROFLOW_API_KEY``,
never on the command line. Output is inherited from the worker, or with ``log_dir``
written to ``LOG_DIR/RUN_ID.log`` (created readable by its owner only).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from ferroflow.launchers.base import API_KEY_ENV, SPEC_ENV, WATCH_STDIN_ENV, Launched, Launcher, LaunchSpec
from ferroflow.plugins import hookimpl

__all__ = ["ProcessLaunched", "ProcessLauncher", "launch_command", "launch_environment"]

#: The module a launched process runs.
EXECUTE_MODULE = "ferroflow.launchers.execute"


def launch_command(python: str | None = None) -> list[str]:
    """The command line of a launched run: ``[python, "-m", "ferroflow.launchers.execute"]``
    (no argument carries anything of the run: it is all in the environment)."""
    return [python or sys.executable, "-m", EXECUTE_MODULE]


def launch_environment(spec: LaunchSpec, base: Mapping[str, str] | None = None,
                       watch_stdin: bool = True) -> dict[str, str]:
    """The environment of a launched run: ``base`` (default ``os.environ``), then
    ``spec.env``, then ``FERROFLOW_LAUNCH_SPEC`` (the spec's JSON), ``FERROFLOW_API_KEY``
    (when the spec has a key) and ``FERROFLOW_LAUNCH_WATCH_STDIN=1`` (with
    ``watch_stdin``: the process's stdin must then be a pipe its launcher holds open)."""
    env = dict(os.environ if base is None else base)
    env.update(spec.env)
    env[SPEC_ENV] = spec.to_json()
    if spec.api_key:
        env[API_KEY_ENV] = spec.api_key
    if watch_stdin:
        env[WATCH_STDIN_ENV] = "1"
    else:
        env.pop(WATCH_STDIN_ENV, None)
    return env


class ProcessLaunched(Launched):
    """A run launched as a local process (:class:`subprocess.Popen`) leading its own
    process group."""

    def __init__(self, process: subprocess.Popen, spec: LaunchSpec, log_path: Path | None = None):
        self.process = process
        self.spec = spec
        self.log_path = log_path
        self.pid = process.pid
        self.description = f"pid {process.pid}" + (f", log {log_path}" if log_path is not None else "")
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        code = self.process.poll()
        if code is not None:
            self._ended()
        return code

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._ended()
        return code

    def interrupt(self) -> None:
        """SIGINT to the run's process group: the run ends ``Cancelled`` (exit 130)."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL to the run's process group (also when its leader ended already, for
        the processes it left in its group), then reap the leader."""
        self._signal_group(signal.SIGKILL)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be caught
            pass
        self._ended()

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass  # (the group is gone)

    def _ended(self) -> None:
        """Close the worker's end of the run's stdin pipe once the run ended."""
        with self._lock:
            stream = self.process.stdin
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:
                    pass

    def __repr__(self) -> str:
        return f"<ProcessLaunched run {self.spec.run_id} {self.description}>"


class ProcessLauncher(Launcher):
    """Launches each run as ``python -m ferroflow.launchers.execute`` in its own process
    group on this machine.

    Args:
        log_dir: A directory to write each run's stdout and stderr to
            (``LOG_DIR/RUN_ID.log``, appended to, ``0600``); None: inherit the worker's.
        python: The Python interpreter to run (default: the worker's, ``sys.executable``).
        env: Environment variables added to every launched run (before ``spec.env``).
    """

    name = "process"

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, python: str | None = None,
                 env: Mapping[str, str] | None = None):
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.python = python
        self.env = dict(env or {})

    def launch(self, spec: LaunchSpec) -> ProcessLaunched:
        base = dict(os.environ)
        base.update(self.env)
        env = launch_environment(spec, base)
        log_path: Path | None = None
        output: IO[Any] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{spec.run_id}.log"
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            output = os.fdopen(fd, "ab")
        try:
            process = subprocess.Popen(launch_command(self.python), stdin=subprocess.PIPE, stdout=output,
                                       stderr=subprocess.STDOUT if output is not None else None, env=env,
                                       start_new_session=True)
        finally:
            if output is not None:
                output.close()  # (the child has its own copy)
        return ProcessLaunched(process, spec, log_path)

    def __repr__(self) -> str:
        return f"ProcessLauncher(log_dir={self.log_dir!r}, python={self.python!r})"


@hookimpl
def register_launchers(register) -> None:
    register("process", ProcessLauncher)

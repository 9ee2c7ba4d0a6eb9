"""The ``fork`` launcher: each run in a process forked from the worker, which has the
engine imported already.

Starting ``python -m ferroflow.launchers.execute`` costs a new interpreter and the
imports of ferroflow, its store client and its plugins: about 0.45 s of CPU per run on a
small machine, which caps a worker at a few runs per second. A forked child starts with
all of that loaded (the worker imports it once, :meth:`ForkLauncher.__init__`), so a run
starts in milliseconds. Everything else is the ``process`` launcher's: the child runs
the same :func:`ferroflow.launchers.execute.main` with the same environment, leads its
own session and process group, watches a pipe from the worker for the worker's death,
and exits with the same codes.

Forking is only safe from a process with one thread (a lock held by another thread at
the fork stays locked in the child forever). The worker's loop is single-threaded; if
the worker has more threads when a run is launched (a plugin started one), that run is
started as a new process instead, with a warning once. Linux and macOS only.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ferroflow.launchers.base import EXIT_CRASHED, Launched, Launcher, LaunchSpec
from ferroflow.launchers.process import ProcessLauncher, launch_environment
from ferroflow.plugins import hookimpl

__all__ = ["ForkLaunched", "ForkLauncher"]

log = logging.getLogger("ferroflow.launchers")


def _threads() -> int:
    """Threads of this process (the operating system's count: native threads too)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


class ForkLaunched(Launched):
    """A run in a child forked from the worker, leading its own process group."""

    def __init__(self, pid: int, spec: LaunchSpec, pipe: int):
        self.pid = pid
        self.spec = spec
        self.description = f"pid {pid}, forked"
        self._pipe: int | None = pipe
        self._code: int | None = None

    def poll(self) -> int | None:
        if self._code is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # (reaped elsewhere)
                pid, status = self.pid, 255 << 8
            if pid == 0:
                return None
            self._code = os.waitstatus_to_exitcode(status)
            self._ended()
        return self._code

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.01)
        return code

    def interrupt(self) -> None:
        """SIGINT to the run's process group: the run ends ``Cancelled`` (exit 130)."""
        if self.poll() is None:
            self._signal_group(signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL to the run's process group, then reap the child."""
        self._signal_group(signal.SIGKILL)
        self.wait(30)

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _ended(self) -> None:
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None

    def __repr__(self) -> str:
        return f"<ForkLaunched run {self.spec.run_id} {self.description}>"


class ForkLauncher(Launcher):
    """Launches each run in a child forked from the worker (see the module docstring).

    Args:
        log_dir: A directory to write each run's stdout and stderr to
            (``LOG_DIR/RUN_ID.log``, appended to, ``0600``); None: the worker's.
        env: Environment variables added to every launched run (before ``spec.env``).
        fallback: Start a run as a new process when the worker has more than one
            thread (True), or refuse to launch it (False: RuntimeError).
    """

    name = "fork"

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
                 fallback: bool = True):
        if not hasattr(os, "fork"):
            raise RuntimeError("the fork launcher needs os.fork (Linux, macOS): use the process launcher")
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.env = dict(env or {})
        self._spawn = ProcessLauncher(log_dir=log_dir, env=env)
        self._warned = False
        self.fallback = bool(fallback)
        # What every run imports, imported once here and shared by every child.
        import ferroflow.engine.runner
        import ferroflow.launchers.execute
        import ferroflow.store.remote  # noqa: F401
        from ferroflow.plugins import get_registry

        get_registry("executors")  # (plugins loaded once)

    def launch(self, spec: LaunchSpec) -> Launched:
        threads = _threads()
        if threads > 1:
            if not self.fallback:
                raise RuntimeError(f"the worker has {threads} threads: forking it is unsafe")
            if not self._warned:
                self._warned = True
                log.warning("the worker has %d threads: forking it is unsafe, so runs start as new processes "
                            "(the process launcher) while it has", threads)
            return self._spawn.launch(spec)
        base = dict(os.environ)
        base.update(self.env)
        env = launch_environment(spec, base)
        output = -1
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = os.open(self.log_dir / f"{spec.run_id}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            _child(env, read_end, write_end, output)
        os.close(read_end)
        if output >= 0:
            os.close(output)
        return ForkLaunched(pid, spec, write_end)

    def __repr__(self) -> str:
        return f"ForkLauncher(log_dir={self.log_dir!r})"


def _child(env: dict, read_end: int, write_end: int, output: int) -> None:
    """The forked child: its own session, the pipe as stdin, the launch environment,
    then :func:`ferroflow.launchers.execute.main`; exits with its code after the exit
    handlers ran (records still to send are sent or spooled there)."""
    code = EXIT_CRASHED
    try:
        os.setsid()
        os.close(write_end)
        os.dup2(read_end, 0)
        os.close(read_end)
        if output >= 0:
            os.dup2(output, 1)
            os.dup2(output, 2)
            os.close(output)
        os.environ.clear()
        os.environ.update(env)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        logging.getLogger().handlers.clear()  # (the worker's handlers are the worker's)
        from ferroflow.launchers.execute import main

        code = main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_CRASHED
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()  # (a remote run store sends what it still holds)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


@hookimpl
def register_launchers(register: Any) -> None:
    register("fork", ForkLauncher)

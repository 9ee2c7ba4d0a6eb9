"""``python -m ferroflow.launchers.execute``: the process a launcher starts for one
claimed flow run.

It reads the run's :class:`~ferroflow.launchers.base.LaunchSpec` from
``FERROFLOW_LAUNCH_SPEC`` (the API key from ``FERROFLOW_API_KEY``), changes to its
working directory, loads its entrypoint, runs the flow with
:func:`ferroflow.engine.runner.run_flow` (an ``@flow`` function: with
:meth:`~ferroflow.eager.flow.EagerFlow.run_with`) under the claim's lease, and exits with a code
saying how it went (``EXIT_*`` in :mod:`ferroflow.launchers.base`):

* 0 the run ended ``Success``; 1 it ended otherwise (``Failed``...);
* 3 it could not start (entrypoint, flow, parameters, executor, working directory):
  the run is recorded ``Failed`` here, with a message naming the problem;
* 4 the claim was refused (the run is no longer this claim's): nothing is recorded;
* 130 SIGINT or SIGTERM stopped it: the run ended ``Cancelled`` (the engine's Ctrl-C
  path), recorded;
* 2 anything unexpected (an unreadable spec, an error of the engine or the store): the
  run may not be ended; the worker treats it as a crash.

Orphan protection: with ``FERROFLOW_LAUNCH_WATCH_STDIN=1`` a daemon thread reads
stdin; at end of file (the worker holding the pipe's other end died, even by
``kill -9``) the process kills its whole process group with SIGKILL, so no process of
the run outlives its worker.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

from ferroflow.launchers.base import (
    API_KEY_ENV,
    EXIT_CRASHED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_STARTED,
    EXIT_REFUSED,
    EXIT_SUCCESS,
    SPEC_ENV,
    WATCH_STDIN_ENV,
    LaunchSpec,
)

__all__ = ["main", "record_not_started", "watch_stdin"]

log = logging.getLogger("ferroflow.launchers")


class _NotStarted(Exception):
    """The run cannot start; the message says why (recorded as the run's message)."""


def main() -> int:
    """Run the launched flow run; return the exit code (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # (a worker may ignore SIGINT: not inherited here)
    signal.signal(signal.SIGTERM, _interrupted)
    if os.environ.get(WATCH_STDIN_ENV, "").strip() == "1":
        watch_stdin()
    text = os.environ.get(SPEC_ENV)
    if not text:
        _say(f"ferroflow.launchers.execute: no launch spec: {SPEC_ENV} is not set")
        return EXIT_CRASHED
    try:
        spec = LaunchSpec.from_json(text, api_key=os.environ.get(API_KEY_ENV) or None)
    except ValueError as exc:
        _say(f"ferroflow.launchers.execute: bad launch spec in {SPEC_ENV}: {exc}")
        return EXIT_CRASHED
    try:
        return _execute(spec)
    except KeyboardInterrupt:
        # Stopped before the engine took over (while loading the entrypoint, say).
        return _end_unstarted(spec, "Cancelled", "Cancelled: interrupted before the run started.",
                              EXIT_INTERRUPTED)


def _execute(spec: LaunchSpec) -> int:
    from ferroflow.engine.resume import ResumeError
    from ferroflow.engine.runner import run_flow
    from ferroflow.store import ResumeRefusedError

    try:
        flow, executor = _prepare(spec)
    except _NotStarted as exc:
        return _end_unstarted(spec, "Failed", str(exc), EXIT_NOT_STARTED)
    try:
        if hasattr(flow, "run_with"):  # an @flow function (ferroflow.eager)
            return _execute_eager(spec, flow, executor)
        state = run_flow(flow, dict(spec.parameters), executor, server=spec.server, run_id=spec.run_id,
                         lease=spec.lease, resume=spec.resume_from)
    except ResumeError as exc:
        if isinstance(exc.__cause__, ResumeRefusedError):
            _say(f"ferroflow: run {spec.run_id} was not started: {exc}")
            return EXIT_REFUSED
        return _end_unstarted(spec, "Failed", f"Could not resume run {spec.resume_from}: {exc}",
                              EXIT_NOT_STARTED)
    except Exception as exc:
        message = _not_started_message(spec, exc)
        if message is not None:
            return _end_unstarted(spec, "Failed", message, EXIT_NOT_STARTED)
        log.exception("ferroflow: run %s failed unexpectedly", spec.run_id)
        return EXIT_CRASHED
    if state.is_successful():
        return EXIT_SUCCESS
    if state.is_cancelled():
        return EXIT_INTERRUPTED
    return EXIT_FAILED


def _execute_eager(spec: LaunchSpec, flow: Any, executor: Any) -> int:
    """Run an ``@flow`` function as the claimed run: its id, the claim's lease (the
    store refuses the start otherwise), the parameters checked by the flow's type
    hints. Ctrl-C or SIGTERM: the run ends ``Cancelled`` (recorded by the flow run)."""
    from ferroflow.engine.runner import open_run_store

    if spec.executor is not None or spec.executor_options:
        flow = flow.with_options(executor=executor)
    try:
        state = flow.run_with(dict(spec.parameters), resume=spec.resume_from, store=open_run_store(None, spec.server),
                              run_id=spec.run_id, lease=spec.lease)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if state.is_completed():
        return EXIT_SUCCESS
    if state.is_cancelled():
        return EXIT_INTERRUPTED
    return EXIT_FAILED


def _prepare(spec: LaunchSpec) -> tuple[Any, Any]:
    """The flow and executor of the run; :class:`_NotStarted` when they cannot be had."""
    from ferroflow.cli.loader import FlowLoadError, load_entrypoint
    from ferroflow.errors import PluginError, one_line
    from ferroflow.plugins import get_executor

    if spec.working_dir is not None:
        try:
            os.chdir(spec.working_dir)
        except OSError as exc:
            raise _NotStarted(f"Could not start: working directory {spec.working_dir!r}: "
                              f"{exc.strerror or exc}") from None
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # (package.module:flow entrypoints of the working directory)
    try:
        flow = load_entrypoint(spec.entrypoint)
    except FlowLoadError as exc:
        raise _NotStarted(f"Could not start: entrypoint {spec.entrypoint!r}: {_one(exc)}") from None
    except Exception as exc:
        raise _NotStarted(f"Could not start: entrypoint {spec.entrypoint!r}: {one_line(exc)}") from None
    name = spec.executor if spec.executor is not None else getattr(flow, "executor", None)
    try:
        if spec.executor_options or isinstance(name, str) or name is None:
            executor = get_executor(name if name is not None else "local", **spec.executor_options)
        else:
            executor = name  # the flow's own executor instance
    except PluginError as exc:
        raise _NotStarted(f"Could not start: executor {name!r}: {_one(exc)}") from None
    return flow, executor


def _not_started_message(spec: LaunchSpec, exc: Exception) -> str | None:
    """The message of a run that ``run_flow`` refused to start (invalid parameters, an
    unknown run to resume from), or None for an unexpected error."""
    from ferroflow.errors import ParameterError
    from ferroflow.store import UnknownRunError

    if isinstance(exc, ParameterError):
        return f"Could not start: invalid parameters: {_one(exc)}"
    if isinstance(exc, UnknownRunError):
        return f"Could not start: cannot resume from run {spec.resume_from!r}: {_one(exc)}"
    return None


def record_not_started(spec: LaunchSpec, state: str, message: str) -> None:
    """Record the run of ``spec`` as having ended ``state`` with ``message`` without
    running anything: started under the claim's lease, then ended, through the store
    the run would have recorded into.

    Raises:
        ResumeRefusedError: the claim was refused (the run is no longer this claim's).
        StateStoreError: the store could not be opened or written.
    """
    from ferroflow.store.config import get_run_store

    store = get_run_store(None, server=spec.server)
    store.start_run(spec.run_id, spec.flow_name, dict(spec.parameters), [], lease=spec.lease)
    store.end_run(spec.run_id, state, message)
    store.flush()  # (not closed: the store is this process's shared one)


def _end_unstarted(spec: LaunchSpec, state: str, message: str, code: int) -> int:
    from ferroflow.store import ResumeRefusedError, StateStoreError

    _say(f"ferroflow: run {spec.run_id} of flow {spec.flow_name!r}: {message}")
    from ferroflow.store.config import get_run_store

    try:
        record_not_started(spec, state, message)
        get_run_store(None, server=spec.server).close()  # (this process ends here)
    except ResumeRefusedError as exc:
        _say(f"ferroflow: run {spec.run_id} was not recorded: {exc}")
        return EXIT_REFUSED
    except StateStoreError as exc:
        _say(f"ferroflow: run {spec.run_id} could not be recorded {state}: {exc}")
        return EXIT_CRASHED
    return code


def watch_stdin() -> threading.Thread:
    """Start a daemon thread that kills this process's group (SIGKILL) when stdin
    reaches end of file: the worker holding the pipe's other end is gone. When this
    process does not lead its process group (a launcher that did not give it one),
    only this process is killed, never the launcher's group."""

    fd = 0

    def watch() -> None:
        # (the file descriptor, not sys.stdin: a daemon thread blocked in a buffered
        # read holds its lock, and the interpreter aborts at exit waiting for it)
        try:
            while os.read(fd, 65536):
                pass
        except OSError:
            pass
        _say("ferroflow: the worker that launched this run is gone (stdin closed): stopping the run's processes")
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="ferroflow-launch-watch-stdin", daemon=True)
    thread.start()
    return thread


def _interrupted(signum: int, frame: Any) -> None:
    """SIGTERM (``docker stop``, a pod deleted): stop as Ctrl-C does."""
    raise KeyboardInterrupt


def _one(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _say(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())

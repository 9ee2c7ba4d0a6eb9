"""``ferroflow run --deployment NAME [--param KEY=VALUE ...] [--wait]``: make a run of a
deployment and, with ``--wait``, follow it to its end.

The run is made where the deployment lives (:func:`ferroflow.client.deployments.open_deployments`:
the server at ``--server URL`` or ``FERROFLOW_API_URL``, else the database at
``--database URL``, else the default one), ``Scheduled`` to start now; a worker of the
deployment's pool starts it. Its id is printed. With ``--wait`` the command looks at
the run every :data:`POLL_SECONDS` (one request to a server: ``GET
/runs/{id}/progress``), prints each change of its state (``Scheduled -> Pending ->
Running``), feeds the task counts it reads to the live progress display ``ferroflow
run FILE`` shows (:class:`ferroflow.cli.progress.ProgressDisplay`) and, when the run
ends, prints the same summary and exits with the same code as ``ferroflow run FILE``
for that final state: 0 ``Success``, 1 ``Failed``, ``Crashed`` or ``Unknown``, 3
``Paused`` (waiting for approval), 130 ``Cancelled``. Ctrl-C (or SIGTERM) stops waiting
only (130, or 143), not the run: ``ferroflow cancel RUN_ID`` cancels it. A server that
cannot be reached for a while is waited for (a warning says so).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from ferroflow.cli.commands import EXIT_USAGE, fail
from ferroflow.cli.progress import render_summary
from ferroflow.cli.terminal import terminal_for

__all__ = ["ACTIVE_STATES", "POLL_SECONDS", "exit_code", "follow", "run_deployment", "snapshot"]

#: Seconds between two looks at a followed run.
POLL_SECONDS = 0.5
#: Longest pause between looks while the server or database cannot be read.
MAX_BACKOFF = 5.0
#: States of a run that has not ended: ``--wait`` goes on following it.
ACTIVE_STATES = frozenset({"Scheduled", "Late", "Pending", "Running", "Cancelling"})

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PAUSED = 3
EXIT_INTERRUPTED = 130

#: Options of ``ferroflow run`` that run a flow file here, meaningless for a deployment's run.
_FILE_ONLY = (("executor", "--executor"), ("executor_option", "--executor-option"), ("resume", "--resume"),
              ("approve", "--approve"), ("approve_all", "--approve-all"), ("keep_results", "--keep-results"),
              ("no_record", "--no-record"))


def exit_code(state: str) -> int:
    """The exit code of ``ferroflow run`` for a run that ended in ``state``."""
    if state == "Success":
        return EXIT_OK
    if state == "Paused":
        return EXIT_PAUSED
    if state == "Cancelled":
        return EXIT_INTERRUPTED
    return EXIT_FAILED


def snapshot(tasks: Sequence[Any]) -> list[tuple[str, dict[str, int]]]:
    """What the engine gives the progress display, from a run's recorded tasks
    (:class:`~ferroflow.store.queries.TaskInfo`): ``(task name, {state: task runs})``
    in display order. A task counts itself (``Pending`` until it reports) and, when
    mapped, its children, as the engine's tallies do."""
    out = []
    for task in tasks:
        counts = {k: int(v) for k, v in (task.counts or {}).items() if v} if task.is_mapped else {}
        own = task.state or "Pending"
        counts[own] = counts.get(own, 0) + 1
        out.append((task.name, counts))
    return out


def _state_class(name: str) -> type:
    """The :mod:`ferroflow.states` class named ``name``; for a run's states that are no
    task state (``Crashed``, ``Unknown``, ...) a :class:`~ferroflow.states.Failed` of that name."""
    from ferroflow import states

    found = getattr(states, name, None)
    if isinstance(found, type) and issubclass(found, states.State):
        return found
    made = _MADE.get(name)
    if made is None:
        made = _MADE[name] = type(name, (states.Failed,), {"__module__": __name__})
    return made


_MADE: dict[str, type] = {}


def final_state(run: Any, tasks: Sequence[Any], first_failures: dict | None = None) -> Any:
    """A :class:`~ferroflow.states.State` of the run's final state and message whose
    result maps each task's name to a state of its own (what the summary renders), and
    whose ``executor`` is the run's (as its worker recorded it).
    ``first_failures`` maps a mapped task's name to ``(index, message)`` of its first
    failed child, which the summary names."""
    from ferroflow import states

    results = {}
    for task in tasks:
        state = _state_class(task.state or "Pending")(message=task.message)
        found = (first_failures or {}).get(task.name)
        if found is not None and isinstance(state, states.Mapped):
            index, message = found
            # The summary names the first failed child by its place in map_states:
            # the earlier places hold one shared state (pointers, whatever the width).
            state.map_states = [states.Success()] * index + [states.Failed(message=message)]
        results[task.name] = state
    final = _state_class(run.state)(message=run.message, result=results)
    final.executor = getattr(run, "executor", None)
    return final


class _Poller:
    """Reads a run and its tasks, from a server (one request) or a database."""

    def __init__(self, place: Any):
        self.place = place

    def __call__(self, run_id: str) -> tuple[Any, list[Any]]:
        client = getattr(self.place, "client", None)
        if client is not None:
            return client.run_progress(run_id)
        from ferroflow.store import queries
        from ferroflow.store.errors import UnknownRunError

        with self.place.engine.connect() as conn:
            run = queries.get_run(conn, run_id)
            if run is None:
                raise UnknownRunError(run_id, queries.location(conn))
            return run, queries.run_tasks(conn, run_id)

    def retry_of(self, run_id: str) -> Any:
        """The run retrying (resuming) ``run_id``, or None yet."""
        client = getattr(self.place, "client", None)
        if client is not None:
            page = client.list_runs(resumed_from=run_id, limit=1)
        else:
            from ferroflow.store import queries

            with self.place.engine.connect() as conn:
                page = queries.list_runs(conn, resumed_from=run_id, limit=1)
        return page.items[0] if page.items else None

    def first_failures(self, run_id: str, tasks: Sequence[Any]) -> dict[str, tuple[int, str]]:
        """``task name -> (index, message)`` of the first failed child of each mapped
        task with failed children (one read each; best effort)."""
        found: dict[str, tuple[int, str]] = {}
        for task in tasks:
            if not (task.is_mapped and task.failed_count):
                continue
            key = task.slug or task.name
            try:
                client = getattr(self.place, "client", None)
                if client is not None:
                    page = client.failed_children(run_id, key, limit=1)
                else:
                    from ferroflow.store import queries

                    with self.place.engine.connect() as conn:
                        page = queries.failed_children(conn, run_id, key, limit=1)
            except Exception:  # the summary goes without it
                continue
            if page.items:
                child = page.items[0]
                found[task.name] = (child.map_index, child.message or "failed")
        return found


def _transient(exc: BaseException) -> bool:
    """An error worth waiting out: the server cannot be reached or is failing (5xx), or
    the database is busy or unreachable."""
    from ferroflow.client.http import ClientError, Unreachable

    if isinstance(exc, Unreachable):
        return True
    if isinstance(exc, ClientError):
        return exc.status >= 500 or exc.status == 429
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError)


def follow(read: Any, run_id: str, display: Any, *,
           out: Any = None, poll: float = POLL_SECONDS, sleep: Callable[[float], None] = time.sleep) -> Any:
    """Follow run ``run_id`` (``read(run_id)`` gives the run and its tasks; a
    ``read.first_failures(run_id, tasks)``, when there is one, names the first failed
    child of mapped tasks) until it ends: print each change of its state on ``out``
    (default stdout), feed its task counts to ``display`` (a
    :class:`~ferroflow.cli.progress.ProgressDisplay`), and print the summary of the
    final state. Returns the run as last read."""
    out = out if out is not None else sys.stdout
    last_state: str | None = None
    started = False
    failures = 0
    while True:
        try:
            run, tasks = read(run_id)
        except Exception as exc:
            if not _transient(exc):
                raise
            failures += 1
            if failures == 1:
                display.close()
                print(f"ferroflow: warning: cannot read run {run_id} now ({' '.join(str(exc).split())}); "
                      f"trying again", file=sys.stderr)
            sleep(min(MAX_BACKOFF, poll * 2 ** min(failures, 8)))
            continue
        if failures:
            print(f"ferroflow: run {run_id} can be read again", file=sys.stderr)
            failures = 0
        if run.state != last_state:
            display.close()  # (a TTY table is drawn again by the next update)
            note = f": {' '.join(run.message.split())}" if run.message and run.state in ACTIVE_STATES else ""
            print(f"{'State' if last_state is None else last_state + ' ->'} {run.state}{note}", file=out, flush=True)
            last_state = run.state
        if tasks:
            if not started:
                display.start(run.flow_name, [t.name for t in tasks])
                started = True
            display.update(snapshot(tasks))
        if run.state not in ACTIVE_STATES:
            if not started:
                display.start(run.flow_name, [t.name for t in tasks])
                display.update(snapshot(tasks))
            firsts = read.first_failures(run_id, tasks) if hasattr(read, "first_failures") else {}
            display.close()
            # Elapsed: since its tasks were first seen (the run's start time is when it was
            # made, Scheduled), else, for a run that ended before, its recorded duration.
            elapsed = display.elapsed() if started else (
                None if run.ended_at is None else max(0.0, run.ended_at - run.started_at))
            display.summary_stream.write(render_summary(run.flow_name, final_state(run, tasks, firsts),
                                                        display.snapshot, elapsed=elapsed,
                                                        console=terminal_for(display.summary_stream)))
            display.summary_stream.flush()
            return run
        sleep(poll)


def check_options(args: argparse.Namespace) -> str | None:
    """What is wrong with ``args`` of ``ferroflow run`` for a deployment's run (or for a
    flow file's), or None."""
    if args.deployment is None:
        for option in ("wait", "database"):
            if getattr(args, option, None):
                return f"--{option} needs --deployment NAME"
        if args.flow is None:
            return "give the flow file to run (FILE.py[:FLOW_NAME]) or --deployment NAME"
        return None
    if args.flow is not None:
        return f"give either a flow file ({args.flow}) or --deployment NAME, not both"
    given = [option for attribute, option in _FILE_ONLY if getattr(args, attribute, None)]
    if given:
        return (f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to a flow run here, not to a "
                f"deployment's run (which its worker runs with the deployment's recipe)")
    if args.server and args.database:
        return "give --server URL or --database URL, not both"
    return None


def run_deployment(args: argparse.Namespace) -> int:
    """``ferroflow run --deployment NAME [--param KEY=VALUE ...] [--wait]``."""
    from ferroflow.cli import UsageError, parse_key_values
    from ferroflow.cli.deployments import _errors, _failed
    from ferroflow.cli.interrupts import StopSignals
    from ferroflow.cli.progress import ProgressDisplay
    from ferroflow.client.deployments import open_deployments
    from ferroflow.store.errors import UnknownRunError

    try:
        parameters = parse_key_values(args.param, "--param")
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    name = args.deployment
    stop = StopSignals()
    run_id = None
    display = ProgressDisplay(mode="off" if args.no_progress else "auto")
    try:
        with open_deployments(args.server, args.database) as place:
            deployment = place.get(name)
            run = place.run(name, parameters)
            run_id = run.run_id
            print(f"Run {run_id} of deployment {name} created ({run.state}): flow {run.flow_name!r}, "
                  f"pool {deployment.pool}.", flush=True)
            if not args.wait:
                print(f"A worker of pool {deployment.pool!r} starts it (`ferroflow worker --pool {deployment.pool}`); "
                      f"follow it with `ferroflow runs show {run_id[:12]}`.")
                return EXIT_OK
            with stop:
                poller = _Poller(place)
                ended = follow(poller, run_id, display)
                attempt = 1
                while ended.state == "Crashed" and attempt <= deployment.retries:
                    retry = _await_retry(poller, run_id)
                    if retry is None:
                        break
                    attempt += 1
                    print(f"Run {run_id} crashed: retried as run {retry.run_id} (attempt {attempt} of "
                          f"{deployment.retries + 1}), resuming it from its checkpoints.", flush=True)
                    run_id = retry.run_id
                    display = ProgressDisplay(mode="off" if args.no_progress else "auto")
                    ended = follow(poller, run_id, display)
    except KeyboardInterrupt:
        display.close()
        if run_id is None:
            print("ferroflow: interrupted", file=sys.stderr)
            return stop.exit_code(EXIT_INTERRUPTED)
        how = signal.Signals(stop.received).name if stop.received is not None else "SIGINT"
        print(f"ferroflow: stopped waiting ({how}); run {run_id} goes on. Cancel it with `ferroflow cancel "
              f"{run_id}`, follow it with `ferroflow runs show {run_id[:12]}`.", file=sys.stderr)
        return stop.exit_code(EXIT_INTERRUPTED)
    except UnknownRunError as exc:  # the run was deleted while followed
        display.close()
        return fail(str(exc), EXIT_FAILED)
    except _errors() as exc:
        display.close()
        return _failed(exc)
    print(f"Flow run id: {run_id}  (details: ferroflow runs show {run_id[:12]})")
    return exit_code(ended.state)


def _await_retry(poller: _Poller, run_id: str, sleep: Any = time.sleep) -> Any:
    """The retry of crashed run ``run_id`` once the server made it (its worker asks at
    once; the server's maintenance pass does within a heartbeat timeout when the worker
    died too), or None when none came within that."""
    from ferroflow.store.orphans import HEARTBEAT_SECONDS, HEARTBEAT_TIMEOUT

    deadline = time.monotonic() + HEARTBEAT_TIMEOUT + 3 * HEARTBEAT_SECONDS
    while time.monotonic() < deadline:
        found = poller.retry_of(run_id)
        if found is not None:
            return found
        sleep(0.5)
    return None

"""``ferroflow runs`` and ``ferroflow logs``: read the run store.

::

    ferroflow runs [--limit N] [--flow NAME] [--server URL]       recent runs, newest first
    ferroflow runs show RUN_ID [--failed N] [--server URL]        one run's task states
    ferroflow runs reap [--timeout SECONDS]                       mark Crashed the runs whose process died
    ferroflow logs RUN_ID [--task NAME [--map-index I]] [--server URL]

``RUN_ID`` may be abbreviated to any unique prefix. The store is
``$FERROFLOW_HOME/runs.db`` (default ``~/.ferroflow/runs.db``), or, with ``--server URL``
or ``FERROFLOW_API_URL`` set, a ferroflow server (``FERROFLOW_API_KEY``: its key): the
output is the same. Exit codes: 0 done, 1 the store or server cannot be read, 2 usage
error or unknown run id.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any

from ferroflow.cli.commands import fail
from ferroflow.cli.formatting import format_duration, print_table, shorten
from ferroflow.descriptions import printable
from ferroflow.store.orphans import HEARTBEAT_SECONDS, HEARTBEAT_TIMEOUT, check_timeout

__all__ = ["add_parsers", "format_duration", "format_time"]

EXIT_OK = 0
EXIT_STORE = 1
EXIT_USAGE = 2


def add_parsers(sub: Any) -> None:
    """Register ``runs`` (with ``runs show``) and ``logs`` on the ``ferroflow`` parser's
    sub-command action ``sub``."""
    runs = sub.add_parser(
        "runs", help="list recorded flow runs (`runs show RUN_ID` for one run)",
        description="List recorded flow runs, newest first, from the run store "
                    "($FERROFLOW_HOME/runs.db); runs whose process died are marked Crashed first. "
                    "`ferroflow runs show RUN_ID` shows one run's task states, `ferroflow runs reap` "
                    "marks dead runs Crashed.")
    runs.add_argument("--limit", type=_non_negative, default=20, metavar="N",
                      help="show at most N runs (default 20; 0 shows all)")
    runs.add_argument("--flow", metavar="NAME", help="only runs of the flow named NAME")
    _server_option(runs)
    runs.set_defaults(handler=cmd_runs)
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="[show RUN_ID | reap]")
    show = runs_sub.add_parser(
        "show", help="show a run's task states",
        description="Show a recorded run: its state and parameters, every task's state with mapped "
                    "children counted by state, and the failed children with their messages. "
                    "RUN_ID may be any unique prefix. Exit code 2 for an unknown run id.")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--failed", type=_non_negative, default=20, metavar="N",
                      help="list at most N failed children per task (default 20; 0 lists none)")
    _server_option(show, argparse.SUPPRESS)
    show.set_defaults(handler=cmd_runs_show)
    reap = runs_sub.add_parser(
        "reap", help="mark Crashed the runs whose process died without ending them",
        description="Mark Crashed every run still recorded as Running whose process is gone: started on "
                    "this machine by a process that no longer exists, or silent (no heartbeat) for more than "
                    "--timeout seconds; a run whose own record was incomplete (its store could not be written) is "
                    "marked Unknown instead. `ferroflow runs` and `runs show` do this first too.")
    reap.add_argument("--timeout", type=_heartbeat_timeout, default=HEARTBEAT_TIMEOUT, metavar="SECONDS",
                      help=f"seconds without a heartbeat after which a run's process is presumed dead "
                           f"(default {HEARTBEAT_TIMEOUT:g}, at least {2 * HEARTBEAT_SECONDS:g}: a live run "
                           f"beats every {HEARTBEAT_SECONDS:g} s)")
    reap.set_defaults(handler=cmd_runs_reap)

    logs = sub.add_parser(
        "logs", help="print a recorded run's logs",
        description="Print the log records kept with a recorded run, oldest first, optionally of one "
                    "task (by name or slug) and one mapped child. RUN_ID may be any unique prefix. "
                    "Exit code 2 for an unknown run id or task.")
    logs.add_argument("run_id", metavar="RUN_ID")
    logs.add_argument("--task", metavar="NAME", help="only records of the task named (or slugged) NAME")
    logs.add_argument("--map-index", type=_map_index, metavar="I",
                      help="only records of child I of the mapped task (needs --task; -1: the task itself)")
    _server_option(logs)
    logs.set_defaults(handler=cmd_logs)


def _server_option(parser: Any, default: Any = None) -> None:
    parser.add_argument("--server", metavar="URL", default=default,
                        help="read from the ferroflow server at URL (default: $FERROFLOW_API_URL when set, else the "
                             "local run store); its key from $FERROFLOW_API_KEY")


def _heartbeat_timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    try:
        return check_timeout(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _map_index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -2
    if value < -1:
        raise argparse.ArgumentTypeError(f"expected a child's index (0 or more) or -1 (the task itself), got {text!r}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


# ----- helpers ---------------------------------------------------------------------


def _open_store() -> Any:
    """The run store, or None when its file does not exist (reading never creates it).

    Raises :class:`~ferroflow.store.StateStoreError` naming the path and the reason when
    the store cannot be opened, including when whether it exists cannot be found out
    (a home directory this user may not search, a file where a directory should be):
    that is not "no runs recorded"."""
    from ferroflow.store import SQLiteRunStore, default_store_path
    from ferroflow.store.config import DATABASE_ENV
    from ferroflow.store.errors import describe_sqlite_error

    url = os.environ.get(DATABASE_ENV, "").strip()
    if url:
        from ferroflow.store import SQLRunStore

        return SQLRunStore(url)
    path = default_store_path()
    try:
        os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise describe_sqlite_error(exc, str(path), "read") from exc
    return SQLiteRunStore(path)


def _server_url(args: argparse.Namespace) -> str | None:
    from ferroflow.client.http import configured_url

    return getattr(args, "server", None) or configured_url()


def _open_source(args: argparse.Namespace) -> Any:
    """What ``runs``, ``runs show`` and ``logs`` read: the server named by ``--server`` or
    ``FERROFLOW_API_URL`` (a :class:`~ferroflow.client.reads.ServerRuns`), else the
    local run store (None when its file does not exist, see :func:`_open_store`)."""
    url = _server_url(args)
    if url:
        from ferroflow.client.http import Client
        from ferroflow.client.reads import ServerRuns

        return ServerRuns(Client(url))
    return _open_store()


def _source_errors() -> tuple:
    """The errors that mean "the store or server cannot be read" (exit code 1)."""
    from ferroflow.client.http import ClientError, Unreachable
    from ferroflow.store import StateStoreError

    return (StateStoreError, ClientError, Unreachable)


def _reap(store: Any) -> None:
    """Mark orphaned runs Crashed before showing runs; a store this user cannot write
    (read-only, locked for too long) is shown as it is, with a warning."""
    from ferroflow.store import StateStoreError

    try:
        store.reap()
    except StateStoreError as exc:
        print(f"ferroflow: warning: could not look for runs whose process died: {exc}", file=sys.stderr)


class _Unknown(Exception):
    """A task the command names is not in the run (exit code 2, as for an unknown run)."""


def format_time(ts: float | None, millis: bool = False) -> str:
    """Local time of an epoch timestamp: ``2026-11-22 05:01:02`` (``.123`` with millis)."""
    if ts is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(ts)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}" if millis else text




def _flat(text: str | None, width: int = 100) -> str:
    """``text`` on one line (runs of white space made one space), shortened to ``width``."""
    if not text:
        return ""
    return shorten(" ".join(str(text).split()), width)


# ----- ferroflow runs --------------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    """``ferroflow runs``: a table of recent runs."""
    from ferroflow.store import default_store_path

    try:
        store = _open_source(args)
        if store is None:
            print(f"No runs recorded yet ({default_store_path()} does not exist).")
            return EXIT_OK
        with store:
            _reap(store)
            runs = store.list_runs(limit=args.limit or None, flow_name=args.flow)
    except _source_errors() as exc:
        return fail(str(exc), EXIT_STORE)
    if not runs:
        which = f" of flow {args.flow!r}" if args.flow else ""
        print(f"No runs{which} recorded in {store.location}.")
        return EXIT_OK
    _print_runs(runs)
    return EXIT_OK


#: The widest run name ``ferroflow runs`` shows in its NAME column (a longer one is cut,
#: ending ``...``; ``runs show`` prints it whole).
NAME_WIDTH = 40


def _print_runs(runs: list) -> None:
    """A table of runs: id, flow, state, start and duration; and, when one of them has a
    name (schema 12: an eager flow's ``flow_run_name``), a NAME column beside the id
    (``-`` for a run without one). Names and flow names are shown escaped, one line
    each."""
    named = any(run.run_name for run in runs)
    rows = [["RUN ID", *(["NAME"] if named else []), "FLOW", "STATE", "STARTED", "DURATION"]]
    for run in runs:
        duration = "running" if run.ended_at is None else format_duration(run.duration)
        name = [shorten(printable(run.run_name), NAME_WIDTH) if run.run_name else "-"] if named else []
        rows.append([run.run_id, *name, printable(run.flow_name), run.state, format_time(run.started_at), duration])
    print_table(rows, state_column=3 if named else 2)


def cmd_runs_show(args: argparse.Namespace) -> int:
    """``ferroflow runs show RUN_ID``: a run's header and its task states."""
    from ferroflow.store import AmbiguousRunIdError, UnknownRunError, default_store_path

    try:
        store = _open_source(args)
        if store is None:
            return fail(f"no run with id {args.run_id!r}: no run store at {default_store_path()}", EXIT_USAGE)
        with store:
            _reap(store)
            run = store.resolve_run(args.run_id)
            tasks = store.task_states(run.run_id, failed_limit=args.failed)
            subflows = store.child_runs(run.run_id, limit=SUBFLOWS_SHOWN + 1)
    except (UnknownRunError, AmbiguousRunIdError, _Unknown) as exc:
        return fail(str(exc), EXIT_USAGE)
    except _source_errors() as exc:
        return fail(str(exc), EXIT_STORE)
    print(_run_header(run), end="")
    print()
    if not tasks:
        print("No tasks recorded.")
    else:
        _print_tasks(run, tasks)
    if subflows:
        _print_subflows(subflows)
    return EXIT_OK


#: The most subflow runs ``runs show`` lists (oldest first).
SUBFLOWS_SHOWN = 50


def _print_subflows(subflows: list) -> None:
    print()
    print("Subflow runs:")
    _print_runs(subflows[:SUBFLOWS_SHOWN])
    if len(subflows) > SUBFLOWS_SHOWN:
        print(f"... and more (the first {SUBFLOWS_SHOWN} are listed)")


def _print_tasks(run: Any, tasks: list) -> None:
    rows = [["TASK", "STATE", "RUNS", "CHILDREN", "MESSAGE"]]
    for t in tasks:
        rows.append([t.name, t.state or "-", "-" if t.run_count is None else str(t.run_count),
                     _children(t), _flat(t.message, 80)])
    print_table(rows, state_column=1)
    for t in tasks:
        if not t.failed_count:
            continue
        print()
        listed = len(t.failed_children)
        print(f"Failed children of {t.name} ({t.failed_count:,}):")
        for child in t.failed_children:
            message = _flat(child.message, 120)
            print(f"  [{child.map_index}] {child.state}" + (f": {message}" if message else ""))
        if listed < t.failed_count:
            print(f"  ... and {t.failed_count - listed:,} more (`ferroflow runs show {run.run_id} "
                  f"--failed {t.failed_count}` lists them)")
        shown = next((c for c in t.failed_children if c.traceback), None)
        if shown is not None:
            print(f"  (a child's traceback: `ferroflow logs {run.run_id} --task {t.slug or t.name} "
                  f"--map-index {shown.map_index}`)")
    failed = [t for t in tasks if t.traceback and not t.failed_count]
    if failed:
        print()
        for t in failed:
            print(f"{t.name} failed with a traceback: `ferroflow logs {run.run_id} --task {t.slug or t.name}` "
                  f"shows it")


def cmd_runs_reap(args: argparse.Namespace) -> int:
    """``ferroflow runs reap``: mark orphaned runs Crashed (Unknown when their record was
    incomplete), and say which."""
    from ferroflow.store import StateStoreError

    try:
        store = _open_store()
        if store is None:
            print("No runs recorded yet.")
            return EXIT_OK
        with store:
            reaped = store.reap(timeout=args.timeout)
            # Crashed, or Unknown when the run's own record was incomplete (the store
            # could not be written): say which each one got.
            marked = [(run_id, getattr(store.get_run(run_id), "state", "?")) for run_id in reaped]
    except StateStoreError as exc:
        return fail(str(exc), EXIT_STORE)
    if not marked:
        print("No orphaned runs: every run recorded as Running has a live process.")
        return EXIT_OK
    print(f"Marked {len(marked)} run{'s' if len(marked) != 1 else ''} whose process died without ending "
          f"{'them' if len(marked) != 1 else 'it'}:")
    for run_id, state in marked:
        note = " (its record is incomplete: the store could not be written)" if state == "Unknown" else ""
        print(f"  {run_id}  {state}{note}")
    print("Resume one with `ferroflow run FLOW_FILE --resume RUN_ID`.")
    return EXIT_OK


def _run_header(run: Any) -> str:
    state = run.state + (f": {_flat(run.message, 100)}" if run.message else "")
    if run.ended_at is None:
        timing = f"{format_time(run.started_at)} (not ended)"
    else:
        timing = f"{format_time(run.started_at)} (duration {format_duration(run.duration)})"
    lines = [["Run", run.run_id]]
    if getattr(run, "run_name", None):  # (None: no name, or recorded before schema 12)
        lines.append(["Name", printable(run.run_name)])
    lines += [
        ["Flow", run.flow_name],
        ["State", state],
        ["Started", timing],
        ["Parameters", json.dumps(run.parameters) if run.parameters else "-"],
    ]
    if run.resumed_from:
        lines.append(["Resumed from", run.resumed_from])
    if getattr(run, "parent_run_id", None):  # (a subflow run; schema 11)
        lines.append(["Parent", printable(run.parent_run_id)])
    if getattr(run, "executor", None):  # (None: recorded before schema 10)
        lines.append(["Executor", printable(run.executor)])
    width = max(len(k) for k, _ in lines)
    return "".join(f"{k.ljust(width)}  {v}\n" for k, v in lines)


def _children(task: Any) -> str:
    if not task.counts:
        return "" if not task.is_mapped else "0"
    total = sum(task.counts.values())
    parts = ", ".join(f"{n:,} {name}" for name, n in sorted(task.counts.items(), key=lambda kv: -kv[1]))
    return f"{total:,}: {parts}"


# ----- ferroflow logs --------------------------------------------------------------


def cmd_logs(args: argparse.Namespace) -> int:
    """``ferroflow logs RUN_ID``: a run's log records, oldest first."""
    from ferroflow.store import AmbiguousRunIdError, UnknownRunError, default_store_path

    if args.map_index is not None and args.task is None:
        return fail("--map-index needs --task NAME", EXIT_USAGE)
    failures: list = []
    try:
        store = _open_source(args)
        if store is None:
            return fail(f"no run with id {args.run_id!r}: no run store at {default_store_path()}", EXIT_USAGE)
        with store:
            run = store.resolve_run(args.run_id)
            if args.task is not None:
                listed = store.task_states(run.run_id, failed_limit=0)
                if not any(args.task in (t.name, t.slug) for t in listed):
                    shown = ", ".join(t.name for t in listed) or "none recorded"
                    raise _Unknown(f"run {run.run_id} has no task named {args.task!r} (tasks: {shown})")
                # The traceback of the task run named (a child with --map-index, else the
                # task itself), when it failed with an exception.
                index = -1 if args.map_index is None else args.map_index
                failures = [(t.name, store.child_state(run.run_id, t.task_id, index)) for t in listed
                            if args.task in (t.name, t.slug)]
            lines = store.logs(run.run_id, task_name=args.task, map_index=args.map_index)
    except (UnknownRunError, AmbiguousRunIdError, _Unknown) as exc:
        return fail(str(exc), EXIT_USAGE)
    except _source_errors() as exc:
        return fail(str(exc), EXIT_STORE)
    raised = [(name, state) for name, state in failures if state is not None and state.traceback]
    if not lines:
        which = ""
        if args.task is not None:
            which = f" of task {args.task!r}" + ("" if args.map_index is None else f", child {args.map_index}")
        print(f"No logs recorded{which} for run {run.run_id}" + (": it raised" if raised else "."))
        if not raised:
            return EXIT_OK
    out = sys.stdout
    _print_logs(lines, out)
    for name, state in raised:
        who = name if state.map_index < 0 else f"{name}[{state.map_index}]"
        message = f": {_flat(state.message, 200)}" if state.message else ""
        out.write(f"{who} {state.state}{message}\n")
        for line in str(state.traceback).rstrip("\n").split("\n"):
            out.write(f"    {line}\n")
    return EXIT_OK


def _print_logs(lines: list, out: Any) -> None:
    """Log records, one line each (a multi-line message's other lines indented)."""
    for line in lines:
        if line.task_name is None and line.task_id is None:
            who = "(flow)"
        else:
            name = line.task_name if line.task_name is not None else f"task {line.task_id}"
            who = name if line.map_index is None else f"{name}[{line.map_index}]"
        first, *rest = str(line.message).split("\n") or [""]
        out.write(f"{format_time(line.created_at, millis=True)}  {line.levelname:<8} {who}  {line.logger}: {first}\n")
        for more in rest:
            out.write(f"    {more}\n")

"""The ``ferroflow`` command line.

::

    ferroflow --version
    ferroflow plugins [--strict] [--json] [--verbose]
    ferroflow plugin new executor|notifier|result-store|serializer NAME [DIR] [--force]
                                                (see ``cli.plugin_new``)
    ferroflow run FILE.py[:FLOW_NAME] [--param KEY=VALUE ...] [--executor NAME]
                  [--executor-option KEY=VALUE ...] [--no-progress] [--traceback]
                  [--resume RUN_ID [--approve TASK ... | --approve-all]] [--no-record]
                  [--keep-results]
    ferroflow run --deployment NAME [--param KEY=VALUE ...] [--wait] [--server URL | --database URL]
                                                (see ``cli.deployment_runs``)
    ferroflow deploy FILE.py:FLOW --name NAME ... | ferroflow deploy --all [--file ferroflow.toml]
    ferroflow runs [--limit N] [--flow NAME]
    ferroflow runs show RUN_ID [--failed N]
    ferroflow runs reap [--timeout SECONDS]
    ferroflow logs RUN_ID [--task NAME [--map-index I]]
    ferroflow server start|migrate|create-key|keys|revoke-key|push-spool ...
    ferroflow secret {key | set NAME | ls | rm NAME | rotate --old-key-env VAR} [--database URL]
    ferroflow cancel RUN_ID [--server URL]     (exit codes: see ``cli.cancel``)
    ferroflow scheduler [--database URL] [--horizon S] [--late-after S] [--interval S]

Exit codes of ``run``: 0 the flow run succeeded, 1 it failed, 2 usage or load error
(one line on stderr; ``--traceback`` shows the traceback), 3 paused waiting for
approval (resume it with ``--resume RUN_ID --approve TASK``), 130 cancelled by Ctrl-C
(SIGINT), 143 cancelled by SIGTERM (handled like Ctrl-C: see ``cli.interrupts``). Any
command whose output is cut short by its reader (``ferroflow runs show ID | head``) stops
quietly with 141.
Warnings of ferroflow's loggers during the run go to stderr (``cli.console``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from ferroflow.cli.formatting import format_table
from ferroflow.cli.terminal import terminal_for
from ferroflow.errors import FerroflowError, FlowDefinitionError, ParameterError, PluginError
from ferroflow.redaction import scrubbed_output

__all__ = ["UsageError", "build_parser", "get_version", "main", "parse_key_values"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PAUSED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away


class UsageError(FerroflowError):
    """A command line argument is malformed; the message names the argument."""


def get_version() -> str:
    """ferroflow's version: the installed distribution's, else ``ferroflow.__version__``."""
    import importlib.metadata

    try:
        return importlib.metadata.version("ferroflow")
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        import ferroflow

        return str(getattr(ferroflow, "__version__", "unknown"))
    except Exception:  # --version must work even from a broken tree
        return "unknown"


def parse_key_values(items: Sequence[str] | None, option: str = "--param") -> dict[str, Any]:
    """Parse ``["n=1000", 'x="a"', "name=etl"]`` into ``{"n": 1000, "x": "a", "name": "etl"}``.

    A value is parsed as JSON when it is valid JSON (``1000`` -> int, ``true`` ->
    True, ``"a"`` -> str, ``[1, 2]`` -> list, ``null`` -> None), else kept as the raw
    string. ``NaN`` and ``Infinity`` stay strings.

    Raises:
        UsageError: an item has no ``=``, an empty key, or repeats a key; the message
            names the item and the option.
    """
    result: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE")
        if not key:
            raise UsageError(f"{option} {item!r}: the key before '=' is empty")
        if key in result:
            raise UsageError(f"{option} {item!r}: {key!r} is given more than once")
        result[key] = _parse_value(raw)
    return result


def _parse_value(raw: str) -> Any:
    def no_constants(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(raw, parse_constant=no_constants)
    except ValueError:
        return raw


def build_parser() -> argparse.ArgumentParser:
    """Build the ``ferroflow`` argument parser (sub-commands ``run`` and ``plugins``)."""
    parser = argparse.ArgumentParser(
        prog="ferroflow",
        description="Run ferroflow flows and inspect installed plugins.",
    )
    parser.add_argument("--version", action="version", version=f"ferroflow {get_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run a flow defined in a Python file",
        description="Run a flow defined in a Python file. Exit code: 0 success, 1 failure, "
                    "2 usage or load error, 3 paused (waiting for approval), 130 interrupted "
                    "(Ctrl-C), 143 terminated (SIGTERM; the run is cancelled and recorded as with "
                    "Ctrl-C). A second Ctrl-C or SIGTERM stops at once. With --deployment NAME: make a run "
                    "of that deployment (--wait: follow it, with the same exit codes).")
    run.add_argument("flow", metavar="FILE.py[:FLOW_NAME]", nargs="?",
                     help="the file defining the flow, and the flow's variable or name "
                          "when the file defines several (or --deployment NAME)")
    run.add_argument("-d", "--deployment", metavar="NAME",
                     help="instead of a file: make a run of deployment NAME (its parameters updated by --param) "
                          "for a worker of its pool to start, and print its id (docs/deployments.md)")
    run.add_argument("--wait", action="store_true",
                     help="with --deployment: follow the run until it ends, with the live progress display, "
                          "and exit as for a flow file (Ctrl-C stops waiting, not the run)")
    run.add_argument("--database", metavar="URL",
                     help="with --deployment: the database keeping the deployment, instead of a server")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a flow parameter; VALUE is parsed as JSON when it is valid JSON "
                          "(n=1000 is an int), else taken as a string; repeatable")
    run.add_argument("-e", "--executor", metavar="NAME",
                     help="the executor to use, by registered name (see `ferroflow plugins`)")
    run.add_argument("-o", "--executor-option", action="append", default=[], metavar="KEY=VALUE",
                     help="an option for the executor's factory, parsed like --param; "
                          "repeatable (needs --executor)")
    run.add_argument("--no-progress", action="store_true",
                     help="no live progress display (the summary is still printed)")
    run.add_argument("--traceback", action="store_true",
                     help="show tracebacks of load and usage errors")
    run.add_argument("--log-level", choices=LOG_LEVELS, metavar="LEVEL",
                     help="the least level of ferroflow's and the tasks' log records kept and shown on the "
                          "console for this run: debug, info, warning, error or critical (default: the "
                          "loggers' own levels, INFO for tasks, and warnings and above on the console)")
    run.add_argument("--resume", metavar="RUN_ID",
                     help="resume an earlier run of this flow (see `ferroflow runs`): task runs "
                          "whose checkpointed results can be read are not run again")
    run.add_argument("--approve", action="append", default=[], metavar="TASK",
                     help="with --resume: approve a task that paused (signals.PAUSE, manual_only) "
                          "or waited behind a pause in that run; repeatable")
    run.add_argument("--approve-all", action="store_true",
                     help="with --resume: approve every task that paused or waited in that run")
    run.add_argument("--keep-results", action="store_true",
                     help="keep every intermediate value until the run ends (by default the CLI, "
                          "which shows only states, releases mapped values once consumed)")
    run.add_argument("--no-record", action="store_true",
                     help="do not record this run in the run store")
    run.add_argument("--server", metavar="URL",
                     help="record the run through this ferroflow server (default: $FERROFLOW_API_URL)")
    run.set_defaults(handler=_cmd_run)

    plugins = sub.add_parser(
        "plugins", help="list installed plugins and what they register",
        description="List installed plugins: name, source, status and registrations.")
    plugins.add_argument("--strict", action="store_true",
                         help="exit with status 1 when a plugin failed to load")
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plugins.add_argument("-v", "--verbose", action="store_true",
                         help="show the full traceback of each failed plugin")
    plugins.set_defaults(handler=_cmd_plugins)

    from ferroflow.cli.cancel import add_parsers as add_cancel_parsers
    from ferroflow.cli.concurrency import add_parsers as add_limit_parsers
    from ferroflow.cli.deployments import add_parsers as add_deployment_parsers
    from ferroflow.cli.plugin_new import add_parsers as add_plugin_new_parsers
    from ferroflow.cli.runs import add_parsers as add_run_store_parsers
    from ferroflow.cli.scheduler import add_parsers as add_scheduler_parsers
    from ferroflow.cli.secrets import add_parsers as add_secret_parsers
    from ferroflow.cli.server import add_parsers as add_server_parsers
    from ferroflow.cli.worker import add_parsers as add_worker_parsers

    add_plugin_new_parsers(sub)  # plugin new
    add_run_store_parsers(sub)  # runs, runs show, logs
    add_server_parsers(sub)  # server start, migrate, create-key, keys, revoke-key, push-spool
    add_secret_parsers(sub)  # secret key, set, ls, rm, rotate
    add_deployment_parsers(sub)  # deploy, deployments ls, show, pause, resume, delete
    add_cancel_parsers(sub)  # cancel RUN_ID
    add_worker_parsers(sub)  # worker, workers, pool ls, pool set
    add_scheduler_parsers(sub)  # scheduler (on its own)
    add_limit_parsers(sub)  # concurrency-limit set, ls, rm
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ferroflow`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, argparse errors
        return _code(exc.code)
    if getattr(args, "handler", None) is None:
        parser.print_usage(sys.stderr)
        print("ferroflow: error: a command is required (run, plugins)", file=sys.stderr)
        return EXIT_USAGE
    try:
        with scrubbed_output():  # secret values read by the command's flow show as ********
            return int(args.handler(args))
    except KeyboardInterrupt:
        print("ferroflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`ferroflow runs show ID | head`): stop quietly, as
        # command-line tools do, and keep Python from failing again on the final flush.
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (captured): nothing to flush
        pass


def _code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _error(exc: BaseException, show_traceback: bool) -> int:
    if show_traceback:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    message = " ".join(str(exc).split("\n")) or type(exc).__name__
    print(f"ferroflow: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# ---------------------------------------------------------------------------
# ferroflow run
# ---------------------------------------------------------------------------


#: The levels ``--log-level`` takes.
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _set_log_level(name: str | None, console: logging.Handler) -> dict[str, int]:
    """Apply ``--log-level``: ferroflow's and the tasks' loggers keep records of that
    level and above, and the console shows them. The loggers' earlier levels, to put
    back after the run."""
    if name is None:
        return {}
    level = getattr(logging, name.upper())
    console.setLevel(level)
    earlier = {}
    for logger_name in ("ferroflow", "ferroflow.task"):
        earlier[logger_name] = logging.getLogger(logger_name).level
        logging.getLogger(logger_name).setLevel(level)
    return earlier


def _cmd_run(args: argparse.Namespace) -> int:
    from ferroflow.cli.deployment_runs import check_options, run_deployment
    from ferroflow.cli.loader import FlowLoadError, load_flow
    from ferroflow.cli.progress import ProgressDisplay

    problem = check_options(args)
    if problem is not None:
        return _error(UsageError(problem), False)
    if args.deployment is not None:
        return run_deployment(args)
    try:
        params = parse_key_values(args.param, "--param")
        executor_options = parse_key_values(args.executor_option, "--executor-option")
        if executor_options and not args.executor:
            raise UsageError("--executor-option needs --executor NAME")
        if (args.approve or args.approve_all) and not args.resume:
            raise UsageError("--approve and --approve-all need --resume RUN_ID")
        flow = load_flow(args.flow)
        executor = None
        if args.executor:
            from ferroflow.plugins import get_executor

            executor = get_executor(args.executor, **executor_options)
        if not hasattr(flow, "tasks"):  # an @flow function (ferroflow.eager): no graph to run
            return _cmd_run_eager(args, flow, params, executor)
        try:
            from ferroflow.engine import run_flow
        except ImportError as exc:
            raise UsageError(f"the ferroflow engine cannot be imported: {exc}") from exc
    except (UsageError, FlowLoadError, PluginError) as exc:
        return _error(exc, args.traceback)

    from ferroflow.cli.interrupts import StopSignals
    from ferroflow.engine.resume import ResumeError
    from ferroflow.store import StateStoreError, UnknownRunError

    display = ProgressDisplay(mode="off" if args.no_progress else "auto")
    record = False if args.no_record else None
    stop = StopSignals()
    try:
        with _console_logging(display, args.log_level), stop:
            approve = True if args.approve_all else (args.approve or None)
            state = run_flow(flow, parameters=params, executor=executor, progress=display, record=record,
                             server=args.server,
                             resume=args.resume, approve=approve, keep_results=args.keep_results)
    except KeyboardInterrupt:
        display.close()
        print("ferroflow: interrupted", file=sys.stderr)
        return stop.exit_code(EXIT_INTERRUPTED)
    except (ParameterError, FlowDefinitionError, PluginError, UnknownRunError, ResumeError,
            StateStoreError) as exc:
        display.close()
        return _error(exc, args.traceback)
    except Exception as exc:  # the engine should not raise; report it
        display.close()
        return _unexpected(exc)
    # The engine sets both on the final state of a flow run (``recorded`` when a run store kept it).
    run_id: str | None = getattr(state, "flow_run_id", None)
    if run_id is not None and getattr(state, "recorded", False):
        print(f"Flow run id: {run_id}  (details: ferroflow runs show {run_id[:12]})")
        if stop.received is not None and state.is_cancelled():
            print(f"ferroflow: the run was cancelled by {signal.Signals(stop.received).name}; go on with "
                  f"`ferroflow run {shlex.quote(args.flow)} --resume {run_id[:12]}`", file=sys.stderr)
    if state.is_successful():
        return EXIT_OK
    if state.is_cancelled():
        return stop.exit_code(EXIT_INTERRUPTED)
    if state.is_paused():
        return EXIT_PAUSED
    return EXIT_FAILED


@contextlib.contextmanager
def _console_logging(display: Any, log_level: str | None) -> Iterator[None]:
    """For a ``ferroflow run``: log records shown on the console beside ``display``, at
    ``--log-level``; the loggers' levels put back after."""
    from ferroflow.cli.console import ConsoleLog

    console = ConsoleLog(display)
    logger = logging.getLogger("ferroflow")
    logger.addHandler(console)
    levels = _set_log_level(log_level, console)
    try:
        yield
    finally:
        logger.removeHandler(console)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _unexpected(exc: BaseException) -> int:
    """Report an error a flow run should never raise (a bug): its traceback."""
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    print(f"ferroflow: error: the flow run raised {type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_FAILED


def _cmd_run_eager(args: argparse.Namespace, flow: Any, params: dict, executor: Any) -> int:
    """``ferroflow run`` of an ``@flow`` function (see :mod:`ferroflow.cli.eager_run`)."""
    from ferroflow.cli.eager_run import EagerProgress
    from ferroflow.cli.interrupts import StopSignals
    from ferroflow.cli.progress import ProgressDisplay
    from ferroflow.engine.resume import ResumeError
    from ferroflow.engine.runner import open_run_store
    from ferroflow.store import StateStoreError, UnknownRunError

    if args.approve or args.approve_all:
        return _error(UsageError("--approve and --approve-all approve paused tasks of deferred flows; "
                                 f"{flow.name!r} is an @flow function"), args.traceback)
    if executor is not None:
        flow = flow.with_options(executor=executor)
    progress = EagerProgress(ProgressDisplay(mode="off" if args.no_progress else "auto"))
    stop = StopSignals()
    interrupted = False
    try:
        with _console_logging(progress, args.log_level), stop:
            store = open_run_store(False if args.no_record else None, args.server)
            try:
                state = flow.run_with(params, resume=args.resume, store=store, progress=progress)
            except KeyboardInterrupt:
                interrupted = True
    except (ParameterError, UnknownRunError, ResumeError, StateStoreError) as exc:
        progress.close()
        return _error(exc, args.traceback)
    except Exception as exc:  # the run should not raise; report it
        progress.close()
        return _unexpected(exc)
    run = progress.run
    run_id = None if run is None else run.info.flow_run_id
    if run_id is not None and run.recorder.recorded:
        print(f"Flow run id: {run_id}  (details: ferroflow runs show {run_id[:12]})")
    if interrupted:
        print("ferroflow: interrupted", file=sys.stderr)
        if run_id is not None:
            print(f"ferroflow: the run was cancelled; go on with `ferroflow run {shlex.quote(args.flow)} --resume "
                  f"{run_id[:12]}`", file=sys.stderr)
        return stop.exit_code(EXIT_INTERRUPTED)
    return EXIT_OK if state.is_completed() else EXIT_FAILED


# ---------------------------------------------------------------------------
# ferroflow plugins
# ---------------------------------------------------------------------------


def _cmd_plugins(args: argparse.Namespace) -> int:
    from ferroflow.plugins import list_plugins

    records = list_plugins()
    if args.json:
        import dataclasses

        # "qualified": each name as `distribution:name`, the form that is never ambiguous
        print(json.dumps([{**dataclasses.asdict(r), "qualified": {
            kind: [r.qualified(n) for n in names] for kind, names in r.registrations.items()}}
            for r in records], indent=2))
    else:
        print(_plugins_table(records, verbose=args.verbose), end="")
    failed = any(r.status == "failed" for r in records)
    return EXIT_FAILED if (args.strict and failed) else EXIT_OK


def _plugins_table(records: list[Any], *, verbose: bool = False) -> str:
    if not records:
        return "No plugins installed.\n"
    rows = [["NAME", "SOURCE", "STATUS", "REGISTERS"]]
    notes: dict[int, list[str]] = {}
    for i, record in enumerate(records):
        registers = "; ".join(f"{kind}: {', '.join(record.qualified(n) for n in names)}"
                              for kind, names in record.registrations.items() if names)
        rows.append([record.name, record.source, record.status, registers or "-"])
        lines = []
        if record.error:
            lines.append(f"error: {_last_line(record.error)}")
        lines.extend(f"warning: {w}" for w in record.warnings)
        if verbose and record.traceback:
            lines.extend(record.traceback.rstrip().splitlines())
        if lines:
            notes[i + 1] = lines
    out = []
    for i, line in enumerate(format_table(rows, console=terminal_for(sys.stdout), state_column=2)):
        out.append(line)
        out.extend("    " + note for note in notes.get(i, []))
    return "\n".join(out) + "\n"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text

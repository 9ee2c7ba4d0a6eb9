"""``ferroflow deploy`` and ``ferroflow deployments``: make and manage deployments.

::

    ferroflow deploy FILE.py:FLOW --name NAME [--cron EXPR | --interval SECONDS]
                     [--param KEY=VALUE ...] [--pool NAME] [--tag TAG ...] [--description TEXT]
                     [--catchup latest|all] [--executor NAME [--executor-option KEY=VALUE ...]]
                     [--retries N] [--concurrency-limit N] [--server URL | --database URL]
    ferroflow deploy --all [--file ferroflow.toml] [--server URL | --database URL]
    ferroflow deployments [ls]            every deployment
    ferroflow deployments show NAME       one deployment's recipe
    ferroflow deployments pause NAME      its schedule makes no runs
    ferroflow deployments resume NAME
    ferroflow deployments delete NAME     (its runs stay)

``deploy`` imports the file to check that the flow is there and that every ``--param``
is one of its parameters; deploying again under a name updates that deployment.
``deploy --all`` deploys every deployment a project's ``ferroflow.toml`` declares
(:mod:`ferroflow.cli.project_file`), all checked before any is deployed.
Deployments are kept by the server (``--server URL`` or ``FERROFLOW_API_URL``; its key
from ``FERROFLOW_API_KEY``), else in the database (``--database URL``, else
``FERROFLOW_DATABASE_URL``, else ``$FERROFLOW_HOME/runs.db``). Exit codes: 0 done, 1
the server or database failed, 2 usage error, invalid recipe or unknown deployment.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import Any

from ferroflow.cli.commands import EXIT_USAGE, fail, server_or_database

__all__ = ["add_parsers"]

EXIT_OK = 0
EXIT_FAILED = 1


def _where(parser: argparse.ArgumentParser, default: Any = None) -> None:
    server_or_database(parser, "deployments", default)


def add_parsers(sub: Any) -> None:
    """Register ``deploy`` and ``deployments`` on the ``ferroflow`` parser's sub-command
    action ``sub``."""
    deploy = sub.add_parser(
        "deploy", help="make or update a deployment of a flow",
        description="Make a deployment NAME of the flow FILE.py:FLOW (or package.module:flow): a stored recipe of "
                    "its runs (parameters, schedule, work pool, tags). Deploying again under NAME updates it. The "
                    "flow is imported to check it exists and takes the parameters given. `deploy --all` deploys "
                    "every deployment of a project's ferroflow.toml (docs/deployments.md).")
    deploy.add_argument("entrypoint", metavar="FILE.py:FLOW", nargs="?",
                        help="the flow: path/to/file.py:flow or package.module:flow")
    deploy.add_argument("--name", help="the deployment's name (1 to 200 characters, no '/'); required with "
                                       "FILE.py:FLOW")
    deploy.add_argument("--all", action="store_true",
                        help="deploy every deployment a project file declares (ferroflow.toml, or --file), each "
                             "checked first: nothing is deployed when one is invalid")
    deploy.add_argument("--file", metavar="PATH", help="with --all: the project file (default: ferroflow.toml)")
    when = deploy.add_mutually_exclusive_group()
    when.add_argument("--cron", metavar="EXPR", help="run on this cron schedule ('0 3 * * *': 03:00 UTC daily)")
    when.add_argument("--interval", type=_seconds, metavar="SECONDS", help="run every SECONDS seconds")
    deploy.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter of its runs (VALUE parsed as JSON when valid JSON); repeatable")
    deploy.add_argument("--pool", default="default", metavar="NAME", help="the work pool (default: default)")
    deploy.add_argument("--tag", action="append", default=[], metavar="TAG", help="a tag of its runs; repeatable")
    deploy.add_argument("--description", default="", metavar="TEXT", help="what it is for")
    deploy.add_argument("--catchup", choices=("latest", "all"), default="latest",
                        help="after downtime, start only the latest missed run (default) or all of them")
    deploy.add_argument("-e", "--executor", metavar="NAME",
                        help="the executor its runs use, by registered name (default: the flow's, else local)")
    deploy.add_argument("-o", "--executor-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of the executor's factory, parsed like --param; repeatable (needs --executor)")
    deploy.add_argument("--retries", type=_count(0), default=0, metavar="N",
                        help="how often a crashed run is resumed from its checkpoints (default 0)")
    deploy.add_argument("--concurrency-limit", type=_count(1), metavar="N",
                        help="at most N runs of it at once (default: no limit)")
    _where(deploy)
    deploy.set_defaults(handler=cmd_deploy)

    group = sub.add_parser(
        "deployments", help="list, show, pause, resume and delete deployments",
        description="List deployments (`ls`, the default), show one, pause or resume its schedule, delete it.")
    _where(group)
    group.set_defaults(handler=cmd_ls)
    commands = group.add_subparsers(dest="deployments_command", metavar="{ls,show,pause,resume,delete}")
    ls = commands.add_parser("ls", help="list deployments")
    _where(ls, argparse.SUPPRESS)
    ls.set_defaults(handler=cmd_ls)
    for name, help_text, handler in (("show", "show a deployment's recipe", cmd_show),
                                     ("pause", "pause a deployment's schedule (runs on request stay possible)",
                                      cmd_pause),
                                     ("resume", "resume a paused deployment's schedule", cmd_resume),
                                     ("delete", "delete a deployment (its runs stay)", cmd_delete)):
        command = commands.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        command.add_argument("name", metavar="NAME")
        _where(command, argparse.SUPPRESS)
        command.set_defaults(handler=handler)


def _count(least: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {least}, got {text!r}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def _failed(exc: BaseException) -> int:
    """Say what failed: exit code 2 for an invalid recipe or unknown deployment, else 1."""
    from ferroflow.store.deployments import DeploymentError, UnknownDeploymentError

    code = EXIT_USAGE if isinstance(exc, (DeploymentError, UnknownDeploymentError)) else EXIT_FAILED
    return fail(" ".join(str(exc).split("\n")) or type(exc).__name__, code)


def _errors() -> tuple:
    from ferroflow.client.http import ClientError, Unreachable
    from ferroflow.errors import FerroflowError
    from ferroflow.store.deployments import DeploymentError, UnknownDeploymentError
    from ferroflow.store.errors import StateStoreError

    return (DeploymentError, UnknownDeploymentError, ClientError, Unreachable, StateStoreError, FerroflowError,
            OSError)


def _schedule(args: argparse.Namespace) -> Any:
    from ferroflow.schedules import CronClock, IntervalClock

    if args.cron is not None:
        return CronClock(args.cron)
    if args.interval is not None:
        return IntervalClock(datetime.timedelta(seconds=args.interval))
    return None


def cmd_deploy(args: argparse.Namespace) -> int:
    """``ferroflow deploy FILE.py:FLOW --name NAME ...``."""
    from ferroflow.cli import UsageError, parse_key_values
    from ferroflow.cli.loader import load_entrypoint
    from ferroflow.client.deployments import deploy_flow
    from ferroflow.store.deployments import check_entrypoint

    if args.all:
        return cmd_deploy_all(args)
    if args.file is not None:
        return fail("--file needs --all", EXIT_USAGE)
    if args.entrypoint is None or args.name is None:
        return fail("give FILE.py:FLOW and --name NAME (or --all to deploy what ferroflow.toml declares)", EXIT_USAGE)
    try:
        check_entrypoint(args.entrypoint)
        parameters = parse_key_values(args.param, "--param")
        executor_options = parse_key_values(args.executor_option, "--executor-option")
        if executor_options and not args.executor:
            raise UsageError("--executor-option needs --executor NAME")
        schedule = _schedule(args)
        flow = load_entrypoint(args.entrypoint)
    except (UsageError, ValueError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except _errors() as exc:
        return fail(" ".join(str(exc).split("\n")), EXIT_USAGE)
    try:
        made, created = deploy_flow(flow, args.name, args.entrypoint, parameters=parameters, schedule=schedule,
                                    server=args.server, database=args.database, pool=args.pool, tags=args.tag,
                                    description=args.description, catchup=args.catchup, executor=args.executor,
                                    executor_options=executor_options, retries=args.retries,
                                    concurrency_limit=args.concurrency_limit)
    except _errors() as exc:
        return _failed(exc)
    print(_deployed(made, created))
    return EXIT_OK


def _deployed(made: Any, created: bool) -> str:
    return (f"Deployment {made.name} {'created' if created else 'updated'}: flow {made.flow_name!r} from "
            f"{made.entrypoint}, pool {made.pool}, {_describe_schedule(made.schedule)}.")


#: Options of ``deploy`` that describe one deployment, not taken with ``--all``.
_ONE_DEPLOYMENT = (("entrypoint", "FILE.py:FLOW"), ("name", "--name"), ("cron", "--cron"), ("interval", "--interval"),
                   ("param", "--param"), ("tag", "--tag"), ("description", "--description"),
                   ("executor", "--executor"), ("executor_option", "--executor-option"),
                   ("concurrency_limit", "--concurrency-limit"))


def cmd_deploy_all(args: argparse.Namespace) -> int:
    """``ferroflow deploy --all [--file ferroflow.toml]``: check every deployment the
    project file declares, then deploy each (see :mod:`ferroflow.cli.project_file`)."""
    from ferroflow.cli.project_file import PROJECT_FILE, ProjectFileError, read_project
    from ferroflow.client.deployments import open_deployments

    given = [option for attribute, option in _ONE_DEPLOYMENT if getattr(args, attribute, None)]
    given += [option for attribute, option, default in (("pool", "--pool", "default"),
                                                        ("catchup", "--catchup", "latest"),
                                                        ("retries", "--retries", 0))
              if getattr(args, attribute) != default]
    if given:
        return fail(f"--all deploys what the project file declares: {', '.join(given)} "
                    f"{'belongs' if len(given) == 1 else 'belong'} in its entries", EXIT_USAGE)
    path = args.file or PROJECT_FILE
    try:
        entries = read_project(path)
    except ProjectFileError as exc:
        for problem in exc.problems:
            print(f"ferroflow: error: {problem}", file=sys.stderr)
        print(f"ferroflow: nothing deployed ({len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} "
              f"in {path})", file=sys.stderr)
        return EXIT_USAGE
    done = created_count = 0
    try:
        with open_deployments(args.server, args.database) as place:
            for entry in entries:
                made, created = place.deploy(entry.name, **entry.recipe)
                done += 1
                created_count += created
                print(_deployed(made, created), flush=True)
    except _errors() as exc:
        if done:
            print(f"ferroflow: {done} of {len(entries)} deployments of {path} deployed before this error",
                  file=sys.stderr)
        return _failed(exc)
    print(f"{len(entries)} deployment{'s' if len(entries) != 1 else ''} from {path}: {created_count} created, "
          f"{len(entries) - created_count} updated.")
    return EXIT_OK


def _describe_schedule(spec: dict | None) -> str:
    if spec is None:
        return "no schedule (runs on request)"
    parts = []
    for clock in spec.get("clocks", []):
        if clock.get("kind") == "cron":
            parts.append(f"cron {clock['cron']!r}")
        elif clock.get("kind") == "interval":
            parts.append(f"every {clock['interval']} s")
        else:
            parts.append(str(clock.get("kind")))
    return "schedule: " + ", ".join(parts) if parts else "a schedule with no clock"


def _with(args: argparse.Namespace, action: Any) -> Any:
    from ferroflow.client.deployments import open_deployments

    with open_deployments(args.server, args.database) as place:
        return action(place)


def cmd_ls(args: argparse.Namespace) -> int:
    """``ferroflow deployments [ls]``."""
    from ferroflow.cli.formatting import print_table

    try:
        found = _with(args, lambda place: place.list())
    except _errors() as exc:
        return _failed(exc)
    if not found:
        print("No deployments (make one with `ferroflow deploy FILE.py:FLOW --name NAME`).")
        return EXIT_OK
    rows = [["NAME", "FLOW", "POOL", "SCHEDULE", "PAUSED"]]
    rows.extend([d.name, d.flow_name, d.pool,
                  "-" if d.schedule is None else _describe_schedule(d.schedule).removeprefix("schedule: "),
                 "yes" if d.paused else "no"] for d in found)
    print_table(rows)
    return EXIT_OK


def _show(found: Any) -> None:
    from ferroflow.cli.runs import format_time

    lines = [
        f"Deployment {found.name}" + (" (paused)" if found.paused else ""),
        f"  flow:        {found.flow_name} ({found.entrypoint})",
        f"  schedule:    {_describe_schedule(found.schedule).removeprefix('schedule: ')}",
        f"  parameters:  {json.dumps(found.parameters, sort_keys=True)}",
        f"  pool:        {found.pool}",
        f"  tags:        {', '.join(found.tags) or '-'}",
        f"  executor:    {found.executor or '-'}"
        + (f" {json.dumps(found.executor_options, sort_keys=True)}" if found.executor_options else ""),
        f"  retries:     {found.retries}",
        f"  concurrency: {found.concurrency_limit or 'no limit'}",
        f"  catchup:     {found.catchup}",
        f"  created:     {format_time(found.created_at)}",
        f"  updated:     {format_time(found.updated_at)}",
    ]
    if found.description:
        lines.append(f"  description: {found.description}")
    print("\n".join(lines))


def cmd_show(args: argparse.Namespace) -> int:
    """``ferroflow deployments show NAME``."""
    try:
        found = _with(args, lambda place: place.get(args.name))
    except _errors() as exc:
        return _failed(exc)
    _show(found)
    return EXIT_OK


def cmd_pause(args: argparse.Namespace) -> int:
    """``ferroflow deployments pause NAME``."""
    try:
        _with(args, lambda place: place.pause(args.name))
    except _errors() as exc:
        return _failed(exc)
    print(f"Deployment {args.name} paused: its schedule makes no runs until it is resumed.")
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    """``ferroflow deployments resume NAME``."""
    try:
        _with(args, lambda place: place.resume(args.name))
    except _errors() as exc:
        return _failed(exc)
    print(f"Deployment {args.name} resumed.")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    """``ferroflow deployments delete NAME``."""
    try:
        _with(args, lambda place: place.delete(args.name))
    except _errors() as exc:
        return _failed(exc)
    print(f"Deployment {args.name} deleted (its runs stay).", file=sys.stdout)
    return EXIT_OK

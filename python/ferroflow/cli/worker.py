"""``ferroflow worker``, ``ferroflow workers`` and ``ferroflow pool``: serve a work pool,
see the workers, and set a pool's limit and pause.

::

    ferroflow worker --pool NAME [--concurrency N] [--server URL] [--launcher NAME]
                     [--launcher-option KEY=VALUE ...] [--name NAME] [--dir PATH]
                     [--grace SECONDS] [--cancel-grace SECONDS] [--max-runs N]
    ferroflow workers [--pool NAME]          every worker and its health
    ferroflow pool ls                        every work pool
    ferroflow pool set NAME [--concurrency-limit N | --no-limit] [--pause | --resume]

Each takes ``--server URL`` (default ``FERROFLOW_API_URL``; its key from
``FERROFLOW_API_KEY``). Exit codes: 0 done (a worker: stopped by SIGTERM or Ctrl-C),
1 the server failed or refused, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from ferroflow.cli.commands import EXIT_USAGE, fail, group_usage

__all__ = ["add_parsers"]

EXIT_OK = 0
EXIT_FAILED = 1


def _server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", metavar="URL",
                        help="the ferroflow server (default: $FERROFLOW_API_URL; its key from $FERROFLOW_API_KEY)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds (0 or more), got {text}")
    return value


def add_parsers(sub: Any) -> None:
    """Register ``worker``, ``workers`` and ``pool`` on the ``ferroflow`` parser's
    sub-command action ``sub``."""
    worker = sub.add_parser(
        "worker", help="claim and run the due runs of a work pool",
        description="Serve work pool NAME: claim its due runs from the server and launch each in a process of its "
                    "own, at most N at once; heartbeat; obey cancels. SIGTERM or Ctrl-C stops claiming and gives "
                    "running runs --grace seconds to end, then cancels them (a second signal: at once).")
    worker.add_argument("--pool", required=True, help="the work pool to serve")
    worker.add_argument("--concurrency", type=_positive, default=1, metavar="N", help="runs at once (default 1)")
    _server(worker)
    worker.add_argument("--launcher", default="process",
                        help="how runs are launched: a registered launcher (default: process, a local subprocess)")
    worker.add_argument("--launcher-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of the launcher (VALUE read as JSON, else text); repeatable")
    worker.add_argument("--name", help="the worker's name (default: HOSTNAME-PID)")
    worker.add_argument("--dir", metavar="PATH",
                        help="where deployments' file entrypoints are found (default: the current directory)")
    worker.add_argument("--grace", type=_seconds, default=30.0, metavar="SECONDS",
                        help="on SIGTERM, how long running runs may take to end before they are cancelled (30)")
    worker.add_argument("--cancel-grace", type=_seconds, default=5.0, metavar="SECONDS",
                        help="how long a cancelled run may take to stop before its processes are killed (5)")
    worker.add_argument("--poll", type=_seconds, default=0.25, metavar="SECONDS",
                        help="how often to ask for due runs while slots are free (0.25)")
    worker.add_argument("--max-runs", type=_positive, metavar="N", help="stop after launching N runs")
    worker.set_defaults(handler=cmd_worker)

    workers = sub.add_parser("workers", help="list the workers and their health",
                             description="List the workers the server knows, most recently seen first.")
    workers.add_argument("--pool", help="only the workers of this pool")
    workers.add_argument("--json", action="store_true", help="print JSON")
    _server(workers)
    workers.set_defaults(handler=cmd_workers)

    pool = sub.add_parser("pool", help="list work pools, set a pool's limit or pause",
                          description="Work pools: where deployments' runs wait for workers.")
    pool_sub = pool.add_subparsers(dest="pool_command", metavar="{ls,set}")
    pool.set_defaults(handler=group_usage(pool, "ls, set"))
    ls = pool_sub.add_parser("ls", help="every work pool")
    ls.add_argument("--json", action="store_true", help="print JSON")
    _server(ls)
    ls.set_defaults(handler=cmd_pool_ls)
    set_ = pool_sub.add_parser("set", help="set a pool's concurrency limit or pause (needs an admin key)")
    set_.add_argument("name", metavar="NAME")
    limit = set_.add_mutually_exclusive_group()
    limit.add_argument("--concurrency-limit", type=_positive, metavar="N",
                       help="at most N runs of the pool active at once")
    limit.add_argument("--no-limit", action="store_true", help="remove the pool's limit")
    pause = set_.add_mutually_exclusive_group()
    pause.add_argument("--pause", action="store_true", help="workers claim nothing from the pool")
    pause.add_argument("--resume", action="store_true", help="workers claim from the pool again")
    _server(set_)
    set_.set_defaults(handler=cmd_pool_set)


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _client(args: argparse.Namespace) -> Any:
    from ferroflow.client.http import Client, configured_url

    url = args.server or configured_url()
    if not url:
        raise ValueError("no server: give --server URL or set FERROFLOW_API_URL")
    return Client(url)


def cmd_worker(args: argparse.Namespace) -> int:
    """Serve a pool until stopped."""
    from ferroflow.errors import PluginError
    from ferroflow.worker import Worker

    try:
        options = dict(_option(o) for o in args.launcher_option)
        client = _client(args)
        client.close()
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # (not a line per request)
    try:
        worker = Worker(args.pool, server=client.url, concurrency=args.concurrency, launcher=args.launcher,
                        launcher_options=options, name=args.name, working_dir=args.dir, poll_interval=args.poll,
                        grace=args.grace, cancel_grace=args.cancel_grace, max_runs=args.max_runs)
    except (PluginError, LookupError, ValueError, TypeError) as exc:
        return fail(f"cannot start the worker: {exc}", EXIT_USAGE)
    return worker.serve()


def _served(args: argparse.Namespace, fn: Any) -> int:
    from ferroflow.client.http import ClientError, Unreachable

    try:
        with _client(args) as client:
            return int(fn(client))
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    except Unreachable as exc:
        return fail(str(exc), EXIT_FAILED)
    except ClientError as exc:
        return fail(f"the server refused: {exc.status} {exc.title}: {exc.detail}",
                    EXIT_USAGE if exc.status == 422 else EXIT_FAILED)


def cmd_workers(args: argparse.Namespace) -> int:
    """Print the workers."""
    from ferroflow.cli.formatting import print_table

    def show(client: Any) -> int:
        found = client.get("/api/v1/workers", pool=args.pool)
        if args.json:
            print(json.dumps(found, indent=2))
            return EXIT_OK
        if not found:
            print("No workers.")
            return EXIT_OK
        rows = [[w["id"][:8], w["name"], w["pool"], "healthy" if w["healthy"] else f"silent ({w['state']})",
                 f"{w['running']}/{w['concurrency']}", _ago(w["heartbeat_at"])] for w in found]
        print_table([["ID", "NAME", "POOL", "HEALTH", "RUNS", "LAST SEEN"], *rows])
        return EXIT_OK

    return _served(args, show)


def _ago(when: float) -> str:
    """``12.3s ago``, ``2m03s ago``: the CLI's one duration format."""
    import time

    from ferroflow.cli.formatting import format_duration

    return f"{format_duration(time.time() - when)} ago"


def cmd_pool_ls(args: argparse.Namespace) -> int:
    """Print the work pools."""
    from ferroflow.cli.formatting import print_table

    def show(client: Any) -> int:
        found = client.get("/api/v1/pools")
        if args.json:
            print(json.dumps(found, indent=2))
            return EXIT_OK
        if not found:
            print("No work pools.")
            return EXIT_OK
        rows = [[p["name"], "-" if p["concurrency_limit"] is None else str(p["concurrency_limit"]),
                 "paused" if p["paused"] else "", str(p["active"]), str(p["deployments"])] for p in found]
        print_table([["POOL", "LIMIT", "PAUSED", "ACTIVE", "DEPLOYMENTS"], *rows])
        return EXIT_OK

    return _served(args, show)


def cmd_pool_set(args: argparse.Namespace) -> int:
    """Set a pool's limit or pause."""
    from ferroflow.client.http import _segment

    body: dict[str, Any] = {}
    if args.concurrency_limit is not None or args.no_limit:
        body["concurrency_limit"] = args.concurrency_limit
    if args.pause or args.resume:
        body["paused"] = bool(args.pause)

    def put(client: Any) -> int:
        found = client.put(f"/api/v1/pools/{_segment(args.name)}", body)
        limit = "no limit" if found["concurrency_limit"] is None else f"at most {found['concurrency_limit']} active"
        print(f"Pool {found['name']}: {limit}, {'paused' if found['paused'] else 'not paused'}, "
              f"{found['active']} active run(s).")
        return EXIT_OK

    return _served(args, put)

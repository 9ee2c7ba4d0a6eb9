"""``ferroflow cancel RUN_ID [--server URL]``: cancel a run through a ferroflow server.

The run is named by its id or an unambiguous prefix of it. A run that is ``Running``
becomes ``Cancelling``: the process recording it learns so from the server within
about 2 s and stops before its next task runs (a task already running finishes first),
recording its unfinished task runs and itself ``Cancelled``. A run not started yet
(``Scheduled``, ``Late``, ``Pending``) or ``Paused`` becomes ``Cancelled`` at once.

Exit codes: 0 the cancel was taken (the run is ``Cancelling`` or ``Cancelled``), 1 the
server cannot be reached or refused the request, 2 usage error (no server given, no
such run, an ambiguous prefix), 3 the run had already ended otherwise and cannot be
cancelled.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parsers", "cmd_cancel"]

EXIT_OK = 0
EXIT_SERVER = 1
EXIT_USAGE = 2
EXIT_ENDED = 3


def add_parsers(sub: Any) -> None:
    """Add ``cancel`` to the ``ferroflow`` command's subparsers."""
    cancel = sub.add_parser(
        "cancel", help="cancel a run through a ferroflow server",
        description="Cancel a run: a running one stops before its next task runs (within about 2 s plus the "
                    "running task's own time), with its unfinished task runs Cancelled; one not started yet "
                    "is Cancelled at once. Exit codes: 0 done, 1 server error, 2 usage error or no such run, "
                    "3 the run already ended.")
    cancel.add_argument("run_id", metavar="RUN_ID", help="the run's id, or an unambiguous prefix of it")
    cancel.add_argument("--server", metavar="URL",
                        help="the ferroflow server (default: $FERROFLOW_API_URL; $FERROFLOW_API_KEY: its key)")
    cancel.set_defaults(handler=cmd_cancel)


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel the run ``args.run_id`` on the server; print what happened."""
    from ferroflow.client.http import Client, ClientError, Unreachable, configured_url
    from ferroflow.client.reads import ServerRuns
    from ferroflow.store import AmbiguousRunIdError, UnknownRunError

    url = args.server or configured_url()
    if not url:
        print("ferroflow: error: cancel needs a server: --server URL or FERROFLOW_API_URL", file=sys.stderr)
        return EXIT_USAGE
    try:
        with Client(url) as client:
            run = ServerRuns(client).resolve_run(args.run_id.strip().lower())
            try:
                done = client.cancel_run(run.run_id)
            except ClientError as exc:
                if exc.status == 409:
                    now = client.get_run(run.run_id)
                    state = now.state if now is not None else run.state
                    print(f"ferroflow: run {run.run_id} is {state}: it cannot be cancelled ({exc.detail})",
                          file=sys.stderr)
                    return EXIT_ENDED
                raise
    except (UnknownRunError, AmbiguousRunIdError) as exc:
        print(f"ferroflow: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ClientError as exc:
        if exc.status == 404:
            print(f"ferroflow: error: no run with id {args.run_id!r} on {url}", file=sys.stderr)
            return EXIT_USAGE
        print(f"ferroflow: error: the server at {url} refused: {exc}", file=sys.stderr)
        return EXIT_SERVER
    except Unreachable as exc:
        print(f"ferroflow: error: the server at {url} cannot be reached: {exc}", file=sys.stderr)
        return EXIT_SERVER
    if done.state == "Cancelling":
        print(f"run {done.run_id}: Cancelling (it was {run.state}); the process recording it stops before its "
              f"next task runs and records it Cancelled")
    else:
        print(f"run {done.run_id}: {done.state} (it was {run.state})")
    return EXIT_OK

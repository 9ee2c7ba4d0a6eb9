"""``ferroflow scheduler``: run the scheduler on its own, on a database, until stopped.

::

    ferroflow scheduler [--database URL] [--horizon SECONDS] [--late-after SECONDS]
                        [--interval SECONDS]

It does what the scheduler inside ``ferroflow server start`` does (see
:mod:`ferroflow.server.scheduler`): for servers started with ``--no-scheduler``, or
as one more replica (each scheduled run is still made once). SIGINT or SIGTERM stops
it after the tick under way. Exit codes: 0 stopped, 1 the database cannot be used,
2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from ferroflow.cli.commands import database_option, fail
from ferroflow.cli.server import _seconds, chosen_scheduler_options, scheduler_options

__all__ = ["add_parsers", "cmd_scheduler"]


def add_parsers(sub: Any) -> None:
    """Register ``scheduler`` on the ``ferroflow`` parser's sub-command action ``sub``."""
    parser = sub.add_parser(
        "scheduler", help="make deployments' scheduled runs (the server's scheduler, on its own)",
        description="Make the runs of deployments' schedules ahead of time on a database and mark late runs, "
                    "until SIGINT or SIGTERM: what `ferroflow server start` does unless --no-scheduler. Any "
                    "number may run at once; each scheduled run is made once.")
    database_option(parser)
    scheduler_options(parser, horizon="--horizon")
    parser.add_argument("--interval", type=_seconds, metavar="SECONDS",
                        help="seconds between ticks (default 1)")
    parser.set_defaults(handler=cmd_scheduler)


def cmd_scheduler(args: argparse.Namespace) -> int:
    """``ferroflow scheduler``: tick until SIGINT/SIGTERM."""
    from ferroflow.cli.server import _database_errors, _describe, _open, _shown
    from ferroflow.server.scheduler import Scheduler

    options = chosen_scheduler_options(args)
    if options.get("interval") == 0:
        return fail("--interval must be more than 0 seconds", 2)
    try:
        engine = _open(args.database)
    except _database_errors() as exc:
        return fail(_describe(exc), 1)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("ferroflow.scheduler")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    scheduler = Scheduler(engine, **options)
    print(f"ferroflow scheduler on database {_shown(engine)} (every {scheduler.interval:g} s, {scheduler.horizon:g} s "
          f"ahead, Late after {scheduler.grace:g} s); stop it with Ctrl-C or SIGTERM", file=sys.stderr, flush=True)

    def stop(signum: int, frame: Any) -> None:
        scheduler.request_stop()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.start()
        while not scheduler.wait(1.0):
            pass
        scheduler.stop()
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        logger.removeHandler(handler)
        engine.dispose()
    print(f"ferroflow scheduler stopped: {scheduler.made} run(s) made in {scheduler.ticks} tick(s).", file=sys.stderr)
    return 0

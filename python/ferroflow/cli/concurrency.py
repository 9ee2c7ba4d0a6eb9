"""``ferroflow concurrency-limit``: tag concurrency limits (at most N task runs carrying
a tag run at once, across every flow run).

::

    ferroflow concurrency-limit set TAG N   at most N task runs of TAG at once (0: none runs)
    ferroflow concurrency-limit ls          every limit, with its slots in use
    ferroflow concurrency-limit rm TAG      TAG is no longer limited

Limits are kept by the server (``--server URL`` or ``FERROFLOW_API_URL``; its key from
``FERROFLOW_API_KEY``: setting and removing need an ``admin`` key), else in the database
(``--database URL``, else ``FERROFLOW_DATABASE_URL``, else ``$FERROFLOW_HOME/runs.db``).
Exit codes: 0 done, 1 the server or database failed, 2 usage error, invalid limit or
unknown tag. See ``docs/concurrency-limits.md``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ferroflow.cli.commands import EXIT_USAGE, fail, server_or_database

__all__ = ["add_parsers"]

EXIT_OK = 0
EXIT_FAILED = 1


def _where(parser: argparse.ArgumentParser, default: Any = None) -> None:
    server_or_database(parser, "the limits", default)


def _slots(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of slots, 0 or more, got {text!r}")
    return value


def add_parsers(sub: Any) -> None:
    """Register ``concurrency-limit`` on the ``ferroflow`` parser's sub-command action ``sub``."""
    group = sub.add_parser(
        "concurrency-limit", help="set, list and remove tag concurrency limits",
        description="Tag concurrency limits: at most N task runs carrying a tag run at once, across every flow "
                    "run recorded in the same database. `ls` (the default) lists them.")
    _where(group)
    group.set_defaults(handler=cmd_ls)
    commands = group.add_subparsers(dest="limit_command", metavar="{set,ls,rm}")
    setting = commands.add_parser("set", help="set a tag's limit",
                                  description="At most N task runs carrying TAG run at once (0: none runs until "
                                              "the limit is raised or removed).")
    setting.add_argument("tag", metavar="TAG")
    setting.add_argument("slots", metavar="N", type=_slots)
    _where(setting, argparse.SUPPRESS)
    setting.set_defaults(handler=cmd_set)
    ls = commands.add_parser("ls", help="list limits and their slots in use")
    _where(ls, argparse.SUPPRESS)
    ls.set_defaults(handler=cmd_ls)
    rm = commands.add_parser("rm", help="remove a tag's limit", description="TAG is no longer limited.")
    rm.add_argument("tag", metavar="TAG")
    _where(rm, argparse.SUPPRESS)
    rm.set_defaults(handler=cmd_rm)


def _errors() -> tuple:
    from ferroflow.client.http import ClientError, Unreachable
    from ferroflow.errors import FerroflowError
    from ferroflow.store.concurrency import LimitError, UnknownLimitError
    from ferroflow.store.errors import StateStoreError

    return (LimitError, UnknownLimitError, ClientError, Unreachable, StateStoreError, FerroflowError, OSError)


def _failed(exc: BaseException) -> int:
    from ferroflow.store.concurrency import LimitError, UnknownLimitError

    code = EXIT_USAGE if isinstance(exc, (LimitError, UnknownLimitError)) else EXIT_FAILED
    return fail(" ".join(str(exc).split("\n")) or type(exc).__name__, code)


def _with(args: argparse.Namespace, action: Any) -> Any:
    from ferroflow.client.concurrency import open_limits

    with open_limits(getattr(args, "server", None), getattr(args, "database", None)) as place:
        return action(place)


def cmd_set(args: argparse.Namespace) -> int:
    """``ferroflow concurrency-limit set TAG N``."""
    try:
        made, created = _with(args, lambda place: place.set(args.tag, args.slots))
    except _errors() as exc:
        return _failed(exc)
    what = "no task run" if made.slots == 0 else f"at most {made.slots} task run{'s' if made.slots != 1 else ''}"
    print(f"Concurrency limit {'set' if created else 'changed'}: {what} of tag {made.tag!r} at once "
          f"({made.in_use} in use now).")
    return EXIT_OK


def cmd_ls(args: argparse.Namespace) -> int:
    """``ferroflow concurrency-limit [ls]``."""
    from ferroflow.cli.formatting import print_table

    try:
        found = _with(args, lambda place: place.list())
    except _errors() as exc:
        return _failed(exc)
    if not found:
        print("No concurrency limits (set one with `ferroflow concurrency-limit set TAG N`).")
        return EXIT_OK
    rows = [["TAG", "LIMIT", "IN USE"]]
    rows.extend([x.tag, str(x.slots), str(x.in_use)] for x in found)
    print_table(rows)
    return EXIT_OK


def cmd_rm(args: argparse.Namespace) -> int:
    """``ferroflow concurrency-limit rm TAG``."""
    try:
        _with(args, lambda place: place.delete(args.tag))
    except _errors() as exc:
        return _failed(exc)
    print(f"Concurrency limit of tag {args.tag!r} removed: its task runs are no longer limited.")
    return EXIT_OK

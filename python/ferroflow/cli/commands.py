"""What the ``ferroflow`` command groups share (``runs``, ``server``, ``secret``):
saying that a command failed, the ``--database`` option, the answer to a group given
without its command, and opening a database migrated to the current schema."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ferroflow.store.config import DATABASE_ENV

__all__ = ["EXIT_USAGE", "database_option", "fail", "group_usage", "open_database", "server_or_database"]

EXIT_USAGE = 2


def fail(message: str, code: int) -> int:
    """Print ``ferroflow: error: message`` on standard error; return ``code``."""
    print(f"ferroflow: error: {message}", file=sys.stderr)
    return code


def database_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """Add ``--database URL`` to ``parser`` (``help``: what it replaces, when that is
    not the default database)."""
    parser.add_argument("--database", metavar="URL",
                        help=help or f"the database: postgresql://..., sqlite:///PATH or a file path (default "
                                     f"${DATABASE_ENV}, else $FERROFLOW_HOME/runs.db)")


def server_or_database(parser: argparse.ArgumentParser, what: str, default: Any = None) -> None:
    """Add ``--server URL`` and ``--database URL`` to a command of things kept by a
    server or in a database (``what``: "deployments", "the limits")."""
    parser.add_argument("--server", metavar="URL", default=default,
                        help=f"the ferroflow server keeping {what} (default: $FERROFLOW_API_URL when set, else "
                             f"the database); its key from $FERROFLOW_API_KEY")
    parser.add_argument("--database", metavar="URL", default=default,
                        help="the database (a path or URL) instead of the server or the default database")


def group_usage(parser: argparse.ArgumentParser, commands: str) -> Any:
    """The handler of a command group given without one of its ``commands`` (a text,
    ``"start, migrate"``): prints the group's usage and says so; exit code 2."""
    name = parser.prog.split()[-1]

    def usage(args: argparse.Namespace) -> int:
        parser.print_usage(sys.stderr)
        return fail(f"a {name} command is required ({commands})", EXIT_USAGE)

    return usage


def open_database(url: str) -> Any:
    """A SQLAlchemy engine of the database at ``url``, migrated to the current schema
    (disposed again when that fails). Raises what making the engine or migrating raises
    (:class:`~ferroflow.store.StateStoreError`, SQLAlchemy's errors, OSError)."""
    from ferroflow.store.database import make_engine
    from ferroflow.store.migrations import migrate

    engine = make_engine(url)
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine

"""``ferroflow server``: run the server, migrate its database, manage API keys.

::

    ferroflow server start [--host 127.0.0.1] [--port 4300] [--database URL] [--auth]
                           [--no-scheduler] [--schedule-horizon SECONDS] [--late-after SECONDS]
    ferroflow server migrate [--database URL]
    ferroflow server create-key --name NAME --role read|run|admin [--database URL]
    ferroflow server keys [--database URL]
    ferroflow server revoke-key ID_OR_PREFIX [--database URL]

The database is ``--database`` (a URL: ``postgresql://user@host/db``, ``sqlite:///path``,
or an SQLite file's path), else ``FERROFLOW_DATABASE_URL``, else the embedded SQLite
file ``$FERROFLOW_HOME/runs.db``. Authentication is always on when the server listens
on an address other than loopback; on loopback it is off unless ``--auth`` (or
``FERROFLOW_SERVER_AUTH=1``). Exit codes: 0 done, 1 the database cannot be used,
2 usage error.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import Any

from ferroflow.cli.commands import EXIT_USAGE, database_option, fail, group_usage, open_database
from ferroflow.cli.formatting import print_table
from ferroflow.store.config import DATABASE_ENV

__all__ = ["DATABASE_ENV", "AUTH_ENV", "DEFAULT_PORT", "add_parsers", "database_url", "needs_auth",
           "chosen_scheduler_options", "scheduler_options"]

AUTH_ENV = "FERROFLOW_SERVER_AUTH"
DEFAULT_PORT = 4300

EXIT_OK = 0
EXIT_DATABASE = 1

_ON = {"1", "true", "yes", "on"}


def add_parsers(sub: Any) -> None:
    """Register ``server`` and its commands on the ``ferroflow`` parser's sub-command
    action ``sub``."""
    server = sub.add_parser(
        "server", help="run the ferroflow server, migrate its database, manage API keys",
        description="The ferroflow server: every run in one database, an HTTP API under /api/v1 "
                    "(see docs/server.md).")
    commands = server.add_subparsers(dest="server_command", metavar="COMMAND")

    start = commands.add_parser(
        "start", help="serve the API (migrating the database first)",
        description="Serve the API with uvicorn, after migrating the database. Authentication (API keys) is "
                    "always on when listening on an address other than loopback.")
    start.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; anything but loopback turns auth on)")
    start.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    database_option(start)
    start.add_argument("--auth", action="store_true",
                       help=f"require API keys on loopback too (also {AUTH_ENV}=1)")
    start.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                       help="uvicorn's log level (default info)")
    start.add_argument("--tls-cert", metavar="FILE",
                       help="serve HTTPS with this certificate (PEM; with --tls-key): the web UI's session cookie "
                            "is then Secure")
    start.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    start.add_argument("--no-scheduler", action="store_true",
                       help="do not make deployments' scheduled runs in this process (run `ferroflow scheduler` "
                            "apart, or another server does it)")
    scheduler_options(start)
    start.set_defaults(handler=cmd_start)

    migrate = commands.add_parser("migrate", help="bring the database to the current schema",
                                  description="Create or upgrade the server's database to the current schema.")
    database_option(migrate)
    migrate.set_defaults(handler=cmd_migrate)

    create = commands.add_parser(
        "create-key", help="make an API key (printed once)",
        description="Make an API key and print it, once: the database keeps only its hash. Roles: read (look), "
                    "run (create, change and cancel runs, approve tasks, record runs), admin (everything, keys too).")
    create.add_argument("--name", required=True, help="what the key is for (shown in `ferroflow server keys`)")
    create.add_argument("--role", required=True, choices=["read", "run", "admin"], help="what the key may do")
    database_option(create)
    create.set_defaults(handler=cmd_create_key)

    keys = commands.add_parser("keys", help="list API keys",
                               description="List the API keys (never the keys themselves: their prefixes).")
    database_option(keys)
    keys.set_defaults(handler=cmd_keys)

    revoke = commands.add_parser("revoke-key", help="revoke an API key",
                                 description="Revoke an API key, by id or prefix (see `ferroflow server keys`).")
    revoke.add_argument("key", metavar="ID_OR_PREFIX")
    database_option(revoke)
    revoke.set_defaults(handler=cmd_revoke_key)

    push = commands.add_parser(
        "push-spool", help="send the records that runs left in spool files",
        description="Send the batches of records that processes which recorded through a server left in "
                    "$FERROFLOW_HOME/spool when that server could not take them before they exited (a file whose "
                    "process still runs is left to it). A batch sent twice is applied once.")
    push.add_argument("--server", metavar="URL",
                      help="only the files for this server (default: every file, each to the server it names)")
    push.set_defaults(handler=cmd_push_spool)

    server.set_defaults(handler=group_usage(server, "start, migrate, create-key, keys, revoke-key, push-spool"))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 <= value < 1e9:
        raise argparse.ArgumentTypeError(f"expected a number of seconds from 0, got {text!r}")
    return value


def scheduler_options(parser: argparse.ArgumentParser, horizon: str = "--schedule-horizon") -> None:
    """Add the scheduler's horizon (option ``horizon``) and ``--late-after`` (its grace)
    to ``parser``; unset, they are None (the scheduler's defaults, 3600 and 60 s)."""
    parser.add_argument(horizon, dest="schedule_horizon", type=_seconds, metavar="SECONDS",
                        help="make deployments' scheduled runs this far ahead (default 3600)")
    parser.add_argument("--late-after", type=_seconds, metavar="SECONDS",
                        help="a run not started this long after its time becomes Late; one due longer ago while "
                             "no scheduler ran was missed, and its deployment's catchup policy decides "
                             "(default 60)")


def chosen_scheduler_options(args: argparse.Namespace) -> dict:
    """The scheduler's options given on the command line (``horizon``, ``grace``,
    ``interval``), without those left unset."""
    given = {"horizon": args.schedule_horizon, "grace": args.late_after,
             "interval": getattr(args, "interval", None)}
    return {k: v for k, v in given.items() if v is not None}


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value}")
    return value


def database_url(given: str | None) -> str:
    """The database to use: ``given``, else ``FERROFLOW_DATABASE_URL``, else the embedded
    SQLite file ``$FERROFLOW_HOME/runs.db``."""
    from ferroflow.store.database import default_database_url

    return given or default_database_url()


def needs_auth(host: str, asked: bool) -> bool:
    """Whether the server requires API keys: always when ``host`` is not a loopback
    address (a name other than ``localhost`` counts as not loopback), else when asked
    (``--auth`` or ``FERROFLOW_SERVER_AUTH=1``)."""
    if asked or os.environ.get(AUTH_ENV, "").strip().lower() in _ON:
        return True
    if host.strip().lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True


def _open(given: str | None) -> Any:
    """The migrated database's engine; raises StateStoreError or SQLAlchemyError."""
    return open_database(database_url(given))


def _shown(engine: Any) -> str:
    return engine.url.render_as_string(hide_password=True)


def _database_errors() -> tuple:
    from sqlalchemy.exc import SQLAlchemyError

    from ferroflow.store.errors import StateStoreError

    return (StateStoreError, SQLAlchemyError, OSError)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
    return f"cannot use the database: {text}"


def cmd_start(args: argparse.Namespace) -> int:
    """``ferroflow server start``: migrate, then serve until stopped."""
    import uvicorn

    from ferroflow.errors import SecretError
    from ferroflow.server.app import API_PREFIX, create_app
    from ferroflow.store.keys import list_keys
    from ferroflow.store.secret_store import check_secret_key

    try:
        engine = _open(args.database)
        with engine.connect() as conn:
            active = [k for k in list_keys(conn) if k.active]
        check_secret_key(engine)
    except SecretError as exc:
        return fail(str(exc), EXIT_DATABASE)
    except _database_errors() as exc:
        return fail(_describe(exc), EXIT_DATABASE)
    if bool(args.tls_cert) != bool(args.tls_key):
        return fail("--tls-cert and --tls-key go together: give both (PEM files) or neither", EXIT_USAGE)
    for path in (args.tls_cert, args.tls_key):
        if path and not os.path.isfile(path):
            return fail(f"no such file: {path}", EXIT_USAGE)
    auth = needs_auth(args.host, args.auth)
    app = create_app(engine, auth=auth, scheduler=not args.no_scheduler,
                     scheduler_options=chosen_scheduler_options(args))
    scheme = "https" if args.tls_cert else "http"
    where = f"{scheme}://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    print(f"ferroflow server on {where} (database {_shown(engine)}; API keys "
          f"{'required' if auth else 'not required: loopback only, every request acts as admin'}); "
          f"web UI at {where}/; API reference at {where}{API_PREFIX}/docs", file=sys.stderr, flush=True)
    if auth and not active:
        print("ferroflow: warning: no API key exists yet, so every request will be refused: make one with "
              "`ferroflow server create-key --name NAME --role admin`", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, server_header=False,
                ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key)
    return EXIT_OK


def cmd_push_spool(args: argparse.Namespace) -> int:
    """``ferroflow server push-spool``."""
    from ferroflow.client.http import ClientError, Unreachable
    from ferroflow.store.remote import push_spool

    try:
        done = push_spool(args.server)
    except (ClientError, Unreachable) as exc:
        return fail(f"could not send the spooled records ({exc}); they stay for next time", EXIT_DATABASE)
    for path, sent in done:
        print(f"{path}: {sent} batch(es) sent")
    if not done:
        print("No spool file to send.")
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    """``ferroflow server migrate``."""
    from ferroflow.store.schema import SCHEMA_VERSION

    try:
        engine = _open(args.database)
    except _database_errors() as exc:
        return fail(_describe(exc), EXIT_DATABASE)
    print(f"Database {_shown(engine)} is at schema {SCHEMA_VERSION}.")
    return EXIT_OK


def cmd_create_key(args: argparse.Namespace) -> int:
    """``ferroflow server create-key``: print the new key once."""
    from ferroflow.store.keys import create_key

    try:
        engine = _open(args.database)
        with engine.begin() as conn:
            key, made = create_key(conn, args.name, args.role)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    except _database_errors() as exc:
        return fail(_describe(exc), EXIT_DATABASE)
    print(key)
    print(f"API key {made.id} {made.name!r} (role {made.role}, prefix {made.prefix}): this is the only time the key "
          f"is shown; clients send it as `Authorization: Bearer KEY` (FERROFLOW_API_KEY).", file=sys.stderr)
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    """``ferroflow server keys``: a table of the keys."""
    from ferroflow.cli.runs import format_time
    from ferroflow.store.keys import list_keys

    try:
        engine = _open(args.database)
        with engine.connect() as conn:
            found = list_keys(conn)
    except _database_errors() as exc:
        return fail(_describe(exc), EXIT_DATABASE)
    if not found:
        print("No API keys (make one with `ferroflow server create-key --name NAME --role admin`).")
        return EXIT_OK
    rows = [["ID", "NAME", "ROLE", "PREFIX", "CREATED", "LAST USED", "REVOKED"]]
    for k in found:
        rows.append([str(k.id), k.name, k.role, k.prefix, format_time(k.created_at), format_time(k.last_used_at),
                     format_time(k.revoked_at)])
    print_table(rows)
    return EXIT_OK


def cmd_revoke_key(args: argparse.Namespace) -> int:
    """``ferroflow server revoke-key ID_OR_PREFIX``."""
    from ferroflow.store.keys import UnknownKeyError, revoke_key

    try:
        engine = _open(args.database)
        with engine.begin() as conn:
            revoked = revoke_key(conn, args.key)
    except UnknownKeyError as exc:
        return fail(str(exc), EXIT_USAGE)
    except _database_errors() as exc:
        return fail(_describe(exc), EXIT_DATABASE)
    print(f"Revoked API key {revoked.id} {revoked.name!r} (prefix {revoked.prefix}): requests with it are refused.")
    return EXIT_OK

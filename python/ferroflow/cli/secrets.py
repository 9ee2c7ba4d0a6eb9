"""``ferroflow secret``: set, list and delete secrets, make and rotate keys.

::

    ferroflow secret key                         print a new random key (for FERROFLOW_SECRET_KEY)
    ferroflow secret set NAME [--database URL]   the value from standard input
    ferroflow secret ls [--database URL]         names and times, never values
    ferroflow secret rm NAME [--database URL]
    ferroflow secret rotate --old-key-env VAR [--database URL]
                                                 re-encrypt every secret under FERROFLOW_SECRET_KEY

A value is never taken from the command line (it would be in the shell's history and
in ``ps``): ``set`` reads it from standard input, one trailing newline removed (``echo
"$TOKEN" | ferroflow secret set TOKEN``), or asks for it without echo on a terminal.
Without ``--database``, secrets are those of the server (``FERROFLOW_API_URL``) or of
the default database (``FERROFLOW_DATABASE_URL``, else ``$FERROFLOW_HOME/runs.db``);
``rotate`` works on a database only. Exit codes: 0 done, 1 the key does not match, the
database or the server failed, 2 usage error or unknown secret.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from ferroflow.cli.commands import EXIT_USAGE, database_option, fail, group_usage, open_database

__all__ = ["add_parsers"]

EXIT_OK = 0
EXIT_FAILED = 1


def add_parsers(sub: Any) -> None:
    """Register ``secret`` and its commands on the ``ferroflow`` parser's sub-command
    action ``sub``."""
    secret = sub.add_parser(
        "secret", help="set, list and delete secrets; make and rotate keys",
        description="Secrets are encrypted with the key in FERROFLOW_SECRET_KEY and scrubbed from every log and "
                    "record of the runs that read them (docs/secrets.md).")
    commands = secret.add_subparsers(dest="secret_command", metavar="{key,set,ls,rm,rotate}")
    key = commands.add_parser("key", help="print a new random key for FERROFLOW_SECRET_KEY",
                              description="Print a new random Fernet key: set FERROFLOW_SECRET_KEY to it wherever "
                                          "secrets are set or read, and keep it safe (without it, the secrets "
                                          "cannot be decrypted).")
    key.set_defaults(handler=cmd_key)
    database = argparse.ArgumentParser(add_help=False)
    database_option(database, "the database (a path or URL) instead of the server or the default database")
    set_ = commands.add_parser("set", parents=[database], help="set a secret; the value is read from standard input",
                               description="Set secret NAME to the value read from standard input (one trailing "
                                           "newline removed); on a terminal it is asked for without echo. Never "
                                           "give a value on the command line.")
    set_.add_argument("name", metavar="NAME")
    set_.set_defaults(handler=cmd_set)
    ls = commands.add_parser("ls", parents=[database], help="list secrets: names and times, never values",
                             description="List the secrets: name, when created, when last set.")
    ls.set_defaults(handler=cmd_ls)
    rm = commands.add_parser("rm", parents=[database], help="delete a secret",
                             description="Delete secret NAME (exit code 2 when there is none).")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=cmd_rm)
    rotate = commands.add_parser(
        "rotate", parents=[database], help="re-encrypt every secret under the key in FERROFLOW_SECRET_KEY",
        description="Re-encrypt every secret of the database, in one transaction, with the key in "
                    "FERROFLOW_SECRET_KEY; the old key is read from the environment variable named by "
                    "--old-key-env (never from the command line). Nothing changes if any secret cannot be "
                    "decrypted with the old key.")
    rotate.add_argument("--old-key-env", metavar="VAR", required=True,
                        help="the environment variable holding the key the secrets are encrypted with now")
    rotate.set_defaults(handler=cmd_rotate)
    secret.set_defaults(handler=group_usage(secret, "key, set, ls, rm, rotate"))


def _fail(exc: BaseException, code: int | None = None) -> int:
    """Say what failed; exit code 2 for an unknown secret, else ``code`` (default 1)."""
    from ferroflow.errors import UnknownSecretError

    if code is None:
        code = EXIT_USAGE if isinstance(exc, UnknownSecretError) else EXIT_FAILED
    return fail(str(exc), code)


@contextlib.contextmanager
def _database(url: str) -> Iterator[Any]:
    """A migrated engine of the database at ``url``, disposed after the block."""
    engine = open_database(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _errors() -> tuple:
    from ferroflow.errors import SecretError
    from ferroflow.store.errors import StateStoreError

    return (SecretError, StateStoreError, OSError)


def _read_value(name: str) -> str:
    """The value of ``name`` from standard input (asked for without echo on a terminal)."""
    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        import getpass

        return getpass.getpass(f"Value of secret {name}: ")
    text = "" if stdin is None else stdin.read()
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def cmd_key(args: argparse.Namespace) -> int:
    """``ferroflow secret key``."""
    from ferroflow.store.secret_store import KEY_ENV, new_key

    print(new_key())
    print(f"ferroflow: set {KEY_ENV} to this key wherever secrets are set or read, and keep it safe: the "
          "secrets encrypted with it cannot be decrypted without it", file=sys.stderr)
    return EXIT_OK


def cmd_set(args: argparse.Namespace) -> int:
    """``ferroflow secret set NAME``."""
    from ferroflow import secrets
    from ferroflow.errors import SecretError
    from ferroflow.store.secret_store import check_name, check_value, set_secret

    try:
        name = check_name(args.name)
        value = check_value(name, _read_value(name))
    except SecretError as exc:
        return _fail(exc, EXIT_USAGE)
    try:
        if args.database:
            with _database(args.database) as engine:
                set_secret(engine, name, value)
        else:
            secrets.set(name, value)
    except _errors() as exc:
        return _fail(exc)
    print(f"Secret {name} set.")
    return EXIT_OK


def cmd_ls(args: argparse.Namespace) -> int:
    """``ferroflow secret ls``."""
    from ferroflow import secrets
    from ferroflow.cli.formatting import print_table
    from ferroflow.cli.runs import format_time
    from ferroflow.store.secret_store import list_secrets

    try:
        if args.database:
            with _database(args.database) as engine:
                found = list_secrets(engine)
        else:
            found = secrets.names()
    except _errors() as exc:
        return _fail(exc)
    if not found:
        print("No secrets.")
        return EXIT_OK
    rows = [["NAME", "CREATED", "UPDATED"]]
    rows.extend([info.name, format_time(info.created_at), format_time(info.updated_at)] for info in found)
    print_table(rows)
    return EXIT_OK


def cmd_rm(args: argparse.Namespace) -> int:
    """``ferroflow secret rm NAME``."""
    from ferroflow import secrets
    from ferroflow.errors import SecretError
    from ferroflow.store.secret_store import check_name, delete_secret

    try:
        check_name(args.name)
    except SecretError as exc:
        return _fail(exc, EXIT_USAGE)
    try:
        if args.database:
            with _database(args.database) as engine:
                deleted = delete_secret(engine, args.name)
        else:
            deleted = secrets.delete(args.name)
    except _errors() as exc:
        return _fail(exc)
    if not deleted:
        print(f"ferroflow: error: there is no secret {args.name!r}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Secret {args.name} deleted.")
    return EXIT_OK


def cmd_rotate(args: argparse.Namespace) -> int:
    """``ferroflow secret rotate --old-key-env VAR``."""
    from ferroflow.store.database import default_database_url
    from ferroflow.store.secret_store import KEY_ENV, key_from_env, rotate_keys

    old = os.environ.get(args.old_key_env, "").strip()
    if not old:
        print(f"ferroflow: error: --old-key-env {args.old_key_env}: that environment variable is not set (it "
              "must hold the key the secrets are encrypted with now)", file=sys.stderr)
        return EXIT_USAGE
    try:
        with _database(args.database or default_database_url()) as engine:
            count = rotate_keys(engine, old, key_from_env())
    except _errors() as exc:
        return _fail(exc)
    print(f"Re-encrypted {count} secret(s) with the key in {KEY_ENV}.")
    return EXIT_OK

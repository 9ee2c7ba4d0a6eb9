"""``ferroflow plugin new KIND NAME [DIR] [--force]``: write a starter plugin package.

``KIND`` is ``executor``, ``notifier``, ``result-store`` or ``serializer``; ``NAME`` a
lowercase name such as ``my-pool`` (the distribution is ``ferroflow-NAME``, the module
``ferroflow_NAME``); ``DIR`` defaults to ``./ferroflow-NAME`` and must not exist, or be
empty, unless ``--force`` (which replaces the starter's own files in it and leaves the
rest). What is written is :mod:`ferroflow.starter`'s; this module only parses, prints
the files and the next steps.

Exit codes: 0 written, 2 refused (a bad kind, name or directory; one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parsers", "cmd_plugin_new"]

EXIT_OK = 0
EXIT_USAGE = 2


def add_parsers(sub: Any) -> None:
    """Add ``plugin new`` to the ``ferroflow`` command's subparsers."""
    from ferroflow.starter import KINDS

    plugin = sub.add_parser(
        "plugin", help="start a plugin of your own (plugin new)",
        description="Tools for plugin authors. `ferroflow plugins` lists the installed ones.")
    plugin_sub = plugin.add_subparsers(dest="plugin_command", metavar="SUBCOMMAND", required=True)
    new = plugin_sub.add_parser(
        "new", help="write a ready-to-install plugin package",
        description="Write a plugin package to start from: pyproject.toml with the entry point, a working "
                    "minimal plugin of KIND in src/ferroflow_NAME/, tests running ferroflow's conformance kit "
                    "for that kind, a README and a .gitignore. Exit code: 0 written, 2 refused.")
    new.add_argument("kind", metavar="KIND", choices=list(KINDS), help=f"one of: {', '.join(KINDS)}")
    new.add_argument("name", metavar="NAME",
                     help="the plugin's name, what users write (lowercase letters, digits and dashes: my-pool); "
                          "the distribution is ferroflow-NAME and the module ferroflow_NAME")
    new.add_argument("directory", metavar="DIR", nargs="?",
                     help="where to write the package (default: ./ferroflow-NAME); it must not exist or be empty")
    new.add_argument("--force", action="store_true",
                     help="write into a non-empty DIR, replacing the starter's files there and keeping the rest")
    new.set_defaults(handler=cmd_plugin_new)


def cmd_plugin_new(args: argparse.Namespace) -> int:
    """Write the package of ``args`` and print its files and what to do next."""
    from ferroflow.cli import get_version
    from ferroflow.starter import StarterError, package_files, write_package

    try:
        files = package_files(args.kind, args.name, get_version())
        directory = args.directory if args.directory is not None else f"ferroflow-{args.name}"
        target = write_package(files, directory, force=args.force)
    except StarterError as exc:
        print(f"ferroflow: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    shown = _shown(target)
    print(f"Wrote the {args.kind} plugin ferroflow-{args.name} in {shown}:")
    for path in sorted(files):
        print(f"  {path}")
    print()
    print("Next steps:")
    print(f"  cd {shlex.quote(shown)}")
    print("  python -m pip install -e '.[test]'   # the package and its entry point")
    print("  pytest                               # ferroflow's conformance kit against it")
    print(f"  ferroflow plugins                    # lists {args.name}")
    print(f"Then make it yours: src/ferroflow_{args.name.replace('-', '_')}/__init__.py (see README.md).")
    return EXIT_OK


def _shown(target: Path) -> str:
    """``target`` relative to the current directory when it is inside it."""
    try:
        relative = target.relative_to(Path.cwd().resolve())
    except ValueError:
        return str(target)
    return os.path.join(".", relative) if str(relative) != "." else "."

"""The end every compat recorder shares: a recording made twice must be the same
twice; then it is printed (``-k``), checked against its fixture file (``--check``) or
written to it."""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any


def finish(first: dict, second: dict, fixture: pathlib.Path, *, key: str, version: str, subset: Any,
           check: bool, what: str, took: str = "") -> int:
    """``first`` and ``second`` (name -> record) made by two recordings; ``key`` names
    the records in the file (``"scenarios"``, ``"flows"``), ``version`` the Prefect
    recorded, ``subset`` the ``-k`` filters (print only), ``what`` the records in
    messages. The exit code of the recorder."""
    if first != second:
        bad = sorted(n for n in first if first[n] != second.get(n))
        for n in bad:
            print(f"{n}:\n  first:  {first[n]}\n  second: {second[n]}", file=sys.stderr)
        raise SystemExit(f"non-deterministic {what}: {bad}")
    text = json.dumps({"prefect_version": version, key: first}, indent=1, sort_keys=True,
                      ensure_ascii=False) + "\n"
    if subset:
        sys.stdout.write(text)
        return 0
    took = f", {took}" if took else ""
    if check:
        if not fixture.exists() or fixture.read_text() != text:
            print(f"{fixture.name} is stale; re-run without --check", file=sys.stderr)
            return 1
        print(f"{fixture.name} is up to date ({len(first)} {what}{took})")
        return 0
    fixture.write_text(text)
    print(f"wrote {fixture} ({len(first)} {what}{took})")
    return 0

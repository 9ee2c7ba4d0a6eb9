#!/usr/bin/env python3
"""Set ferroflow's one version number: ``python .ci/set-version.py 0.2.0``.

The number lives in Cargo.toml (``[workspace.package] version``), which feeds the Rust
crates and, through maturin's dynamic version, the ``ferroflow`` distribution. The five
plugins are pure-Python setuptools projects whose sdists must build on their own, so
they carry a static copy; this script rewrites every copy (each plugin's version and its
``ferroflow`` requirement, the extras in pyproject.toml, Cargo.lock's workspace crates)
and ``tests/release/test_release_versions.py`` fails when any of them differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.compile(r"^\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def substitute(path: Path, pattern: str, replacement: str, count: int = 0) -> None:
    """Rewrite ``path`` with ``re.sub``; a pattern that matches nothing is an error."""
    text = path.read_text()
    new, n = re.subn(pattern, replacement, text, count=count, flags=re.MULTILINE)
    if n == 0:
        sys.exit(f"set-version: {pattern!r} not found in {path.relative_to(ROOT)}")
    path.write_text(new)


def set_version(version: str) -> None:
    if not VERSION.match(version):
        sys.exit(f"set-version: {version!r} is not a release version like 1.2.3 or 1.2.3rc1")
    substitute(
        ROOT / "Cargo.toml",
        r'(^\[workspace\.package\]\n(?:[^\[\n].*\n)*?version = ")[^"]*(")',
        rf"\g<1>{version}\g<2>",
        count=1,
    )
    substitute(
        ROOT / "Cargo.lock",
        r'(^name = "ferroflow-(?:core|python)"\nversion = ")[^"]*(")',
        rf"\g<1>{version}\g<2>",
    )
    # The extras: ferroflow-<plugin>==<version>.
    substitute(ROOT / "pyproject.toml", r'("ferroflow-[a-z]+==)[^"]*(")', rf"\g<1>{version}\g<2>")
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        substitute(pyproject, r'(^version = ")[^"]*(")', rf"\g<1>{version}\g<2>", count=1)
        substitute(pyproject, r'("ferroflow==)[^"]*(")', rf"\g<1>{version}\g<2>")
    print(f"ferroflow and its plugins are now {version}; add its CHANGELOG.md entry, then tag v{version}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python .ci/set-version.py VERSION")
    set_version(sys.argv[1])

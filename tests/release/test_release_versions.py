"""One version number: Cargo.toml's ``[workspace.package] version``.

It feeds the Rust crates and (maturin's dynamic version) the ``ferroflow`` distribution.
The plugins are pure-Python projects whose sdists must build on their own, so they keep
static copies, written by ``.ci/set-version.py``; these tests fail when any copy differs
(docs/architecture.md, "Releases").
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli, a dependency of ferroflow there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def the_version(root: Path = ROOT) -> str:
    return tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def copies(root: Path = ROOT) -> dict[str, str]:
    """Every place that repeats the version, by a name saying where: Cargo.lock's
    workspace crates, each plugin's version and its ``ferroflow==`` requirement, and
    each extra's pin."""
    found: dict[str, str] = {}
    lock = tomllib.loads((root / "Cargo.lock").read_text())
    for package in lock["package"]:
        if package["name"] in ("ferroflow-core", "ferroflow-python"):
            found[f"Cargo.lock {package['name']}"] = package["version"]
    for pyproject in sorted((root / "plugins").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        found[f"{project['name']} version"] = project["version"]
        for requirement in project["dependencies"]:
            if re.match(r"ferroflow\b(?!-)", requirement):
                found[f"{project['name']} requires {requirement}"] = requirement.partition("==")[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, requirements in extras.items():
        for requirement in requirements:
            if requirement.startswith("ferroflow-"):
                found[f"ferroflow[{extra}] {requirement}"] = requirement.partition("==")[2]
    return found


def test_every_copy_of_the_version_is_cargo_tomls():
    version = the_version()
    found = copies()
    # Two crates, and for each plugin its version and its ferroflow pin; five extras' pins.
    assert len(found) == 2 + 2 * len(PLUGINS) + len(PLUGINS), found
    assert {where: v for where, v in found.items() if v != version} == {}


def test_the_compiled_core_and_the_command_line_say_the_version():
    import ferroflow._core

    version = the_version()
    assert ferroflow._core.__version__ == version
    done = subprocess.run([sys.executable, "-m", "ferroflow", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ferroflow {version}"


@pytest.fixture
def tree(tmp_path):
    """A copy of the files that carry the version, with .ci/set-version.py."""
    for name in ("Cargo.toml", "Cargo.lock", "pyproject.toml", ".ci/set-version.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    for plugin in PLUGINS:
        (tmp_path / "plugins" / plugin).mkdir(parents=True)
        shutil.copy(ROOT / "plugins" / plugin / "pyproject.toml", tmp_path / "plugins" / plugin / "pyproject.toml")
    return tmp_path


def test_set_version_rewrites_every_copy(tree):
    done = subprocess.run([sys.executable, str(tree / ".ci" / "set-version.py"), "2.3.4rc1"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert the_version(tree) == "2.3.4rc1"
    found = copies(tree)
    assert len(found) == len(copies()), found
    assert set(found.values()) == {"2.3.4rc1"}, found
    # Nothing else in Cargo.toml moved (the edition, the license, the members).
    assert (tree / "Cargo.toml").read_text().replace("2.3.4rc1", the_version()) == (ROOT / "Cargo.toml").read_text()


def test_set_version_refuses_what_is_not_a_version(tree):
    before = (tree / "Cargo.toml").read_text()
    done = subprocess.run([sys.executable, str(tree / ".ci" / "set-version.py"), "v1.2"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "not a release version" in done.stderr
    assert (tree / "Cargo.toml").read_text() == before

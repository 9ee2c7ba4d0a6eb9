"""The extras ``ferroflow[dask]``, ``ferroflow[ray]`` and ``ferroflow[notifiers]`` install
the plugin distributions of plugins/, each pinned to ferroflow's own version."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli, a dependency of ferroflow there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def plugin_projects() -> dict[str, dict]:
    """Each plugin's ``[project]`` table by distribution name."""
    projects = {}
    for pyproject in (ROOT / "plugins").glob("*/pyproject.toml"):
        project = tomllib.loads(pyproject.read_text())["project"]
        projects[project["name"]] = project
    return projects


def test_each_extra_names_its_plugins_at_the_one_version():
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["dask"] == [f"ferroflow-dask=={version}"]
    assert extras["ray"] == [f"ferroflow-ray=={version}"]
    assert sorted(extras["notifiers"]) == sorted(
        f"ferroflow-{name}=={version}" for name in ("webhook", "slack", "email"))


def test_the_extras_name_real_plugins_of_the_right_kind():
    projects = plugin_projects()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = {req.partition("==")[0] for extra in ("dask", "ray", "notifiers") for req in extras[extra]}
    # Every plugin distribution is reachable through an extra, and every extra's is a plugin here.
    assert named == set(projects)
    for requirement in extras["notifiers"]:
        entry_points = projects[requirement.partition("==")[0]]["entry-points"]["ferroflow"]
        module = next(iter(entry_points.values()))
        source = (ROOT / "plugins" / requirement.partition("==")[0] / "src" / module / "__init__.py").read_text()
        assert "notifier" in source.lower(), requirement

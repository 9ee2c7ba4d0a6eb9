"""Fixtures for plugin tests: fake installed distributions and a clean plugin manager."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ferroflow import plugins

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def clean_plugin_manager(monkeypatch: pytest.MonkeyPatch):
    """Each test starts and ends with no manager loaded and no plugin env vars set."""
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    monkeypatch.delenv(plugins.TRACE_ENV, raising=False)
    before = set(sys.modules)
    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()
    for name in set(sys.modules) - before:
        if name.startswith("ferroflow_test"):
            del sys.modules[name]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``install("good", "broken")``: make fixture distributions visible as installed.

    Each one is copied to its own directory on ``sys.path``, in the order given (so
    entry points are discovered in that order), as an installed wheel would be.
    """

    def install(*names: str) -> None:
        for name in reversed(names):
            site = tmp_path / f"site-{name}"
            if site.exists():  # already installed by an earlier call
                continue
            shutil.copytree(FIXTURES / name, site)
            monkeypatch.syspath_prepend(str(site))
        plugins.reset_plugin_manager()

    return install


@pytest.fixture
def plugin_record() -> Callable[[str], plugins.PluginRecord]:
    """``plugin_record("good")``: the :class:`PluginRecord` of that plugin (exactly one)."""

    def plugin_record(name: str) -> plugins.PluginRecord:
        records = plugins.list_plugins()
        matches = [r for r in records if r.name == name]
        assert len(matches) == 1, f"expected one plugin {name!r}, got {records}"
        return matches[0]

    return plugin_record

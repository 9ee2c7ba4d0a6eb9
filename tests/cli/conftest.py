"""Fixtures for CLI tests: flow files in tmp_path, subprocess runs, import hygiene."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import ferroflow.cli
from ferroflow import plugins

#: The directory holding the ``ferroflow`` package these tests import.
PACKAGE_ROOT = Path(ferroflow.cli.__file__).parents[2]


def _core_available() -> bool:
    try:
        import ferroflow._core  # noqa: F401 - only whether it imports
    except ModuleNotFoundError as exc:
        if exc.name != "ferroflow._core":
            raise
        return False
    return True


@pytest.fixture
def engine() -> None:
    """Skip the test when the compiled core is not built (any other import error fails).

    Use with ``@pytest.mark.usefixtures("engine")`` on tests that run or load real flows.
    """
    if not _core_available():
        pytest.skip("the compiled core ferroflow._core is not built")


@pytest.fixture(autouse=True)
def clean_imports(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Forget modules loaded from temporary flow files, restore ``sys.path``, and use a
    fresh plugin manager."""
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    monkeypatch.delenv(plugins.TRACE_ENV, raising=False)
    modules = set(sys.modules)
    path = list(sys.path)
    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()
    sys.path[:] = path
    base = os.path.realpath(tmp_path_factory.getbasetemp())
    for name in set(sys.modules) - modules:
        file = os.path.realpath(getattr(sys.modules[name], "__file__", None) or "/nonexistent")
        if name.startswith("__ferroflow_flow_") or file.startswith(base):
            del sys.modules[name]


@pytest.fixture
def flow_file(tmp_path: Path) -> Callable[..., Path]:
    """``flow_file("source", name="etl.py")``: write a dedented flow file, return its path."""
    counter = iter(range(1, 1_000_000))

    def write(source: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"flowfile_{next(counter)}.py")
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def run_ferroflow(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``python -m ferroflow ARGS`` in a subprocess; return the completed process."""

    def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
        full_env.pop(plugins.DISABLE_ENV, None)
        full_env.pop(plugins.TRACE_ENV, None)
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(PACKAGE_ROOT)] + ([full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else []))
        full_env.update(env or {})
        return subprocess.run([sys.executable, "-m", "ferroflow", *args], cwd=tmp_path,
                              env=full_env, capture_output=True, text=True, timeout=timeout)

    return run

"""Fixtures for run store tests: a store in tmp_path, a tmp FERROFLOW_HOME, subprocesses."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import ferroflow
from ferroflow.store import HOME_ENV, RECORD_ENV, SQLRunStore
from tests.support.servers import child_env

#: The directory holding the ``ferroflow`` package these tests import.
PACKAGE_ROOT = Path(ferroflow.__file__).parents[1]
HERE = Path(__file__).parent


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``FERROFLOW_HOME`` (recording on)."""
    path = tmp_path / "ffhome"
    monkeypatch.setenv(HOME_ENV, str(path))
    monkeypatch.delenv(RECORD_ENV, raising=False)
    return path


@pytest.fixture
def recording_home(home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch):
    """A fresh ``FERROFLOW_HOME`` whose runs are recorded, once into its SQLite file and
    once into PostgreSQL (``FERROFLOW_DATABASE_URL`` naming ``database_url``); the
    process's store of it is closed afterwards."""
    from ferroflow.store import config

    if database_url.startswith("postgresql"):
        monkeypatch.setenv(config.DATABASE_ENV, database_url)
    yield home
    for key in [k for k, s in config._STORES.items() if k == database_url or str(k).startswith(str(home))]:
        config._STORES.pop(key).close()


@pytest.fixture
def store(database_url: str):
    """A SQLRunStore on an empty database, once on SQLite and once on PostgreSQL,
    closed after the test."""
    s = SQLRunStore(database_url)
    yield s
    s.close()


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess]:
    """Run a Python script (file or ``-c`` code) in a fresh interpreter that imports this
    ferroflow; return the completed process."""

    def run(*args: str, env: dict | None = None, prefix: list[str] | None = None,
            **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([*(prefix or []), sys.executable, *args], env=child_env(env),
                              capture_output=True, text=True, **kwargs)

    return run


@pytest.fixture
def spawn_python() -> Callable[..., subprocess.Popen]:
    """Start a Python script in a fresh interpreter that imports this ferroflow; return
    the Popen (stdout is a text pipe)."""

    def spawn(*args: str, env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, *args], env=child_env(env), stdout=subprocess.PIPE, text=True)

    return spawn

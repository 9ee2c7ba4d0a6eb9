"""Fixtures of the eager flow tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A run store of its own (SQLite in a temporary home), recording on."""
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("FERROFLOW_RECORD", "1")
    from ferroflow.store import get_run_store

    return lambda: get_run_store(True)

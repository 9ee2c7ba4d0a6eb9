"""Fixtures for the secrets tests: an empty registry of secret values around each test,
and the environment of a machine that keeps secrets (a key, a database, a home)."""

from __future__ import annotations

import pytest

from ferroflow import redaction, secrets
from ferroflow.store.database import DATABASE_ENV
from ferroflow.store.secret_store import KEY_ENV, new_key


@pytest.fixture(autouse=True)
def _forgotten():
    """Nothing registered before a test, nothing left after it."""
    redaction.clear()
    secrets.forget()
    yield
    redaction.clear()
    secrets.forget()


@pytest.fixture
def secret_env(tmp_path, monkeypatch, database_url):
    """A home of the test's own, secrets in ``database_url`` (SQLite and PostgreSQL),
    a new Fernet key in ``FERROFLOW_SECRET_KEY``. Returns the database URL."""
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERROFLOW_API_URL", raising=False)
    monkeypatch.setenv(DATABASE_ENV, database_url)
    monkeypatch.setenv(KEY_ENV, new_key())
    return database_url

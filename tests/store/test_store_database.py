"""Which database a store is: URLs and paths, the default (``FERROFLOW_DATABASE_URL``),
and passwords never shown."""

from __future__ import annotations

import os

import pytest

from ferroflow.store import StateStoreError, get_run_store
from ferroflow.store.database import (
    DATABASE_ENV,
    default_database_url,
    location_of,
    mask_url,
    normalize_url,
    sqlite_path,
)


def test_paths_and_sqlite_urls_name_an_absolute_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert normalize_url("runs.db") == f"sqlite:///{tmp_path / 'runs.db'}"
    assert normalize_url(tmp_path / "a" / "runs.db") == f"sqlite:///{tmp_path / 'a' / 'runs.db'}"
    assert normalize_url(f"sqlite:///{tmp_path}/x.db") == f"sqlite:///{tmp_path}/x.db"
    assert normalize_url("sqlite:///rel.db") == f"sqlite:///{tmp_path / 'rel.db'}"
    assert sqlite_path(normalize_url("runs.db")) == str(tmp_path / "runs.db")
    assert location_of(normalize_url("runs.db")) == str(tmp_path / "runs.db")


def test_postgresql_urls_name_psycopg_3():
    for given in ("postgresql://u:p@h:5432/db", "postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"):
        assert normalize_url(given) == "postgresql+psycopg://u:p@h:5432/db"
    assert sqlite_path(normalize_url("postgresql://h/db")) is None


@pytest.mark.parametrize("url", ["mysql://u:hunter2@h/db", "sqlite://", "sqlite:///:memory:"])
def test_other_databases_are_refused_without_their_password(url):
    with pytest.raises(StateStoreError, match="unsupported database") as info:
        normalize_url(url)
    assert "hunter2" not in str(info.value)


def test_a_password_is_masked():
    assert mask_url("postgresql://me:s3cret@db:5432/ff?sslmode=require") == "postgresql://me:***@db:5432/ff?sslmode=require"
    assert mask_url("postgresql://me@db/ff") == "postgresql://me@db/ff"
    assert mask_url("/home/me/runs.db") == "/home/me/runs.db"
    assert location_of("postgresql+psycopg://me:s3cret@db/ff") == "postgresql://me:***@db/ff"


def test_the_default_database(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    assert default_database_url() == f"sqlite:///{tmp_path / 'home' / 'runs.db'}"
    monkeypatch.setenv(DATABASE_ENV, database_url)
    assert default_database_url() == normalize_url(database_url)
    store = get_run_store(record=True)
    try:
        assert store.url == normalize_url(database_url)
        assert get_run_store(record=True) is store  # one per process and database
        store.start_run("r", "f", {}, [])
        assert store.get_run("r") is not None
    finally:
        store.close()
    assert not os.path.exists(tmp_path / "home" / "runs.db") or database_url.startswith("sqlite")

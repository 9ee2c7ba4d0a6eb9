"""Every test records its flow runs into a run store of its own session, never into
the user's ``~/.ferroflow``."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _ferroflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("ferroflow-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("FERROFLOW_HOME", str(home))
    yield home
    patch.undo()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A SQLAlchemy URL of an empty database, once per kind: an SQLite file in
    ``tmp_path`` and a PostgreSQL schema of the test's own (see tests/support/databases.py;
    an unreachable PostgreSQL fails the test, it never skips)."""
    from tests.support.databases import database

    with database(request.param, tmp_path) as url:
        yield url

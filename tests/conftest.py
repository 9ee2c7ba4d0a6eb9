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


@pytest.fixture
def engine(database_url):
    """A SQLAlchemy engine of ``database_url`` migrated to the current schema, disposed
    after the test."""
    from ferroflow.store.database import make_engine
    from ferroflow.store.migrations import migrate

    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def pytest_collection_modifyitems(session, config, items):
    """The suite needs PostgreSQL for its database tests: when any collected test uses
    ``database_url`` and PostgreSQL cannot be reached, stop at once with a message
    saying so (rather than failing each such test, or skipping any)."""
    if not any("database_url" in getattr(item, "fixturenames", ()) for item in items):
        return
    from tests.support.databases import check_postgresql

    problem = check_postgresql()
    if problem is not None:
        pytest.exit(problem, returncode=3)

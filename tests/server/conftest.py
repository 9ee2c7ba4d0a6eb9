"""Fixtures of the server's tests, each on SQLite and on PostgreSQL (``database_url``):

* ``engine``: the migrated database;
* ``api``: an in-process client of an application with authentication off (every
  request acts as admin); ``secured``: the same with authentication on, and ``keys``,
  one key per role;
* ``server``: a real ``ferroflow server start`` process (uvicorn on 127.0.0.1), killed
  at the end;
* ``sample_run``: a run written in the store's layout (a mapped task with successes,
  failures with tracebacks, a success with a message and a pause; logs).
"""

from __future__ import annotations

import pytest

from ferroflow.store.keys import create_key
from tests.support.server_data import SampleRun, client_of, write_sample
from tests.support.servers import Server


@pytest.fixture
def api(engine):
    with client_of(engine, auth=False) as client:
        yield client


@pytest.fixture
def secured(engine):
    with client_of(engine, auth=True) as client:
        yield client


@pytest.fixture
def keys(engine) -> dict:
    """role -> a valid key of that role."""
    made = {}
    with engine.begin() as conn:
        for role in ("read", "run", "admin"):
            made[role] = create_key(conn, f"{role} key", role)[0]
    return made


@pytest.fixture
def server(database_url, tmp_path):
    process = Server(database_url, tmp_path / "server.log").start()
    yield process
    process.kill()


@pytest.fixture
def sample_run(engine) -> SampleRun:
    return write_sample(engine)

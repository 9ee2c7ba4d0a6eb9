"""What only PostgreSQL does to a run store: its connection can be lost (a server
restart, the network), and the store then keeps its records and retries them on a new
connection, as when an SQLite disk is full."""

from __future__ import annotations

import logging

import pytest

from ferroflow import _core
from ferroflow.store import SQLRunStore, StateStoreError
from tests.support.databases import execute, pg_schema

S, F = _core.SUCCESS, _core.FAILED


@pytest.fixture
def pg_url():
    with pg_schema() as url:
        yield url


def terminate(url: str, pid: int) -> None:
    execute(url, f"SELECT pg_terminate_backend({int(pid)})")


def test_a_lost_connection_keeps_the_records_and_writes_them_on_a_new_one(pg_url, caplog):
    with SQLRunStore(pg_url) as store:
        store.start_run("r", "etl", {}, [(0, "t", "t", True)])
        writer = store._writer
        terminate(pg_url, writer.conn.raw.info.backend_pid)  # the server drops the writer's connection
        store.record_report("r", [(0, range(3), bytes([S, F, S]))])
        with caplog.at_level(logging.WARNING, logger="ferroflow.store"):
            with pytest.raises(StateStoreError) as info:
                store.flush()
        assert (info.value.reason, info.value.pending, info.value.lost) == ("connection lost", 3, 0)
        assert "postgresql://" in str(info.value) and "(kept, and retried)" in str(info.value)
        assert sum("Runs go on: their records are kept" in r.getMessage() for r in caplog.records) == 1
        store.flush()  # retried on a new connection: written
        assert writer.failing is None
        (task,) = store.task_states("r")
        assert task.counts == {"Success": 2, "Failed": 1}
        # The store's reader loses its connection too: the next read makes a new one.
        terminate(pg_url, store._conn.raw.info.backend_pid)
        with pytest.raises(StateStoreError, match="connection lost: cannot read the run store"):
            store.get_run("r")
        assert store.get_run("r").state == "Running"
        store.end_run("r", "Failed")
    with SQLRunStore(pg_url) as store:
        assert store.get_run("r").state == "Failed"

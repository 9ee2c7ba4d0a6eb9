"""Data and clients for the server's tests: an in-process client of the application,
and a sample run written in the store's layout (a mapped task with successes, failures
with tracebacks, a success with a message, a pause; logs)."""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass

from ferroflow import _core
from ferroflow.server.app import create_app
from ferroflow.testing.records import NOT_REPORTED, TaskRecord, write_run

with warnings.catch_warnings():  # Starlette asks for httpx2; the client it has works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def client_of(engine, *, auth: bool, **limits) -> TestClient:
    """An in-process client of the application on ``engine``."""
    return TestClient(create_app(engine, auth=auth, **limits), raise_server_exceptions=True)


S, F, P = _core.SUCCESS, _core.FAILED, _core.PAUSED


@dataclass
class SampleRun:
    """What ``sample_run`` wrote: the run's id and each mapped child's code."""

    run_id: str
    children: bytes
    log_count: int
    key_id: int = 0


def sample_children() -> bytes:
    """60 children of ``work``: every 7th failed, 10-12 never reported, 50 paused, the
    rest succeeded (child 5 with a message and a location)."""
    codes = bytearray([S]) * 60
    for i in range(0, 60, 7):
        codes[i] = F
    codes[10:13] = bytes([NOT_REPORTED]) * 3
    codes[50] = P
    return bytes(codes)


def write_sample(engine, run_id: str | None = None, *, flow_name: str = "etl", state: str = "Paused",
                 started_at: float = 1_800_000_000.0, tags=("nightly",)) -> SampleRun:
    run_id = run_id or uuid.uuid4().hex
    children = sample_children()
    details = {i: (f"Error during execution of task: ValueError({i})", None, 1,
                   f"Traceback (most recent call last):\n  File \"etl.py\", line 3, in work\nValueError: {i}\n")
               for i in range(0, 60, 7)}
    details[5] = ("kept", "file:///results/5", 1, None)
    logs = [(None, -1, started_at + 0.1, 20, "INFO", "ferroflow.flow", "flow started"),
            (1, 3, started_at + 0.2, 20, "INFO", "ferroflow.task", "child 3 says 50% done_now"),
            (1, 7, started_at + 0.3, 40, "ERROR", "ferroflow.task", "child 7 failed: ValueError"),
            (1, -1, started_at + 0.4, 30, "WARNING", "ferroflow.task", "work is slow"),
            (2, -1, started_at + 0.5, 20, "INFO", "ferroflow.task", "deploy <b>paused</b>")]
    with engine.begin() as conn:
        write_run(conn, run_id, flow_name, state=state, parameters={"n": 60}, tags=tags, started_at=started_at,
                  ended_at=started_at + 5, log_rows=logs, tasks=[
                      TaskRecord(0, "extract", "extract", code=S),
                      TaskRecord(1, "work", "work", mapped=True, code=_core.MAPPED, children=children,
                                 details=details, span=16),
                      TaskRecord(2, "deploy", "deploy", code=P, own=("deploy to production?", None, 1, None)),
                      TaskRecord(3, "announce", "announce"),
                  ])
    return SampleRun(run_id, children, len(logs))




def copy_local_runs(path, engine) -> list:
    """Copy every run of a local run store file (as the store wrote it) into the
    database of ``engine``, row for row; return the copied run ids. The columns both
    have are copied; a run's integer key is the target's own."""
    import sqlite3

    from sqlalchemy import insert

    from ferroflow.store import schema

    tables = [schema.run_tasks, schema.task_runs, schema.child_counts, schema.child_spans, schema.logs,
              schema.run_parameters]
    source = sqlite3.connect(path)
    source.row_factory = sqlite3.Row
    copied = []
    try:
        with engine.begin() as conn:
            for row in source.execute("SELECT * FROM runs ORDER BY id"):
                values = {k: row[k] for k in row.keys() if k in schema.runs.c and k != "id"}
                key = conn.execute(insert(schema.runs).values(**values).returning(schema.runs.c.id)).scalar_one()
                copied.append(row["run_id"])
                for table in tables:
                    rows = [{k: r[k] for k in r.keys() if k in table.c and k != "id"} | {"run": key}
                            for r in source.execute(f"SELECT * FROM {table.name} WHERE run = ?"
                                                    f"{' ORDER BY id' if table.name == 'logs' else ''}", (row["id"],))]
                    if rows:
                        conn.execute(insert(table), rows)
    finally:
        source.close()
    return copied

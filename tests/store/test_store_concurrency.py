"""RELIABILITY.md D1, scaled down for CI: 4 writer processes x 5,000 transitions and 2
readers polling run listings on one database (an SQLite file; PostgreSQL). No "database
is locked" may surface; every row must be there; an SQLite file must be intact."""

from __future__ import annotations

import json
from pathlib import Path

from ferroflow import _core
from ferroflow.store import SQLiteRunStore
from tests.support.databases import query

WORKER = str(Path(__file__).with_name("d1_worker.py"))
WRITERS, TRANSITIONS, BATCH, READERS = 4, 5_000, 50, 2


def test_concurrent_writers_and_readers(database_url, tmp_path, spawn_python):
    db = database_url
    stop = tmp_path / "writers-done"
    readers = [spawn_python(WORKER, "reader", db, str(stop)) for _ in range(READERS)]
    writers = [spawn_python(WORKER, "writer", db, f"run-{w}", str(TRANSITIONS), str(BATCH)) for w in range(WRITERS)]
    outputs = [(p.communicate()[0], p.returncode) for p in writers]
    stop.touch()
    outputs += [(p.communicate()[0], p.returncode) for p in readers]
    results = []
    for out, code in outputs:
        assert code == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["errors"] for r in results] == [[]] * (WRITERS + READERS)  # no "database is locked"
    assert all(r["polls"] >= 1 for r in results[WRITERS:])

    if db.startswith("sqlite"):
        with SQLiteRunStore(db) as store:
            assert store.integrity_check() == "ok"
    per_run = query(db, "SELECT r.run_id, COUNT(*) FROM task_runs AS t JOIN runs AS r ON r.id = t.run "
                        "WHERE t.map_index >= 0 GROUP BY r.run_id ORDER BY r.run_id")
    assert per_run == [(f"run-{w}", TRANSITIONS) for w in range(WRITERS)]
    assert query(db, "SELECT COUNT(*) FROM task_runs")[0][0] == WRITERS * TRANSITIONS
    counts = query(db, "SELECT code, SUM(n) FROM child_counts GROUP BY code")
    assert [(code, int(n)) for code, n in counts] == [(_core.FAILED, WRITERS * TRANSITIONS)]
    assert query(db, "SELECT DISTINCT state FROM runs") == [("Failed",)]

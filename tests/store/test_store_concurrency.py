"""RELIABILITY.md D1, scaled down for CI: 4 writer processes x 5,000 transitions and 2
readers polling run listings on one SQLite file. No "database is locked" may surface;
every row must be there; the file must be intact."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ferroflow import _core

WORKER = str(Path(__file__).with_name("d1_worker.py"))
WRITERS, TRANSITIONS, BATCH, READERS = 4, 5_000, 50, 2


def test_concurrent_writers_and_readers(tmp_path, spawn_python):
    db = str(tmp_path / "runs.db")
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

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_run = conn.execute(
            "SELECT r.run_id, COUNT(*) FROM task_runs AS t JOIN runs AS r ON r.id = t.run "
            "WHERE t.map_index >= 0 GROUP BY r.run_id ORDER BY r.run_id").fetchall()
        assert per_run == [(f"run-{w}", TRANSITIONS) for w in range(WRITERS)]
        assert conn.execute("SELECT COUNT(*) FROM task_runs").fetchone()[0] == WRITERS * TRANSITIONS
        counts = conn.execute("SELECT code, SUM(n) FROM child_counts GROUP BY code").fetchall()
        assert counts == [(_core.FAILED, WRITERS * TRANSITIONS)]
        assert conn.execute("SELECT DISTINCT state FROM runs").fetchall() == [("Failed",)]

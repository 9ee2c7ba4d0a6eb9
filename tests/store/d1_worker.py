"""A process of the concurrent-writers test (RELIABILITY.md D1); not a test module.

    python d1_worker.py writer DB RUN_ID TRANSITIONS BATCH
    python d1_worker.py reader DB STOP_FILE

Prints one JSON line: what it did and every error it met (none expected).
"""

from __future__ import annotations

import json
import os
import sys

from ferroflow import _core
from ferroflow.store import SQLRunStore


def writer(db: str, run_id: str, transitions: int, batch: int) -> dict:
    errors = []
    store = SQLRunStore(db)
    try:
        store.start_run(run_id, "d1", {"writer": run_id}, [(0, "work", "work-1", True)])
        for start in range(0, transitions, batch):
            rows = [(0, i, _core.FAILED, 1, f"boom {i}", None) for i in range(start, min(transitions, start + batch))]
            store.record_states(run_id, rows)
            store.flush()  # one commit per batch: many contending transactions
        store.end_run(run_id, "Failed", "every child failed")
        store.close()
    except Exception as exc:  # reported to the test
        errors.append(f"{type(exc).__name__}: {exc}")
    return {"errors": errors}


def reader(db: str, stop_file: str) -> dict:
    errors = []
    polls = 0
    store = None
    while True:
        done = os.path.exists(stop_file)  # one more poll after the writers are done
        try:
            if store is None:
                store = SQLRunStore(db)
            for run in store.list_runs(limit=None):
                store.task_states(run.run_id, failed_limit=10)
            polls += 1
        except Exception as exc:  # reported to the test
            errors.append(f"{type(exc).__name__}: {exc}")
        if done:
            break
    if store is not None:
        store.close()
    return {"errors": errors, "polls": polls}


if __name__ == "__main__":
    role, db, *rest = sys.argv[1:]
    if role == "writer":
        out = writer(db, rest[0], int(rest[1]), int(rest[2]))
    else:
        out = reader(db, rest[0])
    print(json.dumps(out))

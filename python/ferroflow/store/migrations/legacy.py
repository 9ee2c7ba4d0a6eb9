"""The hand-written migrations of the SQLite run store before Alembic (schemas 1 to 5).

A store made by a ferroflow up to schema 5 has a ``meta`` table (``schema_version``)
and no ``alembic_version``: :func:`bring_to_5` applies these steps to it, in the
caller's transaction, after which it is exactly what Alembic's first revision creates
and is stamped at it. Never edit a step: stores of every version exist.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from ferroflow.store.base import TaskList
from ferroflow.store.items import task_columns

__all__ = ["LEGACY_VERSION", "MIGRATIONS", "bring_to_5", "run_tasks_from_v4"]

#: The last schema version migrated by hand; Alembic's first revision is this schema.
LEGACY_VERSION = 5


def run_tasks_from_v4(conn: sqlite3.Connection) -> None:
    """Migration to schema 5: each run's ``tasks`` rows become its ``run_tasks`` row
    (every run gets one). Their task-level states stay ``task_runs`` rows, which
    readers take over the (empty) code bytes of such a run."""
    listed: dict = {}
    widths: dict = {}
    for run, task_id, name, slug, is_mapped, width, approved in conn.execute(
            "SELECT run, task_id, name, slug, is_mapped, width, approved FROM tasks ORDER BY run, position"):
        listed.setdefault(run, []).append((task_id, name, slug, is_mapped, approved))
        if width is not None:
            widths.setdefault(run, {})[task_id] = width
    conn.executemany(
        "INSERT INTO run_tasks (run, ids, names, slugs, mapped, approved, codes, widths) "
        "VALUES (?, ?, ?, ?, ?, ?, X'', ?)",
        [(run, *task_columns(TaskList.of(listed.get(run, [])))[:5], json.dumps(widths[run]) if run in widths else None)
         for (run,) in conn.execute("SELECT id FROM runs").fetchall()])


#: Statements that bring a store from version ``v - 1`` to ``v`` (a callable is called
#: with the connection: a step SQL alone cannot take).
MIGRATIONS: dict[int, tuple[str | Callable[[sqlite3.Connection], None], ...]] = {
    1: (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            flow_name TEXT NOT NULL,
            parameters TEXT NOT NULL,
            state TEXT NOT NULL,
            message TEXT,
            started_at REAL NOT NULL,
            ended_at REAL,
            resumed_from TEXT,
            hostname TEXT,
            pid INTEGER
        )""",
        "CREATE INDEX runs_by_start ON runs (started_at)",
        "CREATE INDEX runs_by_flow ON runs (flow_name, started_at)",
        """CREATE TABLE tasks (
            run INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            slug TEXT,
            is_mapped INTEGER NOT NULL,
            width INTEGER,
            PRIMARY KEY (run, task_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE task_runs (
            run INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            map_index INTEGER NOT NULL,
            code INTEGER NOT NULL,
            run_count INTEGER NOT NULL,
            message TEXT,
            result_location TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (run, task_id, map_index)
        ) WITHOUT ROWID""",
        """CREATE TABLE child_counts (
            run INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            code INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (run, task_id, code)
        ) WITHOUT ROWID""",
        """CREATE TABLE child_spans (
            run INTEGER NOT NULL,
            task_id INTEGER NOT NULL,
            start INTEGER NOT NULL,
            stop INTEGER NOT NULL
        )""",
        "CREATE INDEX child_spans_by_task ON child_spans (run, task_id, start)",
        """CREATE TABLE logs (
            id INTEGER PRIMARY KEY,
            run INTEGER NOT NULL,
            task_id INTEGER,
            map_index INTEGER NOT NULL,
            created_at REAL NOT NULL,
            level INTEGER NOT NULL,
            levelname TEXT NOT NULL,
            logger TEXT NOT NULL,
            message TEXT NOT NULL
        )""",
        "CREATE INDEX logs_by_task ON logs (run, task_id, map_index)",
    ),
    # Tasks approved to go on after a pause (flow.run(resume=..., approve=...)).
    2: ("ALTER TABLE tasks ADD COLUMN approved INTEGER NOT NULL DEFAULT 0",),
    # When a live run's process last said it was alive (ferroflow.store.orphans).
    3: ("ALTER TABLE runs ADD COLUMN heartbeat_at REAL",),
    # The lease of the process recording a run (NULL once it ended, was reaped or was
    # taken over); why its record is incomplete; parameters pickled, for resume.
    4: (
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "ALTER TABLE runs ADD COLUMN record_error TEXT",
        """CREATE TABLE run_parameters (
            run INTEGER NOT NULL,
            name TEXT NOT NULL,
            value BLOB,
            problem TEXT,
            PRIMARY KEY (run, name)
        )""",
    ),
    # A run's tasks in one row: the task list by columns (JSON arrays, one byte per
    # task for the flags), written once; each task's own latest code as one byte; the
    # widths of mapped tasks. A plain success costs no task_runs row.
    5: (
        """CREATE TABLE run_tasks (
            run INTEGER PRIMARY KEY,
            ids TEXT NOT NULL,
            names TEXT NOT NULL,
            slugs TEXT NOT NULL,
            mapped BLOB NOT NULL,
            approved BLOB NOT NULL,
            codes BLOB NOT NULL,
            widths TEXT
        )""",
        run_tasks_from_v4,
        "DROP TABLE tasks",
    ),
}


def bring_to_5(conn: sqlite3.Connection, version: int) -> None:
    """Apply the steps from ``version`` (1 to 5) up to 5, in the caller's transaction."""
    for target in range(version + 1, LEGACY_VERSION + 1):
        for statement in MIGRATIONS[target]:
            if callable(statement):
                statement(conn)
            else:
                conn.execute(statement)

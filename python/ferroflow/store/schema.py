"""The one database schema of ferroflow, for embedded SQLite and for PostgreSQL.

Every table the run store, the server, its keys and its secrets use is declared here
with SQLAlchemy Core, once; Alembic's migrations (``ferroflow/store/migrations``) create
and upgrade it on both databases, and every query is written against these objects or
these names. Types are chosen to mean the same on both:

* times are seconds since the epoch as ``Float(53)`` (SQLite ``REAL``, PostgreSQL
  ``double precision``): what the engine measures, compared and sorted as numbers;
* ids of runs are 32 hex digits (``Text``); rows refer to a run by its integer key
  (``runs.id``), which keeps the big tables (``task_runs``, ``logs``) narrow;
* byte strings (a run's per-task codes and flags) are ``LargeBinary`` (``BLOB`` /
  ``bytea``); JSON documents are ``Text`` holding JSON, read and written by Python,
  so no query depends on either database's JSON functions.

Schema 6 is schema 5 of the hand-written SQLite store (ferroflow 0.x up to issue 9)
plus: a failed task run's ``traceback``; a run's ``tags``, ``idempotency_key``,
``state_version`` (optimistic concurrency for state changes) and ``created_at``; the
``flows``, ``run_tags``, ``api_keys``, ``secrets`` and ``ingest_batches`` tables.
Schema 7 adds ``deployments`` and ``work_pools``, and a run's ``deployment_id`` and
``scheduled_time`` (unique together). Schema 8 adds a run's ``worker`` and ``attempt``,
a deployment's ``scheduled_until``, and the ``workers``, ``concurrency_limits`` and
``concurrency_slots`` tables. Schema 9 adds a run's task ``edges`` and ``times``, a
deployment's ``parameter_schema`` and the web UI's ``ui_sessions``. Schema 10 adds a
run's ``executor``. Schema 11 adds a run's ``parent_run_id`` (subflow runs), indexed.
Schema 12 adds a run's ``run_name``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from ferroflow.store.migrations import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "concurrency_limits",
    "concurrency_slots",
    "workers",
    "metadata",
    "meta",
    "runs",
    "run_tasks",
    "task_runs",
    "child_counts",
    "child_spans",
    "logs",
    "run_parameters",
    "run_tags",
    "flows",
    "api_keys",
    "secrets",
    "ingest_batches",
    "work_pools",
    "deployments",
    "ui_sessions",
]

# SCHEMA_VERSION (12), the schema version this ferroflow writes, also kept in ``meta``
# (key ``schema_version``) so that an older ferroflow refuses a newer store by name, is
# defined beside the migrations' head revision (opening a store compares them without
# importing SQLAlchemy).

#: Constraint names are explicit so that migrations can name them on both databases.
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite's rowid alias must be INTEGER
_TIME = Float(precision=53)

meta = Table(
    "meta", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

#: One flow run. ``state`` is a state name (``Running``, ``Success``, ``Failed``,
#: ``Cancelled``, ``Crashed``, and on the server ``Scheduled``, ``Late``, ``Pending``,
#: ``Cancelling``). ``owner`` is the lease token of the process recording it (NULL once
#: it ended, was reaped or taken over); ``heartbeat_at`` when that process last said it
#: was alive. ``parameters`` is JSON for display (every value the run used, defaults
#: included); ``run_parameters`` keeps them pickled for resume. ``tags`` is a JSON array
#: (``run_tags`` indexes it). ``executor`` describes the executor the run ran on
#: (:mod:`ferroflow.descriptions`; NULL: recorded before schema 10, or not started).
#: ``parent_run_id`` is the ``run_id`` of the run this one is a subflow run of (an
#: eager flow called inside another flow run; NULL: none, or recorded before schema 11).
#: ``run_name`` is the run's human name (an eager flow's ``flow_run_name``; one
#: printable line of at most 200 characters; NULL: none, or recorded before schema 12).
runs = Table(
    "runs", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False, unique=True),
    Column("flow_name", Text, nullable=False),
    Column("parameters", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("message", Text),
    Column("started_at", _TIME, nullable=False),
    Column("ended_at", _TIME),
    Column("resumed_from", Text),
    Column("hostname", Text),
    Column("pid", Integer),
    Column("heartbeat_at", _TIME),
    Column("owner", Text),
    Column("record_error", Text),
    # schema 6
    Column("tags", Text, nullable=False, server_default="[]"),
    Column("idempotency_key", Text, unique=True),
    Column("state_version", Integer, nullable=False, server_default="0"),
    Column("created_at", _TIME),
    # schema 7: the deployment a run is of, and the time its schedule set for it
    Column("deployment_id", _ID),
    Column("scheduled_time", _TIME),
    # schema 8: the worker that claimed the run (NULL: none did); 1, or one more than
    # the attempt of the crashed run it retries (``resumed_from``)
    Column("worker", Text),
    Column("attempt", Integer, nullable=False, server_default="1"),
    # schema 10: what the run ran on, one line, secret-looking options masked
    Column("executor", Text),
    # schema 11: the run this one is a subflow run of (its run_id), or NULL
    Column("parent_run_id", Text),
    # schema 12: the run's name (an eager flow's flow_run_name), or NULL
    Column("run_name", Text),
)
Index("runs_by_start", runs.c.started_at)
Index("runs_by_flow", runs.c.flow_name, runs.c.started_at)
Index("runs_by_state", runs.c.state, runs.c.started_at)
Index("runs_by_resumed_from", runs.c.resumed_from, runs.c.started_at)  # (schema 9)
Index("runs_by_parent", runs.c.parent_run_id, runs.c.started_at)  # (schema 11: a run's subflow runs)
# Each (deployment, scheduled time) at most once: what makes scheduling exactly-once.
# NULLs never collide (a run of no deployment, a manual run), on either database.
Index("uq_runs_deployment_time", runs.c.deployment_id, runs.c.scheduled_time, unique=True)

#: A run's tasks in one row: the task list by columns (JSON arrays of ids, names and
#: slugs; one byte per task for ``mapped`` and ``approved``), written once; ``codes``,
#: each task's own latest state code as one byte (0xFF: never reported); ``widths``, a
#: JSON object of mapped task id -> number of children.
run_tasks = Table(
    "run_tasks", metadata,
    Column("run", _ID, primary_key=True, autoincrement=False),
    Column("ids", Text, nullable=False),
    Column("names", Text, nullable=False),
    Column("slugs", Text, nullable=False),
    Column("mapped", LargeBinary, nullable=False),
    Column("approved", LargeBinary, nullable=False),
    Column("codes", LargeBinary, nullable=False),
    Column("widths", Text),
    # schema 9: the flow's edges (JSON [[upstream, downstream], ...] of task ids; NULL:
    # not recorded) and when each task was first and last seen changing state (JSON
    # {task id: [first, last]})
    Column("edges", Text),
    Column("times", Text),
)

#: Task runs that did not simply succeed (a task's own state: ``map_index`` -1; a
#: mapped child: its index): failed, retrying, skipped, cached, with a message, a
#: result location or (schema 6) the traceback of the exception that failed it.
task_runs = Table(
    "task_runs", metadata,
    Column("run", _ID, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("map_index", Integer, nullable=False),
    Column("code", Integer, nullable=False),
    Column("run_count", Integer, nullable=False),
    Column("message", Text),
    Column("result_location", Text),
    Column("updated_at", _TIME, nullable=False),
    Column("traceback", Text),
    PrimaryKeyConstraint("run", "task_id", "map_index"),
)
# A mapped task's children of one state, in index order (failed children paged).
Index("task_runs_by_code", task_runs.c.run, task_runs.c.task_id, task_runs.c.code, task_runs.c.map_index)

#: How many children of a mapped task are in each state.
child_counts = Table(
    "child_counts", metadata,
    Column("run", _ID, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("code", Integer, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("run", "task_id", "code"),
)

#: Ranges ``[start, stop)`` of a mapped task's children that reported at all (a child
#: inside one and without a ``task_runs`` row succeeded plainly).
child_spans = Table(
    "child_spans", metadata,
    Column("run", _ID, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("start", BigInteger, nullable=False),
    Column("stop", BigInteger, nullable=False),
)
Index("child_spans_by_task", child_spans.c.run, child_spans.c.task_id, child_spans.c.start)

#: Log records of a run (``task_id`` NULL: the flow run's own; ``map_index`` -1: a
#: task's own). ``id`` orders them as they arrived and is the cursor of paged reads.
logs = Table(
    "logs", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("run", _ID, nullable=False),
    Column("task_id", Integer),
    Column("map_index", Integer, nullable=False),
    Column("created_at", _TIME, nullable=False),
    Column("level", Integer, nullable=False),
    Column("levelname", Text, nullable=False),
    Column("logger", Text, nullable=False),
    Column("message", Text, nullable=False),
)
Index("logs_by_task", logs.c.run, logs.c.task_id, logs.c.map_index)
Index("logs_by_run", logs.c.run, logs.c.id)

#: A run's parameters, each pickled with cloudpickle (``value``) or why it could not be
#: (``problem``), for resume.
run_parameters = Table(
    "run_parameters", metadata,
    Column("run", _ID, nullable=False),
    Column("name", Text, nullable=False),
    Column("value", LargeBinary),
    Column("problem", Text),
    PrimaryKeyConstraint("run", "name"),
)

#: One row per tag of a run, to filter runs by tag.
run_tags = Table(
    "run_tags", metadata,
    Column("run", _ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("tag", Text, nullable=False),
    PrimaryKeyConstraint("tag", "run"),
)

#: Every flow the database has seen a run of (the server's ``/flows``), with the
#: parameters of its latest run (JSON: name -> default or null) and when it was seen.
flows = Table(
    "flows", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", _TIME, nullable=False),
    Column("updated_at", _TIME, nullable=False),
    Column("parameters", Text, nullable=False, server_default="{}"),
)

#: API keys of the server. Only a hash of the key is kept (``hash``: SHA-256 of the
#: whole key, hex); ``prefix`` is the key's first characters, shown to tell keys apart.
#: ``role`` is ``read``, ``run`` or ``admin``; a revoked key keeps its row.
api_keys = Table(
    "api_keys", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("hash", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("created_at", _TIME, nullable=False),
    Column("revoked_at", _TIME),
    Column("last_used_at", _TIME),
)

#: Secrets, each encrypted (Fernet, the key from ``FERROFLOW_SECRET_KEY``); the value
#: is never stored or returned in clear by the server.
secrets = Table(
    "secrets", metadata,
    Column("name", Text, primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", _TIME, nullable=False),
    Column("updated_at", _TIME, nullable=False),
)

#: Batches of records a client sent to the server, by the id the client gave each: a
#: batch sent again (its answer was lost) is acknowledged and not applied twice.
ingest_batches = Table(
    "ingest_batches", metadata,
    Column("batch_id", Text, primary_key=True),
    Column("run", _ID),
    Column("received_at", _TIME, nullable=False),
)

#: Work pools: where a deployment's runs are picked up by workers (a pool named by a
#: deployment is made when first named). ``concurrency_limit`` NULL: no limit.
work_pools = Table(
    "work_pools", metadata,
    Column("name", Text, primary_key=True),
    Column("concurrency_limit", Integer),
    Column("paused", Boolean(name="ck_work_pools_paused"), nullable=False, server_default=false()),
    Column("created_at", _TIME, nullable=False),
)

#: Deployments: named, stored recipes of flow runs. ``entrypoint`` is
#: ``path/to/file.py:flow`` or ``package.module:flow``; ``parameters``, ``tags`` and
#: ``executor_options`` are JSON; ``schedule`` is a schedule's JSON spec
#: (:func:`ferroflow.schedules.spec.to_spec`) or NULL; ``catchup`` is ``latest`` or
#: ``all`` (which missed runs start after downtime).
deployments = Table(
    "deployments", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("flow_name", Text, nullable=False),
    Column("entrypoint", Text, nullable=False),
    Column("parameters", Text, nullable=False, server_default="{}"),
    Column("schedule", Text),
    Column("pool", Text, nullable=False, server_default="default"),
    Column("tags", Text, nullable=False, server_default="[]"),
    Column("executor", Text),
    Column("executor_options", Text, nullable=False, server_default="{}"),
    Column("retries", Integer, nullable=False, server_default="0"),
    Column("concurrency_limit", Integer),
    Column("description", Text, nullable=False, server_default=""),
    Column("paused", Boolean(name="ck_deployments_paused"), nullable=False, server_default=false()),
    Column("catchup", Text, nullable=False, server_default="latest"),
    Column("created_at", _TIME, nullable=False),
    Column("updated_at", _TIME, nullable=False),
    # schema 8: the time up to which the scheduler made its runs (NULL: not yet)
    Column("scheduled_until", _TIME),
    # schema 9: the flow's parameters as deploy found them (JSON: name -> {"default",
    # "required", "type"}), for the UI's Run form
    Column("parameter_schema", Text, nullable=False, server_default="{}"),
)

#: Worker processes (``ferroflow worker``): the pool each serves, how many runs at
#: once, ``state`` (``online``, ``stopping``, ``stopped``) and its last heartbeat.
workers = Table(
    "workers", metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("pool", Text, nullable=False),
    Column("hostname", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("started_at", _TIME, nullable=False),
    Column("heartbeat_at", _TIME, nullable=False),
)
Index("workers_by_pool", workers.c.pool, workers.c.heartbeat_at)

#: Tag concurrency limits (Prefect 1's): at most ``slots`` task runs carrying ``tag``
#: run at once, across every run.
concurrency_limits = Table(
    "concurrency_limits", metadata,
    Column("tag", Text, primary_key=True),
    Column("slots", Integer, nullable=False),
    Column("created_at", _TIME, nullable=False),
    Column("updated_at", _TIME, nullable=False),
)

#: Slots held: one row per (tag, holder), ``holder`` naming the task run that holds it
#: (unique per acquisition), ``run_id`` its flow run (slots of runs that ended are freed).
concurrency_slots = Table(
    "concurrency_slots", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("tag", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("holder", Text, nullable=False),
    Column("acquired_at", _TIME, nullable=False),
    UniqueConstraint("tag", "holder", name="uq_concurrency_slots_tag_holder"),
)
Index("concurrency_slots_by_run", concurrency_slots.c.run_id)

#: The web UI's login sessions: the session token's SHA-256 (the token itself is only
#: in the browser's cookie), the API key it was opened with (NULL: authentication off),
#: that key's name and role, the session's CSRF token and when it expires.
ui_sessions = Table(
    "ui_sessions", metadata,
    Column("hash", Text, primary_key=True),
    Column("key_id", _ID),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("csrf", Text, nullable=False),
    Column("created_at", _TIME, nullable=False),
    Column("expires_at", _TIME, nullable=False),
)
Index("ui_sessions_by_expiry", ui_sessions.c.expires_at)

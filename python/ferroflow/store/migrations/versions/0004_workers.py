"""Schema 8: workers and what they claim, scheduling bookkeeping, tag concurrency limits.

* ``runs.worker``: the worker that claimed the run (NULL: never claimed); ``runs.attempt``:
  1 for a run made by a schedule or on request, one more for each run that retries a
  crashed one (``resumed_from`` names it).
* ``deployments.scheduled_until``: the time up to which the scheduler made the
  deployment's runs (NULL: not yet).
* ``workers``: each worker process, its pool and its last heartbeat.
* ``concurrency_limits`` and ``concurrency_slots``: at most ``slots`` task runs with a
  tag at once across every run; a slot held is a row.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.add_column("runs", sa.Column("worker", sa.Text))
    op.add_column("runs", sa.Column("attempt", sa.Integer, nullable=False, server_default="1"))
    op.add_column("deployments", sa.Column("scheduled_until", _TIME))
    op.create_table(
        "workers",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("pool", sa.Text, nullable=False),
        sa.Column("hostname", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("heartbeat_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )
    op.create_index("workers_by_pool", "workers", ["pool", "heartbeat_at"])
    op.create_table(
        "concurrency_limits",
        sa.Column("tag", sa.Text, nullable=False),
        sa.Column("slots", sa.Integer, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("tag", name="pk_concurrency_limits"),
    )
    op.create_table(
        "concurrency_slots",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("tag", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("acquired_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_concurrency_slots"),
        sa.UniqueConstraint("tag", "holder", name="uq_concurrency_slots_tag_holder"),
    )
    op.create_index("concurrency_slots_by_run", "concurrency_slots", ["run_id"])


def downgrade() -> None:
    op.drop_index("concurrency_slots_by_run", table_name="concurrency_slots")
    op.drop_table("concurrency_slots")
    op.drop_table("concurrency_limits")
    op.drop_index("workers_by_pool", table_name="workers")
    op.drop_table("workers")
    op.drop_column("deployments", "scheduled_until")
    op.drop_column("runs", "attempt")
    op.drop_column("runs", "worker")

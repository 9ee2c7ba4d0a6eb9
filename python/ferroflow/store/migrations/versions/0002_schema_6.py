"""Schema 6: a failed task run's traceback; a run's tags, idempotency key, state
version and creation time; the server's tables (flows, run tags, API keys, secrets,
ingested batches); indexes for runs by state, failed children by code, logs by run.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.add_column("task_runs", sa.Column("traceback", sa.Text))
    op.add_column("runs", sa.Column("tags", sa.Text, nullable=False, server_default="[]"))
    op.add_column("runs", sa.Column("idempotency_key", sa.Text))
    op.add_column("runs", sa.Column("state_version", sa.Integer, nullable=False, server_default="0"))
    op.add_column("runs", sa.Column("created_at", _TIME))
    # (a unique index: SQLite cannot add a UNIQUE constraint to an existing table)
    op.create_index("uq_runs_idempotency_key", "runs", ["idempotency_key"], unique=True)
    op.create_index("runs_by_state", "runs", ["state", "started_at"])
    op.create_index("task_runs_by_code", "task_runs", ["run", "task_id", "code", "map_index"])
    op.create_index("logs_by_run", "logs", ["run", "id"])
    op.create_table(
        "run_tags",
        sa.Column("run", _ID, sa.ForeignKey("runs.id", ondelete="CASCADE", name="fk_run_tags_run_runs"),
                  nullable=False),
        sa.Column("tag", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("tag", "run", name="pk_run_tags"),
    )
    op.create_table(
        "flows",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False, server_default="{}"),
        sa.PrimaryKeyConstraint("id", name="pk_flows"),
        sa.UniqueConstraint("name", name="uq_flows_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME),
        sa.Column("last_used_at", _TIME),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("hash", name="uq_api_keys_hash"),
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_secrets"),
    )
    op.create_table(
        "ingest_batches",
        sa.Column("batch_id", sa.Text, nullable=False),
        sa.Column("run", _ID),
        sa.Column("received_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name="pk_ingest_batches"),
    )


def downgrade() -> None:
    for table in ("ingest_batches", "secrets", "api_keys", "flows", "run_tags"):
        op.drop_table(table)
    for index, table in (("logs_by_run", "logs"), ("task_runs_by_code", "task_runs"), ("runs_by_state", "runs"),
                         ("uq_runs_idempotency_key", "runs")):
        op.drop_index(index, table_name=table)
    for column in ("created_at", "state_version", "idempotency_key", "tags"):
        op.drop_column("runs", column)
    op.drop_column("task_runs", "traceback")

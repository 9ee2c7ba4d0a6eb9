"""Schema 7: deployments (named, stored recipes of flow runs) and work pools; a run's
deployment and scheduled time, unique together so that a scheduler creates each
(deployment, scheduled time) at most once.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "work_pools",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("concurrency_limit", sa.Integer),
        sa.Column("paused", sa.Boolean(name="ck_work_pools_paused"), nullable=False, server_default=sa.false()),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_work_pools"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("flow_name", sa.Text, nullable=False),
        sa.Column("entrypoint", sa.Text, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False, server_default="{}"),
        sa.Column("schedule", sa.Text),
        sa.Column("pool", sa.Text, nullable=False, server_default="default"),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("executor", sa.Text),
        sa.Column("executor_options", sa.Text, nullable=False, server_default="{}"),
        sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("concurrency_limit", sa.Integer),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("paused", sa.Boolean(name="ck_deployments_paused"), nullable=False, server_default=sa.false()),
        sa.Column("catchup", sa.Text, nullable=False, server_default="latest"),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.UniqueConstraint("name", name="uq_deployments_name"),
    )
    op.add_column("runs", sa.Column("deployment_id", _ID))
    op.add_column("runs", sa.Column("scheduled_time", _TIME))
    # (a unique index: SQLite cannot add a UNIQUE constraint to an existing table; rows
    # whose deployment_id or scheduled_time is NULL never collide, on either database)
    op.create_index("uq_runs_deployment_time", "runs", ["deployment_id", "scheduled_time"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_runs_deployment_time", table_name="runs")
    op.drop_column("runs", "scheduled_time")
    op.drop_column("runs", "deployment_id")
    op.drop_table("deployments")
    op.drop_table("work_pools")

"""Schema 5: the run store as the hand-written SQLite store left it (ferroflow up to
issue 9). A legacy SQLite store brought to schema 5 is stamped at this revision.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite's rowid alias must be INTEGER
_TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Text, nullable=False, unique=True),
        sa.Column("flow_name", sa.Text, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("ended_at", _TIME),
        sa.Column("resumed_from", sa.Text),
        sa.Column("hostname", sa.Text),
        sa.Column("pid", sa.Integer),
        sa.Column("heartbeat_at", _TIME),
        sa.Column("owner", sa.Text),
        sa.Column("record_error", sa.Text),
    )
    op.create_index("runs_by_start", "runs", ["started_at"])
    op.create_index("runs_by_flow", "runs", ["flow_name", "started_at"])
    op.create_table(
        "task_runs",
        sa.Column("run", _ID, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("map_index", sa.Integer, nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("run_count", sa.Integer, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("result_location", sa.Text),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("run", "task_id", "map_index"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "child_counts",
        sa.Column("run", _ID, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run", "task_id", "code"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "child_spans",
        sa.Column("run", _ID, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("start", sa.BigInteger, nullable=False),
        sa.Column("stop", sa.BigInteger, nullable=False),
    )
    op.create_index("child_spans_by_task", "child_spans", ["run", "task_id", "start"])
    op.create_table(
        "logs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("run", _ID, nullable=False),
        sa.Column("task_id", sa.Integer),
        sa.Column("map_index", sa.Integer, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("levelname", sa.Text, nullable=False),
        sa.Column("logger", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("logs_by_task", "logs", ["run", "task_id", "map_index"])
    op.create_table(
        "run_parameters",
        sa.Column("run", _ID, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("value", sa.LargeBinary),
        sa.Column("problem", sa.Text),
        sa.PrimaryKeyConstraint("run", "name"),
    )
    op.create_table(
        "run_tasks",
        sa.Column("run", _ID, primary_key=True, autoincrement=False),
        sa.Column("ids", sa.Text, nullable=False),
        sa.Column("names", sa.Text, nullable=False),
        sa.Column("slugs", sa.Text, nullable=False),
        sa.Column("mapped", sa.LargeBinary, nullable=False),
        sa.Column("approved", sa.LargeBinary, nullable=False),
        sa.Column("codes", sa.LargeBinary, nullable=False),
        sa.Column("widths", sa.Text),
    )


def downgrade() -> None:
    for table in ("run_tasks", "run_parameters", "logs", "child_spans", "child_counts", "task_runs", "runs", "meta"):
        op.drop_table(table)

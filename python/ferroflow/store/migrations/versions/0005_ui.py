"""Schema 9: what the web UI needs.

* ``run_tasks.edges``: the flow's edges as a JSON array of ``[upstream, downstream]``
  task ids (NULL: recorded by a ferroflow older than schema 9), so that the UI draws
  the graph of any run without the flow's code.
* ``run_tasks.times``: when each task was first and last seen changing state, a JSON
  object ``task id -> [first, last]`` (seconds since the epoch), for the run page's
  timeline.
* ``deployments.parameter_schema``: the flow's parameters as ``ferroflow deploy`` found
  them (JSON: name -> ``{"default", "required", "type"}``), from which the UI builds its
  Run form.
* ``runs_by_resumed_from``: the runs resuming a run, found by an index (the run page's
  "resumed by", a resume's check that none is under way, a crashed run's retries).
* ``ui_sessions``: the web UI's login sessions (the session token kept only as its
  SHA-256), each bound to the API key it was opened with, with its CSRF token.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.create_index("runs_by_resumed_from", "runs", ["resumed_from", "started_at"])
    op.add_column("run_tasks", sa.Column("edges", sa.Text))
    op.add_column("run_tasks", sa.Column("times", sa.Text))
    op.add_column("deployments", sa.Column("parameter_schema", sa.Text, nullable=False, server_default="{}"))
    op.create_table(
        "ui_sessions",
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("key_id", _ID),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("csrf", sa.Text, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("hash", name="pk_ui_sessions"),
    )
    op.create_index("ui_sessions_by_expiry", "ui_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ui_sessions_by_expiry", table_name="ui_sessions")
    op.drop_table("ui_sessions")
    op.drop_column("deployments", "parameter_schema")
    op.drop_column("run_tasks", "times")
    op.drop_column("run_tasks", "edges")
    op.drop_index("runs_by_resumed_from", table_name="runs")

"""Schema 11: subflow runs.

* ``runs.parent_run_id``: the ``run_id`` of the run a run is a subflow run of (an
  eager flow called inside another flow run), or NULL (none, and every run recorded
  before schema 11).
* ``runs_by_parent``: the subflow runs of a run, found by an index (``parent_run_id``,
  then ``started_at``: in the order they started).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("parent_run_id", sa.Text))
    op.create_index("runs_by_parent", "runs", ["parent_run_id", "started_at"])


def downgrade() -> None:
    op.drop_index("runs_by_parent", table_name="runs")
    op.drop_column("runs", "parent_run_id")

"""Schema 12: a run's name.

* ``runs.run_name``: the human name of a run (an eager flow's ``flow_run_name``,
  ``etl-2026-12-01``), one printable line of at most 200 characters; NULL for a run
  without one (every deferred run, and every run recorded before schema 12).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("run_name", sa.Text))


def downgrade() -> None:
    op.drop_column("runs", "run_name")

"""Schema 10: which executor ran a run.

* ``runs.executor``: a one-line description of the executor a run ran on, its options
  included, secret-looking ones masked (``local``,
  ``ferroflow-dask:dask(address='tcp://10.0.0.5:8786')``; see
  :mod:`ferroflow.descriptions`); NULL for the runs recorded before schema 10 and for
  runs not started yet.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("executor", sa.Text))


def downgrade() -> None:
    op.drop_column("runs", "executor")

"""check runs: consecutive unchanged checks of an article in one row (checks.repeats, checks.later), and
the unique index on checks.visit_key only over the checks that have one

Existing rows stay as they are, each a run of one check (`repeats` 0): nothing is rewritten, and new
checks merge into the latest row of their article from now on (monitor/store/checkruns.py). Both columns
are plain ADD COLUMNs (no copy of the table on either backend). On PostgreSQL the checks table keeps 10 %
of each page free from now on, for the rewrites of its runs.

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAS_VISIT = sa.text("visit_key IS NOT NULL")


def upgrade() -> None:
    op.add_column("checks", sa.Column("repeats", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("checks", sa.Column("later", sa.LargeBinary(), nullable=True))
    op.drop_index("ux_checks_visit_key", table_name="checks")
    op.create_index("ux_checks_visit_key", "checks", ["visit_key"], unique=True, sqlite_where=HAS_VISIT,
                    postgresql_where=HAS_VISIT)
    if op.get_bind().dialect.name == "postgresql":
        # Every merge into a run writes a new copy of its row. With room left in each page, the copy goes in
        # the same page without new index entries (a HOT update) and the old one is reclaimed as the page is
        # read again: the checks table grew by 24 B per unchanged check instead of 47-71 (bench/storage.py),
        # for 5 more bytes per check stored.
        op.execute("ALTER TABLE checks SET (fillfactor = 90)")


def downgrade() -> None:
    # Runs cannot be split back into rows here: a downgrade keeps each run's first check only.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE checks RESET (fillfactor)")
    op.drop_index("ux_checks_visit_key", table_name="checks")
    op.create_index("ux_checks_visit_key", "checks", ["visit_key"], unique=True)
    with op.batch_alter_table("checks") as batch_op:
        batch_op.drop_column("later")
        batch_op.drop_column("repeats")

"""checks.visit_key: the planned visit a check records, unique, so that a visit re-run after a worker died is
recorded once (distributed mode)

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checks") as batch_op:
        batch_op.add_column(sa.Column("visit_key", sa.String(100), nullable=True))
        batch_op.create_index("ux_checks_visit_key", ["visit_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("checks") as batch_op:
        batch_op.drop_index("ux_checks_visit_key")
        batch_op.drop_column("visit_key")

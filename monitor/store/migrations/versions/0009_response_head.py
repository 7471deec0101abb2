"""versions.response_head and sites.head_reference: the status line and headers of the response each page
came in (issue 13's WARC export), packed against the first one stored of its site (monitor/store/heads.py)

NULL for the versions stored before, and for the sites until their next version: newsmon did not keep those
heads, and they cannot be known now. Plain ADD COLUMNs on both backends: the versions table, pages and all,
is not copied.

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sites", sa.Column("head_reference", sa.LargeBinary(), nullable=True))
    op.add_column("versions", sa.Column("response_head", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("versions", "response_head")
    op.drop_column("sites", "head_reference")

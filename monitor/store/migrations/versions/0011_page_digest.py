"""articles.page_digest: the digest of the last page of the article that was read (spiders/base.py
NewsSpider.page_digest), so that a re-check answered with the very same page need not read it again

NULL for every article until its next reading: a plain ADD COLUMN, nothing is copied.

Revision ID: 0011
Revises: 0010
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("page_digest", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("articles", "page_digest")

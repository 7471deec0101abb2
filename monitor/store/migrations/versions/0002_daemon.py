"""daemon: crawl runs; when an article was last seen in a listing; how precise its published date is

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch_op:
        batch_op.add_column(sa.Column("listed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("date_precision", sa.String(length=10), nullable=True))
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_crawl_runs_site_time", "crawl_runs", ["site_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_crawl_runs_site_time", table_name="crawl_runs")
    op.drop_table("crawl_runs")
    with op.batch_alter_table("articles") as batch_op:
        batch_op.drop_column("date_precision")
        batch_op.drop_column("listed_at")

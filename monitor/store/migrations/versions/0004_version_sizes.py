"""versions.body_words and versions.raw_size: what a re-check compares a suspicious page with, and what a
304 saves

Revision ID: 0004
Revises: 0003
"""
import json
import re
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORD = re.compile(r"\w+")


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch_op:
        batch_op.add_column(sa.Column("body_words", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("raw_size", sa.Integer(), nullable=True))
    versions = sa.table("versions", sa.column("id", sa.Integer), sa.column("body", sa.JSON),
                        sa.column("raw_html", sa.LargeBinary), sa.column("body_words", sa.Integer),
                        sa.column("raw_size", sa.Integer))
    conn = op.get_bind()
    for row in conn.execute(sa.select(versions.c.id, versions.c.body, versions.c.raw_html)).all():
        body = row.body if isinstance(row.body, list) else json.loads(row.body or "[]")
        conn.execute(versions.update().where(versions.c.id == row.id).values(
            body_words=sum(len(WORD.findall(p)) for p in body), raw_size=len(zlib.decompress(row.raw_html))))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch_op:
        batch_op.drop_column("raw_size")
        batch_op.drop_column("body_words")

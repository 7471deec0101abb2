"""changes.moved_words and changes.kinds: text that moved within a field (monitor/compare/moves.py) and the
kinds of edit (monitor/compare/edit_kinds.py)

Both columns are plain ADD COLUMNs. Every stored change is then counted again from its two versions, as
ingest counts a new one (monitor.compare.edit_kinds.tally): a moved paragraph, once counted as words removed
and added, becomes words moved. In this migration's one transaction: a kill leaves the database as it was,
and the next command that opens it runs the migration again.

Revision ID: 0010
Revises: 0009
"""
from collections.abc import Sequence
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

from monitor.compare.diffing import diff_articles
from monitor.compare.edit_kinds import tally
from monitor.store.codec import PackedJSON, PackedText

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
# The columns read here, typed as the models read them (lead, body and captions packed since 0007).
versions = sa.table("versions", sa.column("id", sa.Integer), sa.column("title", sa.Text), sa.column("lead", PackedText),
                    sa.column("author", sa.Text), sa.column("body", PackedJSON), sa.column("captions", PackedJSON))
changes = sa.table("changes", sa.column("id", sa.Integer), sa.column("from_version_id", sa.Integer),
                   sa.column("to_version_id", sa.Integer), sa.column("text_changed", sa.Boolean),
                   sa.column("added_words", sa.Integer), sa.column("removed_words", sa.Integer),
                   sa.column("moved_words", sa.Integer), sa.column("kinds", sa.JSON))


def upgrade() -> None:
    op.add_column("changes", sa.Column("moved_words", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("changes", sa.Column("kinds", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    bind = op.get_bind()
    last = 0
    while rows := bind.execute(sa.select(changes.c.id, changes.c.from_version_id, changes.c.to_version_id,
                                         changes.c.text_changed).where(changes.c.id > last)
                               .order_by(changes.c.id).limit(BATCH)).all():
        ids = {row.from_version_id for row in rows} | {row.to_version_id for row in rows}
        texts = {v.id: SimpleNamespace(**v._asdict())
                 for v in bind.execute(sa.select(versions).where(versions.c.id.in_(ids)))}
        for row in rows:
            old, new = texts[row.from_version_id], texts[row.to_version_id]
            counted = tally(old, new, diff_articles(old, new), row.text_changed)
            bind.execute(changes.update().where(changes.c.id == row.id).values(
                added_words=counted.added_words, removed_words=counted.removed_words,
                moved_words=counted.moved_words, kinds=list(counted.kinds)))
        last = rows[-1].id


def downgrade() -> None:
    # Plain DROP COLUMNs (SQLite >= 3.35): copying the table, as a batch operation does, would break the
    # outbox's foreign keys to it. The word counts stay as 0010 made them.
    op.drop_column("changes", "kinds")
    op.drop_column("changes", "moved_words")

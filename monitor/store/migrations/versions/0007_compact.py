"""compact storage: page dictionaries, zstd pages and text, check rows without the article's URL

The schema changes come first, in one transaction, each skipped when already made (a conversion killed
mid-way runs this again). The rows are then converted in batches, each its own transaction
(monitor/store/compaction.py), resumable after a kill; the progress table goes last, with the revision.

PostgreSQL: lead, body and captions become bytea (one rewrite of the table, in the first transaction).
SQLite keeps their declared types: a column of any type holds the packed bytes as a BLOB. checks.url may be
NULL (on SQLite the checks table is copied once for that); versions.raw_html stays NOT NULL, a pruned page
being empty, so that the versions table, pages and all, is never copied.

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.store.compaction import compact

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_COLUMNS = ("lead", "body", "captions")


def upgrade() -> None:
    _schema()
    # Commits the schema changes; each batch of the conversion then commits on its own connection.
    with op.get_context().autocommit_block():
        compact(op.get_bind().engine)
    op.drop_table("compact_progress")


def _schema() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "page_dictionaries" not in tables:
        op.create_table(
            "page_dictionaries",
            sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
            sa.Column("number", sa.Integer(), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.Column("ratio", sa.Float(), nullable=False),
            sa.Column("pages", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.UniqueConstraint("site_id", "number"),
        )
    if "compact_progress" not in tables:
        progress = op.create_table("compact_progress", sa.Column("name", sa.String(20), primary_key=True),
                                   sa.Column("last_id", sa.BigInteger(), nullable=False))
        op.bulk_insert(progress, [{"name": "versions", "last_id": 0}, {"name": "checks", "last_id": 0}])
    versions = {c["name"]: c for c in inspector.get_columns("versions")}
    if "page_dictionary_id" not in versions:
        # A plain ADD COLUMN on both backends (SQLite accepts a REFERENCES clause there): no copy of the table.
        op.execute("ALTER TABLE versions ADD COLUMN page_dictionary_id BIGINT REFERENCES page_dictionaries (id)")
    if op.get_bind().dialect.name == "postgresql":
        for name in TEXT_COLUMNS:
            if not isinstance(versions[name]["type"], sa.LargeBinary):
                op.alter_column("versions", name, type_=sa.LargeBinary(), existing_nullable=False,
                                postgresql_using=f"convert_to({name}::text, 'UTF8')")
    checks = {c["name"]: c for c in inspector.get_columns("checks")}
    if checks["url"]["nullable"] is False:
        with op.batch_alter_table("checks") as batch:
            batch.alter_column("url", existing_type=sa.String(2000), nullable=True)


def downgrade() -> None:
    raise NotImplementedError("compact storage cannot be undone: restore a backup taken before the upgrade")

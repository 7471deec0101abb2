"""Converting a database written before migration 0007 to compact storage, in place and in batches.

Run by migrations/versions/0007_compact.py, after its schema changes are committed. Each batch is one
transaction that converts its rows and moves the cursor in `compact_progress` past them: a conversion
killed at any moment resumes after the last batch committed, and converting a row twice changes nothing
(every form is told by its bytes: a zstd page is left as it is, packed text too). Two processes converting
at once only do some rows twice.

1. Each site with TRAIN_AFTER pages or more gets its first dictionary, trained on its latest pages.
2. Versions, 500 at a time: zlib pages become zstd with the site's dictionary; lead, body and captions are
   packed (codec.pack_bytes).
3. Checks, 5,000 ids at a time: the URL is dropped where it is the article's.

Plain SQL on the tables as 0007 leaves them (not the models, which later migrations may change).
"""
from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import zstandard
from sqlalchemy import Connection, Engine

from monitor.store.codec import DICTIONARIES, ZSTD_MAGIC, pack_bytes, read_page, unpack_bytes
from monitor.store.compression import PAGE_LEVEL, TRAIN_AFTER, TRAIN_ON, _compressor, new_dictionary_id, train_data

VERSIONS_PER_BATCH = 500
CHECKS_PER_BATCH = 5000

sites = sa.table("sites", sa.column("id", sa.Integer))
articles = sa.table("articles", sa.column("id", sa.Integer), sa.column("site_id", sa.Integer),
                    sa.column("url", sa.String))
versions = sa.table("versions", sa.column("id", sa.Integer), sa.column("article_id", sa.Integer),
                    sa.column("raw_html", sa.LargeBinary), sa.column("page_dictionary_id", sa.BigInteger),
                    sa.column("lead", sa.LargeBinary), sa.column("body", sa.LargeBinary),
                    sa.column("captions", sa.LargeBinary))
checks = sa.table("checks", sa.column("id", sa.Integer), sa.column("article_id", sa.Integer),
                  sa.column("url", sa.String))
dictionaries = sa.table("page_dictionaries", sa.column("id", sa.BigInteger), sa.column("site_id", sa.Integer),
                        sa.column("number", sa.Integer), sa.column("data", sa.LargeBinary),
                        sa.column("ratio", sa.Float), sa.column("pages", sa.Integer),
                        sa.column("created_at", sa.DateTime))
progress = sa.table("compact_progress", sa.column("name", sa.String), sa.column("last_id", sa.BigInteger))


def compact(engine: Engine) -> None:
    """Convert every row not converted yet (see the module's docstring)."""
    with engine.connect() as conn:
        site_ids = list(conn.scalars(sa.select(sites.c.id).order_by(sites.c.id)))
    for site_id in site_ids:
        with engine.begin() as conn:
            first_dictionary(conn, site_id)
    while convert_versions_batch(engine):
        pass
    while convert_checks_batch(engine):
        pass


def first_dictionary(conn: Connection, site_id: int) -> None:
    """The site's first dictionary, from its latest pages, unless it has one or too few pages."""
    if conn.scalar(sa.select(dictionaries.c.id).where(dictionaries.c.site_id == site_id).limit(1)) is not None:
        return
    rows = conn.execute(sa.select(versions.c.raw_html).join(articles, articles.c.id == versions.c.article_id)
                        .where(articles.c.site_id == site_id, sa.func.length(versions.c.raw_html) > 0,
                               versions.c.page_dictionary_id.is_(None))
                        .order_by(versions.c.id.desc()).limit(TRAIN_ON)).all()
    pages = [page for (data,) in reversed(rows) if (page := read_page(None, data, None))]
    if len(pages) < TRAIN_AFTER or (trained := train_data(pages)) is None:
        return
    conn.execute(sa.insert(dictionaries).values(
        id=new_dictionary_id(), site_id=site_id, number=1, data=trained.data, ratio=trained.ratio,
        pages=trained.pages, created_at=datetime.now(UTC).replace(tzinfo=None)))


def convert_versions_batch(engine: Engine, size: int = VERSIONS_PER_BATCH) -> bool:
    """Convert the next `size` versions in one transaction; False when none were left."""
    with engine.begin() as conn:
        cursor = _cursor(conn, "versions")
        rows = conn.execute(sa.select(versions.c.id, articles.c.site_id, versions.c.raw_html,
                                      versions.c.page_dictionary_id, versions.c.lead, versions.c.body,
                                      versions.c.captions)
                            .join(articles, articles.c.id == versions.c.article_id)
                            .where(versions.c.id > cursor).order_by(versions.c.id).limit(size)).all()
        if not rows:
            return False
        packers = _Packers(conn)
        conn.execute(sa.update(versions).where(versions.c.id == sa.bindparam("row_id")).values(
            raw_html=sa.bindparam("page"), page_dictionary_id=sa.bindparam("dictionary"), lead=sa.bindparam("l"),
            body=sa.bindparam("b"), captions=sa.bindparam("c")), [_converted(row, packers) for row in rows])
        _move_cursor(conn, "versions", rows[-1].id)
    return True


def convert_checks_batch(engine: Engine, size: int = CHECKS_PER_BATCH) -> bool:
    """Drop the URL of the next `size` check ids where it is the article's; False when past the last."""
    with engine.begin() as conn:
        cursor = _cursor(conn, "checks")
        if cursor >= (conn.scalar(sa.select(sa.func.max(checks.c.id))) or 0):
            return False
        article_url = sa.select(articles.c.url).where(articles.c.id == checks.c.article_id).scalar_subquery()
        conn.execute(sa.update(checks).where(checks.c.id > cursor, checks.c.id <= cursor + size,
                                             checks.c.url == article_url).values(url=None))
        _move_cursor(conn, "checks", cursor + size)
    return True


class _Packers:
    """Per site, what compresses its pages: its latest dictionary, or zstd alone."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.by_site: dict[int, tuple[int | None, zstandard.ZstdCompressor]] = {}

    def __call__(self, site_id: int) -> tuple[int | None, zstandard.ZstdCompressor]:
        if site_id not in self.by_site:
            row = self.conn.execute(sa.select(dictionaries.c.id, dictionaries.c.data)
                                    .where(dictionaries.c.site_id == site_id)
                                    .order_by(dictionaries.c.number.desc()).limit(1)).first()
            loaded = DICTIONARIES.put(row.id, row.data) if row else None
            self.by_site[site_id] = (row.id if row else None, _compressor(loaded, PAGE_LEVEL))
        return self.by_site[site_id]


def _converted(row: Any, packers: _Packers) -> dict[str, Any]:
    page, dictionary = row.raw_html, row.page_dictionary_id
    if page and not bytes(page).startswith(ZSTD_MAGIC):   # zlib, from before 0007
        dictionary, compressor = packers(row.site_id)
        page = compressor.compress(zlib.decompress(page))
    return {"row_id": row.id, "page": page, "dictionary": dictionary, "l": _packed_text(row.lead),
            "b": _packed_json(row.body), "c": _packed_json(row.captions)}


def _packed_text(value: Any) -> bytes:
    return pack_bytes(unpack_bytes(value).encode("utf-8"))


def _packed_json(value: Any) -> bytes:
    # Re-serialised: SQLAlchemy's JSON type wrote "\u00e9" for "é" (ensure_ascii), twice or six times the bytes.
    items = value if isinstance(value, list) else json.loads(unpack_bytes(value))
    return pack_bytes(json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _cursor(conn: Connection, name: str) -> int:
    """The last id converted (0007 creates the rows with its table, at 0)."""
    return conn.scalar(sa.select(progress.c.last_id).where(progress.c.name == name)) or 0


def _move_cursor(conn: Connection, name: str, last_id: int) -> None:
    conn.execute(sa.update(progress).where(progress.c.name == name).values(last_id=last_id))

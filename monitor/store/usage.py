"""What the database takes, and giving back the room old raw pages take: `newsmon stats`, `newsmon prune`.

Sizes are the database's own: SQLite's `dbstat` (pages of each table and index), PostgreSQL's
`pg_total_relation_size` (table, TOAST and indexes). Per site, the bytes of the values themselves: the
compressed pages, the text fields as stored, and the site's share of the checks table by its rows. A row of
`checks` may stand for a run of unchanged checks (monitor/store/checkruns.py): checks are counted, not rows.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import LargeBinary, cast, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from monitor.iso import utc_iso
from monitor.store.engine import Store
from monitor.store.models import Article, Check, PageDictionary, Site, Version

TABLES = ("versions", "checks", "articles", "article_urls", "changes", "events", "page_dictionaries", "outbox",
          "deliveries", "crawl_runs", "sites")
PRUNE_BATCH = 500   # versions per transaction: a prune never holds the database for long


@dataclass(frozen=True, slots=True)
class TableUsage:
    table: str
    rows: int
    bytes: int           # the table with its indexes (and TOAST on PostgreSQL)

    @property
    def per_row(self) -> float:
        return self.bytes / self.rows if self.rows else 0.0

    def as_json(self) -> dict:
        return asdict(self) | {"bytes_per_row": round(self.per_row, 1)}


@dataclass(frozen=True, slots=True)
class SiteUsage:
    site: str
    versions: int
    pages: int            # versions that still have their raw page
    pruned: int           # versions whose raw page was pruned
    raw_bytes: int        # the compressed pages
    page_bytes: int       # the same pages as fetched
    text_bytes: int       # title, lead, author, body, captions as stored
    checks: int           # checks, a run counting for all of its own
    check_bytes: int      # the site's share of the checks table, by rows
    dictionaries: int

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Usage:
    backend: str
    database_bytes: int
    tables: list[TableUsage]
    sites: list[SiteUsage]

    def table(self, name: str) -> TableUsage:
        return next(t for t in self.tables if t.table == name)

    @property
    def per_version(self) -> float:
        """Bytes per stored version, its page and dictionaries included."""
        versions = self.table("versions")
        return (versions.bytes + self.table("page_dictionaries").bytes) / versions.rows if versions.rows else 0.0

    @property
    def per_check(self) -> float:
        """Bytes per check (not per row: a row may be a run of checks), indexes included."""
        checks = sum(s.checks for s in self.sites)
        return self.table("checks").bytes / checks if checks else 0.0

    def as_json(self) -> dict:
        return {"backend": self.backend, "database_bytes": self.database_bytes,
                "bytes_per_version": round(self.per_version, 1), "bytes_per_check": round(self.per_check, 1),
                "tables": [t.as_json() for t in self.tables], "sites": [s.as_json() for s in self.sites]}


def usage(session: Session) -> Usage:
    backend = session.get_bind().dialect.name
    sizes = _table_bytes(session, backend)
    tables = [TableUsage(name, session.scalar(text(f"SELECT count(*) FROM {name}")) or 0, sizes.get(name, 0))
              for name in TABLES]
    return Usage(backend, _database_bytes(session, backend), tables,
                 _sites(session, backend, tables[TABLES.index("checks")]))


def _table_bytes(session: Session, backend: str) -> dict[str, int]:
    if backend == "sqlite":
        # dbstat names tables and indexes; an index counts for its table.
        rows = session.execute(text("SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                                    "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1"))
    else:
        rows = session.execute(text("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN "
                                    "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                                    "AND c.relkind = 'r'"))
    return {name: int(size or 0) for name, size in rows}


def _database_bytes(session: Session, backend: str) -> int:
    if backend == "sqlite":
        return int(session.scalar(text("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"))
                   or 0)
    return int(session.scalar(text("SELECT pg_database_size(current_database())")) or 0)


def _octets(column: ColumnElement, backend: str) -> ColumnElement:
    """Bytes of a stored value (SQLite's length() counts a text's characters)."""
    return func.length(cast(column, LargeBinary)) if backend == "sqlite" else func.octet_length(column)


def _sites(session: Session, backend: str, checks: TableUsage) -> list[SiteUsage]:
    def size(column: ColumnElement) -> ColumnElement:
        return func.coalesce(func.sum(_octets(column, backend)), 0)

    has_page = func.length(Version.raw_html) > 0
    text_size = sum((size(c) for c in (Version.title, Version.lead, Version.author, Version.body, Version.captions)),
                    start=func.coalesce(func.sum(0), 0))
    versions = {row.site_id: row for row in session.execute(
        select(Article.site_id, func.count().label("versions"),
               func.count().filter(has_page).label("pages"),
               size(Version.raw_html).label("raw"),
               func.coalesce(func.sum(Version.raw_size).filter(has_page), 0).label("page"),
               text_size.label("text"))
        .join(Article, Article.id == Version.article_id).group_by(Article.site_id))}
    check_rows = {site_id: (rows, int(checks)) for site_id, rows, checks in session.execute(
        select(Article.site_id, func.count(), func.sum(1 + Check.repeats)).select_from(Check)
        .join(Article, Article.id == Check.article_id).group_by(Article.site_id))}
    dictionaries = dict(session.execute(select(PageDictionary.site_id, func.count()).group_by(PageDictionary.site_id))
                        .all())
    result = []
    for site_id, name in session.execute(select(Site.id, Site.name).order_by(Site.name)):
        v = versions.get(site_id)
        n_rows, n_checks = check_rows.get(site_id, (0, 0))
        result.append(SiteUsage(
            site=name, versions=v.versions if v else 0, pages=v.pages if v else 0,
            pruned=(v.versions - v.pages) if v else 0, raw_bytes=int(v.raw) if v else 0,
            page_bytes=int(v.page) if v else 0, text_bytes=int(v.text) if v else 0, checks=n_checks,
            check_bytes=round(checks.bytes * n_rows / checks.rows) if checks.rows else 0,
            dictionaries=dictionaries.get(site_id, 0)))
    return result


# ---------------------------------------------------------------- prune

@dataclass(slots=True)
class Pruned:
    """What a prune dropped (or, in a dry run, would drop): raw pages only."""

    before: datetime
    dry_run: bool
    pages: int = 0
    bytes: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    by_site: dict[str, int] = field(default_factory=dict)

    def add(self, site: str, size: int, fetched_at: datetime) -> None:
        self.pages += 1
        self.bytes += size
        self.by_site[site] = self.by_site.get(site, 0) + 1
        self.oldest = min(self.oldest or fetched_at, fetched_at)
        self.newest = max(self.newest or fetched_at, fetched_at)

    def as_json(self) -> dict:
        return {"before": utc_iso(self.before), "dry_run": self.dry_run, "pages": self.pages, "bytes": self.bytes,
                "oldest_fetched_at": utc_iso(self.oldest), "newest_fetched_at": utc_iso(self.newest),
                "sites": dict(sorted(self.by_site.items()))}


def prunable(session: Session, before: datetime, after_id: int = 0, limit: int = PRUNE_BATCH) -> list[tuple]:
    """(version id, site, compressed bytes, fetched_at) of the next versions fetched before `before` that still
    have their raw page, by id."""
    return list(session.execute(
        select(Version.id, Site.name, func.length(Version.raw_html), Version.fetched_at)
        .join(Article, Article.id == Version.article_id).join(Site, Site.id == Article.site_id)
        .where(Version.fetched_at < before, func.length(Version.raw_html) > 0, Version.id > after_id)
        .order_by(Version.id).limit(limit)).all())


def drop_pages(session: Session, ids: Iterable[int]) -> None:
    """Empty the raw pages of these versions (their text, dates, hashes and checks stay)."""
    session.execute(update(Version).where(Version.id.in_(list(ids))).values(raw_html=b"", page_dictionary_id=None),
                    execution_options={"synchronize_session": False})


def prune(store: Store, before: datetime, *, dry_run: bool = False) -> Pruned:
    """Drop the raw pages of versions fetched before `before`, PRUNE_BATCH versions per transaction (a prune
    stopped half-way has dropped whole batches, and the next one goes on). Text, versions and checks stay:
    everything but `newsmon reextract` works as before, and reextract leaves these versions as stored."""
    done = Pruned(before, dry_run)
    last_id = 0
    while True:
        with store.session() as session:
            batch = prunable(session, before, last_id)
            if not batch:
                return done
            if not dry_run:
                drop_pages(session, [version_id for version_id, *_ in batch])
        for _, site, size, fetched_at in batch:
            done.add(site, size, fetched_at)
        last_id = batch[-1][0]

"""The database schema, as SQLAlchemy models. Migrations in monitor/store/migrations/ create and evolve it.

Every table is append-only except `articles` (current state of each tracked article), and the raw pages of
`versions`, which `newsmon prune` may empty. Unique constraints
make repeated or concurrent runs harmless: one article per (site, key), one version per (article, number),
one change per version.
"""
from __future__ import annotations

import builtins
from datetime import UTC, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String,
                        Subquery, Text, TypeDecorator, UniqueConstraint, func, select, text)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, object_session, relationship

from monitor.iso import from_iso, to_iso
from monitor.store.codec import PackedJSON, PackedText, read_page, unpack_head


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones: store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; newsmon keeps UTC-aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    spider: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    # The first response head stored of the site, as received: its later heads are packed against it
    # (monitor/store/heads.py). Set once, never changed; None until the site's first version after 0009.
    head_reference: Mapped[bytes | None] = mapped_column(LargeBinary)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("site_id", "key"), Index("ix_articles_due", "site_id", "next_check_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    key: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    edition: Mapped[str | None] = mapped_column(String(100))
    section: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="live")   # live | gone
    published_iso: Mapped[str | None] = mapped_column("published", String(40))   # as declared
    date_precision: Mapped[str | None] = mapped_column(String(10))                # of published: day | minute
    first_seen_at: Mapped[datetime]
    last_checked_at: Mapped[datetime | None]
    last_changed_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]                             # None: no more scheduled re-checks
    listed_at: Mapped[datetime | None]                                 # last seen on a front page or feed
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # The digest of the last page of the article that was read (spiders/base.py NewsSpider.page_digest): the
    # same page again reads the same, and is an unchanged check without being read. NULL: read it.
    page_digest: Mapped[bytes | None] = mapped_column(LargeBinary)

    site: Mapped[Site] = relationship()


class ArticleUrl(Base):
    """Every URL an article was seen at: the slug follows the title, old links redirect."""

    __tablename__ = "article_urls"
    __table_args__ = (UniqueConstraint("article_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    url: Mapped[str] = mapped_column(String(2000), index=True)
    first_seen_at: Mapped[datetime]

    # Rows of a batch point to their article through the relationship, so a batch's rows go in together, one
    # INSERT per table (monitor/store/bulk.py), instead of one flush per new article for its id.
    article: Mapped[Article] = relationship()


class PageDictionary(Base):
    """One version of a site's zstd dictionary for its raw pages (monitor/store/compression.py). Never changed
    nor deleted: every page compressed with it names it."""

    __tablename__ = "page_dictionaries"
    __table_args__ = (UniqueConstraint("site_id", "number"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # random, never reused
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    number: Mapped[int] = mapped_column(Integer)                 # 1, 2, 3... per site
    data: Mapped[bytes] = mapped_column(LargeBinary)
    ratio: Mapped[float] = mapped_column(Float)                  # page bytes / compressed bytes, on held-out pages
    pages: Mapped[int] = mapped_column(Integer)                  # pages it was trained on
    created_at: Mapped[datetime]


class Version(Base):
    """One row per distinct content of an article, with the raw page it was read from."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    number: Mapped[int] = mapped_column(Integer)                  # 1, 2, 3... per article
    fetched_at: Mapped[datetime]
    url: Mapped[str] = mapped_column(String(2000))
    edition: Mapped[str | None] = mapped_column(String(100))
    section: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    lead: Mapped[str] = mapped_column(PackedText)               # zstd when shorter (compression.py)
    author: Mapped[str] = mapped_column(Text)
    # The declared dates keep the offset the site gave them (the edition's zone), hence ISO strings.
    published_iso: Mapped[str | None] = mapped_column("published", String(40))
    updated_iso: Mapped[str | None] = mapped_column("updated", String(40))
    date_precision: Mapped[str] = mapped_column(String(10))     # day | minute
    body: Mapped[list[str]] = mapped_column(PackedJSON)
    captions: Mapped[list[str]] = mapped_column(PackedJSON)
    text_hash: Mapped[str] = mapped_column(String(64))          # of the comparison form of the text fields
    extracted_hash: Mapped[str | None] = mapped_column(String(64))  # of the text fields exactly as extracted
    body_words: Mapped[int | None] = mapped_column(Integer)        # a sudden drop is confirmed before stored
    raw_size: Mapped[int | None] = mapped_column(Integer)          # bytes of the page; what a 304 saves
    dates_key: Mapped[str] = mapped_column(String(100))         # the declared dates, exactly
    metadata_only: Mapped[bool] = mapped_column(Boolean, default=False)
    extractor: Mapped[str] = mapped_column(String(100))
    http_status: Mapped[int] = mapped_column(Integer)
    # The page as fetched, compressed (zstd, with the dictionary named below if any; zlib before 0007);
    # empty once `newsmon prune` dropped it. Read it as `page`.
    raw_html: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    page_dictionary_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("page_dictionaries.id"))
    raw_encoding: Mapped[str] = mapped_column(String(40))
    # The status line and headers of the response the page came in, as received (monitor/crawl/heads.py),
    # packed against its site's reference head (monitor/store/heads.py); None for versions stored before
    # 0009. Read it as `head`.
    response_head: Mapped[bytes | None] = mapped_column(LargeBinary)

    article: Mapped[Article] = relationship()

    # The declared dates under the names of monitor.items.ExtractedArticle, so that a version is built from
    # and read as an article field by field (monitor.items.VERSION_FIELDS).
    @property
    def published(self) -> datetime | None:
        return from_iso(self.published_iso)

    @published.setter
    def published(self, value: datetime | None) -> None:
        self.published_iso = to_iso(value)

    @property
    def updated(self) -> datetime | None:
        return from_iso(self.updated_iso)

    @updated.setter
    def updated(self, value: datetime | None) -> None:
        self.updated_iso = to_iso(value)

    @property
    def page(self) -> bytes | None:
        """The page as fetched; None when it was pruned."""
        return read_page(object_session(self), self.raw_html, self.page_dictionary_id)

    @property
    def head(self) -> bytes | None:
        """The response's status line and headers as received; None when newsmon did not keep them."""
        if not self.response_head:
            return None
        reference = self.article.site.head_reference
        assert reference is not None   # set before the site's first head was packed
        return unpack_head(self.response_head, reference)


def latest_versions() -> Subquery:
    """Each article's latest version: `article_id`, its `number`, and how many `versions` it has. Join
    `Version` on both columns for the row itself."""
    return (select(Version.article_id, func.max(Version.number).label("number"), func.count().label("versions"))
            .group_by(Version.article_id).subquery("latest"))


class Check(Base):
    """Every fetch of an article and what came of it; a row of unchanged checks stands for a run of them
    (monitor/store/checkruns.py): read a row's times with queries.check_times()."""

    __tablename__ = "checks"
    # visit_key is unique where there is one: the index leaves out the checks of the daemon and of
    # `newsmon crawl` (no visit), which would each cost an index entry for nothing.
    __table_args__ = (Index("ix_checks_article_time", "article_id", "checked_at"),
                      Index("ux_checks_visit_key", "visit_key", unique=True, sqlite_where=text("visit_key IS NOT NULL"),
                            postgresql_where=text("visit_key IS NOT NULL")))

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    checked_at: Mapped[datetime]
    # The URL fetched, only when it is not the article's (`Article.url`): most checks fetch the article's own
    # URL, and repeating it made most of a check row. Read it as queries.check_url() gives it. When the
    # article's URL changes, its checks without one get the old URL first (ingest._remember_urls).
    url: Mapped[str | None] = mapped_column(String(2000))
    http_status: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))   # new | unchanged | changed | metadata | error | gone
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    error: Mapped[str | None] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    # The planned visit this check records (distributed mode: a job's key), unique: a visit re-run after its
    # worker died is recorded once. None for checks of the daemon and of `newsmon crawl`.
    visit_key: Mapped[str | None] = mapped_column(String(100))
    # A run: `repeats` more unchanged checks merged into this row after the first (at `checked_at`), their
    # times packed in `later`; `bytes` is the run's total. `repeats` is also the row's version counter: a
    # merge updates the row only if no one else merged into it meanwhile (else StaleDataError, and the
    # batch is recorded again), so two writers never lose one another's check.
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    later: Mapped[builtins.bytes | None] = mapped_column(LargeBinary)   # `bytes` is a column here

    article: Mapped[Article] = relationship()
    version: Mapped[Version | None] = relationship()

    __mapper_args__ = {"version_id_col": repeats, "version_id_generator": False}


class Change(Base):
    """From one version of an article to the next."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    from_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), unique=True)
    detected_at: Mapped[datetime] = mapped_column(index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)
    text_changed: Mapped[bool] = mapped_column(Boolean)
    announced: Mapped[bool] = mapped_column(Boolean)
    added_words: Mapped[int] = mapped_column(Integer)
    removed_words: Mapped[int] = mapped_column(Integer)
    moved_words: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # since 0010
    # The kinds of edit (monitor/compare/edit_kinds.py), stored because `--edit-kind` filters on them.
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)

    article: Mapped[Article] = relationship()
    from_version: Mapped[Version] = relationship(foreign_keys=[from_version_id])
    to_version: Mapped[Version] = relationship(foreign_keys=[to_version_id])


class CrawlRun(Base):
    """One crawl of one site: by the daemon (discovery or revisits) or from the command line."""

    __tablename__ = "crawl_runs"
    __table_args__ = (Index("ix_crawl_runs_site_time", "site_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    kind: Mapped[str] = mapped_column(String(20))        # discovery | revisit | crawl
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(20))     # running | ok | failed | interrupted
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class Event(Base):
    """Things that happen to an article besides its text: gone, republished, moved to a new URL."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_article_time", "article_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))      # gone | republished | moved
    detail: Mapped[str] = mapped_column(Text, default="")

    article: Mapped[Article] = relationship()


class Outbox(Base):
    """Something to tell subscribers, written in the same transaction as what it tells of (a change, an
    article gone or back, a site's trouble starting or ending), so that it is never lost nor told of
    something that was rolled back. monitor/notify/dispatch.py turns each row into deliveries."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_expanded", "expanded", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))     # change | gone | republished | alert | recovered
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    expanded: Mapped[bool] = mapped_column(Boolean, default=False)   # its deliveries are written

    site: Mapped[Site] = relationship()
    article: Mapped[Article | None] = relationship()
    change: Mapped[Change | None] = relationship()
    event: Mapped[Event | None] = relationship()


class Delivery(Base):
    """One outbox row for one target of one subscription (a dead channel never holds back another): pending until sent, retried with back-off, failed at last.
    `claimed_until` is a lease: whoever sets it sends the message; a sender killed mid-way lets it lapse."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("outbox_id", "subscription", "target"),
                      Index("ix_deliveries_due", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    subscription: Mapped[str] = mapped_column(String(100))
    target: Mapped[int] = mapped_column(Integer)      # which of the subscription's targets (0, 1...)
    status: Mapped[str] = mapped_column(String(10), default="pending")   # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    outbox: Mapped[Outbox] = relationship()

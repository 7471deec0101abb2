"""The read side: what the CLI, reports and the web app show. Each function returns plain records whose
`as_json()` is the documented JSON form (README, "JSON fields"); field names there are stable.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from monitor.compare.diffing import FieldDiff, diff_articles
from monitor.compare.edit_kinds import EDIT_KINDS
from monitor.compare.reverts import FlipFlop, headline_flips, reverts
from monitor.compare.policy import RevisitPolicy, publication_estimate
from monitor.durations import MAX_DURATION_TEXT, exceeds_limit, parse_duration
from monitor.errors import BadInput, NotFound
from monitor.iso import to_iso, utc_iso
from monitor.items import DATE_FIELDS, VERSION_FIELDS
from monitor.store.checkruns import unpack_times
from monitor.store.models import (Article, ArticleUrl, Change, Check, CrawlRun, Event, Site, Version, from_iso,
                                  latest_versions)


def parse_since(value: str, now: datetime | None = None, *, name: str = "--since") -> datetime:
    """'90m', '24h', '7d', '2w' (a duration back from now) or an ISO date/datetime (UTC unless it says)."""
    now = now or datetime.now(UTC)
    if exceeds_limit(value):
        raise BadInput(f"{name} reaches too far back: {value!r} (at most {MAX_DURATION_TEXT})")
    # A duration needs its unit: "2021" is a year, not 2021 seconds. The duration limit keeps `now - duration`
    # inside the calendar.
    if (duration := parse_duration(value)) is not None:
        return now - duration
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"{name} takes a duration like 90m, 24h, 7d or an ISO date, not {value!r}") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        # Stored times are UTC: a date at the calendar's edge with an offset (0001-01-01T00:00+14:00) has no
        # UTC form, and would overflow only when the query binds it.
        parsed.astimezone(UTC)
    except OverflowError:
        raise BadInput(f"{name} is out of the calendar's range once in UTC: {value!r}") from None
    return parsed


# ---------------------------------------------------------------- records

@dataclass(frozen=True, slots=True)
class ArticleRecord:
    site: str
    article_id: str
    url: str
    status: str
    edition: str | None
    section: str | None
    title: str | None
    published: str | None
    versions: int
    first_seen_at: str | None
    last_checked_at: str | None
    next_check_at: str | None

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    site: str
    article_id: str
    url: str
    title: str
    edition: str | None
    from_version: int
    to_version: int
    detected_at: str
    fields: list[str]
    text_changed: bool
    announced: bool
    added_words: int
    removed_words: int
    moved_words: int
    kinds: list[str]           # kinds of edit (monitor/compare/edit_kinds.py)
    reverts_to: int | None     # the earlier version whose text this one brings back (monitor/compare/reverts.py)
    declared_updated: str | None

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One stored version as `newsmon export` writes it: where it is, then the article's fields
    (monitor.items.VERSION_FIELDS, dates as declared in ISO 8601), then `metadata_only`."""

    site: str
    article_id: str
    url: str
    version: int
    fetched_at: str
    status: str
    edition: str | None
    section: str | None
    title: str
    lead: str
    author: str
    published: str | None
    updated: str | None
    date_precision: str
    body: list[str]
    captions: list[str]
    metadata_only: bool
    extractor: str

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of an article's history: a check, an event, or a version's arrival."""

    at: str
    kind: str            # check | gone | republished | moved
    outcome: str         # check outcome, or the event's detail
    http_status: int | None
    version: int | None
    error: str | None
    url: str | None = None   # the URL a check fetched; None for events

    def as_json(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- resolving ARTICLE

def resolve_article(session: Session, ref: str) -> Article:
    """ARTICLE as the user gives it: the site's id ("431001"), a URL (old or new), or "site:id"."""
    ref = ref.strip()
    if re.match(r"^https?://", ref):
        query = (select(Article).join(ArticleUrl, ArticleUrl.article_id == Article.id)
                 .where(ArticleUrl.url == ref.split("#")[0]))
        found = session.scalars(query.distinct().limit(2)).all()
        if not found:
            raise NotFound(f"no tracked article has the URL {ref}")
    else:
        site, _, key = ref.rpartition(":")
        query = select(Article).where(Article.key == key)
        if site:
            query = query.join(Site, Site.id == Article.site_id).where(Site.name == site)
        found = session.scalars(query.limit(2)).all()
        if not found:
            raise NotFound(f"no tracked article {ref!r} (give the site's id, a URL, or site:id)")
    if len(found) > 1:
        raise BadInput(f"{ref} names articles on several sites; say which, e.g. "
                       f"{found[0].site.name}:{found[0].key}")
    return found[0]


# ---------------------------------------------------------------- listings

def list_articles(session: Session, site: str | None = None) -> list[ArticleRecord]:
    latest = latest_versions()
    v = aliased(Version)
    query = (select(Article, Site.name, v.title, latest.c.versions)
             .join(Site, Site.id == Article.site_id)
             .outerjoin(latest, latest.c.article_id == Article.id)
             .outerjoin(v, (v.article_id == Article.id) & (v.number == latest.c.number))
             .order_by(Site.name, Article.published_iso.desc(), Article.key))
    if site:
        query = query.where(Site.name == site)
    return [ArticleRecord(site=name, article_id=a.key, url=a.url, status=a.status, edition=a.edition,
                          section=a.section, title=title, published=a.published_iso, versions=n or 0,
                          first_seen_at=utc_iso(a.first_seen_at), last_checked_at=utc_iso(a.last_checked_at),
                          next_check_at=utc_iso(a.next_check_at))
            for a, name, title, n in session.execute(query)]


CHANGE_KINDS = ("title", "lead", "author", "body", "captions", "dates")


def parse_edit_kinds(values: Iterable[str], *, name: str = "--edit-kind") -> tuple[str, ...]:
    """Kinds of edit as a user gives them: each value one kind or a comma list ("spelling,figures")."""
    kinds = [kind.strip() for value in values for kind in value.split(",") if kind.strip()]
    for kind in kinds:
        if kind not in EDIT_KINDS:
            shown = kind if len(kind) <= 40 else kind[:40] + "…"   # the message is read, not the input echoed
            raise BadInput(f"{name}: unknown kind of edit {shown!r}; known: {', '.join(EDIT_KINDS)}")
    return tuple(dict.fromkeys(kinds))


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """Which changes to list; the CLI, the report, the web app and the feed share it."""

    since: datetime | None = None
    site: str | None = None
    edition: str | None = None
    kind: str | None = None          # one of CHANGE_KINDS: the changes that touch this field
    edit_kinds: tuple[str, ...] = ()  # kinds of edit (EDIT_KINDS): the changes of any of them
    silent_only: bool = False        # text edits whose declared update date did not move
    article_id: int | None = None    # the database id of one article


def _changes_query(where: ChangeFilter) -> Select:
    old, new = aliased(Version), aliased(Version)
    query = (select(Change, Site.name, Article.key, old.number, new)
             .join(Article, Article.id == Change.article_id).join(Site, Site.id == Article.site_id)
             .join(old, old.id == Change.from_version_id).join(new, new.id == Change.to_version_id))
    if where.since is not None:
        query = query.where(Change.detected_at >= where.since)
    if where.silent_only:
        query = query.where(Change.text_changed.is_(True), Change.announced.is_(False))
    if where.site:
        query = query.where(Site.name == where.site)
    if where.edition:
        query = query.where(new.edition == where.edition)
    if where.kind == "dates":
        query = query.where(Change.text_changed.is_(False))
    elif where.kind:
        # fields is a JSON list of names; its text form holds each name in double quotes on every backend.
        query = query.where(cast(Change.fields, String).like(f'%"{where.kind}"%'))
    if where.edit_kinds:
        # kinds is a JSON list of names, like fields.
        query = query.where(or_(*(cast(Change.kinds, String).like(f'%"{kind}"%') for kind in where.edit_kinds)))
    if where.article_id is not None:
        query = query.where(Change.article_id == where.article_id)
    return query


def list_changes(session: Session, where: ChangeFilter = ChangeFilter(), *, limit: int | None = None,
                 offset: int = 0) -> list[ChangeRecord]:
    """Changes, newest first."""
    query = _changes_query(where).order_by(Change.detected_at.desc(), Change.id.desc()).limit(limit).offset(offset)
    rows = session.execute(query).all()
    reverted = version_reverts(session, {c.article_id for c, *_ in rows})
    return [ChangeRecord(site=name, article_id=key, url=to.url, title=to.title, edition=to.edition,
                         from_version=from_number, to_version=to.number, detected_at=utc_iso(c.detected_at) or "",
                         fields=list(c.fields), text_changed=c.text_changed, announced=c.announced,
                         added_words=c.added_words, removed_words=c.removed_words, moved_words=c.moved_words,
                         kinds=list(c.kinds), reverts_to=reverted.get((c.article_id, to.number)),
                         declared_updated=to.updated_iso)
            for c, name, key, from_number, to in rows]


def version_reverts(session: Session, article_ids: Iterable[int]) -> dict[tuple[int, int], int]:
    """(article, version number) -> the earlier version it reverts to, for the versions that revert (the rule:
    monitor/compare/reverts.py); from the text hashes of every version of those articles."""
    hashes: dict[int, list[tuple[int, str]]] = {}
    ids = sorted(set(article_ids))
    for start in range(0, len(ids), 500):   # a listing of every change can name more articles than SQLite binds
        for article_id, number, text_hash in session.execute(
                select(Version.article_id, Version.number, Version.text_hash)
                .where(Version.article_id.in_(ids[start:start + 500])).order_by(Version.article_id, Version.number)):
            hashes.setdefault(article_id, []).append((number, text_hash))
    out: dict[tuple[int, int], int] = {}
    for article_id, versions in hashes.items():
        numbers = [number for number, _ in versions]
        for number, back in zip(numbers, reverts([text_hash for _, text_hash in versions]), strict=True):
            if back is not None:
                out[article_id, number] = numbers[back - 1]
    return out


def count_changes(session: Session, where: ChangeFilter = ChangeFilter()) -> int:
    return session.scalar(select(func.count()).select_from(_changes_query(where).subquery())) or 0


def get_version(session: Session, article: Article, number: int | None = None) -> Version:
    """A version of an article by number; the latest when number is None."""
    query = select(Version).where(Version.article_id == article.id)
    query = query.where(Version.number == number) if number is not None else query.order_by(Version.number.desc())
    version = session.scalars(query.limit(1)).first()
    if version is None:
        raise NotFound(f"article {article.key} has no version {number}" if number is not None else
                       f"article {article.key} has no version yet")
    return version


def version_pair(session: Session, article: Article, from_number: int | None,
                 to_number: int | None) -> tuple[Version, Version]:
    """Two versions to compare: `to` (the latest by default) and `from` (by default the one before it)."""
    new = get_version(session, article, to_number)
    return get_version(session, article, from_number if from_number is not None else max(new.number - 1, 1)), new


def version_record(site: str, article: Article, version: Version) -> VersionRecord:
    content = {name: getattr(version, name) for name in VERSION_FIELDS}
    content |= {name: to_iso(content[name]) for name in DATE_FIELDS}
    return VersionRecord(site=site, article_id=article.key, version=version.number,
                         fetched_at=utc_iso(version.fetched_at) or "", status=article.status,
                         metadata_only=version.metadata_only,
                         **{name: list(v) if isinstance(v, list | tuple) else v for name, v in content.items()})


def export_versions(session: Session, site: str | None = None,
                    since: datetime | None = None) -> Iterator[VersionRecord]:
    """Every stored version (of a site, fetched since a time), article by article, oldest first; streamed,
    whatever the database size."""
    for name, article, version in session.execute(versions_in_order(site, since).execution_options(yield_per=500)):
        yield version_record(name, article, version)


def versions_in_order(site: str | None = None, since: datetime | None = None) -> Select[tuple[str, Article, Version]]:
    """(site name, article, version) of every stored version (of a site, fetched since a time), article by
    article, oldest first: the order every export streams them in."""
    query = (select(Site.name, Article, Version).join(Article, Article.id == Version.article_id)
             .join(Site, Site.id == Article.site_id).order_by(Site.name, Article.key, Version.number))
    if site:
        query = query.where(Site.name == site)
    if since:
        query = query.where(Version.fetched_at >= since)
    return query


def timeline(session: Session, article: Article) -> list[TimelineEntry]:
    """Checks and events of an article, oldest first."""
    numbers = dict(session.execute(select(Version.id, Version.number).where(Version.article_id == article.id)).all())
    entries = [TimelineEntry(utc_iso(at) or "", "check", c.outcome, c.http_status,
                             numbers.get(c.version_id), c.error, check_url(c, article))
               for c in session.scalars(select(Check).where(Check.article_id == article.id)) for at in check_times(c)]
    entries += [TimelineEntry(utc_iso(e.at) or "", e.kind, e.detail, None, None, None)
                for e in session.scalars(select(Event).where(Event.article_id == article.id))]
    return sorted(entries, key=lambda e: e.at)


def check_times(check: Check) -> list[datetime]:
    """The time of every check a row stands for, oldest first: its `checked_at`, then those of the unchanged
    checks merged into it (a check run, monitor/store/checkruns.py)."""
    return unpack_times(check.checked_at, check.later)


def check_url(check: Check, article: Article) -> str:
    """The URL a check fetched: its own when it is not the article's, else the article's (models.Check.url)."""
    return check.url or article.url


@dataclass(frozen=True, slots=True)
class History:
    site: str
    article_id: str
    url: str
    status: str
    urls: list[str]
    versions: list[VersionSummary]
    headline_flips: list[FlipFlop]   # the title going back and forth between two (monitor/compare/reverts.py)
    timeline: list[TimelineEntry]

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class VersionSummary:
    version: int
    fetched_at: str
    title: str
    updated: str | None
    metadata_only: bool
    fields: list[str]          # what changed from the previous version; empty for the first
    announced: bool | None
    added_words: int
    removed_words: int
    moved_words: int
    kinds: list[str]
    reverts_to: int | None


def article_history(session: Session, article: Article) -> History:
    changes = {c.to_version_id: c for c in session.scalars(select(Change).where(Change.article_id == article.id))}
    reverted = version_reverts(session, [article.id])
    versions = []
    titles = []
    for v in session.scalars(select(Version).where(Version.article_id == article.id).order_by(Version.number)):
        change = changes.get(v.id)
        titles.append(v.title)
        versions.append(VersionSummary(
            version=v.number, fetched_at=utc_iso(v.fetched_at) or "", title=v.title, updated=v.updated_iso,
            metadata_only=v.metadata_only, fields=list(change.fields) if change else [],
            announced=change.announced if change else None, added_words=change.added_words if change else 0,
            removed_words=change.removed_words if change else 0, moved_words=change.moved_words if change else 0,
            kinds=list(change.kinds) if change else [], reverts_to=reverted.get((article.id, v.number))))
    urls = list(session.scalars(select(ArticleUrl.url).where(ArticleUrl.article_id == article.id)
                                .order_by(ArticleUrl.first_seen_at, ArticleUrl.id)))
    return History(site=site_name(session, article), article_id=article.key, url=article.url,
                   status=article.status, urls=urls, versions=versions, headline_flips=headline_flips(titles),
                   timeline=timeline(session, article))


def site_name(session: Session, article: Article) -> str:
    return session.scalar(select(Site.name).where(Site.id == article.site_id)) or ""


# ---------------------------------------------------------------- daemon views

@dataclass(frozen=True, slots=True)
class RunRecord:
    site: str
    kind: str
    started_at: str
    finished_at: str | None
    outcome: str
    counts: dict[str, int]
    error: str | None

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DueRecord:
    site: str
    article_id: str
    url: str
    next_check_at: str
    reason: str

    def as_json(self) -> dict:
        return asdict(self)


def recent_runs(session: Session, per_site: int = 5) -> list[RunRecord]:
    """The latest crawl runs of each site, newest first."""
    ranked = (select(CrawlRun.id, func.row_number().over(partition_by=CrawlRun.site_id,
                                                         order_by=CrawlRun.started_at.desc()).label("rank"))
              .subquery())
    query = (select(CrawlRun, Site.name).join(ranked, ranked.c.id == CrawlRun.id).join(Site, Site.id == CrawlRun.site_id)
             .where(ranked.c.rank <= per_site).order_by(Site.name, CrawlRun.started_at.desc()))
    return [RunRecord(site=name, kind=r.kind, started_at=utc_iso(r.started_at) or "", finished_at=utc_iso(r.finished_at),
                      outcome=r.outcome, counts=dict(r.counts or {}), error=r.error)
            for r, name in session.execute(query)]


def due_articles(session: Session, policies: Mapping[str, RevisitPolicy], *, limit: int = 20,
                 site: str | None = None, now: datetime | None = None) -> tuple[int, list[DueRecord]]:
    """How many articles are due now, and the next `limit` scheduled checks with the reason for each."""
    now = now or datetime.now(UTC)
    scheduled = select(Article, Site.name).join(Site, Site.id == Article.site_id).where(
        Article.next_check_at.is_not(None), Article.status == "live")
    if site:
        scheduled = scheduled.where(Site.name == site)
    overdue = session.scalar(select(func.count()).select_from(scheduled.where(Article.next_check_at <= now).subquery()))
    records = []
    for article, name in session.execute(scheduled.order_by(Article.next_check_at).limit(limit)):
        policy = policies.get(name) or RevisitPolicy()
        published = publication_estimate(from_iso(article.published_iso), article.date_precision or "minute",
                                         article.first_seen_at)
        reason = policy.explain(now, published=published, last_changed=article.last_changed_at,
                                first_seen=article.first_seen_at, listed_at=article.listed_at)
        records.append(DueRecord(site=name, article_id=article.key, url=article.url,
                                 next_check_at=utc_iso(article.next_check_at) or "", reason=reason))
    return overdue or 0, records


# ---------------------------------------------------------------- reports and the web app

@dataclass(frozen=True, slots=True)
class EventRecord:
    site: str
    article_id: str
    title: str | None
    at: str
    kind: str           # gone | republished | moved
    detail: str

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ChangeDetail:
    change: ChangeRecord
    diffs: list[FieldDiff]


@dataclass(frozen=True, slots=True)
class ArticleView:
    """Everything an article's page shows."""

    history: History
    latest: VersionRecord
    changes: list[ChangeDetail]      # newest first
    timeline: list[TimelineEntry]    # events and the checks that found something
    quiet_checks: int                # checks that found nothing new, summed up rather than listed


def list_events(session: Session, *, since: datetime | None = None, site: str | None = None,
                limit: int = 200) -> list[EventRecord]:
    latest = latest_versions()
    query = (select(Event, Site.name, Article.key, Version.title)
             .join(Article, Article.id == Event.article_id).join(Site, Site.id == Article.site_id)
             .outerjoin(latest, latest.c.article_id == Article.id)
             .outerjoin(Version, (Version.article_id == Article.id) & (Version.number == latest.c.number))
             .order_by(Event.at.desc()).limit(limit))
    if since is not None:
        query = query.where(Event.at >= since)
    if site:
        query = query.where(Site.name == site)
    return [EventRecord(site=name, article_id=key, title=title, at=utc_iso(e.at) or "", kind=e.kind, detail=e.detail)
            for e, name, key, title in session.execute(query)]


def editions(session: Session) -> list[str]:
    return sorted(e for e in session.scalars(select(Article.edition).distinct()) if e)


def version_diffs(session: Session, article: Article, from_number: int, to_number: int) -> list[FieldDiff]:
    return diff_articles(get_version(session, article, from_number), get_version(session, article, to_number))


def article_view(session: Session, article: Article) -> ArticleView:
    history = article_history(session, article)
    site = history.site
    latest = version_record(site, article, get_version(session, article))
    versions = {v.number: v for v in session.scalars(select(Version).where(Version.article_id == article.id))}
    changes = [ChangeDetail(c, diff_articles(versions[c.from_version], versions[c.to_version]))
               for c in list_changes(session, ChangeFilter(article_id=article.id))]
    shown = [e for e in history.timeline if e.kind != "check" or e.outcome != "unchanged"]
    return ArticleView(history=history, latest=latest, changes=changes, timeline=shown,
                       quiet_checks=len(history.timeline) - len(shown))


def require_site(session: Session, name: str | None) -> None:
    """A site named on the command line must be in the database: a mistyped name would otherwise give an
    empty result that looks like one (an export, above all)."""
    if name and session.scalar(select(Site.id).where(Site.name == name)) is None:
        raise BadInput(f"no site named {name!r} in the database")

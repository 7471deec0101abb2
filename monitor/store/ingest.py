"""Record a batch of fetches: decide what each one means and write it, in one transaction.

Called by the Scrapy pipeline (in a worker thread, 200 fetches at a time) and by anything else that
fetches articles. A batch is all or nothing: a crash mid-batch leaves the database as it was, and the
articles of the lost batch are still due, so the next run fetches them again.

Rows point to each other through relationships (a check to its version, a version to its article), never
through ids read back one by one. The rows a batch adds are written at its end, one bulk INSERT a table
(bulk.py); the session writes only what the batch changed of rows it loaded. A flush per new article and per
version made the first crawl of a site run at 0.47x a bare Scrapy spider, the unit of work flushing all of
them once at the end ~0.6x.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.compare.diffing import FieldDiff, diff_articles, without_moves
from monitor.compare.edit_kinds import tally
from monitor.compare.policy import RevisitPolicy, publication_estimate
from monitor.compare.versioning import (EXTRACTOR_CHANGE, Outcome, Provisional, Verdict, body_words, compare, dates_key,
                                        extracted_hash, switch_verdict, text_hash)
from monitor.iso import to_iso
from monitor.items import DATE_FIELDS, TEXT_FIELDS, VERSION_FIELDS, ExtractedArticle, Fetch
from monitor.store.bulk import NewRows, new_row
from monitor.store.checkruns import add_to_run, extends_run, latest_checks
from monitor.store.compression import PagePacker
from monitor.store.codec import pack_head, read_page
from monitor.store.heads import site_reference
from monitor.store.models import Article, ArticleUrl, Change, Check, Event, Site, Version, latest_versions
from monitor.store.outbox import change_notice, event_notice


# (page, url, encoding, extractor name) -> the page read by that extractor's family, or None: the crawl's
# spider knows its extractors (spiders/base.py NewsSpider.reread); the store does not.
Reread = Callable[[bytes, str, str, str], ExtractedArticle | None]


@dataclass(slots=True)
class Counts:
    """What a batch (or a whole crawl) came to, by check outcome."""

    outcomes: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    saved_bytes: int = 0      # page bytes a 304 did not have to send (the size of the last full page)
    not_modified: int = 0     # unchanged checks answered by a 304
    same_page: int = 0        # unchanged checks answered by the very page last read, not read again
    unreadable: int = 0       # error checks of whole pages in which the extractor found no article
    unreadable_reason: str = ""  # the first one's reason

    def add(self, other: Counts) -> None:
        self.outcomes.update(other.outcomes)
        self.bytes += other.bytes
        self.saved_bytes += other.saved_bytes
        self.not_modified += other.not_modified
        self.same_page += other.same_page
        self.unreadable += other.unreadable
        self.unreadable_reason = self.unreadable_reason or other.unreadable_reason


@dataclass(slots=True)
class _Known:
    """What the batch needs to know of an article already in the database."""

    article: Article
    latest: Version | None
    urls: set[str]
    last_check: Check | None = None   # its latest check row, which the next unchanged check may extend


def ensure_site(session: Session, name: str, spider: str, base_url: str) -> int:
    """The id of the named site, created on first use; the base URL follows the latest crawl's."""
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        site = Site(name=name, spider=spider, base_url=base_url, created_at=datetime.now(UTC))
        session.add(site)
        session.flush()
    else:
        site.spider, site.base_url = spider, base_url
    return site.id


def record_fetches(session: Session, site_id: int, items: Sequence[Fetch | Provisional],
                   policy: RevisitPolicy, reread: Reread | None = None) -> Counts:
    """Record fetches in order; a `Provisional` one is logged as a check and believed by nobody. `reread`
    reads a stored page again with a named extractor (see _switch); without it, pages read by different
    extractors are compared as they are."""
    fetches = [(item.fetch, item) if isinstance(item, Provisional) else (item, None) for item in items]
    known = _load(session, site_id, {fetch.key for fetch, _ in fetches})
    packer = _packer(session, site_id, [fetch for fetch, provisional in fetches if provisional is None])
    rows = NewRows()
    counts = Counts()
    for fetch, provisional in fetches:
        entry = known.get(fetch.key)
        if entry is None:
            entry = known[fetch.key] = _new_article(rows, site_id, fetch)
        if provisional is not None:
            entry.article.last_checked_at = fetch.fetched_at
            outcome = provisional.outcome
            _add_check(rows, entry, fetch, outcome, None, error=provisional.note)
        else:
            outcome = _record(session, rows, entry, fetch, policy, reread, packer)
        counts.outcomes[outcome] += 1
        counts.bytes += len(fetch.raw)
        if fetch.not_modified and entry.latest is not None:
            counts.not_modified += 1
            counts.saved_bytes += entry.latest.raw_size or 0
        if fetch.same_page and outcome == Outcome.UNCHANGED.value:
            counts.same_page += 1
        if outcome == "error" and fetch.unreadable:
            counts.unreadable += 1
            counts.unreadable_reason = counts.unreadable_reason or fetch.error or ""
    rows.write(session)
    return counts


def _packer(session: Session, site_id: int, fetches: Sequence[Fetch]) -> PagePacker | None:
    """What compresses the batch's pages, its dictionary trained first if due (monitor/store/compression.py);
    None when the batch has no whole page (a batch of 304s and errors stores no version)."""
    whole = [fetch for fetch in fetches if fetch.article is not None and not fetch.not_modified]
    if not whole:
        return None
    packer = PagePacker(session, site_id)
    packer.prepare([fetch.raw for fetch in whole if fetch.raw])
    return packer


def record_listings(session: Session, site: str, keys: set[str], now: datetime, policy: RevisitPolicy) -> int:
    """Known live articles the site still features: remember when, and bring their next check within
    `listed_every` of the last one. Returns how many articles were touched."""
    articles = session.scalars(select(Article).join(Site, Site.id == Article.site_id).where(
        Site.name == site, Article.key.in_(keys), Article.status == "live")).all()
    for article in articles:
        article.listed_at = now
        if article.last_checked_at is not None:
            floor = article.last_checked_at + policy.listed_every
            if article.next_check_at is None or article.next_check_at > floor:
                article.next_check_at = floor
    return len(articles)


def _load(session: Session, site_id: int, keys: set[str]) -> dict[str, _Known]:
    """The batch's articles with their latest version, known URLs and latest check row: four queries, whatever
    the batch size."""
    articles = session.scalars(select(Article).where(Article.site_id == site_id, Article.key.in_(keys))).all()
    by_id = {a.id: _Known(a, None, set()) for a in articles}
    if not by_id:
        return {}
    latest = latest_versions()
    for version in session.scalars(select(Version).join(latest, (latest.c.article_id == Version.article_id)
                                                        & (latest.c.number == Version.number))
                                   .where(Version.article_id.in_(by_id))):
        by_id[version.article_id].latest = version
    for article_id, url in session.execute(select(ArticleUrl.article_id, ArticleUrl.url)
                                           .where(ArticleUrl.article_id.in_(by_id))):
        by_id[article_id].urls.add(url)
    for check in session.scalars(latest_checks(by_id)):
        by_id[check.article_id].last_check = check
    return {k.article.key: k for k in by_id.values()}


def _new_article(rows: NewRows, site_id: int, fetch: Fetch) -> _Known:
    article = new_row(Article, site_id=site_id, key=fetch.key, url=fetch.url, status="live",
                      first_seen_at=fetch.fetched_at)
    rows.add(article)
    return _Known(article, None, set())


def _record(session: Session, rows: NewRows, entry: _Known, fetch: Fetch, policy: RevisitPolicy,
            reread: Reread | None, packer: PagePacker | None) -> str:
    article = entry.article
    article.last_checked_at = fetch.fetched_at
    if fetch.same_page and (article.page_digest != fetch.page_digest or entry.latest is None):
        # Another crawl read a newer page of the article since this one began: what this one skipped reading
        # may not be the latest version. It is looked at again soon, and read.
        fetch.error = "the page was not read: another crawl stored a newer reading of the article meanwhile"
    elif (fetch.not_modified or fetch.same_page) and entry.latest is not None:
        latest = entry.latest
        _schedule(article, fetch, latest.published, latest.date_precision, policy)
        _add_check(rows, entry, fetch, Outcome.UNCHANGED.value, latest)
        return Outcome.UNCHANGED.value
    if fetch.article is None:
        outcome = _record_failure(rows, entry, fetch, policy)
        _add_check(rows, entry, fetch, outcome, None)
        return outcome
    if article.status == "gone":
        article.status = "live"
        _add_event(rows, article, Event(article=article, at=fetch.fetched_at, kind="republished", detail=fetch.url))
    _remember_urls(session, rows, entry, fetch)
    verdict, diffs = _switch(session, rows, entry, fetch, reread) or (_verdict(entry.latest, fetch.article), None)
    version = entry.latest
    if verdict.stores_version:
        assert packer is not None  # made for every batch with a whole page
        version = _add_version(session, rows, entry, fetch, verdict, packer, diffs)
    _update_article(article, fetch, verdict, policy)
    article.page_digest = fetch.page_digest   # this page's reading is the latest version now, or equals it
    _add_check(rows, entry, fetch, verdict.outcome.value, version)
    return verdict.outcome.value


def _record_failure(rows: NewRows, entry: _Known, fetch: Fetch, policy: RevisitPolicy) -> str:
    article = entry.article
    if fetch.is_gone:
        if article.status != "gone":
            article.status = "gone"
            _add_event(rows, article, Event(article=article, at=fetch.fetched_at, kind="gone",
                                            detail=f"HTTP {fetch.status}"))
        article.next_check_at = policy.next_check(fetch.fetched_at, published=None,
                                                  last_changed=article.last_changed_at,
                                                  first_seen=article.first_seen_at)
        return "gone"
    retry = policy.after_error(fetch.fetched_at, article.next_check_at)
    if fetch.retry_after:  # the site asked for a pause: the next look waits at least that long
        retry = max(retry, fetch.fetched_at + timedelta(seconds=fetch.retry_after))
    article.next_check_at = retry
    return "error"


def _verdict(latest: Version | None, extracted: ExtractedArticle) -> Verdict:
    # Most re-checks find nothing new: compare hashes first (the exact text, then its comparison form),
    # and compare the stored fields only when both differ.
    if latest is not None and latest.dates_key == dates_key(extracted) and (
            latest.extracted_hash == extracted_hash(extracted) or latest.text_hash == text_hash(extracted)):
        return Verdict(Outcome.UNCHANGED)
    return compare(latest, extracted)


def _add_version(session: Session, rows: NewRows, entry: _Known, fetch: Fetch, verdict: Verdict,
                 packer: PagePacker, diffs: list[FieldDiff] | None = None) -> Version:
    assert fetch.article is not None
    packed = packer.pack(fetch.raw)
    return _append(rows, entry, fetch.article, verdict, detected_at=fetch.fetched_at, fetched_at=fetch.fetched_at,
                   raw_html=packed.data, page_dictionary_id=packed.dictionary_id, raw_size=len(fetch.raw),
                   encoding=fetch.encoding, http_status=fetch.status,
                   response_head=_packed_head(session, entry.article.site_id, fetch.head), diffs=diffs)


def _packed_head(session: Session, site_id: int, head: bytes) -> bytes | None:
    return pack_head(head, site_reference(session, site_id, head)) if head else None


def _append(rows: NewRows, entry: _Known, extracted: ExtractedArticle, verdict: Verdict, *, detected_at: datetime,
            fetched_at: datetime, raw_html: bytes | None, page_dictionary_id: int | None, raw_size: int | None,
            encoding: str, http_status: int, response_head: bytes | None,
            diffs: list[FieldDiff] | None = None) -> Version:
    """The article's next version, read from that page (compressed), and its change from the one before
    (whose words are counted on `diffs` when given, else on the plain diffs of the two versions)."""
    previous = entry.latest
    version = new_row(
        Version, article=entry.article, number=previous.number + 1 if previous else 1, fetched_at=fetched_at,
        **{name: getattr(extracted, name) for name in VERSION_FIELDS if name not in DATE_FIELDS},
        published_iso=to_iso(extracted.published), updated_iso=to_iso(extracted.updated),
        text_hash=text_hash(extracted), extracted_hash=extracted_hash(extracted),
        body_words=body_words(extracted.body), raw_size=raw_size,
        dates_key=dates_key(extracted), metadata_only=verdict.outcome is Outcome.METADATA,
        http_status=http_status, raw_html=raw_html, page_dictionary_id=page_dictionary_id, raw_encoding=encoding,
        response_head=response_head)
    rows.add(version)
    if previous is not None:
        diffs = diffs if diffs is not None else diff_articles(previous, extracted)
        counted = tally(previous, extracted, diffs, verdict.outcome is Outcome.CHANGED)
        change = Change(
            article=entry.article, from_version=previous, to_version=version,
            detected_at=detected_at, fields=list(verdict.fields),
            text_changed=verdict.outcome is Outcome.CHANGED, announced=verdict.announced,
            added_words=counted.added_words, removed_words=counted.removed_words,
            moved_words=counted.moved_words, kinds=list(counted.kinds))
        rows.add(change)
        if EXTRACTOR_CHANGE not in verdict.fields:   # the same page read anew is no news to anyone
            rows.add(change_notice(entry.article, change, detected_at))
    entry.latest = version
    return version


def _switch(session: Session, rows: NewRows, entry: _Known, fetch: Fetch,
            reread: Reread | None) -> tuple[Verdict, list[FieldDiff] | None] | None:
    """When a page is read by another extractor than the article's latest version (a site's redesign, or a
    newer newsmon), compare like with like. The same words in the same order, however the new markup splits
    them between fields, are no edit: the new reading is stored as a change of extractor (with the declared
    dates that moved, if any). Otherwise the latest version's own page is read again by the new extractor;
    when that reading differs from what is stored it becomes a version of its own, from the same page (a
    change of extractor, never an edit), and the new page is compared with it, less the text the new markup
    only moved between fields. Returns the verdict for the new page (and its diffs, when they are not the
    plain ones), or None: compare as usual."""
    latest, extracted = entry.latest, fetch.article
    assert extracted is not None
    if latest is None or latest.extractor == extracted.extractor:
        return None
    if _verdict(latest, extracted).outcome is Outcome.UNCHANGED:
        return None  # the same text whoever read it
    if switched := switch_verdict(latest, extracted):
        return switched, None
    # None too when the page was pruned: nothing to read again. (Read through the session: the latest version
    # may be one of this batch's rows, in no session yet.)
    page = read_page(session, latest.raw_html, latest.page_dictionary_id) if reread else None
    again = reread(page, latest.url, latest.raw_encoding, extracted.extractor) if page is not None and reread else None
    if again is not None and (switched := switch_verdict(again, extracted)):
        return switched, None
    if again is None or again.extractor == latest.extractor:
        return None  # no like-for-like reading: the pages are compared as they are
    if _verdict(latest, again).outcome is not Outcome.UNCHANGED:
        _append(rows, entry, again, Verdict(Outcome.METADATA, (EXTRACTOR_CHANGE,)), detected_at=fetch.fetched_at,
                fetched_at=latest.fetched_at, raw_html=latest.raw_html, page_dictionary_id=latest.page_dictionary_id,
                raw_size=latest.raw_size, encoding=latest.raw_encoding, http_status=latest.http_status,
                response_head=latest.response_head)
    verdict = compare(again, extracted)
    if verdict.outcome is not Outcome.CHANGED:
        return None
    diffs = without_moves(diff_articles(again, extracted))
    dates = tuple(f for f in verdict.fields if f not in TEXT_FIELDS)
    return Verdict(Outcome.CHANGED, (*(d.field for d in diffs), *dates), verdict.announced), diffs


def _add_event(rows: NewRows, article: Article, event: Event) -> None:
    """An article gone or back: recorded, and queued for whoever wants to be told."""
    rows.add(event)
    rows.add(event_notice(article, event))


def _remember_urls(session: Session, rows: NewRows, entry: _Known, fetch: Fetch) -> None:
    """URL history: the URL asked for, every redirect hop and the canonical URL all name this article."""
    assert fetch.article is not None
    article = entry.article
    for url in dict.fromkeys([fetch.requested_url, *fetch.redirect_urls, fetch.url, fetch.article.url]):
        if url not in entry.urls:
            entry.urls.add(url)
            rows.add(new_row(ArticleUrl, article=article, url=url, first_seen_at=fetch.fetched_at))
    if fetch.article.url != article.url:
        if entry.latest is not None:
            rows.add(Event(article=article, at=fetch.fetched_at, kind="moved",
                           detail=f"{article.url} -> {fetch.article.url}"))
        _keep_check_urls(session, rows, article)
        # Its latest row may have just been given the old URL in the database, not in memory: the next check
        # starts a row of its own rather than join a run it could not tell from.
        entry.last_check = None
        article.url = fetch.article.url


def _keep_check_urls(session: Session, rows: NewRows, article: Article) -> None:
    """A check without a URL fetched the article's URL (models.Check.url): before that URL changes, the
    article's checks without one get it, in this batch and in the database. Rare: a slug that follows an
    edited title."""
    for row in rows.of(Check):
        if row.article is article and row.url is None:
            row.url = article.url
    if article.id is not None:
        session.execute(update(Check).where(Check.article_id == article.id, Check.url.is_(None))
                        .values(url=article.url), execution_options={"synchronize_session": False})


def _update_article(article: Article, fetch: Fetch, verdict: Verdict, policy: RevisitPolicy) -> None:
    extracted = fetch.article
    assert extracted is not None
    article.edition, article.section = extracted.edition, extracted.section
    article.published_iso, article.date_precision = to_iso(extracted.published), extracted.date_precision
    article.etag, article.last_modified = fetch.etag, fetch.last_modified
    if verdict.outcome is Outcome.CHANGED:
        article.last_changed_at = fetch.fetched_at
    _schedule(article, fetch, extracted.published, extracted.date_precision, policy)


def _schedule(article: Article, fetch: Fetch, published: datetime | None, precision: str,
              policy: RevisitPolicy) -> None:
    estimate = publication_estimate(published, precision, article.first_seen_at)
    article.next_check_at = policy.next_check(fetch.fetched_at, published=estimate,
                                              last_changed=article.last_changed_at,
                                              first_seen=article.first_seen_at, listed_at=article.listed_at)


def _add_check(rows: NewRows, entry: _Known, fetch: Fetch, outcome: str, version: Version | None,
               error: str | None = None) -> None:
    """The check, merged into the article's latest row when both are the same unchanged check (a check run,
    monitor/store/checkruns.py), else a row of its own."""
    article, run = entry.article, entry.last_check
    url, error = None if fetch.url == article.url else fetch.url, error or fetch.error
    if (run is not None and outcome == Outcome.UNCHANGED.value and error is None
            and extends_run(run, fetch.fetched_at, fetch.status, url, version)):
        add_to_run(run, fetch.fetched_at, len(fetch.raw), fetch.visit_key)
        return
    entry.last_check = new_row(Check, article=article, checked_at=fetch.fetched_at, url=url,
                               http_status=fetch.status, outcome=outcome, version=version, error=error,
                               bytes=len(fetch.raw), visit_key=fetch.visit_key, repeats=0)
    rows.add(entry.last_check)

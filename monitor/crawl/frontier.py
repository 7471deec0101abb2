"""Which article pages a crawl fetches: new ones found by discovery, plus the known ones that are due.

A spider middleware, so the spider stays a fetcher: at the start it asks the spider for a request per
due article (`spider.article_request`), then it filters what discovery yields. A known article found by
discovery is fetched again only when it is due, was gone (it reappeared in the listings), or its
sitemap `lastmod` is newer than the last check. Each article is fetched at most once per crawl, whatever
URL (old slug, cache-busting query) discovery found it under. Known articles that a front page or feed
still features are remembered as listed (see monitor/compare/policy.py) when the crawl ends.

A site keyed by URL (the `news` spider's default) gives a renamed article a new key: a discovered URL
whose key is unknown but which the article's URL history holds (a re-check followed its 301 there) is that
known article, and its request carries the known key.

A new article that only a sitemap names, last modified longer ago than the revisit policy's horizon, is
archive, not news: no check would ever follow its first fetch, and a site's sitemaps can name its whole
history, which the first crawl would spend thousands of requests on. It is left out (counted) unless the
site asks for its archive; should its `lastmod` move later, it comes within the horizon and is fetched.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from monitor.compare.policy import RevisitPolicy
from monitor.crawl.pipeline import crawler_store
from monitor.errors import BadInput
from monitor.extract.urls import normalise_url
from monitor.store.ingest import record_listings
from monitor.store.known import KnownArticle, KnownArticles
from monitor.store.known import known_articles as load_known
from spiders.base import NewsSpider

REVISIT_MODES = ("due", "all", "none")
logger = logging.getLogger(__name__)
_LOADING = threading.Lock()


def known_articles(crawler: Crawler) -> KnownArticles:
    """The site's known articles, read once per crawl (by the frontier, in a worker thread, before its first
    request) and shared with the confirmation middleware. A crawl of planned visits (NEWSMON_VISITS, distributed
    mode) reads only its own articles: with NEWSMON_REVISIT "all", it re-checks exactly those."""
    with _LOADING:
        known = getattr(crawler, "newsmon_known", None)
        if known is None:
            only = crawler.settings.getdict("NEWSMON_VISITS")
            with crawler_store(crawler).session() as session:
                known = crawler.newsmon_known = load_known(session, crawler.spider.site, only)  # type: ignore[attr-defined]
    return known


def urls_by_form(by_url: dict[str, str]) -> dict[str, str]:
    """The URL history keyed by normalised URL, so that a listing's tracking parameters, fragment or host case
    still find it. A form two articles' URLs share names neither."""
    keys: dict[str, str | None] = {}
    for url, key in by_url.items():
        form = normalise_url(url)
        keys[form] = key if keys.get(form, key) == key else None
    return {form: key for form, key in keys.items() if key is not None}


def is_due(article: KnownArticle, mode: str, now: datetime) -> bool:
    if mode == "all":
        return True
    return mode == "due" and article.next_check_at is not None and article.next_check_at <= now


class Frontier(BaseSpiderMiddleware):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.mode = crawler.settings.get("NEWSMON_REVISIT")
        if self.mode not in REVISIT_MODES:
            raise BadInput(f"NEWSMON_REVISIT must be one of {', '.join(REVISIT_MODES)}, not {self.mode!r}")
        self.policy: RevisitPolicy = crawler.settings.get("NEWSMON_POLICY") or RevisitPolicy()
        self.known: dict[str, KnownArticle] = {}
        self.key_by_url: dict[str, str] = {}  # normalised URLs of the known articles' history -> key
        self.requested: set[str] = set()
        self.budget = crawler.settings.getint("NEWSMON_MAX_REQUESTS")  # article pages per crawl, at most
        self.ahead = crawler.settings.getfloat("NEWSMON_DUE_AHEAD")
        self.listed: set[str] = set()
        self.archive = crawler.settings.getbool("NEWSMON_ARCHIVE")
        self.left_out: set[str] = set()  # archive entries not fetched
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        spider: NewsSpider = self.crawler.spider
        known = await asyncio.to_thread(known_articles, self.crawler)
        self.known, self.key_by_url = known, urls_by_form(known.by_url)
        # "Due" looks ahead by NEWSMON_DUE_AHEAD: an article due before the next crawl could reach it is
        # fetched now, so that checks meet their deadlines rather than overshoot them.
        now = datetime.now(UTC) + timedelta(seconds=self.ahead)
        # Due revisits first, oldest deadline first: if the crawl is cut short, the most overdue were done.
        due = sorted((a.next_check_at or now, key) for key, a in self.known.items() if is_due(a, self.mode, now))
        for _, key in due[:self.budget]:
            known = self.known[key]
            # The stored key, not the URL's: a site keyed by URL gives a renamed article's new URL another.
            # The digest of its last page read lets the spider skip reading the very same page again; a gone
            # article's page is read, whatever it is, as its return is news.
            digest = known.page_digest if known.status == "live" else None
            if request := spider.article_request(known.url, revisit=True, headers=known.conditional_headers(),
                                                 article_key=key, page_digest=digest):
                self.requested.add(key)
                yield request
        if len(due) > self.budget:
            logger.warning("%d due article(s) left for the next crawl: NEWSMON_MAX_REQUESTS is %d",
                           len(due) - self.budget, self.budget)
        async for item in start:
            if (item := self._get_processed(item, None)) is not None:
                yield item

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        key = request.meta.get("article_key")
        if key is None or request.meta.get("revisit"):
            return request
        key = request.meta["article_key"] = self.known_key(key, request.url)
        if request.meta.get("listed"):
            self.listed.add(key)  # new ones too: they are stored by the time the crawl ends
        if key in self.requested or len(self.requested) >= self.budget:
            return None
        known = self.known.get(key)
        if known is not None and not self.wanted_again(known, request):
            return None
        if known is None and not self.archive and self.is_archive(request):
            self.left_out.add(key)
            return None
        self.requested.add(key)
        return request

    def known_key(self, key: str, url: str) -> str:
        """The key of the known article a discovered URL names: its own, or, when that is no known article's,
        the article's whose URL history holds the URL (a renamed article of a site keyed by URL)."""
        if key in self.known:
            return key
        return self.key_by_url.get(normalise_url(url), key)

    def is_archive(self, request: Request) -> bool:
        """Named by a sitemap only, and last modified longer before the sitemap's newest entry than the
        policy's horizon. Told by the site's own clock: a mirror or a replay is as old as its sitemap says."""
        lastmod, newest = request.meta.get("lastmod"), request.meta.get("sitemap_newest")
        return (not request.meta.get("listed") and lastmod is not None and newest is not None
                and newest - lastmod > self.policy.horizon)

    async def spider_closed(self) -> None:
        # An article a front page or feed brought in after its sitemap entry was left out was fetched.
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("newsmon/archive_left_out", len(self.left_out - self.requested))
        if self.listed:
            await asyncio.to_thread(self._record_listings, self.crawler.spider.site, self.listed)

    def _record_listings(self, site: str, keys: set[str]) -> None:
        with crawler_store(self.crawler).session() as session:
            record_listings(session, site, keys, datetime.now(UTC), self.policy)

    def wanted_again(self, known: KnownArticle, request: Request) -> bool:
        if known.status == "gone":
            return True
        lastmod: datetime | None = request.meta.get("lastmod")
        if lastmod is not None and (known.last_checked_at is None or lastmod > known.last_checked_at):
            return True
        return is_due(known, self.mode, datetime.now(UTC) + timedelta(seconds=self.ahead))

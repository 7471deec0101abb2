"""The lepetitjournal.com spider: finds articles on the home page, the editions' front pages, their RSS
feeds and the sitemap index. Pages are read by the lepetitjournal adapter (monitor/extract/lepetitjournal.py).

Works against any site of the same shape given its base URL (local copies, mirrors, the test server).
Which known articles are due again is decided by newsmon's frontier (monitor/crawl/frontier.py).
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.sitemap import Sitemap

from monitor import settings
from monitor.extract.dates import parse_iso
from monitor.extract.lepetitjournal import edition_timezone, parse_article_url
from monitor.extract.registry import SITE_EXTRACTORS
from spiders.base import NewsSpider


class LePetitJournalSpider(NewsSpider):
    name = "lepetitjournal"
    default_base_url = "https://lepetitjournal.com"
    extractor = staticmethod(SITE_EXTRACTORS[name])

    def __init__(self, base_url: str | None = None, editions: str | list[str] | None = None,
                 front_pages: int | str = settings.NEWSMON_FRONT_PAGES, *args: Any, **kwargs: Any):
        super().__init__(base_url, *args, **kwargs)
        if isinstance(editions, str):
            editions = [e.strip() for e in editions.split(",") if e.strip()]
        self.editions: list[str] = list(editions or [])
        self.front_pages = int(front_pages)

    def article_key(self, url: str, *, revisit: bool = False) -> str | None:
        """The number ending the URL, on this site, in an edition the crawl covers."""
        where = parse_article_url(url)
        if where is None or urlsplit(url).netloc != urlsplit(self.base_url).netloc:
            return None
        if self.editions and where.edition not in self.editions and not revisit:
            return None
        return where.key

    # ------------------------------------------------------------ discovery

    async def start(self) -> AsyncIterator[Request]:
        if not self.discover:
            return
        if self.editions:
            for edition in self.editions:
                for request in self.edition_requests(edition):
                    yield request
        else:
            yield self.listing_request(f"{self.base_url}/", self.parse_home)
        yield self.listing_request(f"{self.base_url}/sitemap.xml", self.parse_sitemap)

    def edition_requests(self, edition: str) -> Iterator[Request]:
        yield self.listing_request(f"{self.base_url}/{edition}", self.parse_front, page=0)
        yield self.listing_request(f"{self.base_url}/{edition}/rss.xml", self.parse_feed)

    def parse_home(self, response: Response) -> Iterator[Request]:
        """Editions are the one-segment links of the home page (e.g. /cambodge)."""
        editions = []
        for href in response.css("a::attr(href)").getall():
            url = urljoin(response.url, href)
            parts = urlsplit(url)
            segments = [s for s in parts.path.split("/") if s]
            if parts.netloc == urlsplit(self.base_url).netloc and len(segments) == 1 \
                    and segments[0].replace("-", "").isalpha() and segments[0] not in editions:
                editions.append(segments[0])
        self.editions = editions
        for edition in editions:
            yield from self.edition_requests(edition)

    def parse_front(self, response: Response, page: int) -> Iterator[Request]:
        for href in response.css("main a::attr(href), .teaser a::attr(href)").getall():
            if request := self.article_request(urljoin(response.url, href), listed=True):
                yield request
        next_page = response.css('a[rel="next"]::attr(href)').get()
        if next_page and page + 1 < self.front_pages:
            yield self.listing_request(urljoin(response.url, next_page), self.parse_front, page=page + 1)

    def parse_feed(self, response: Response) -> Iterator[Request]:
        for link in response.xpath("//item/link/text()").getall():
            if request := self.article_request(link.strip(), listed=True):
                yield request

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        try:
            sitemap = Sitemap(response.body)
        except Exception:  # noqa: BLE001 - lxml raises several kinds; a bad sitemap only loses one source
            self.logger.warning("unreadable sitemap %s", response.url)
            return
        if sitemap.type == "sitemapindex":
            for entry in sitemap:
                if self.wants_sitemap(loc := entry.get("loc", "").strip()):
                    yield self.listing_request(loc, self.parse_sitemap)
            return
        requests = []
        for entry in sitemap:
            url = entry.get("loc", "").strip()
            lastmod = self.lastmod(url, entry.get("lastmod"))
            if request := self.article_request(url, **({"lastmod": lastmod} if lastmod else {})):
                requests.append(request)
        # The sitemap's own "now": how old an entry is, told by the site's clock, not ours.
        newest = max((r.meta["lastmod"] for r in requests if "lastmod" in r.meta), default=None)
        for request in requests:
            request.meta["sitemap_newest"] = newest
            yield request

    def lastmod(self, url: str, value: str | None) -> Any:
        """A sitemap's `lastmod`, in the article's edition's time zone when it gives none."""
        where = parse_article_url(url)
        return parse_iso(value, edition_timezone(where.edition)) if value and where else None

    def wants_sitemap(self, url: str) -> bool:
        """Per-edition sitemaps of editions not asked for are skipped."""
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        return not self.editions or not name.startswith("sitemap-") or \
            any(name == f"sitemap-{edition}.xml" for edition in self.editions)

"""The lepetitjournal.com spider: finds articles (front pages, RSS feeds, sitemaps) and reads them.

Works against any site of the same shape given its base URL (local copies, mirrors, the test server).
It only fetches and extracts: which known articles are due again is decided by newsmon's frontier
middleware (monitor/frontier.py), which asks the spider for requests through `article_request`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector
from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from monitor.extract.dates import parse_iso
from monitor.extract.lepetitjournal import ExtractionError, extract_article, parse_article_url
from monitor.extract.integrity import PageError, candidate_encodings, check_complete, decode, has_mojibake
from monitor.items import ExtractedArticle, Fetch

# Each edition's local time: the site writes dates in it without saying so.
EDITION_TIMEZONES = {
    "cambodge": "Asia/Phnom_Penh", "bangkok": "Asia/Bangkok", "thailande": "Asia/Bangkok",
    "vietnam": "Asia/Ho_Chi_Minh", "ho-chi-minh-ville": "Asia/Ho_Chi_Minh", "hanoi": "Asia/Ho_Chi_Minh",
    "hong-kong": "Asia/Hong_Kong", "singapour": "Asia/Singapore", "tokyo": "Asia/Tokyo",
    "kuala-lumpur": "Asia/Kuala_Lumpur", "manille": "Asia/Manila", "jakarta": "Asia/Jakarta",
    "shanghai": "Asia/Shanghai", "pekin": "Asia/Shanghai", "taipei": "Asia/Taipei", "seoul": "Asia/Seoul",
    "bombay": "Asia/Kolkata", "dubai": "Asia/Dubai", "istanbul": "Europe/Istanbul",
    "londres": "Europe/London", "dublin": "Europe/Dublin", "lisbonne": "Europe/Lisbon",
    "new-york": "America/New_York", "montreal": "America/Toronto", "sao-paulo": "America/Sao_Paulo",
    "mexico": "America/Mexico_City", "buenos-aires": "America/Argentina/Buenos_Aires",
    "los-angeles": "America/Los_Angeles", "sydney": "Australia/Sydney", "melbourne": "Australia/Melbourne",
    "johannesburg": "Africa/Johannesburg", "casablanca": "Africa/Casablanca", "tunis": "Africa/Tunis",
}
DEFAULT_TIMEZONE = "Europe/Paris"  # the international edition and any edition not listed above


def edition_timezone(edition: str) -> str:
    return EDITION_TIMEZONES.get(edition, DEFAULT_TIMEZONE)


class LePetitJournalSpider(Spider):
    name = "lepetitjournal"
    default_base_url = "https://lepetitjournal.com"

    def __init__(self, base_url: str | None = None, editions: str | list[str] | None = None,
                 site: str | None = None, discover: bool | str = True, front_pages: int | str = 3,
                 *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.site = site or self.name
        if isinstance(editions, str):
            editions = [e.strip() for e in editions.split(",") if e.strip()]
        self.editions: list[str] = list(editions or [])
        self.discover = discover not in (False, "0", "false", "no")
        self.front_pages = int(front_pages)

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

    def listing_request(self, url: str, callback: Callable[..., Any], **cb_kwargs: Any) -> Request:
        """A request for a page that lists articles (home, front page, feed, sitemap)."""
        return Request(url, callback=callback, cb_kwargs=cb_kwargs, errback=self.listing_failed)

    def listing_failed(self, failure: Failure) -> None:
        """A listing page that cannot be read loses one source of new articles; the crawl goes on."""
        reason = _failure_reason(failure)
        self.logger.warning("cannot read %s: %s", failure.request.url, reason)  # type: ignore[attr-defined]
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("newsmon/listing_errors")
        if not self.crawler.stats.get_value("newsmon/listing_error"):
            self.crawler.stats.set_value("newsmon/listing_error", f"{failure.request.url}: {reason}")  # type: ignore[attr-defined]

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
        requests = [request for entry in sitemap
                    if (request := self.article_request(entry.get("loc", "").strip(), lastmod=entry.get("lastmod")))]
        # The sitemap's own "now": how old an entry is, told by the site's clock, not ours.
        newest = max((r.meta["lastmod"] for r in requests if "lastmod" in r.meta), default=None)
        for request in requests:
            request.meta["sitemap_newest"] = newest
            yield request

    def wants_sitemap(self, url: str) -> bool:
        """Per-edition sitemaps of editions not asked for are skipped."""
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        return not self.editions or not name.startswith("sitemap-") or \
            any(name == f"sitemap-{edition}.xml" for edition in self.editions)

    # ------------------------------------------------------------ articles

    def article_request(self, url: str, *, lastmod: str | None = None, headers: dict[str, str] | None = None,
                        **meta: Any) -> Request | None:
        """A request for an article page, or None when the URL is not one of this site's articles.

        meta marks where the request came from: `listed` (a front page or feed features the article),
        `revisit` (a known article due again), `lastmod` (a sitemap's modification date)."""
        where = parse_article_url(url)
        if where is None or urlsplit(url).netloc != urlsplit(self.base_url).netloc:
            return None
        if self.editions and where.edition not in self.editions and not meta.get("revisit"):
            return None
        # 304 answers a conditional re-check; 404 and 410 say the article is gone: all three are answers.
        meta = {"article_key": where.key, "handle_httpstatus_list": [304, 404, 410], **meta}
        if lastmod and (modified := parse_iso(lastmod, edition_timezone(where.edition))):
            meta["lastmod"] = modified
        # Not Scrapy's URL filter: newsmon's frontier sees to one fetch per article and crawl, and a page
        # fetched again on purpose, or redirected to a URL already seen, must still be answered.
        return Request(url.split("#")[0], callback=self.parse_article, errback=self.article_failed, meta=meta,
                       headers=headers, dont_filter=True, priority=10)

    def parse_article(self, response: Response) -> Iterator[Fetch]:
        fetch = self.new_fetch(response.request, response.url, response.status)
        fetch.raw = response.body
        fetch.redirect_urls = list(response.request.meta.get("redirect_urls", []))
        fetch.etag = _header(response, b"ETag")
        fetch.last_modified = _header(response, b"Last-Modified")
        if fetch.is_gone or fetch.not_modified:
            yield fetch
            return
        landed = parse_article_url(response.url)
        content_type = _header(response, b"Content-Type")
        if landed is None or landed.key != fetch.key:
            fetch.error = f"redirected away from the article, to {response.url}"
        elif not isinstance(response, TextResponse) or "html" not in (content_type or "text/html").lower():
            fetch.error = f"not a web page ({content_type or 'no content type'})"
        else:
            try:
                check_complete(response.body)
                fetch.encoding, fetch.article = self.read_article(response, content_type)
            except PageError as exc:
                fetch.error = str(exc)
            except ExtractionError as exc:
                fetch.error, fetch.unreadable = str(exc), True
        yield fetch

    def read_article(self, response: TextResponse, content_type: str | None) -> tuple[str, ExtractedArticle]:
        """The article, read in the page's encoding. When the HTTP header and the page disagree on the
        encoding, each is tried and the one whose article text decodes cleanly is kept."""
        candidates = candidate_encodings(response.body, content_type, response.encoding)
        if len(candidates) == 1:
            text = decode(response.body, candidates[0], strict=False) or ""
            return candidates[0], extract_article(Selector(text=text), response.url, edition_timezone)
        for encoding in candidates:
            text = decode(response.body, encoding, strict=True)
            if text is None:
                continue
            article = extract_article(Selector(text=text), response.url, edition_timezone)
            if not has_mojibake(" ".join([article.title, article.lead, *article.body])):
                return encoding, article
        raise PageError(f"the article does not read cleanly as {' or '.join(candidates)} (header and page "
                        "disagree on the encoding)")

    def article_failed(self, failure: Failure) -> Iterator[Fetch]:
        """No usable response: a timeout, a reset, a DNS failure, an HTTP error status. A page robots.txt
        forbids is no fetch at all: nothing is recorded of it."""
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(IgnoreRequest) and not failure.check(HttpError):  # HttpError is an IgnoreRequest too
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("newsmon/forbidden")
            return
        response = failure.value.response if failure.check(HttpError) else None
        fetch = self.new_fetch(request, response.url if response else request.url, response.status if response else 0)
        fetch.error = _failure_reason(failure)
        fetch.retry_after = request.meta.get("retry_after")
        yield fetch

    def new_fetch(self, request: Request, url: str, status: int) -> Fetch:
        requested = request.meta.get("redirect_urls", [request.url])[0]
        return Fetch(site=self.site, key=request.meta["article_key"], requested_url=requested, url=url,
                     status=status, fetched_at=datetime.now(UTC))


def _failure_reason(failure: Failure) -> str:
    if failure.check(HttpError):
        return f"HTTP {failure.value.response.status}"
    return f"{failure.type.__name__}: {failure.getErrorMessage()}"


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None

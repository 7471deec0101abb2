"""What every news spider shares: how it asks for an article page, turns the answer into a `Fetch`, and
records a failure. A site's spider adds only its discovery (which pages list articles) and its article
URLs (`article_key`).

newsmon's crawl components rely on this contract and on nothing else of a spider:
- `site` and `base_url`;
- `article_request(url, revisit=True, headers=...)`: a request for a known article that is due again,
  or for a second look at one (monitor/crawl/frontier.py, monitor/crawl/confirmation.py);
- every article request yields exactly one `Fetch`, from `parse_article` or `article_failed`.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from monitor.extract import ExtractionError, Extractor, PageError, read_article
from monitor.extract.generic import extract_generic
from monitor.extract.registry import READERS, StoredPageReader
from monitor.items import RESPONSE_HEAD_META, ExtractedArticle, Fetch

# 304 answers a conditional re-check; 404 and 410 say the article is gone: all three are answers.
ARTICLE_STATUSES = [304, 404, 410]


class NewsSpider(Spider):
    """Base of newsmon's spiders. Subclasses set `name`, `default_base_url` and `extractor`, and define
    `start` (discovery) and `article_key`."""

    default_base_url: ClassVar[str]
    # Page and URL in, article out (monitor/extract): the layout family this site's pages follow; set it
    # with staticmethod().
    extractor: ClassVar[Extractor]
    # What reads a page the site's own extractor cannot (a redesign); a spider may configure it (time zone).
    generic: ClassVar[Extractor] = staticmethod(extract_generic)
    # How the spider sets its extractors up, beyond their code (a news site's time zone): part of a page's digest.
    reading_setup: str = ""

    def __init__(self, base_url: str | None = None, site: str | None = None, discover: bool | str = True,
                 *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.site = site or self.name
        self.discover = discover not in (False, "0", "false", "no")

    def article_key(self, url: str, *, revisit: bool = False) -> str | None:
        """The article's stable id when `url` is an article of this site the crawl wants, else None.
        A known article due again (`revisit`) is always wanted."""
        raise NotImplementedError

    # ------------------------------------------------------------ listings

    def listing_request(self, url: str, callback: Callable[..., Any], **cb_kwargs: Any) -> Request:
        """A request for a page that lists articles (home, front page, feed, sitemap)."""
        return Request(url, callback=callback, cb_kwargs=cb_kwargs, errback=self.listing_failed)

    def listing_failed(self, failure: Failure) -> None:
        """A listing page that cannot be read loses one source of new articles; the crawl goes on."""
        reason = failure_reason(failure)
        self.logger.warning("cannot read %s: %s", failure.request.url, reason)  # type: ignore[attr-defined]
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("newsmon/listing_errors")
        if not self.crawler.stats.get_value("newsmon/listing_error"):
            self.crawler.stats.set_value("newsmon/listing_error", f"{failure.request.url}: {reason}")  # type: ignore[attr-defined]

    # ------------------------------------------------------------ articles

    def article_request(self, url: str, *, headers: dict[str, str] | None = None, **meta: Any) -> Request | None:
        """A request for an article page, or None when the URL is not one of this site's articles.

        meta marks where the request came from: `listed` (a front page or feed features the article),
        `revisit` (a known article due again), `lastmod` (a sitemap's modification date, a datetime).
        `article_key` in meta names the article when the caller knows it (a known article's stored key):
        it wins over the key of `url`, which may have changed since (a site keyed by URL renamed the article)."""
        key = self.article_key(url, revisit=bool(meta.get("revisit")))
        if key is None:
            return None
        meta = {"article_key": key, "handle_httpstatus_list": ARTICLE_STATUSES, **meta}
        # Not Scrapy's URL filter: newsmon's frontier sees to one fetch per article and crawl, and a page
        # fetched again on purpose, or redirected to a URL already seen, must still be answered.
        return Request(url.split("#")[0], callback=self.parse_article, errback=self.article_failed, meta=meta,
                       headers=headers, dont_filter=True, priority=10)

    def parse_article(self, response: Response) -> Iterator[Fetch]:
        fetch = self.new_fetch(response.request, response.url, response.status)
        fetch.raw = response.body
        fetch.head = response.meta.get(RESPONSE_HEAD_META, b"")
        fetch.redirect_urls = list(response.request.meta.get("redirect_urls", []))
        fetch.etag = header(response, b"ETag")
        fetch.last_modified = header(response, b"Last-Modified")
        if fetch.is_gone or fetch.not_modified:
            yield fetch
            return
        content_type = header(response, b"Content-Type")
        if not self.same_article(fetch.key, response.url):
            fetch.error = f"redirected away from the article, to {response.url}"
        elif not isinstance(response, TextResponse) or "html" not in (content_type or "text/html").lower():
            fetch.error = f"not a web page ({content_type or 'no content type'})"
        else:
            digest = self.page_digest(fetch, content_type)
            if digest == response.meta.get("page_digest"):
                fetch.page_digest, fetch.same_page = digest, True
                yield fetch
                return
            try:
                fetch.encoding, fetch.article, fell_back = self.read(response.body, response.url, content_type,
                                                                     response.encoding)
            except PageError as exc:
                fetch.error = str(exc)
            except ExtractionError as exc:
                fetch.error, fetch.unreadable = str(exc), True
            else:
                # Only a page the site's own extractor reads: one its fallback had to read is read every time,
                # so that every crawl counts it (and says the site's markup has changed).
                fetch.page_digest = None if fell_back else digest
        yield fetch

    def page_digest(self, fetch: Fetch, content_type: str | None) -> bytes:
        """A digest of everything the reading of a page depends on: this newsmon's extractors and the spider's
        setting of them, the URLs of the redirect chain, the content type, the bytes. The same digest as the
        article's last page read means the same reading, which is the article's latest version."""
        digest = hashlib.blake2b(digest_size=16)
        for part in (READERS, self.reading_setup, *fetch.redirect_urls, fetch.url, content_type or ""):
            digest.update(part.encode() + b"\0")
        digest.update(fetch.raw)
        return digest.digest()

    def read(self, body: bytes, url: str, content_type: str | None,
             encoding: str) -> tuple[str, ExtractedArticle, bool]:
        """The article as the site's own extractor reads it, else as the generic one does, with its encoding
        and whether the generic fallback read it. Such a page is counted (the site's markup has changed: the
        crawl says so); a page neither can read raises the site extractor's reason."""
        try:
            return (*read_article(body, url, content_type, encoding, self.extractor), False)
        except ExtractionError:
            if self.extractor is self.generic:
                raise
            try:
                read = read_article(body, url, content_type, encoding, self.generic)
            except ExtractionError:
                pass
            else:
                assert self.crawler.stats is not None
                self.crawler.stats.inc_value("newsmon/generic_fallback")
                return (*read, True)
            raise

    @property
    def reread(self) -> StoredPageReader:
        """What reads a stored page again with the family of the extractor that read a newer page of the
        article: newsmon compares like with like when a site's markup, or newsmon's extractor, changed
        between two fetches."""
        return StoredPageReader(self.extractor, self.generic)

    def same_article(self, key: str, landed_url: str) -> bool:
        """Whether the page a request for article `key` landed on, after redirects, is that article. Here:
        when its URL names the same key (a site whose id is in its URLs); a spider keying articles by URL
        overrides it, as a renamed article's URL no longer gives its key."""
        return self.article_key(landed_url, revisit=True) == key

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
        fetch.error = failure_reason(failure)
        fetch.retry_after = request.meta.get("retry_after")
        yield fetch

    def new_fetch(self, request: Request, url: str, status: int) -> Fetch:
        requested = request.meta.get("redirect_urls", [request.url])[0]
        return Fetch(site=self.site, key=request.meta["article_key"], requested_url=requested, url=url,
                     status=status, fetched_at=datetime.now(UTC))


def failure_reason(failure: Failure) -> str:
    if failure.check(HttpError):
        return f"HTTP {failure.value.response.status}"
    return f"{failure.type.__name__}: {failure.getErrorMessage()}"


def header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None

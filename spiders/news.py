"""The generic news spider: any site, configured by its URLs alone (monitor/config.py, `spider = "news"`).

Discovery reads the site's feeds (RSS 2.0, RSS 1.0, Atom), sitemaps (indexes, plain and Google News sitemaps,
with `lastmod` and `news:publication_date`) and sections (listing pages whose links lead to articles). A site
configured with none of them is read from its home page (as a section) and the `Sitemap:` lines of its
robots.txt. Pages are read by the generic extractor (monitor/extract/generic.py).

Which links are articles: those matching `article_urls` when the site gives that regex, else the URLs of the
site's host that look like one (`looks_like_article`, in monitor/extract/links.py with the feed rules, shared
with `newsmon add`). An article's key is the first group of the site's `article_key` regex when it gives one,
else its URL normalised (monitor/extract/urls.py); a site keyed by URL renames an article with its slug, so a
redirect to another article URL of the site is the same article (`same_article`), and newsmon's frontier finds
the article again by its URL history.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.etree
from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from w3lib.url import safe_url_string

from monitor.extract.dates import parse_iso
from monitor.extract.generic import DEFAULT_TIMEZONE
from monitor.extract.registry import site_readers
from monitor.extract.links import feed_links, looks_like_article, site_host, xml_root
from monitor.extract.urls import normalise_url
from spiders.base import NewsSpider

# An article's key is stored in a column of 100 characters (monitor/store/models.py, Article.key); a longer
# normalised URL keeps its start, readable, and ends with a digest of the whole.
MAX_KEY = 100
_DIGEST = 16
# Listing pages may be large; a sitemap is at most 50 MB unzipped by the protocol.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024


def url_list(value: str | Iterable[str] | None) -> list[str]:
    """A list of URLs, from the config (a list) or `scrapy crawl -a feeds=URL,URL` (one string)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [u for u in re.split(r"[\s,]+(?=https?://)|\s+", value.strip()) if u]
    return list(value)


def url_form(url: str) -> str:
    """A URL as its request carries it (Scrapy percent-encodes what a link writes as é or a space), then
    normalised: a link written either way, and the page it lands on, give one form."""
    return normalise_url(safe_url_string(url))


def bounded_key(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    return f"{key[:MAX_KEY - _DIGEST - 1]}~{hashlib.sha256(key.encode()).hexdigest()[:_DIGEST]}"


class GenericNewsSpider(NewsSpider):
    name = "news"
    default_base_url = ""   # none: every site is given its own (monitor/config.py requires base_url)

    def __init__(self, base_url: str | None = None, feeds: str | list[str] | None = None,
                 sitemaps: str | list[str] | None = None, sections: str | list[str] | None = None,
                 article_urls: str | None = None, article_key: str | None = None,
                 timezone: str | None = None, *args: Any, **kwargs: Any):
        if not base_url:
            raise ValueError('spider "news" needs a base_url (-a base_url=https://...)')
        super().__init__(base_url, *args, **kwargs)
        self.feeds, self.sitemaps, self.sections = url_list(feeds), url_list(sitemaps), url_list(sections)
        self.article_urls = re.compile(article_urls) if article_urls else None
        self.key_pattern = re.compile(article_key) if article_key else None
        self.timezone = timezone or DEFAULT_TIMEZONE
        # One reader for the site's pages and for the base class's fallback: the generic extractor, reading
        # dates written without an offset in the site's zone (the registry says so, for reextract too). The
        # same object, so that the base class sees there is nothing else to fall back to.
        self.extractor, self.generic = site_readers(self.name, self.timezone)  # type: ignore[misc]
        self.reading_setup = f"timezone={self.timezone}"
        self.host = site_host(self.base_url)
        # URLs the site lists in its feeds and sitemaps: articles by its own word, whatever their slug.
        self.declared: set[str] = set()
        # The site's own listing pages are never articles, whatever they look like.
        self.listings = {url_form(u) for u in [self.base_url, *self.feeds, *self.sitemaps, *self.sections]}

    # ------------------------------------------------------------ articles and their keys

    def article_key(self, url: str, *, revisit: bool = False) -> str | None:
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        if not revisit and not self.is_article_url(url):
            return None
        return self.key_of(url)

    def key_of(self, url: str) -> str | None:
        """The `article_key` regex's first group, searched in the normalised URL (so that tracking parameters
        and fragments never reach it), else the normalised URL itself. Computed on the URL as its request
        carries it, so that a page that was not redirected gives its request's key."""
        normal = url_form(url)
        if self.key_pattern is None:
            return bounded_key(normal)
        match = self.key_pattern.search(normal)
        return bounded_key(match[1]) if match and match[1] else None

    def is_article_url(self, url: str) -> bool:
        """An article of this site the crawl wants: `article_urls` searched in the normalised URL when the
        site gives it, else the default rules (same host, `looks_like_article`)."""
        normal = url_form(url)
        if normal in self.listings:
            return False
        if self.article_urls is not None:
            return self.article_urls.search(normal) is not None
        return site_host(normal) == self.host and looks_like_article(normal, declared=normal in self.declared)

    def same_article(self, key: str, landed_url: str) -> bool:
        """A redirect to another article URL of the site is the same article (a slug that followed an edited
        title) when the key is the URL. With an `article_key` regex the id is in the URL: another id is
        another article, and a page without one (the home page) is none."""
        if super().same_article(key, landed_url):
            return True
        return self.key_pattern is None and self.is_article_url(landed_url)

    # ------------------------------------------------------------ discovery

    async def start(self) -> AsyncIterator[Request]:
        if not self.discover:
            return
        for url in self.sections:
            yield self.listing_request(url, self.parse_section)
        for url in self.feeds:
            yield self.listing_request(url, self.parse_feed)
        for url in self.sitemaps:
            yield self.listing_request(url, self.parse_sitemap)
        if not (self.sections or self.feeds or self.sitemaps):
            yield self.listing_request(f"{self.base_url}/", self.parse_section)
            yield self.robots_request()

    def robots_request(self) -> Request:
        """robots.txt, for its `Sitemap:` lines. A site without one has no sitemap to name: not an error."""
        return Request(f"{self.base_url}/robots.txt", callback=self.parse_robots, errback=self.listing_failed,
                       meta={"handle_httpstatus_list": [404, 410], "dont_obey_robotstxt": True})

    def parse_robots(self, response: Response) -> Iterator[Request]:
        if response.status != 200:
            return
        for url in dict.fromkeys(sitemap_urls_from_robots(response.body, base_url=response.url)):
            yield self.listing_request(url, self.parse_sitemap)

    def parse_section(self, response: Response) -> Iterator[Request]:
        """Every link of a listing page that leads to an article: the site features it (`listed`)."""
        if not isinstance(response, TextResponse):
            self.logger.warning("not a web page: %s", response.url)
            return
        for href in response.css("a::attr(href)").getall():
            if request := self.article_request(urljoin(response.url, href.strip()), listed=True):
                yield request

    def parse_feed(self, response: Response) -> Iterator[Request]:
        """RSS 2.0 and 1.0 items' links (or permalink guids), Atom entries' alternate links."""
        for link in feed_links(response.body):
            self.declared.add(url_form(urljoin(response.url, link)))
            if request := self.article_request(urljoin(response.url, link), listed=True):
                yield request

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        body = sitemap_body(response.body)
        try:
            sitemap = Sitemap(body)
        except Exception:  # noqa: BLE001 - lxml raises several kinds; a bad sitemap only loses one source
            self.logger.warning("unreadable sitemap %s", response.url)
            return
        if sitemap.type == "sitemapindex":
            for entry in sitemap:
                if loc := entry.get("loc", "").strip():
                    yield self.listing_request(urljoin(response.url, loc), self.parse_sitemap)
            return
        published = news_publication_dates(body) if b"publication_date" in body else {}
        requests = []
        for entry in sitemap:
            if not (loc := entry.get("loc", "").strip()):
                continue
            lastmod = self.sitemap_date(entry.get("lastmod"), published.get(loc))
            self.declared.add(url_form(urljoin(response.url, loc)))
            if request := self.article_request(urljoin(response.url, loc), **({"lastmod": lastmod} if lastmod else {})):
                requests.append(request)
        # The sitemap's own "now": how old an entry is, told by the site's clock, not ours (crawl/frontier.py).
        newest = max((r.meta["lastmod"] for r in requests if "lastmod" in r.meta), default=None)
        for request in requests:
            request.meta["sitemap_newest"] = newest
            yield request

    def sitemap_date(self, lastmod: str | None, published: str | None) -> datetime | None:
        """When the entry last changed: its `lastmod`, else (a Google News sitemap) its publication date; the
        later of the two when both are given. Dates without an offset are in the site's zone."""
        dates = [d for d in (parse_iso(lastmod, self.timezone), parse_iso(published, self.timezone)) if d]
        return max(dates, default=None)


def sitemap_body(body: bytes) -> bytes:
    """A sitemap as XML: `.xml.gz` files are often served as gzip data without a Content-Encoding."""
    if body[:2] == b"\x1f\x8b":
        try:
            return gunzip(body, max_size=MAX_SITEMAP_BYTES)
        except (OSError, EOFError, ValueError):
            return b""
    return body


_NEWS_ENTRIES = lxml.etree.XPath("//*[local-name()='url'][.//*[local-name()='publication_date']]")
_LOC = lxml.etree.XPath("string(*[local-name()='loc'])")
_PUBLICATION_DATE = lxml.etree.XPath("string(.//*[local-name()='publication_date'])")


def news_publication_dates(body: bytes) -> dict[str, str]:
    """loc -> news:publication_date of a Google News sitemap. Scrapy's Sitemap reads an entry's direct
    children only; the date sits inside <news:news>."""
    root = xml_root(body)
    if root is None:
        return {}
    return {_LOC(url).strip(): _PUBLICATION_DATE(url).strip() for url in _NEWS_ENTRIES(root)}

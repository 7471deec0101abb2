"""The generic news spider: any site, configured by its URLs alone (monitor/config.py, `spider = "news"`).

Discovery reads the site's feeds (RSS 2.0, RSS 1.0, Atom), sitemaps (indexes, plain and Google News sitemaps,
with `lastmod` and `news:publication_date`) and sections (listing pages whose links lead to articles). A site
configured with none of them is read from its home page (as a section) and the `Sitemap:` lines of its
robots.txt. Pages are read by the generic extractor (monitor/extract/generic.py).

Which links are articles: those matching `article_urls` when the site gives that regex, else the URLs of the
site's host that look like one (below, `looks_like_article`). An article's key is the first group of the
site's `article_key` regex when it gives one, else its URL normalised (monitor/extract/urls.py); a site keyed by
URL renames an article with its slug, so a redirect to another article URL of the site is the same article
(`same_article`), and newsmon's frontier finds the article again by its URL history.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.etree
from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from w3lib.url import safe_url_string

from monitor.extract.dates import parse_iso
from monitor.extract.generic import DEFAULT_TIMEZONE, extract_generic
from monitor.extract.urls import normalise_url
from spiders.base import NewsSpider

# An article's key is stored in a column of 100 characters (monitor/store/models.py, Article.key); a longer
# normalised URL keeps its start, readable, and ends with a digest of the whole.
MAX_KEY = 100
_DIGEST = 16
# Listing pages may be large; a sitemap is at most 50 MB unzipped by the protocol.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024

# Path segments of pages that list or surround articles, in the languages newsmon meets first.
_LISTING_SEGMENTS = frozenset({
    # tags and topics
    "tag", "tags", "topic", "topics", "theme", "themes", "keyword", "keywords", "schlagwort", "etiqueta", "etiquetas",
    # authors
    "author", "authors", "auteur", "auteurs", "autor", "autoren", "autores", "autore", "autori", "byline",
    # categories and sections
    "category", "categories", "categorie", "categoria", "categorias", "kategorie", "rubrique", "rubriques",
    "rubrik", "ressort", "section", "sections",
    # search, pagination, feeds, archives
    "search", "recherche", "suche", "buscar", "busqueda", "ricerca", "cerca", "page", "pages", "seite", "pagina",
    "feed", "feeds", "rss", "atom", "sitemap", "sitemaps", "archive", "archives", "archiv", "archivio",
    # the CMS's files, AMP copies (their canonical is the article itself)
    "wp-content", "wp-admin", "wp-includes", "wp-json", "wp-login.php", "static", "assets", "cdn-cgi", "amp",
    # the site's own pages
    "login", "signin", "sign-in", "logout", "register", "account", "compte", "newsletter", "newsletters",
    "subscribe", "abonnement", "abo", "contact", "about", "about-us", "privacy", "cookies", "terms", "legal",
    "imprint", "impressum", "mentions-legales", "cgu", "cgv",
})
# Query parameters of searches, pagination and listings.
_LISTING_QUERY = re.compile(r"(?:^|&)(?:page|paged|pg|s|q|query|search|tag|cat|category|author|feed|replytocom)=",
                            re.IGNORECASE)
_STATIC_FILE = re.compile(
    r"\.(?:jpe?g|png|gif|webp|avif|svg|ico|bmp|tiff?|css|js|mjs|map|json|xml|rss|atom|rdf|txt|csv|pdf|docx?"
    r"|xlsx?|pptx?|odt|epub|zip|gz|tgz|rar|7z|mp3|m4a|aac|ogg|oga|wav|flac|mp4|m4v|webm|mov|avi|mkv"
    r"|woff2?|ttf|otf|eot)$", re.IGNORECASE)
# What an article's last segment (or query) holds and a section's does not: an id, or a slug of words.
_ID = re.compile(r"\d{3,}")
_YEAR = re.compile(r"(?:19|20)\d\d")
_SLUG_WORDS = 3
_PAGE_SUFFIX = re.compile(r"\.(?:s?html?|php|aspx?|jsp|cms)$", re.IGNORECASE)
_QUERY_ID = re.compile(r"(?:^|&)(?:id|p|article|articleid|story|storyid|sid|aid|nid)=\d+", re.IGNORECASE)


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


def site_host(url: str) -> str:
    """www.example.com and example.com are one site: links of either are the site's."""
    return (urlsplit(url).hostname or "").removeprefix("www.")


def looks_like_article(url: str) -> bool:
    """The default test of an article URL, given no `article_urls`: not a listing, search, feed, home or
    static-file URL, and a last segment that holds an id (3+ digits, not a lone year) or a slug of 3+ words,
    or a query naming an id (`?p=123`)."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if _LISTING_QUERY.search(parts.query):
        return False
    if _QUERY_ID.search(parts.query):
        return not any(s.lower() in _LISTING_SEGMENTS for s in segments)
    if not segments or _STATIC_FILE.search(segments[-1]):
        return False
    if any(s.lower() in _LISTING_SEGMENTS for s in segments):
        return False
    last = _PAGE_SUFFIX.sub("", segments[-1])
    if all(s.isdigit() for s in segments) and not any(len(s) >= 5 for s in segments):
        return False  # a date archive: /2024, /2024/05/02
    has_id = bool(_ID.search(last)) and not _YEAR.fullmatch(last)
    return has_id or len([w for w in re.split(r"[-_+.]+", last) if w]) >= _SLUG_WORDS


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
        # dates written without an offset in the site's zone. The same object, so that the base class sees
        # there is nothing else to fall back to.
        self.extractor = self.generic = partial(extract_generic, timezone=self.timezone)  # type: ignore[misc]
        self.host = site_host(self.base_url)
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
        return site_host(normal) == self.host and looks_like_article(normal)

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


_PARSER = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True, remove_comments=True)
_NEWS_ENTRIES = lxml.etree.XPath("//*[local-name()='url'][.//*[local-name()='publication_date']]")
_LOC = lxml.etree.XPath("string(*[local-name()='loc'])")
_PUBLICATION_DATE = lxml.etree.XPath("string(.//*[local-name()='publication_date'])")
_FEED_LINKS = lxml.etree.XPath(
    "//*[local-name()='item']/*[local-name()='link']/text()"
    " | //*[local-name()='item'][not(*[local-name()='link'][normalize-space()])]"
    "/*[local-name()='guid'][not(@isPermaLink='false')]/text()"
    " | //*[local-name()='entry']/*[local-name()='link'][not(@rel) or @rel='alternate']/@href")


def xml_root(body: bytes) -> Any:
    try:
        return lxml.etree.fromstring(body, parser=_PARSER)
    except lxml.etree.XMLSyntaxError:
        return None


def news_publication_dates(body: bytes) -> dict[str, str]:
    """loc -> news:publication_date of a Google News sitemap. Scrapy's Sitemap reads an entry's direct
    children only; the date sits inside <news:news>."""
    root = xml_root(body)
    if root is None:
        return {}
    return {_LOC(url).strip(): _PUBLICATION_DATE(url).strip() for url in _NEWS_ENTRIES(root)}


def feed_links(body: bytes) -> list[str]:
    root = xml_root(body)
    if root is None:
        return []
    return [link for text in _FEED_LINKS(root) if (link := str(text).strip())]

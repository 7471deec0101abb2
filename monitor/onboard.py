"""`newsmon add URL`: read a news site once, show what newsmon would extract from it, and add it to the config.

A handful of plain HTTP GETs (urllib, the newsmon User-Agent, a timeout, robots.txt obeyed): robots.txt (for its
`Sitemap:` lines and its rules), the home page (for its `<link rel="alternate">` feeds and its links), one feed,
and one or two articles, found by the `news` spider's own rules (monitor/extract/links.py) and read by the generic
extractor the crawls will use. No Scrapy: `add` runs in the command's process, where a Twisted reactor, which
cannot restart, has no place.

The site becomes a `[sites.NAME]` table (`spider = "news"`, `base_url`, `feeds`, `sitemaps`) appended to the
config file: the file's own text, comments and layout are kept byte for byte, and the result is read back by
`parse_config` before anything is written, so a config that `add` wrote always loads.
"""
from __future__ import annotations

import ipaddress
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import tomlkit
from parsel import Selector
from tomlkit.exceptions import TOMLKitError

from monitor import settings
from monitor.config import NEWS_SPIDER, base_url_problem, default_config_path, parse_config
from monitor.urlcheck import url_problem
from monitor.errors import BadInput
from monitor.extract import ExtractionError, PageError, read_article
from monitor.extract.generic import extract_generic
from monitor.extract.links import feed_links, looks_like_article, site_host
from monitor.extract.urls import normalise_url
from monitor.items import ExtractedArticle

# Someone is waiting at a terminal: a site slower than this to answer is better reported than waited for.
FETCH_TIMEOUT = 15.0
# The crawl's own cap on a page (monitor/settings.py): a page `add` reads is one the crawls will read.
MAX_PAGE_BYTES = settings.DOWNLOAD_MAXSIZE
# Enough to see that the extractor reads the site's articles, few enough to stay a moment's work for the site.
PREVIEW_ARTICLES = 2
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})
# Second-level labels under a country's TLD (news.bbc.co.uk): part of the suffix, not of the site's name.
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "gv"})


class FetchFailed(Exception):
    """No HTTP answer at all: refused, timed out, a name that does not resolve, a reset."""


@dataclass(frozen=True, slots=True)
class Page:
    url: str                 # where it landed, after redirects
    status: int
    body: bytes
    content_type: str | None

    def text(self) -> str:
        """The page as text, for its links: the header's charset, else UTF-8 (a wrong byte costs a link at most)."""
        message = Message()
        message["content-type"] = self.content_type or ""
        charset = message.get_content_charset() or "utf-8"
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", errors="replace")


class Fetcher:
    """Plain GETs as newsmon: its User-Agent, a timeout, and the site's robots.txt once it is read."""

    def __init__(self, timeout: float = FETCH_TIMEOUT, user_agent: str = settings.USER_AGENT):
        self.timeout, self.user_agent = timeout, user_agent
        self.robots: RobotFileParser | None = None

    def get(self, url: str) -> Page:
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Page(response.geturl(), response.status, response.read(MAX_PAGE_BYTES),
                            response.headers.get("Content-Type"))
        except urllib.error.HTTPError as exc:  # an answer all the same: 404, 403, 500...
            return Page(exc.geturl() or url, exc.code, b"", exc.headers.get("Content-Type") if exc.headers else None)
        except urllib.error.URLError as exc:
            raise FetchFailed(str(exc.reason)) from None
        except (OSError, HTTPException, ValueError) as exc:  # timeouts, resets, a malformed answer or link
            raise FetchFailed(str(exc) or type(exc).__name__) from None

    def read_robots(self, origin: str) -> list[str]:
        """Read ORIGIN/robots.txt and obey it from now on; its `Sitemap:` lines. As Python's own reader does,
        401 and 403 forbid everything and any other error allows everything (a site without robots.txt)."""
        page = self.get(f"{origin}/robots.txt")
        self.robots = RobotFileParser(f"{origin}/robots.txt")
        if page.status in (401, 403):
            self.robots.disallow_all = True
        elif page.status != 200:
            self.robots.allow_all = True
        else:
            self.robots.parse(page.text().splitlines())
        return list(dict.fromkeys(urljoin(page.url, u.strip()) for u in self.robots.site_maps() or ()))

    def allowed(self, url: str) -> bool:
        return self.robots is None or self.robots.can_fetch(self.user_agent, url)


@dataclass(frozen=True, slots=True)
class Preview:
    """One article as the crawls would read it, or why it could not be read."""

    url: str
    article: ExtractedArticle | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Discovery:
    """What `add` learnt about a site."""

    name: str
    base_url: str
    feeds: tuple[str, ...]
    sitemaps: tuple[str, ...]
    previews: tuple[Preview, ...]


@dataclass(frozen=True, slots=True)
class Added:
    discovery: Discovery
    config: Path
    written: bool


# ---------------------------------------------------------------- names and the config file

def default_name(url: str) -> str:
    """The site's name from its host: www.harbour-times.example -> harbour-times, news.bbc.co.uk -> news-bbc.
    An address (127.0.0.1) or a one-label host (localhost) is kept whole, dots made dashes."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
        labels = host.replace(":", ".").split(".")
    except ValueError:
        labels = host.removeprefix("www.").split(".")
        if len(labels) > 1:
            labels = labels[:-1]
        if len(labels) > 1 and labels[-1] in _SECOND_LEVEL:
            labels = labels[:-1]
    return "-".join(label for label in labels if label)


def config_text(path: Path) -> str:
    """The config's text as it is ("" for a file not written yet: `add` creates it)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read config file {path}: {exc}") from None


def check_name_is_new(text: str, path: Path, name: str) -> None:
    """Refuse a config that does not parse, or that already has a site of this name."""
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from None
    sites = document.get("sites")
    if isinstance(sites, dict) and name in sites:
        raise BadInput(f"{path}: a site named {name!r} is already configured (give another with --name)")


def site_table(discovery: Discovery) -> str:
    """The `[sites.NAME]` table as TOML text (tomlkit quotes the name and the URLs as they need)."""
    table = tomlkit.table()
    table.add("spider", NEWS_SPIDER)
    table.add("base_url", discovery.base_url)
    for key, urls in (("feeds", discovery.feeds), ("sitemaps", discovery.sitemaps)):
        if urls:  # none: the spider reads the home page and robots.txt's sitemaps by itself
            array = tomlkit.array()
            array.extend(urls)
            array.multiline(len(urls) > 1)
            table.add(key, array)
    sites = tomlkit.table(is_super_table=True)
    sites.add(discovery.name, table)
    document = tomlkit.document()
    document.add("sites", sites)
    return tomlkit.dumps(document)


def with_site(text: str, path: Path, discovery: Discovery) -> str:
    """The config's text with the site's table appended: what was there stays byte for byte. Read back as
    `load_config` reads it, so that a config `add` cannot make loadable is refused, not written."""
    # One blank line before the table, whatever the file ends with (nothing, a line end, a blank line).
    separator = "" if not text or text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
    new = text + separator + site_table(discovery)
    try:
        parse_config(tomllib.loads(new), path)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: [sites.{discovery.name}] cannot be added to this file: {exc}") from None
    return new


# ---------------------------------------------------------------- reading the site

def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def site_base_url(landed: str) -> str:
    """Where the home page landed (after http -> https, or -> www.), without query, fragment or final slash:
    paths are appended to a base URL."""
    parts = urlsplit(landed)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def read_home(fetcher: Fetcher, url: str) -> tuple[Page, list[str]]:
    """The home page and robots.txt's sitemaps. A site that does not answer, or whose robots.txt forbids its
    home page to newsmon, is refused."""
    try:
        sitemaps = fetcher.read_robots(origin_of(url))
        if not fetcher.allowed(url):
            raise BadInput(f"the robots.txt of {origin_of(url)} does not allow newsmon to read {url}")
        home = fetcher.get(url)
    except FetchFailed as exc:
        raise BadInput(f"cannot reach {url}: {exc}") from None
    if home.status != 200:
        raise BadInput(f"{url} answered HTTP {home.status}, not a home page")
    return home, sitemaps


def page_feeds(home: Page) -> list[str]:
    """The feeds a page announces: `<link rel="alternate" type="application/rss+xml|atom+xml" href>`."""
    selector = Selector(text=home.text())
    feeds = []
    for link in selector.xpath("//link[@href]"):
        rel = (link.attrib.get("rel") or "").lower().split()
        kind = (link.attrib.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES:
            feeds.append(urljoin(home.url, link.attrib["href"].strip()))
    return list(dict.fromkeys(feeds))


def article_candidates(fetcher: Fetcher, home: Page, feeds: list[str]) -> list[str]:
    """Article URLs of the site, the first feed's items first (the site's own list of articles), then the
    home page's links, by the `news` spider's default rules; each once, robots.txt permitting."""
    links: list[str] = []
    for feed in feeds:
        if not fetcher.allowed(feed):
            continue
        try:
            page = fetcher.get(feed)
        except FetchFailed:
            continue  # one broken feed is no reason to refuse the site; the preview shows what was read
        if page.status == 200 and (items := feed_links(page.body)):
            links += [urljoin(page.url, item) for item in items]
            break
    links += [urljoin(home.url, href.strip()) for href in Selector(text=home.text()).xpath("//a/@href").getall()]
    host, seen, found = site_host(home.url), set(), []
    for link in links:
        normal = normalise_url(link)
        if normal in seen or site_host(normal) != host or not looks_like_article(normal):
            continue
        seen.add(normal)
        if fetcher.allowed(link):
            found.append(link)
    return found


def preview(fetcher: Fetcher, url: str) -> Preview:
    """One article read as a crawl of the site would read it: the generic extractor, on the whole page."""
    try:
        page = fetcher.get(url)
    except FetchFailed as exc:
        return Preview(url, error=f"no answer: {exc}")
    if page.status != 200:
        return Preview(url, error=f"HTTP {page.status}")
    try:
        _, article = read_article(page.body, page.url, page.content_type, "utf-8", extract_generic)
    except (ExtractionError, PageError) as exc:
        return Preview(page.url, error=str(exc))
    return Preview(page.url, article=article)


def discover(url: str, name: str, fetcher: Fetcher) -> Discovery:
    home, sitemaps = read_home(fetcher, url)
    feeds = page_feeds(home)
    previews = [preview(fetcher, link) for link in article_candidates(fetcher, home, feeds)[:PREVIEW_ARTICLES]]
    return Discovery(name=name, base_url=site_base_url(home.url), feeds=tuple(feeds), sitemaps=tuple(sitemaps),
                     previews=tuple(previews))


# ---------------------------------------------------------------- the command

def add_site(url: str, *, name: str | None = None, config: str | Path | None = None, write: bool = True,
             fetcher: Fetcher | None = None) -> Added:
    """Read the site at URL and add it to the config (the user's by default). Everything that can refuse
    without the network (the URL, the file, the name) is checked first; nothing is written on any refusal."""
    if (problem := url_problem(url)) is not None:
        raise BadInput(f"URL {problem}")
    path = Path(config) if config else default_config_path()
    name = name or default_name(url)
    text = config_text(path)
    check_name_is_new(text, path, name)
    discovery = discover(url, name, fetcher or Fetcher())
    if (problem := base_url_problem(discovery.base_url)) is not None:  # a redirect to somewhere odd
        raise BadInput(f"{url} landed at {discovery.base_url}, which {problem}")
    new = with_site(text, path, discovery)
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new, encoding="utf-8")
    return Added(discovery, path, write)


def report_lines(added: Added) -> list[str]:
    """What `newsmon add` prints: the site's sources, each article as it would be read, and what was done."""
    d = added.discovery
    lines = [f"site      {d.name}  {d.base_url}",
             f"feeds     {', '.join(d.feeds) or 'none announced (the home page is read for links)'}",
             f"sitemaps  {', '.join(d.sitemaps) or 'none in robots.txt'}"]
    if not d.previews:
        lines.append("articles  none found in a feed or on the home page: check the site's article URLs "
                     "(article_urls) before relying on it")
    for number, shown in enumerate(d.previews, 1):
        lines += [f"article {number} {shown.url}", *_article_lines(shown)]
    table = f"[sites.{d.name}]"
    lines.append(f"added {table} to {added.config}" if added.written
                 else f"dry run: {table} not added to {added.config}")
    return lines


def _article_lines(shown: Preview) -> list[str]:
    a = shown.article
    if a is None:
        return [f"  unreadable       {shown.error}"]
    first = a.body[0] if a.body else ""
    return [f"  title            {a.title}", f"  published        {_date(a.published)}",
            f"  updated          {_date(a.updated)}", f"  author           {a.author or '-'}",
            *([f"  lead             {_short(a.lead)}"] if a.lead else []),
            f"  first paragraph  {_short(first) or '-'}", f"  extractor        {a.extractor}"]


def _date(value: datetime | None) -> str:
    return value.isoformat() if value else "-"


def _short(text: str, width: int = 200) -> str:
    """A paragraph on one line of a preview: enough to recognise it."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"

"""The generic `news` spider, end to end: a small news site of the test's own (http.server in a thread), crawled
by `newsmon crawl NAME --config FILE` in a child process into a real SQLite file, read back through the
command line. Discovery from each source fetches exactly the article URLs; one article whatever form its URL
takes; the site's own key and URL rules; a renamed slug; an edit; and the config's errors, one line each."""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import pytest

from monitor.config import parse_config
from spiders.news import GenericNewsSpider, bounded_key, feed_links, looks_like_article
from tests.conftest import QUICK_CONFIRM_DELAY, ROOT, Newsmon

NOW = datetime.now(UTC).replace(microsecond=0)
WORDS = ["the", "harbour", "council", "voted", "on", "a", "plan", "to", "rebuild", "the", "old", "quay", "after",
         "the", "winter", "storms", "left", "the", "fishing", "fleet", "without", "a", "safe", "berth", "and", "the",
         "town", "without", "its", "busiest", "market"]


# ---------------------------------------------------------------- a small news site over real HTTP

@dataclass
class Story:
    path: str
    title: str
    paragraphs: list[str]
    published: datetime = NOW - timedelta(hours=2)
    updated: datetime | None = None
    author: str = "Jane Doe"

    def html(self, url: str) -> str:
        """A WordPress-like article page: JSON-LD NewsArticle, <time>, the body among menus and sidebars."""
        data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": self.title,
                "datePublished": self.published.isoformat(), "author": {"@type": "Person", "name": self.author},
                "mainEntityOfPage": url}
        if self.updated:
            data["dateModified"] = self.updated.isoformat()
        body = "".join(f"<p>{escape(p)}</p>" for p in self.paragraphs)
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(self.title)} | The Harbour Times</title><link rel="canonical" href="{escape(url)}">
<script type="application/ld+json">{json.dumps(data)}</script></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/tag/harbour">Harbour</a></nav>
<main><article><h1>{escape(self.title)}</h1>
<p class="byline">By <span class="author">{escape(self.author)}</span>
<time datetime="{self.published.isoformat()}">{self.published:%d %B %Y}</time></p>
<div class="entry-content">{body}</div></article>
<aside><h2>Most read</h2><ul><li><a href="/news/another-story-from-yesterday">Another story</a></li></ul></aside>
</main><footer><a href="/about">About</a> <a href="/privacy">Privacy</a></footer></body></html>"""


def story(path: str, title: str, n: int = 4, **kwargs: object) -> Story:
    """A story of `n` paragraphs of plain prose, each different."""
    paragraphs = [" ".join(WORDS[i:] + WORDS[:i]).capitalize() + f", said speaker number {i}." for i in range(n)]
    return Story(path, title, paragraphs, **kwargs)  # type: ignore[arg-type]


class NewsSite:
    """Stories and listing pages by path, redirects, and a log of every path asked for. A path is answered
    with or without its trailing slash and whatever its query (tracking parameters), as real sites do."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.stories: dict[str, Story] = {}
        self.listings: dict[str, tuple[str, str]] = {}   # path -> (content type, body)
        self.redirects: dict[str, str] = {}
        self.log: list[str] = []
        self.lock = threading.Lock()

    def add(self, *stories: Story) -> None:
        for s in stories:
            self.stories[s.path] = s

    def listing(self, path: str, body: str, content_type: str = "text/html; charset=utf-8") -> None:
        self.listings[path] = (content_type, body)

    def url(self, path: str) -> str:
        return self.base_url + path

    def fetched(self) -> list[str]:
        """The story paths asked for, in order, with repeats (redirects counted at the path asked)."""
        with self.lock:
            return [p for p in self.log if self.page_path(p) in self.stories or self.page_path(p) in self.redirects]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    @staticmethod
    def page_path(target: str) -> str:
        return urlsplit(target).path.rstrip("/") or "/"

    def __enter__(self) -> Self:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site.lock:
                    site.log.append(self.path)
                path = site.page_path(self.path)
                if path in site.redirects:
                    self.answer(301, "text/html", b"", {"Location": site.url(site.redirects[path])})
                elif path in site.stories:
                    self.answer(200, "text/html; charset=utf-8", site.stories[path].html(site.url(path)).encode())
                elif path in site.listings or self.path in site.listings:
                    content_type, body = site.listings.get(self.path) or site.listings[path]
                    self.answer(200, content_type, body.encode())
                else:
                    self.answer(404, "text/html", b"<html><body>Not found</body></html>")

            def answer(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://{self.host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def links_page(*hrefs: str) -> str:
    return "<html><body><main>" + "".join(f'<a href="{escape(h)}">{escape(h)}</a> ' for h in hrefs) + \
        "</main></body></html>"


def rss(*links: str, guids: tuple[str, ...] = ()) -> str:
    items = "".join(f"<item><title>t</title><link>{escape(u)}</link></item>" for u in links)
    items += "".join(f'<item><title>t</title><guid isPermaLink="true">{escape(u)}</guid></item>' for u in guids)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>http://x/</link>'
            f"{items}</channel></rss>")


def atom(*links: str) -> str:
    entries = "".join(f'<entry><title>t</title><id>{escape(u)}</id><link rel="replies" href="{escape(u)}/comments"/>'
                      f'<link rel="alternate" type="text/html" href="{escape(u)}"/></entry>' for u in links)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>News</title>'
            f'<link rel="self" href="/atom.xml"/>{entries}</feed>')


def sitemap(*entries: tuple[str, datetime | None]) -> str:
    urls = "".join(f"<url><loc>{escape(u)}</loc>" + (f"<lastmod>{d.isoformat()}</lastmod>" if d else "") + "</url>"
                   for u, d in entries)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


def sitemap_index(*locs: str) -> str:
    maps = "".join(f"<sitemap><loc>{escape(u)}</loc></sitemap>" for u in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{maps}</sitemapindex>'


def news_sitemap(*entries: tuple[str, datetime]) -> str:
    urls = "".join(f"<url><loc>{escape(u)}</loc><news:news><news:publication><news:name>Harbour Times</news:name>"
                   f"<news:language>en</news:language></news:publication>"
                   f"<news:publication_date>{d.isoformat()}</news:publication_date><news:title>t</news:title>"
                   f"</news:news></url>" for u, d in entries)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>')


XML = "application/xml"


@pytest.fixture
def news_site() -> Iterator[NewsSite]:
    with NewsSite() as site:
        yield site


@pytest.fixture
def newsmon(sqlite_url: str, tmp_path: Path) -> Newsmon:
    return Newsmon(sqlite_url, tmp_path)


def write_config(tmp_path: Path, site: NewsSite, extra: str = "", *, spider: str = "news") -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(f'[sites.harbour]\nspider = "{spider}"\nbase_url = "{site.base_url}"\n'
                    f'confirm_delay = "{QUICK_CONFIRM_DELAY}"\n{extra}', encoding="utf-8")
    return path


def crawl(newsmon: Newsmon, config: Path, *extra: str) -> str:
    return newsmon.run("crawl", "harbour", "--config", str(config), *extra).stdout


def articles(newsmon: Newsmon) -> dict[str, dict]:
    return {a["article_id"]: a for a in newsmon.json("articles", "--json")}  # type: ignore[union-attr]


# ---------------------------------------------------------------- discovery, source by source

def test_feeds_rss_and_atom_give_exactly_their_articles(newsmon: Newsmon, news_site: NewsSite, tmp_path: Path) -> None:
    news_site.add(story("/news/harbour-council-votes-quay-plan", "Harbour council votes quay plan"),
                  story("/news/fishing-fleet-finds-new-berth", "Fishing fleet finds new berth"),
                  story("/news/market-returns-to-the-square", "Market returns to the square"),
                  story("/news/story-no-feed-names-at-all", "Story no feed names at all"))
    news_site.listing("/rss.xml", rss(news_site.url("/news/harbour-council-votes-quay-plan"),
                                      guids=(news_site.url("/news/fishing-fleet-finds-new-berth"),)), XML)
    news_site.listing("/atom.xml", atom(news_site.url("/news/market-returns-to-the-square")), "application/atom+xml")
    config = write_config(tmp_path, news_site, f'feeds = ["{news_site.url("/rss.xml")}", "{news_site.url("/atom.xml")}"]\n')

    out = crawl(newsmon, config)

    assert "new 3" in out and "errors 0" in out
    assert sorted(news_site.fetched()) == ["/news/fishing-fleet-finds-new-berth", "/news/harbour-council-votes-quay-plan",
                                           "/news/market-returns-to-the-square"]
    stored = articles(newsmon)
    assert {a["title"] for a in stored.values()} == {"Harbour council votes quay plan", "Fishing fleet finds new berth",
                                                    "Market returns to the square"}
    assert news_site.url("/news/harbour-council-votes-quay-plan") in stored  # the key: the normalised URL


def test_sitemap_index_plain_and_news_sitemaps_with_their_dates(newsmon: Newsmon, news_site: NewsSite,
                                                                tmp_path: Path) -> None:
    """The index leads to a plain sitemap (an entry 90 days older than the newest is archive, left out: its
    `lastmod` was read) and a sitemap of pages that are no articles; a Google News sitemap's entries carry
    their date inside <news:news> (one published 60 days before the newest is left out too)."""
    fresh, old = NOW - timedelta(hours=1), NOW - timedelta(days=90)
    news_site.add(story("/2024/05/harbour-council-votes-quay-plan", "Harbour council votes quay plan"),
                  story("/2024/02/winter-storm-hits-the-old-quay", "Winter storm hits the old quay"),
                  story("/news/fishing-fleet-finds-new-berth", "Fishing fleet finds new berth"),
                  story("/news/an-old-story-from-the-spring", "An old story from the spring"))
    u = news_site.url
    news_site.listing("/sitemap_index.xml", sitemap_index(u("/sitemap-posts.xml"), u("/sitemap-pages.xml")), XML)
    news_site.listing("/sitemap-posts.xml", sitemap((u("/2024/05/harbour-council-votes-quay-plan"), fresh),
                                                    (u("/2024/02/winter-storm-hits-the-old-quay"), old)), XML)
    news_site.listing("/sitemap-pages.xml", sitemap((u("/about"), fresh), (u("/tag/harbour"), fresh),
                                                    (u("/author/jane-doe"), fresh), (u("/"), fresh)), XML)
    news_site.listing("/news-sitemap.xml", news_sitemap((u("/news/fishing-fleet-finds-new-berth"), fresh),
                                                        (u("/news/an-old-story-from-the-spring"),
                                                         fresh - timedelta(days=60))), XML)
    config = write_config(tmp_path, news_site,
                          f'sitemaps = ["{u("/sitemap_index.xml")}", "{u("/news-sitemap.xml")}"]\n')

    out = crawl(newsmon, config)

    assert "new 2" in out and "archive left out 2" in out
    assert sorted(news_site.fetched()) == ["/2024/05/harbour-council-votes-quay-plan",
                                           "/news/fishing-fleet-finds-new-berth"]
    assert {"/sitemap-posts.xml", "/sitemap-pages.xml"} <= set(news_site.log)

    # With the site's archive asked for, the old entries come too.
    news_site.clear_log()
    out = crawl(newsmon, write_config(tmp_path, news_site, f'archive = true\nsitemaps = ["{u("/sitemap_index.xml")}", '
                                                           f'"{u("/news-sitemap.xml")}"]\n'))
    assert "new 2" in out
    assert sorted(news_site.fetched()) == ["/2024/02/winter-storm-hits-the-old-quay",
                                           "/news/an-old-story-from-the-spring"]


SECTION_LINKS = ["/news/harbour-council-votes-quay-plan", "news/fishing-fleet-finds-new-berth",  # relative
                 "/tag/harbour", "/tags/quay-and-harbour-works", "/author/jane-doe", "/category/local-news",
                 "/world?page=2", "/world/page/2", "/search?q=harbour", "/feed", "/rss.xml", "/", "/world",
                 "/about", "/2024/05/02", "/static/harbour-photo-2024.jpg", "/wp-content/uploads/a-b-c.png",
                 "https://elsewhere.example/news/a-story-on-another-site", "mailto:desk@example.com",
                 "javascript:void(0)"]


def test_a_section_page_gives_its_article_links_only(newsmon: Newsmon, news_site: NewsSite, tmp_path: Path) -> None:
    news_site.add(story("/news/harbour-council-votes-quay-plan", "Harbour council votes quay plan"),
                  story("/news/fishing-fleet-finds-new-berth", "Fishing fleet finds new berth"))
    news_site.listing("/world", links_page(*SECTION_LINKS))

    out = crawl(newsmon, write_config(tmp_path, news_site, f'sections = ["{news_site.url("/world")}"]\n'))

    assert "new 2" in out and "errors 0" in out
    asked = sorted(p for p in news_site.log if p != "/robots.txt")  # Scrapy's robots.txt middleware asks for it
    assert asked == ["/news/fishing-fleet-finds-new-berth", "/news/harbour-council-votes-quay-plan", "/world"]


def test_a_short_slug_is_an_article_when_a_feed_lists_it_not_when_only_a_page_links_it(
        newsmon: Newsmon, news_site: NewsSite, tmp_path: Path) -> None:
    """Links found on pages are guessed at ("/news/8-dna" looks like a section); the site's own feed
    declares its entries articles, whatever their slug."""
    news_site.add(story("/news/8-dna", "DNA ruling splits the court"),
                  story("/news/9-article", "Ninth article of the day"))
    news_site.listing("/world", links_page("/news/9-article"))
    news_site.listing("/rss.xml", rss(news_site.url("/news/8-dna")), XML)
    config = write_config(tmp_path, news_site, f'feeds = ["{news_site.url("/rss.xml")}"]\n'
                                               f'sections = ["{news_site.url("/world")}"]\n')

    out = crawl(newsmon, config)

    assert "new 1" in out and "errors 0" in out
    assert news_site.fetched() == ["/news/8-dna"]
    assert [a["title"] for a in articles(newsmon).values()] == ["DNA ruling splits the court"]


def test_without_listings_the_home_page_and_robots_sitemaps_are_read(newsmon: Newsmon, news_site: NewsSite) -> None:
    """No config at all: `newsmon crawl news --base-url URL` reads the home page as a section and the
    sitemaps robots.txt names."""
    news_site.add(story("/news/harbour-council-votes-quay-plan", "Harbour council votes quay plan"),
                  story("/news/fishing-fleet-finds-new-berth", "Fishing fleet finds new berth"))
    news_site.listing("/", links_page("/news/harbour-council-votes-quay-plan", "/tag/harbour", "/world"))
    news_site.listing("/robots.txt", f"User-agent: *\nDisallow: /private/\nSitemap: {news_site.url('/site-map.xml')}\n",
                      "text/plain")
    news_site.listing("/site-map.xml", sitemap((news_site.url("/news/fishing-fleet-finds-new-berth"), NOW)), XML)

    out = newsmon.run("crawl", "news", "--base-url", news_site.base_url, "--site", "harbour").stdout

    assert "harbour: checked 2 · new 2" in out
    assert sorted(news_site.fetched()) == ["/news/fishing-fleet-finds-new-berth", "/news/harbour-council-votes-quay-plan"]
    assert "/site-map.xml" in news_site.log and "/world" not in news_site.log


# ---------------------------------------------------------------- keys and URL rules

def test_one_article_whatever_form_its_url_takes(sqlite_url: str, tmp_path: Path) -> None:
    """Tracking parameters, a fragment, the host's case and a trailing slash: one key, one fetch."""
    with NewsSite(host="localhost") as site:  # a host name, to write it in capitals
        site.add(story("/news/harbour-council-votes-quay-plan", "Harbour council votes quay plan"))
        path = "/news/harbour-council-votes-quay-plan"
        site.listing("/world", links_page(f"{path}#comments", f"{path}/"))
        site.listing("/rss.xml", rss(site.url(path) + "?utm_source=rss&utm_medium=feed&fbclid=abc"), XML)
        site.listing("/sitemap.xml", sitemap((site.url(path).replace("localhost", "LOCALHOST"), NOW)), XML)
        newsmon = Newsmon(sqlite_url, tmp_path)
        config = write_config(tmp_path, site, f'sections = ["{site.url("/world")}"]\nfeeds = ["{site.url("/rss.xml")}"]\n'
                                         f'sitemaps = ["{site.url("/sitemap.xml")}"]\n')

        out = crawl(newsmon, config)

        assert "new 1" in out
        assert len(site.fetched()) == 1
        assert list(articles(newsmon)) == [site.url(path)]


def test_article_key_regex_names_the_article(newsmon: Newsmon, news_site: NewsSite, tmp_path: Path) -> None:
    """The id in the URL is the key: two slugs of one id are one article."""
    news_site.add(story("/story/431001/harbour-council-votes-quay-plan", "Harbour council votes quay plan"),
                  story("/story/431001/harbour-council-votes", "Harbour council votes quay plan"),
                  story("/story/431002/fishing-fleet-finds-new-berth", "Fishing fleet finds new berth"))
    news_site.listing("/rss.xml", rss(news_site.url("/story/431001/harbour-council-votes-quay-plan")), XML)
    news_site.listing("/world", links_page("/story/431001/harbour-council-votes", "/story/431002/fishing-fleet-finds-new-berth"))
    config = write_config(tmp_path, news_site, f'feeds = ["{news_site.url("/rss.xml")}"]\n'
                                               f'sections = ["{news_site.url("/world")}"]\n'
                                               "article_key = '/story/(\\d+)/'\n")

    out = crawl(newsmon, config)

    assert "new 2" in out
    assert sorted(articles(newsmon)) == ["431001", "431002"]
    assert len(news_site.fetched()) == 2
    history = newsmon.json("history", "harbour:431001", "--json")
    assert history["article_id"] == "431001"  # type: ignore[index]


def test_article_urls_regex_decides_which_links_are_articles(newsmon: Newsmon, news_site: NewsSite,
                                                             tmp_path: Path) -> None:
    """The site's regex replaces the default rules: a one-word article path they would leave out is taken,
    a slug outside the pattern is not."""
    news_site.add(story("/news/2024/harbour-council-votes-quay-plan", "Harbour council votes quay plan"),
                  story("/news/2024/brief", "In brief: the quay"),
                  story("/blog/notes-from-the-harbour-desk", "Notes from the harbour desk"))
    news_site.listing("/world", links_page("/news/2024/harbour-council-votes-quay-plan", "/news/2024/brief",
                                           "/blog/notes-from-the-harbour-desk", "/tag/harbour"))
    config = write_config(tmp_path, news_site, f'sections = ["{news_site.url("/world")}"]\n'
                                               "article_urls = '/news/\\d{4}/[\\w-]+$'\n")

    out = crawl(newsmon, config)

    assert "new 2" in out
    assert sorted(news_site.fetched()) == ["/news/2024/brief", "/news/2024/harbour-council-votes-quay-plan"]


# ---------------------------------------------------------------- renamed slugs, edits, time zones

def test_a_slug_301_keeps_the_article_and_discovery_then_knows_the_new_url(
        newsmon: Newsmon, news_site: NewsSite, tmp_path: Path) -> None:
    old, new = "/news/harbour-council-votes-quay-plan", "/news/harbour-council-rejects-quay-plan"
    first = story(old, "Harbour council votes quay plan")
    news_site.add(first, story("/news/fishing-fleet-finds-new-berth", "Fishing fleet finds new berth"))
    news_site.listing("/rss.xml", rss(news_site.url(old), news_site.url("/news/fishing-fleet-finds-new-berth")), XML)
    config = write_config(tmp_path, news_site, f'feeds = ["{news_site.url("/rss.xml")}"]\n')
    assert "new 2" in crawl(newsmon, config)
    key = news_site.url(old)

    # The title is edited and the slug follows it: the old URL answers 301, the feed lists the new one.
    del news_site.stories[old]
    news_site.add(Story(new, "Harbour council rejects quay plan", first.paragraphs, first.published))
    news_site.redirects[old] = new
    news_site.listing("/rss.xml", rss(news_site.url(new), news_site.url("/news/fishing-fleet-finds-new-berth")), XML)

    out = crawl(newsmon, config, "--all", "--no-discovery")
    assert "changed 1" in out and "new 0" in out and "errors 0" in out
    stored = articles(newsmon)
    assert len(stored) == 2 and stored[key]["url"] == news_site.url(new)
    history = newsmon.json("history", key, "--json")
    assert [e for e in history["timeline"] if e["kind"] == "moved"]  # type: ignore[index]
    assert set(history["urls"]) >= {news_site.url(old), news_site.url(new)}  # type: ignore[index]

    # Discovery now lists the new URL: the article it already is, not a new one (and not due: not fetched).
    news_site.clear_log()
    out = crawl(newsmon, config)
    assert "new 0" in out
    assert news_site.fetched() == []
    assert len(articles(newsmon)) == 2
    # Re-checked later, it is fetched at its new URL under its first key: still one article, nothing new.
    out = crawl(newsmon, config, "--all")
    assert "new 0" in out and "unchanged 2" in out
    assert len(articles(newsmon)) == 2 and newsmon.changes()[0]["article_id"] == key


def test_an_edit_is_caught_on_the_next_check(newsmon: Newsmon, news_site: NewsSite, tmp_path: Path) -> None:
    edited = story("/news/harbour-council-votes-quay-plan", "Harbour council votes quay plan", n=5)
    news_site.add(edited, story("/news/fishing-fleet-finds-new-berth", "Fishing fleet finds new berth"))
    news_site.listing("/rss.xml", rss(*(news_site.url(p) for p in news_site.stories)), XML)
    config = write_config(tmp_path, news_site, f'feeds = ["{news_site.url("/rss.xml")}"]\n')
    assert "new 2" in crawl(newsmon, config)

    edited.paragraphs[2] = edited.paragraphs[2].replace("winter storms", "autumn gales")
    out = crawl(newsmon, config, "--all")

    assert "changed 1" in out and "unchanged 1" in out
    [change] = newsmon.changes()
    assert change["article_id"] == news_site.url(edited.path)
    assert change["fields"] == ["body"] and change["text_changed"] and not change["announced"]
    assert change["added_words"] == 2 and change["removed_words"] == 2


def test_the_sites_time_zone_reads_dates_written_without_an_offset(newsmon: Newsmon, news_site: NewsSite,
                                                                     tmp_path: Path) -> None:
    # A naive datetime is written without an offset, in JSON-LD and in <time>: 10:00 in Paris, 08:00 UTC.
    news_site.add(story("/news/harbour-council-votes-quay-plan", "Harbour council votes",
                        published=datetime(2024, 5, 2, 10, 0)))
    news_site.listing("/rss.xml", rss(news_site.url("/news/harbour-council-votes-quay-plan")), XML)
    config = write_config(tmp_path, news_site, f'feeds = ["{news_site.url("/rss.xml")}"]\ntimezone = "Europe/Paris"\n')

    crawl(newsmon, config)

    [version] = newsmon.export()
    assert datetime.fromisoformat(version["published"]) == datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the config: one line naming the key and the file

NEWS = 'spider = "news"\nbase_url = "https://example.com"\n'


@pytest.mark.parametrize(("table", "message"), [
    (NEWS + 'feedz = ["https://example.com/rss"]\n', "sites.x.feedz: unknown key"),
    (NEWS + "article_urls = '/news/(\\d+'\n",
     ("sites.x.article_urls: not a valid regular expression (missing ), unterminated subpattern at position 6): "
      "'/news/(\\\\d+'")),
    (NEWS + "article_key = '/story/\\d+'\n",
     "sites.x.article_key: needs a group, (...), around the article's id: '/story/\\\\d+'"),
    (NEWS + 'feeds = "https://example.com/rss"\n', "sites.x.feeds: must be a list of URLs, not 'https://example.com/rss'"),
    (NEWS + 'sitemaps = ["ftp://example.com/sitemap.xml"]\n',
     "sites.x.sitemaps: must be an http(s) URL with a host, not 'ftp://example.com/sitemap.xml'"),
    (NEWS + 'timezone = "Europe/Nowhere"\n',
     "sites.x.timezone: must be an IANA time zone name like \"Europe/Paris\", not 'Europe/Nowhere'"),
    (NEWS + 'editions = ["cambodge"]\n',
     "sites.x.editions: not for spider \"news\" (editions and front pages are lepetitjournal's)"),
    (NEWS + "front_pages = 2\n", "sites.x.front_pages: not for spider \"news\""),
    ('spider = "lepetitjournal"\nfeeds = ["https://example.com/rss"]\n',
     "sites.x.feeds: only for spider \"news\", and this site's spider is \"lepetitjournal\""),
    ('article_key = "/(\\\\d+)$"\n', "sites.x.article_key: only for spider \"news\", and this site's spider is \"x\""),
    ('spider = "news"\nfeeds = ["https://example.com/rss"]\n', "sites.x.base_url: is needed: spider \"news\" has no site"),
])
def test_a_wrong_key_is_one_line_naming_it_and_the_file(newsmon: Newsmon, tmp_path: Path, table: str,
                                                        message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[sites.x]\n{table}", encoding="utf-8")
    proc = newsmon.run("sites", "--config", str(path), check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(f"newsmon: error: {path}: {message}"), proc.stderr


def test_a_crawl_with_a_wrong_config_stops_before_it_starts(newsmon: Newsmon, news_site: NewsSite,
                                                            tmp_path: Path) -> None:
    config = write_config(tmp_path, news_site, "article_urls = '[unclosed'\n")
    proc = newsmon.run("crawl", "harbour", "--config", str(config), check=False)
    assert proc.returncode == 2 and news_site.log == []
    assert proc.stderr.splitlines() == [(f"newsmon: error: {config}: sites.harbour.article_urls: not a valid regular "
                                         "expression (unterminated character set at position 0): '[unclosed'")]
    proc = newsmon.run("crawl", "news", "--base-url", news_site.base_url, "--edition", "cambodge", check=False)
    assert proc.returncode == 2 and news_site.log == []
    assert proc.stderr.splitlines() == [('newsmon: error: --edition and --front-pages are not for spider "news" '
                                         "(editions and front pages are lepetitjournal's)")]
    proc = newsmon.run("crawl", "news", check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [("newsmon: error: spider 'news' has no site of its own: give --base-url, "
                                         "or --config with a site whose base_url is set")]


def test_the_readme_example_site_is_a_valid_config() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\[sites\.[\w-]+\]\nspider = \"news\".+?)```", readme, re.DOTALL)
    assert block, "the README's example of a news site"
    config = parse_config(__import__("tomllib").loads(block[1]), Path("README.md"))
    [site] = config.sites
    assert site.spider == "news" and site.feeds and site.sitemaps and site.sections
    assert site.article_urls and site.article_key and site.timezone


# ---------------------------------------------------------------- the rules, without a crawl

@pytest.mark.parametrize(("url", "article"), [
    ("https://example.com/news/harbour-council-votes-quay-plan", True),
    ("https://example.com/world/europe-68912345", True),
    ("https://example.com/2024/05/02/harbour.html", False),
    ("https://example.com/2024/05/02/harbour-council-votes.html", True),
    ("https://example.com/?p=1234", True),
    ("https://example.com/", False),
    ("https://example.com/world", False),
    ("https://example.com/2024/05", False),
    ("https://example.com/tag/harbour-council-votes", False),
    ("https://example.com/author/jane-doe-and-john", False),
    ("https://example.com/category/local-news-today", False),
    ("https://example.com/news/page/2", False),
    ("https://example.com/news?page=2", False),
    ("https://example.com/search?q=harbour-council-votes", False),
    ("https://example.com/feed", False),
    ("https://example.com/news/harbour-council-votes/amp", False),
    ("https://example.com/images/harbour-council-votes.jpg", False),
])
def test_default_article_urls(url: str, article: bool) -> None:
    assert looks_like_article(url) is article


def test_keys_and_redirects_without_a_crawl() -> None:
    spider = GenericNewsSpider(base_url="https://www.example.com", feeds="https://www.example.com/rss.xml")
    url = "https://WWW.Example.com/news/harbour-council-votes-quay-plan/?utm_source=x#top"
    assert spider.article_key(url) == "https://www.example.com/news/harbour-council-votes-quay-plan"
    assert spider.article_key("https://example.com/news/harbour-council-votes-quay-plan")  # www or not: the site
    assert spider.article_key("https://www.example.com/rss.xml") is None           # a listing of the site's own
    assert spider.article_key("https://other.example/news/harbour-council-votes") is None
    assert spider.article_key("https://other.example/news/x", revisit=True) == "https://other.example/news/x"
    key = spider.article_key(url)
    assert key and spider.same_article(key, "https://www.example.com/news/harbour-council-rejects-quay-plan")
    assert not spider.same_article(key, "https://www.example.com/")
    # A link written with é and the request's percent-encoded URL (what the page lands on): one key.
    assert spider.article_key("https://www.example.com/news/élection-à-paris-demain") == \
        spider.article_key("https://www.example.com/news/%C3%A9lection-%C3%A0-paris-demain") == \
        "https://www.example.com/news/%C3%A9lection-%C3%A0-paris-demain"
    long = "https://www.example.com/news/" + "-".join(["word"] * 40)
    assert len(spider.article_key(long) or "") == 100 and bounded_key(long) != bounded_key(long + "-more")

    by_id = GenericNewsSpider(base_url="https://example.com", article_key=r"/story/(\d+)")
    assert by_id.article_key("https://example.com/story/431001/a-slug-of-words") == "431001"
    assert by_id.same_article("431001", "https://example.com/story/431001/another-slug")
    assert not by_id.same_article("431001", "https://example.com/story/431002/another-story")
    assert not by_id.same_article("431001", "https://example.com/news/a-page-with-no-id-in-it")


def test_feed_links_of_each_format() -> None:
    rdf = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
           '<item rdf:about="https://e.com/a"><link>https://e.com/a</link></item></rdf:RDF>')
    assert feed_links(rdf.encode()) == ["https://e.com/a"]
    assert feed_links(rss("https://e.com/b", guids=("https://e.com/c",)).encode()) == ["https://e.com/b", "https://e.com/c"]
    assert feed_links(atom("https://e.com/d").encode()) == ["https://e.com/d"]
    assert feed_links(b"not xml at all") == []

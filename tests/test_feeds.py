"""Feeds per article (issue 11): `/articles/SITE/ID/feed.atom` in `newsmon serve`, `articles/SITE/ID.atom` in
`newsmon report`; each one article's changes, newest first, with their diffs. Over a database filled by
real crawls of the fake site, read over real HTTP and from the report's files, as a feed reader would."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest
from lxml import html as lxml_html

from monitor.report.webapp import make_app_server
from monitor.store import open_store
from tests.conftest import QuickNewsmon
from tests.fakesite import FakeSite
from tests.reading import HOSTILE_TITLE, SILENT_SENTENCE, Filled, fill

# A second silent edit of the article `fill` edited once: its feed then holds two changes to order.
LATER_SENTENCE = "Une seconde retouche arrive bien plus tard."
ATOM = "application/atom+xml"


@dataclass
class World:
    base: str           # the web app's URL
    report: Path        # `newsmon report --out` of the same database
    filled: Filled
    untouched_id: int   # crawled, never edited

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.base + path) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def feed(self, path: str) -> feedparser.FeedParserDict:
        status, headers, body = self.get(path)
        assert status == 200 and headers["Content-Type"].startswith(ATOM), (path, status)
        feed = feedparser.parse(body)
        assert not feed.bozo and feed.version == "atom10", feed.get("bozo_exception")
        return feed

    def article_feed(self, article_id: int) -> feedparser.FeedParserDict:
        return self.feed(f"/articles/lepetitjournal/{article_id}/feed.atom")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("feeds")
    with FakeSite(noise=True) as site:
        filled = fill(QuickNewsmon(f"sqlite:///{tmp / 'newsmon.db'}", tmp), site)
        silent = site.article(filled.silent_id)
        paragraph = [b for b in silent.blocks if b.kind == "p"][-1]
        paragraph.text += " " + LATER_SENTENCE
        site.edit(silent.id, blocks=list(silent.blocks))
        filled.newsmon.crawl(site, "--all")
        filled.newsmon.run("report", "--out", str(tmp / "report"))
        store = open_store(filled.newsmon.db, create=False)
        server = make_app_server(store, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield World(f"http://127.0.0.1:{server.server_port}", tmp / "report", filled, untouched_id=431902)
        finally:
            server.shutdown()
            server.server_close()
            store.close()


def contents(feed: feedparser.FeedParserDict) -> str:
    return "\n".join(e.content[0].value for e in feed.entries)


def insertions(entry: feedparser.FeedParserDict) -> set[str]:
    """The words an entry's diff marks as added."""
    return {i.text_content().strip() for i in lxml_html.fragment_fromstring(entry.content[0].value,
                                                                          create_parent="div").iter("ins")}


def test_an_articles_feed_holds_its_changes_newest_first_with_their_diffs(world: World) -> None:
    silent = world.filled.silent_id
    feed = world.article_feed(silent)
    article = world.filled.site.article(silent)
    assert article.title in feed.feed.title
    own = f"{world.base}/articles/lepetitjournal/{silent}/feed.atom"
    assert feed.feed.id == own and [link.href for link in feed.feed.links if link.rel == "self"] == [own]
    assert [e.id for e in feed.entries] == [f"urn:newsmon:change:lepetitjournal:{silent}:{n}" for n in (3, 2)]
    assert [e.link for e in feed.entries] == [f"{world.base}/articles/lepetitjournal/{silent}#v{n}" for n in (3, 2)]
    assert [insertions(e) for e in feed.entries] == [{LATER_SENTENCE}, {SILENT_SENTENCE}]
    # Each entry carries its change's diff, not the article's page (no headline, timeline or latest text).
    for entry in feed.entries:
        diff = lxml_html.fragment_fromstring(entry.content[0].value, create_parent="div")
        assert diff.cssselect(".field-diff .diff.inline") and not diff.cssselect("h1, .timeline, .text"), entry.id


def test_an_articles_feed_is_the_site_feed_cut_to_that_article(world: World) -> None:
    everything = world.feed("/feed.atom")
    for article_id in (world.filled.silent_id, world.filled.title_id, world.filled.hostile_id):
        mine = world.article_feed(article_id)
        expected = [e.id for e in everything.entries
                    if e.id.startswith(f"urn:newsmon:change:lepetitjournal:{article_id}:")]
        assert [e.id for e in mine.entries] == expected and expected, article_id
        assert [e.title for e in mine.entries] == [e.title for e in everything.entries if e.id in expected]
    # No text of another article's edits.
    titled = contents(world.article_feed(world.filled.title_id))
    assert "Un nouveau titre" in titled and SILENT_SENTENCE not in titled and "gras" not in titled
    assert "Un nouveau titre" not in contents(world.article_feed(world.filled.silent_id))


def test_a_hostile_headline_titles_its_feed_as_text(world: World) -> None:
    feed = world.article_feed(world.filled.hostile_id)
    assert HOSTILE_TITLE in feed.feed.title
    assert "<script" not in contents(feed) and "&lt;b&gt;gras&lt;/b&gt;" in contents(feed)


def test_an_article_without_changes_has_an_empty_feed(world: World) -> None:
    feed = world.article_feed(world.untouched_id)
    assert feed.entries == [] and world.filled.site.article(world.untouched_id).title in feed.feed.title


@pytest.mark.parametrize("path", ["/articles/lepetitjournal/999999/feed.atom", "/articles/nowhere/431900/feed.atom",
                                  "/articles/lepetitjournal/%ff/feed.atom", "/articles/lepetitjournal//feed.atom",
                                  "/articles/lepetitjournal/lepetitjournal:431900/feed.atom"])
def test_an_unknown_articles_feed_is_not_found(world: World, path: str) -> None:
    status, headers, body = world.get(path)
    assert status == 404 and headers["Content-Type"].startswith("text/html"), (path, status)
    assert b"<feed" not in body


def test_the_article_page_advertises_its_feed_and_keeps_the_site_feed(world: World) -> None:
    silent = world.filled.silent_id
    status, _, body = world.get(f"/articles/lepetitjournal/{silent}")
    assert status == 200
    doc = lxml_html.fromstring(body.decode())
    feeds = [link.get("href") for link in doc.xpath(f'//head/link[@rel="alternate"][@type="{ATOM}"]')]
    assert feeds == ["/feed.atom", f"/articles/lepetitjournal/{silent}/feed.atom"]
    visible = [a.get("href") for a in doc.xpath("//body//a") if a.text_content() == "Atom feed of this article"]
    assert visible == [feeds[1]]
    assert len(world.feed(visible[0]).entries) == 2
    # Pages of the index keep the site-wide feed alone.
    index = lxml_html.fromstring(world.get("/")[2].decode())
    assert [link.get("href") for link in index.xpath(f'//head/link[@type="{ATOM}"]')] == ["/feed.atom"]


def test_the_report_writes_each_article_feed_beside_its_page(world: World) -> None:
    silent = world.filled.silent_id
    folder = world.report / "articles" / "lepetitjournal"
    pages = sorted(folder.glob("*.html"))
    assert pages and sorted(folder.glob("*.atom")) == [p.with_suffix(".atom") for p in pages]

    feed = feedparser.parse((folder / f"{silent}.atom").read_bytes())
    assert not feed.bozo and feed.version == "atom10", feed.get("bozo_exception")
    assert world.filled.site.article(silent).title in feed.feed.title
    assert [e.id for e in feed.entries] == [e.id for e in world.article_feed(silent).entries]
    assert [insertions(e) for e in feed.entries] == [{LATER_SENTENCE}, {SILENT_SENTENCE}]
    assert [e.link for e in feed.entries] == [f"../../articles/lepetitjournal/{silent}.html#v{n}" for n in (3, 2)]

    doc = lxml_html.fromstring((folder / f"{silent}.html").read_text(encoding="utf-8"))
    own = doc.xpath(f'//head/link[@rel="alternate"][@type="{ATOM}"]')[-1].get("href")
    assert (folder / own).resolve() == (folder / f"{silent}.atom").resolve()
    visible = [a.get("href") for a in doc.xpath("//body//a") if a.text_content() == "Atom feed of this article"]
    assert visible == [own]

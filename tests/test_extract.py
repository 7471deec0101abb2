"""Extraction of every field from both layouts, read over HTTP from the fake site, and never the chrome."""
from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from parsel import Selector

from monitor.extract.lepetitjournal import ExtractionError, extract_article, parse_article_url, undouble
from tests.fakesite import FakeArticle, FakeSite, make_article, squash


@pytest.fixture(params=["classic", "modern"])
def themed_site(request: pytest.FixtureRequest) -> Iterator[FakeSite]:
    with FakeSite(theme=request.param, noise=True, editions=("cambodge", "tokyo")) as site:
        for i in range(8):
            site.add(make_article(431500 + i, "tokyo" if i % 2 else "cambodge", paragraphs=3 + i))
        yield site


def fetch(site: FakeSite, path: str) -> tuple[Selector, str]:
    with urllib.request.urlopen(site.base_url + path) as response:
        return Selector(text=response.read().decode("utf-8")), response.url


def extract(site: FakeSite, article: FakeArticle):
    sel, url = fetch(site, article.url)
    return extract_article(sel, url)


def test_every_field_of_every_article(themed_site: FakeSite) -> None:
    for article in themed_site.articles:
        got = extract(themed_site, article)
        assert got.key == str(article.id)
        assert got.url == themed_site.base_url + article.url
        assert (got.edition, got.section) == (article.edition, article.section)
        assert squash(got.title) == squash(article.title)
        assert squash(got.lead) == squash(article.lead)
        assert got.author == article.author
        assert [squash(p) for p in got.body] == article.body          # paragraphs, intertitles, quotes, in order
        assert [squash(c) for c in got.captions] == article.captions  # without photo credits
        assert got.published is not None and got.published.utcoffset() == article.published.utcoffset()
        if themed_site.theme == "modern":
            assert (got.published, got.updated, got.date_precision) == (article.published, None, "minute")
        else:
            assert (got.published.date(), got.updated, got.date_precision) == (article.published.date(), None, "day")


def test_text_is_kept_as_published(themed_site: FakeSite) -> None:
    article = themed_site.articles[0]
    got = extract(themed_site, article)
    assert "\u00a0%" in got.body[0]            # typography is stored, only comparisons ignore it
    assert "’" in " ".join(got.body) + got.title + got.lead


def test_declared_update_date(themed_site: FakeSite) -> None:
    article = themed_site.articles[1]
    updated = article.published + timedelta(days=1, hours=2, minutes=7)
    themed_site.edit(article.id, updated=updated)
    got = extract(themed_site, article)
    if themed_site.theme == "modern":
        assert got.updated == updated
    else:
        assert got.updated is not None and got.updated.date() == updated.date()


def test_chrome_and_related_blocks_are_never_article_text(themed_site: FakeSite) -> None:
    titles_elsewhere = {squash(a.title) for a in themed_site.articles}
    for article in themed_site.articles:
        got = extract(themed_site, article)
        text = " ".join([got.title, got.lead, got.author, *got.body, *got.captions])
        for other in titles_elsewhere - {squash(article.title)}:
            assert other not in squash(text)  # sidebars and "À lire aussi" list other articles' titles
        for chrome in ("Flash infos", "Les plus lus", "cookies", "Je m’abonne", "lepetitjournal.com", "Publicité"):
            assert chrome not in text


def test_extraction_ignores_per_request_noise(themed_site: FakeSite) -> None:
    article = themed_site.articles[2]
    assert extract(themed_site, article) == extract(themed_site, article)


def test_a_page_without_an_article_is_refused() -> None:
    maintenance = Selector(text="<html><body><h1>Maintenance</h1><p>Revenez plus tard.</p></body></html>")
    with pytest.raises(ExtractionError, match="no known article layout"):
        extract_article(maintenance, "https://lepetitjournal.com/cambodge/actualites/x-431001")
    empty_body = Selector(text='<html><body><h1 class="page-title">Titre</h1><div class="field--name-body">'
                               "<p>&nbsp;</p></div></body></html>")
    with pytest.raises(ExtractionError, match="empty body"):
        extract_article(empty_body, "https://lepetitjournal.com/cambodge/actualites/x-431001")
    with pytest.raises(ExtractionError, match="not an article URL"):
        extract_article(empty_body, "https://lepetitjournal.com/cambodge")


@pytest.mark.parametrize(("url", "key", "edition", "section"), [
    ("https://lepetitjournal.com/cambodge/actualites/les-etats-unis-accusent-la-chine-311459", "311459", "cambodge",
     "actualites"),
    ("http://127.0.0.1:8765/hong-kong/economie/titre-431002?utm=x#top", "431002", "hong-kong", "economie"),
])
def test_article_urls(url: str, key: str, edition: str, section: str) -> None:
    where = parse_article_url(url)
    assert where is not None and (where.key, where.edition, where.section) == (key, edition, section)


@pytest.mark.parametrize("url", ["https://lepetitjournal.com/", "https://lepetitjournal.com/cambodge",
                                 "https://lepetitjournal.com/cambodge/rss.xml", "https://lepetitjournal.com/sitemap.xml"])
def test_other_pages_are_not_articles(url: str) -> None:
    assert parse_article_url(url) is None


def test_the_doubled_main_caption_is_read_once() -> None:
    assert undouble("Hun Sen et Xi Jinping Hun Sen et Xi Jinping") == "Hun Sen et Xi Jinping"
    assert undouble("Une légende simple") == "Une légende simple"

"""Memento (RFC 7089) in `newsmon serve`: the TimeMap, the TimeGate and the mementos of an article crawled for
real from the fake site, edited twice (its title, so its slug, then its body): three versions at two URLs."""
from __future__ import annotations

import http.client
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from lxml import html as lxml_html
from sqlalchemy import select

from monitor.store import open_store
from monitor.store.models import Article, Version
from tests.conftest import Newsmon
from tests.fakesite import Block, FakeSite, make_article
from tests.reading import HOSTILE_TITLE, app_server
from tests.test_redesign import wordpress_article  # registers the "wordpress" theme of the fake site

EDITED = 431701       # title edited (a new slug), then its body
UNEDITED = 431702     # one version, under a hostile title
NEW_TITLE = "Le titre corrigé de cette dépêche"
ADDED = "Ce paragraphe a été ajouté sans le dire."
# Escapes that keep "/" and ":" as they are, as a person pastes a URL after /timemap/link/.
PASTED = ":/"


@dataclass(frozen=True)
class Stored:
    """A stored version, as the database holds it."""

    at: datetime          # fetched_at, to the second: what Memento can say
    url: str              # the URL its page was fetched at
    title: str
    lead: str
    body: list[str]


@dataclass
class Archive:
    base: str
    versions: list[Stored]   # of EDITED, oldest first
    old_url: str
    new_url: str
    unedited: Stored


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    tmp = tmp_path_factory.mktemp("memento")
    newsmon = Newsmon(f"sqlite:///{tmp / 'newsmon.db'}", tmp)
    with FakeSite(noise=True) as site:
        edited = site.add(make_article(EDITED, "cambodge", paragraphs=4))
        hostile = make_article(UNEDITED, "bangkok", paragraphs=3)
        hostile.title = HOSTILE_TITLE
        site.add(hostile)
        old_url = site.base_url + edited.url
        newsmon.crawl(site)
        site.edit(EDITED, title=NEW_TITLE, updated=edited.published + timedelta(hours=3))
        newsmon.crawl(site, "--all", "--no-discovery")
        site.edit(EDITED, blocks=[*edited.blocks, Block("p", ADDED)])
        newsmon.crawl(site, "--all", "--no-discovery")
        new_url = site.base_url + edited.url
    versions, [unedited] = stored(newsmon, EDITED), stored(newsmon, UNEDITED)
    assert len(versions) == 3
    with app_server(newsmon.db) as base:
        yield Archive(base, versions, old_url, new_url, unedited)


def stored(newsmon: Newsmon, article_id: int) -> list[Stored]:
    """An article's versions as the database holds them, oldest first."""
    store = open_store(newsmon.db, create=False)
    try:
        with store.session() as session:
            query = (select(Version).join(Article, Article.id == Version.article_id)
                     .where(Article.key == str(article_id)).order_by(Version.number))
            return [Stored(v.fetched_at.replace(microsecond=0), v.url, v.title, v.lead, list(v.body))
                    for v in session.scalars(query)]
    finally:
        store.close()


def get(base: str, target: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """`target` (a path, or a URL under `base`) sent as written: http.client neither re-escapes it nor follows
    redirects."""
    target = target.removeprefix(base)
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    try:
        connection.request("GET", target, headers={name.replace("_", "-"): value for name, value in headers.items()})
        response = connection.getresponse()
        # One policy per answer: a second Content-Security-Policy header would be obeyed too, unseen here.
        assert [name.lower() for name, _ in response.getheaders()].count("content-security-policy") == 1
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


# ---------------------------------------------------------------- link-format, read as a client reads it

@dataclass(frozen=True)
class Link:
    uri: str
    rels: frozenset[str]
    params: dict[str, str]


ENTRY = re.compile(r'\s*<(?P<uri>[^>]*)>(?P<params>(?:\s*;\s*[a-z]+\s*=\s*"[^"]*")*)\s*(?:,|$)')
PARAM = re.compile(r';\s*([a-z]+)\s*=\s*"([^"]*)"')


def parse_links(text: str) -> list[Link]:
    """Link-format (RFC 6690) entries: `<uri>; name="value"...`, separated by commas. Every character of the
    text must belong to an entry: anything else is a malformed TimeMap, not something to skip."""
    links, position = [], 0
    while position < len(text.rstrip()):
        match = ENTRY.match(text, position)
        assert match and match.end() > position, f"not link-format at {position}: {text[position:position + 80]!r}"
        params = dict(PARAM.findall(match["params"]))
        links.append(Link(match["uri"], frozenset(params.pop("rel").split()), params))
        position = match.end()
    return links


def with_rel(links: list[Link], rel: str) -> list[Link]:
    return [link for link in links if rel in link.rels]


def timemap(base: str, url: str) -> list[Link]:
    status, headers, body = get(base, f"/timemap/link/{url}")
    assert status == 200, (url, status, body[:300])
    assert headers["Content-Type"] == "application/link-format"
    return parse_links(body.decode())


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


# ---------------------------------------------------------------- the TimeMap

def test_the_timemap_lists_one_memento_per_version(archive: Archive) -> None:
    links = timemap(archive.base, archive.new_url)
    [original] = with_rel(links, "original")
    assert original.uri == archive.new_url
    [self] = with_rel(links, "self")
    assert self.params["type"] == "application/link-format"
    assert (parsedate_to_datetime(self.params["from"]), parsedate_to_datetime(self.params["until"])) == \
        (archive.versions[0].at, archive.versions[-1].at)
    assert len(with_rel(links, "timegate")) == 1
    mementos = with_rel(links, "memento")
    assert [parsedate_to_datetime(m.params["datetime"]) for m in mementos] == [v.at for v in archive.versions]
    assert [sorted(m.rels) for m in mementos] == [["first", "memento"], ["memento"], ["last", "memento"]]
    assert len({m.uri for m in mementos}) == 3
    # Each memento's URL carries the URL its page was fetched at: the first one's old slug, then the new one.
    assert [archive.old_url in m.uri for m in mementos] == [True, False, False]


def test_any_url_the_article_was_seen_at_finds_it(archive: Archive) -> None:
    assert archive.old_url != archive.new_url
    expected = get(archive.base, f"/timemap/link/{archive.new_url}")[2]
    for url in (archive.old_url, quote(archive.old_url, safe=PASTED), quote(archive.new_url, safe="")):
        assert get(archive.base, f"/timemap/link/{url}")[2] == expected, url


def test_one_version_is_the_first_and_the_last_memento(archive: Archive) -> None:
    [only] = with_rel(timemap(archive.base, archive.unedited.url), "memento")
    assert only.rels == {"first", "last", "memento"}
    assert parsedate_to_datetime(only.params["datetime"]) == archive.unedited.at


# ---------------------------------------------------------------- the TimeGate

def negotiate(base: str, url: str, accept_datetime: str | None) -> tuple[str, dict[str, str]]:
    headers = {"Accept_Datetime": accept_datetime} if accept_datetime is not None else {}
    status, answer, _ = get(base, f"/timegate/{url}", **headers)
    assert status == 302, (accept_datetime, status)
    return answer["Location"], answer


@pytest.mark.parametrize(("when", "expected"), [
    (lambda v: v[0].at - timedelta(days=400), 0),   # before the first version: the first (nothing older is kept)
    (lambda v: v[0].at, 0),                          # at a version's own second: that version
    (lambda v: v[1].at - timedelta(seconds=1), 0),   # between two versions: the one that stood then
    (lambda v: v[1].at, 1),
    (lambda v: v[2].at - timedelta(seconds=1), 1),
    (lambda v: v[2].at, 2),
    (lambda v: v[2].at + timedelta(days=4000), 2),  # after the last: the last
], ids=["before-first", "at-first", "before-second", "at-second", "before-third", "at-third", "after-last"])
def test_the_timegate_redirects_to_the_version_that_stood_then(
        archive: Archive, when: Callable[[list[Stored]], datetime], expected: int) -> None:
    mementos = [m.uri for m in with_rel(timemap(archive.base, archive.new_url), "memento")]
    for url in (archive.new_url, archive.old_url):
        location, headers = negotiate(archive.base, url, http_date(when(archive.versions)))
        assert location == mementos[expected], (url, expected)
        assert headers["Vary"].lower() == "accept-datetime"
        links = parse_links(headers["Link"])
        assert [link.uri for link in with_rel(links, "original")] == [archive.new_url]
        assert with_rel(links, "timemap")[0].params["type"] == "application/link-format"
        assert [link.uri for link in with_rel(links, "first")] == [mementos[0]]
        assert [link.uri for link in with_rel(links, "last")] == [mementos[-1]]


def test_without_accept_datetime_the_timegate_gives_the_latest(archive: Archive) -> None:
    location, _ = negotiate(archive.base, archive.old_url, None)
    assert location == with_rel(timemap(archive.base, archive.new_url), "last")[0].uri


@pytest.mark.parametrize("value", ["", "yesterday", "2021-07-27", "Tue, 31 Feb 2026 10:00:00 GMT",
                                   "Tue, 01 Dec 2026 21:28:49 +0000", "Tue, 01 Dxc 2026 21:28:49 GMT",
                                   "Tue, 01 Dec 0000 21:28:49 GMT", "Tue, 0² Dec 2026 21:28:49 GMT"])
def test_an_unreadable_accept_datetime_is_bad_input(archive: Archive, value: str) -> None:
    status, _, body = get(archive.base, f"/timegate/{archive.new_url}", Accept_Datetime=value)
    assert status == 400, (value, status)
    [message] = lxml_html.fromstring(body.decode()).xpath('//*[contains(text(), "Accept-Datetime")]')
    assert message.text_content().strip().startswith("Accept-Datetime must be an RFC 1123 date")


# ---------------------------------------------------------------- the mementos

def test_each_memento_shows_its_version(archive: Archive) -> None:
    mementos = with_rel(timemap(archive.base, archive.new_url), "memento")
    for link, version in zip(mementos, archive.versions, strict=True):
        status, headers, body = get(archive.base, link.uri)
        assert status == 200, (link.uri, status)
        assert headers["Memento-Datetime"] == link.params["datetime"] == http_date(version.at)
        links = parse_links(headers["Link"])
        assert [x.uri for x in with_rel(links, "original")] == [archive.new_url]
        assert len(with_rel(links, "timegate")) == len(with_rel(links, "timemap")) == 1
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        page = lxml_html.fromstring(body.decode())
        assert page.cssselect("h1")[0].text_content() == version.title
        shown = [p.text_content() for p in page.cssselect(".text p:not(.lead):not(.caption)")]
        assert shown == version.body
    titles = [get_title(archive.base, m.uri) for m in mementos]
    assert titles[0] != NEW_TITLE and titles[1:] == [NEW_TITLE, NEW_TITLE]
    assert [ADDED in v.body for v in archive.versions] == [False, False, True]


def get_title(base: str, uri: str) -> str:
    return lxml_html.fromstring(get(base, uri)[2].decode()).cssselect("h1")[0].text_content()


def test_a_hostile_title_is_text_in_its_memento(archive: Archive) -> None:
    [only] = with_rel(timemap(archive.base, archive.unedited.url), "memento")
    page = lxml_html.fromstring(get(archive.base, only.uri)[2].decode())
    assert page.cssselect("h1")[0].text_content() == HOSTILE_TITLE
    assert page.cssselect("script") == [] and page.xpath("//img") == []


def test_the_page_as_fetched_is_served_sandboxed(archive: Archive) -> None:
    first = with_rel(timemap(archive.base, archive.new_url), "first")[0]
    page = lxml_html.fromstring(get(archive.base, first.uri)[2].decode())
    raw = page.cssselect("a.raw")[0].get("href")
    assert raw.startswith(f"{archive.base}/raw/")
    status, headers, body = get(archive.base, raw)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    policy = [d.strip() for d in headers["Content-Security-Policy"].split(";")]
    assert "sandbox" in policy and "default-src 'none'" in policy and "allow-scripts" not in headers[
        "Content-Security-Policy"]
    assert headers["Memento-Datetime"] == first.params["datetime"]
    # The site's own markup, as it came: the first version's title, before the edit.
    assert archive.versions[0].title.encode() in body and b"<html" in body.lower()


def test_a_page_read_again_by_a_new_extractor_is_one_memento(tmp_path: Path) -> None:
    """A redesign: the stored page is read again by the new extractor, a version of its own with that page's
    fetch time, then the edited page is compared with it. That second has one memento: the latest reading."""
    assert wordpress_article
    newsmon = Newsmon(f"sqlite:///{tmp_path / 'newsmon.db'}", tmp_path)
    with FakeSite(noise=True) as site:
        article = site.add(make_article(EDITED, "cambodge", paragraphs=4))
        newsmon.crawl(site)
        site.theme = "wordpress"
        site.edit(EDITED, blocks=[*article.blocks, Block("p", ADDED)])
        newsmon.crawl(site, "--all", "--no-discovery")
        url = site.base_url + article.url
    versions = stored(newsmon, EDITED)
    assert len(versions) == 3 and versions[0].at == versions[1].at < versions[2].at
    assert (versions[0].lead, versions[0].body) != (versions[1].lead, versions[1].body)
    with app_server(newsmon.db) as base:
        mementos = with_rel(timemap(base, url), "memento")
        assert [parsedate_to_datetime(m.params["datetime"]) for m in mementos] == [versions[0].at, versions[2].at]
        page = lxml_html.fromstring(get(base, mementos[0].uri)[2].decode())
        assert page.cssselect(".text p.lead")[0].text_content() == versions[1].lead
        assert [p.text_content() for p in page.cssselect(".text p:not(.lead):not(.caption)")] == versions[1].body


# ---------------------------------------------------------------- what names no memento

@pytest.mark.parametrize("route", ["/timemap/link/", "/timegate/", "/memento/20210727120000/", "/raw/20210727120000/"])
def test_an_unknown_url_is_not_found(archive: Archive, route: str) -> None:
    for url in ("https://example.org/nowhere", archive.new_url + "?utm=1", archive.new_url + "x", "not a url"):
        status, headers, _ = get(archive.base, route + quote(url, safe=PASTED))
        assert status == 404, (route, url, status)
        assert headers["Content-Type"].startswith("text/html")


def test_a_time_that_is_no_memento_is_not_found(archive: Archive) -> None:
    first = with_rel(timemap(archive.base, archive.new_url), "first")[0].uri
    stamp = re.search(r"/memento/([0-9]{14})/", first)[1]
    # A memento is named by its own second only: finding the closest one is the TimeGate's job.
    earlier = (datetime.strptime(stamp, "%Y%m%d%H%M%S") - timedelta(seconds=1)).strftime("%Y%m%d%H%M%S")
    assert get(archive.base, first.replace(stamp, earlier))[0] == 404
    assert get(archive.base, first.replace(stamp, "99999999999999"))[0] == 404


def test_memento_routes_check_the_host(archive: Archive) -> None:
    status, _, body = get(archive.base, f"/timemap/link/{archive.new_url}", Host="attacker.example")
    assert (status, body) == (400, b"unknown host\n")

"""`newsmon serve`: pages, the Atom feed and the JSON API served live from a database filled by real
crawls; read-only, escaped, with a strict Content-Security-Policy."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import feedparser
import pytest
from lxml import html as lxml_html

from monitor.store import open_store
from tests.conftest import ROOT, Newsmon
from tests.reading import HOSTILE_TITLE, SILENT_SENTENCE, Filled
from tests.reading import served as serving


@dataclass
class Served:
    base: str
    filled: Filled

    def get(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.base + path, method=method)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def page(self, path: str) -> lxml_html.HtmlElement:
        status, _, body = self.get(path)
        assert status == 200, (path, status)
        return lxml_html.fromstring(body.decode())

    def json(self, path: str) -> dict:
        status, headers, body = self.get(path)
        assert status == 200 and headers["Content-Type"].startswith("application/json"), (path, status)
        return json.loads(body)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("webapp")) as (base, filled):
        yield Served(base, filled)


def test_index_and_its_filters(served: Served) -> None:
    rows = served.page("/").cssselect("ol.changes li.change")
    assert len(rows) == 3
    silent = served.page("/?silent=1").cssselect("ol.changes li.change")
    assert len(silent) == 2 and all("silent edit" in r.text_content() for r in silent)
    titles = served.page("/?kind=title").cssselect("ol.changes li.change")
    assert [r.cssselect(".title a")[0].text_content() for r in titles] == ["Un nouveau titre pour cette dépêche"]
    assert len(served.page("/?edition=bangkok").cssselect("ol.changes li.change")) == 2
    assert served.page("/?since=2999-01-01").cssselect("li.empty")
    form = served.page("/?edition=bangkok").cssselect("form.filters")[0]
    assert form.cssselect('option[value="bangkok"]')[0].get("selected") is not None


def test_pagination_in_the_api_and_the_pages(served: Served) -> None:
    first = served.json("/api/changes?per_page=2")
    second = served.json("/api/changes?per_page=2&page=2")
    assert (first["total"], len(first["changes"]), len(second["changes"])) == (3, 2, 1)
    ids = [c["to_version"] for c in first["changes"] + second["changes"]]
    assert len({(c["article_id"], c["to_version"]) for c in first["changes"] + second["changes"]}) == len(ids)
    fields = set(first["changes"][0])
    assert {"site", "article_id", "url", "from_version", "to_version", "detected_at", "fields", "announced",
            "text_changed", "added_words", "removed_words"} <= fields


def test_article_page_and_diff_page(served: Served) -> None:
    silent = served.filled.silent_id
    doc = served.page(f"/articles/lepetitjournal/{silent}")
    assert [i.text_content().strip() for i in doc.cssselect(".diff.inline ins")] == [SILENT_SENTENCE]
    link = doc.cssselect("a.difflink")[0].get("href")
    assert link == f"/articles/lepetitjournal/{silent}/diff?from=1&to=2"
    diff = served.page(link)
    assert [i.text_content().strip() for i in diff.cssselect(".diff.inline ins")] == [SILENT_SENTENCE]


def test_api_article_and_diff(served: Served) -> None:
    titled = served.filled.title_id
    article = served.json(f"/api/articles/lepetitjournal/{titled}")
    assert article["latest"]["title"] == "Un nouveau titre pour cette dépêche"
    assert [v["version"] for v in article["versions"]] == [1, 2]
    assert len(article["urls"]) == 2
    diff = served.json(f"/api/articles/lepetitjournal/{titled}/diff?from=1&to=2")
    title = next(f for f in diff["fields"] if f["field"] == "title")
    assert "".join(s["text"] for s in title["segments"] if s["op"] in "=+") == "Un nouveau titre pour cette dépêche"


def test_errors_are_answers_not_crashes(served: Served) -> None:
    assert served.get("/articles/lepetitjournal/999999")[0] == 404
    status, headers, body = served.get("/api/articles/lepetitjournal/999999")
    assert status == 404 and "error" in json.loads(body)
    assert served.get("/api/changes?page=abc")[0] == 400
    assert served.get("/?kind=everything")[0] == 400
    assert served.get(f"/api/articles/lepetitjournal/{served.filled.silent_id}/diff?from=7")[0] == 404
    assert served.get("/no/such/page")[0] == 404
    assert served.get("/", method="POST")[0] == 405  # read-only


def test_every_answer_carries_a_strict_content_security_policy(served: Served) -> None:
    for path in ("/", f"/articles/lepetitjournal/{served.filled.hostile_id}", "/feed.atom", "/api/changes",
                 "/static/newsmon.css", "/static/favicon.svg", "/nowhere"):
        _, headers, _ = served.get(path)
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, path
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_hostile_text_is_text_in_pages_feed_and_api(served: Served) -> None:
    hostile = served.filled.hostile_id
    for path in ("/", f"/articles/lepetitjournal/{hostile}", f"/articles/lepetitjournal/{hostile}/diff?from=1&to=2"):
        doc = served.page(path)
        assert doc.cssselect("script") == [] and doc.xpath("//img") == [], path
        assert not [a for a in doc.xpath("//a[@href]") if a.get("href").strip().lower().startswith("javascript:")]
        assert not doc.xpath("//@*[starts-with(name(), 'on')]"), path
    assert served.page(f"/articles/lepetitjournal/{hostile}").cssselect("h1")[0].text_content() == HOSTILE_TITLE
    status, _, body = served.get("/feed.atom")
    feed = feedparser.parse(body)
    assert status == 200 and not feed.bozo and feed.version == "atom10"
    entry = next(e for e in feed.entries if HOSTILE_TITLE in e.title)
    assert "<script" not in entry.content[0].value and "&lt;b&gt;gras&lt;/b&gt;" in entry.content[0].value
    assert entry.link.startswith(served.base + "/articles/lepetitjournal/")
    api = served.json(f"/api/articles/lepetitjournal/{hostile}")
    assert api["latest"]["title"] == HOSTILE_TITLE  # JSON carries the text as it is; JSON is not HTML


def test_feed_filters_and_entries(served: Served) -> None:
    feed = feedparser.parse(served.get("/feed.atom?silent=1")[2])
    assert len(feed.entries) == 2 and all(e.title.startswith("[silent edit]") for e in feed.entries)
    assert all(e.id.startswith("urn:newsmon:change:lepetitjournal:") for e in feed.entries)


def test_serve_binds_to_loopback_by_default(tmp_path) -> None:
    newsmon = Newsmon(f"sqlite:///{tmp_path / 'n.db'}", tmp_path)
    open_store(newsmon.db).close()
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--port", "0"], env=newsmon.env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert re.match(r"newsmon: serving http://127\.0\.0\.1:\d+/", line), line
        port = int(re.search(r":(\d+)/", line)[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
            assert response.status == 200
    finally:
        proc.terminate()
        proc.wait(10)

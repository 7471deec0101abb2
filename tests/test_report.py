"""`newsmon report`: a static site from a database filled by real crawls; escaped, offline, with a feed."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from lxml import html as lxml_html

from tests.conftest import QuickNewsmon
from tests.fakesite import FakeSite
from tests.reading import HOSTILE_TITLE, SILENT_SENTENCE, Filled, fill


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    tmp = tmp_path_factory.mktemp("report")
    with FakeSite(noise=True) as site:  # the article gone (410) is believed after a second fetch, 0.3 s later
        yield fill(QuickNewsmon(f"sqlite:///{tmp / 'newsmon.db'}", tmp), site)


@pytest.fixture(scope="module")
def report(filled: Filled, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    proc = filled.newsmon.run("report", "--out", str(out))
    assert re.match(r"3 change\(s\) of 4 article\(s\): ", proc.stdout)  # 3 edits; 1 gone
    return out


def page(path: Path) -> lxml_html.HtmlElement:
    return lxml_html.fromstring(path.read_text(encoding="utf-8"))


def test_index_lists_changes_newest_first_with_kinds_and_badges(report: Path, filled: Filled) -> None:
    doc = page(report / "index.html")
    rows = doc.cssselect("ol.changes li.change")
    assert len(rows) == 3
    by_title = {r.cssselect(".title a")[0].text_content(): r for r in rows}
    silent = by_title[filled.site.article(filled.silent_id).title]
    assert "silent edit" in silent.text_content() and "body" in silent.text_content()
    assert "+8" in silent.cssselect(".words")[0].text_content()  # the added sentence: 8 words
    titled = by_title["Un nouveau titre pour cette dépêche"]
    assert "announced" in titled.text_content() and "title" in titled.text_content()
    assert "silent edit" not in titled.text_content()
    times = [r.cssselect("time")[0].get("datetime") for r in rows]
    assert times == sorted(times, reverse=True)
    events = doc.cssselect("ol.events li")
    assert any("gone" in e.text_content() and str(filled.gone_id) in e.cssselect("a")[0].get("href") for e in events)


def test_article_page_has_inline_and_side_by_side_diffs_and_a_timeline(report: Path, filled: Filled) -> None:
    doc = page(report / "articles" / "lepetitjournal" / f"{filled.silent_id}.html")
    inline = doc.cssselect(".change-detail .diff.inline")[0]
    assert [i.text_content().strip() for i in inline.cssselect("ins")] == [SILENT_SENTENCE]
    assert inline.cssselect("del") == []
    before, after = doc.cssselect(".diff.sides .before")[0], doc.cssselect(".diff.sides .after")[0]
    assert SILENT_SENTENCE not in before.text_content() and SILENT_SENTENCE in after.text_content()
    timeline = doc.cssselect("ol.timeline li")
    assert [li.cssselect("strong")[0].text for li in timeline] == ["new", "changed"]

    gone = page(report / "articles" / "lepetitjournal" / f"{filled.gone_id}.html")
    assert "gone" in gone.cssselect(".status")[0].text_content().lower()
    assert any("HTTP 410" in li.text_content() for li in gone.cssselect("ol.timeline li"))


def test_title_edit_shows_old_and_new_title(report: Path, filled: Filled) -> None:
    doc = page(report / "articles" / "lepetitjournal" / f"{filled.title_id}.html")
    section = doc.cssselect('.field-diff[data-field="title"]')[0]
    assert section.cssselect("ins")[0].text_content().strip().startswith("Un nouveau titre")
    assert section.cssselect("del")
    assert len(doc.cssselect(".urls a")) == 2  # the new slug and the old one


def test_hostile_text_is_shown_as_text_and_never_runs(report: Path, filled: Filled) -> None:
    every_file = {p: p.read_text(encoding="utf-8") for p in report.rglob("*.html")}
    for path, text in every_file.items():
        doc = lxml_html.fromstring(text)
        assert doc.cssselect("script") == [], path
        assert doc.xpath("//img") == [], path
        assert not [e for e in doc.xpath("//*[@href or @src]")
                    if re.match(r"\s*javascript:", e.get("href") or e.get("src") or "", re.I)], path
        assert not doc.xpath("//@*[starts-with(name(), 'on')]"), path
    doc = page(report / "articles" / "lepetitjournal" / f"{filled.hostile_id}.html")
    assert doc.cssselect("h1")[0].text_content() == HOSTILE_TITLE  # shown literally
    assert "<b>gras</b>" in doc.cssselect(".change-detail ins")[0].text_content()


def test_report_works_offline(report: Path) -> None:
    for path in report.rglob("*.html"):
        refs = re.findall(r'(?:href|src)="([^"]+)"', path.read_text(encoding="utf-8"))
        local = [r for r in refs if not r.startswith(("http://127.0.0.1", "#"))]
        for ref in local:  # every link to our own files resolves inside the report
            target = (path.parent / ref.split("#")[0]).resolve()
            assert target.exists(), (path, ref)
    css = (report / "static" / "newsmon.css").read_text()
    assert "@import" not in css and "url(" not in css  # no fonts or images from elsewhere


def test_feed_is_atom_with_one_entry_per_change(report: Path, filled: Filled) -> None:
    feed = feedparser.parse((report / "feed.atom").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert len(feed.entries) == 3
    hostile = next(e for e in feed.entries if "<script>" in e.title)
    assert HOSTILE_TITLE in hostile.title  # the literal text, decoded once
    assert "<script" not in hostile.content[0].value  # the diff HTML escaped the page's markup
    silent = next(e for e in feed.entries if e.title.startswith("[silent edit]") and SILENT_SENTENCE in e.content[0].value)
    assert "<ins>" in silent.content[0].value
    assert silent.link.endswith(f"articles/lepetitjournal/{filled.silent_id}.html#v2")


def test_report_filters(filled: Filled, tmp_path: Path) -> None:
    filled.newsmon.run("report", "--out", str(tmp_path / "silent"), "--silent")
    rows = page(tmp_path / "silent" / "index.html").cssselect("ol.changes li.change")
    assert len(rows) == 2 and all("silent edit" in r.text_content() for r in rows)
    filled.newsmon.run("report", "--out", str(tmp_path / "future"), "--since", "2999-01-01")
    assert page(tmp_path / "future" / "index.html").cssselect("li.empty")
    bad = filled.newsmon.run("report", "--out", str(tmp_path / "x"), "--since", "someday", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("newsmon: error: --since")

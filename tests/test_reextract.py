"""`newsmon reextract`: stored pages read again by the current extractors repair what an older, buggy extractor
stored, and the changes from and to each repaired version are computed again. The history is made by real
crawls of the local site; the older extractor's bugs are then written into the stored versions, as it would
have stored them (its text, its hashes, its changes), while the raw pages stay as fetched."""
from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.compare.diffing import diff_articles
from monitor.compare.versioning import body_words, dates_key, extracted_hash, text_hash
from monitor.store import open_store
from monitor.store.models import Article, Change, Check, Version
from tests.conftest import Newsmon
from tests.consistency import assert_consistent
from tests.fakesite import FakeSite, make_article
from tests.test_cli import db_files

EDITED, LEAKY, QUIET = 431200, 431201, 431202   # a real edit; a counter leaked into the body; never edited
COUNTER = "Cet article a été lu {} fois"


@dataclass
class Crawled:
    newsmon: Newsmon
    site: FakeSite


def with_session(db: str, work: Callable[..., object]) -> object:
    store = open_store(db)
    try:
        with store.session() as session:
            return work(session)
    finally:
        store.close()


def versions_of(session, key: int) -> list[Version]:  # type: ignore[no-untyped-def]
    article = session.scalar(select(Article).where(Article.key == str(key)))
    return list(session.scalars(select(Version).where(Version.article_id == article.id).order_by(Version.number)))


def store_text(version: Version, **fields: object) -> None:
    """What a buggy extractor would have stored: its text, and the hashes of that text."""
    for name, value in fields.items():
        setattr(version, name, value)
    version.text_hash, version.extracted_hash = text_hash(version), extracted_hash(version)
    version.body_words, version.dates_key = body_words(version.body), dates_key(version)


def store_change(session, old: Version, new: Version, fields: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The change the buggy extractor's text made ingest store."""
    change = session.scalar(select(Change).where(Change.to_version_id == new.id))
    diffs = diff_articles(old, new)
    change.fields, change.text_changed = fields, True
    change.added_words, change.removed_words = (sum(d.added_words for d in diffs), sum(d.removed_words for d in diffs))


def add_false_version(session, latest: Version, body: list[str]) -> Version:  # type: ignore[no-untyped-def]
    """A version stored from the same page as `latest` by an extractor that let a view counter into the
    body: the counter moved, so it took the page for an edit."""
    keep = ("article_id", "fetched_at", "url", "edition", "section", "title", "lead", "author", "published_iso",
            "updated_iso", "date_precision", "captions", "raw_size", "extractor", "http_status", "raw_html",
            "raw_encoding")
    version = Version(number=latest.number + 1, metadata_only=False, **{k: getattr(latest, k) for k in keep})
    store_text(version, body=body)
    session.add(version)
    session.flush()
    session.add(Check(article_id=latest.article_id, checked_at=latest.fetched_at, url=latest.url, http_status=200,
                      outcome="changed", version_id=version.id, bytes=latest.raw_size or 0))
    diffs = diff_articles(latest, version)
    session.add(Change(article_id=latest.article_id, from_version_id=latest.id, to_version_id=version.id,
                       detected_at=latest.fetched_at, fields=["body"], text_changed=True, announced=False,
                       added_words=sum(d.added_words for d in diffs), removed_words=sum(d.removed_words for d in diffs)))
    return version


@pytest.fixture
def crawled(newsmon_sqlite: Newsmon) -> Iterator[Crawled]:
    """Three articles crawled twice, then the history an older extractor would have left:
    - EDITED: the site edited its lead and its last paragraph; the old extractor kept only the first two body
      blocks, so its change says `lead` only;
    - LEAKY: never edited; the old extractor read a view counter as the body's last paragraph, and stored the
      page again when the counter moved (a false `body` change), before a real edit of the site's;
    - QUIET: read right, never edited."""
    with FakeSite(theme="classic", noise=True) as site:
        for article_id in (EDITED, LEAKY, QUIET):
            site.add(make_article(article_id, "cambodge", paragraphs=5))
        newsmon_sqlite.crawl(site)

        def leak(session) -> None:  # type: ignore[no-untyped-def]
            (first,) = versions_of(session, LEAKY)
            store_text(first, body=[*first.body, COUNTER.format(120)])
            add_false_version(session, first, [*first.body[:-1], COUNTER.format(348)])
        with_session(newsmon_sqlite.db, leak)

        edited = site.article(EDITED)
        last = [b for b in edited.blocks if b.kind == "p"][-1]
        last.text += " Le ministère a précisé ces chiffres jeudi soir."
        site.edit(EDITED, lead=edited.lead + " Mise à jour.", blocks=list(edited.blocks))
        leaky = site.article(LEAKY)
        site.edit(LEAKY, lead="Un chapô entièrement réécrit par la rédaction, sans annonce.")
        newsmon_sqlite.crawl(site, "--all")

        def truncate(session) -> None:  # type: ignore[no-untyped-def]
            old, new = versions_of(session, EDITED)
            for version in (old, new):
                store_text(version, body=version.body[:2])
            store_change(session, old, new, ["lead"])
        with_session(newsmon_sqlite.db, truncate)
        assert leaky.lead.startswith("Un chapô")
        yield Crawled(newsmon_sqlite, site)


def changes_of(newsmon: Newsmon, key: int) -> list[dict]:
    return [c for c in newsmon.changes() if c["article_id"] == str(key)]


def test_a_dry_run_says_what_would_be_repaired_and_writes_nothing(crawled: Crawled) -> None:
    newsmon = crawled.newsmon
    before = db_files(newsmon.db)
    proc = newsmon.run("reextract", "--dry-run")
    assert db_files(newsmon.db) == before, "a dry run changed the database"
    *articles, summary = proc.stdout.splitlines()
    by_article = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in articles}
    assert set(by_article) == {f"lepetitjournal:{EDITED}", f"lepetitjournal:{LEAKY}"}, proc.stdout
    assert by_article[f"lepetitjournal:{EDITED}"].startswith("repaired version(s) 1, 2; change 1->2: lead -> lead,body")
    assert by_article[f"lepetitjournal:{LEAKY}"].startswith(
        "repaired version(s) 1, 2; version 2 merged into 1 (its change vanishes); change 1->2: lead,body -> lead")
    assert summary.startswith("reextract: 3 article(s), 6 version(s) read · repaired 4 version(s) of 2 article(s)")
    assert summary.endswith("vanished 1 · unreadable 0 · dry run: nothing written")
    report = json.loads(newsmon.run("reextract", "--dry-run", "--json").stdout)
    assert db_files(newsmon.db) == before
    assert report["summary"] == {"articles": 3, "versions": 6, "articles_repaired": 2, "versions_repaired": 4,
                                 "changes_recomputed": 2, "changes_vanished": 1, "unreadable": 0, "pruned": 0,
                                 "dry_run": True}
    edited = next(a for a in report["articles"] if a["article_id"] == str(EDITED))
    assert edited["repaired"] == [1, 2] and edited["merged"] == []
    assert edited["changes"][0]["before"]["fields"] == ["lead"]
    assert edited["changes"][0]["after"]["fields"] == ["lead", "body"]
    # Nothing moved: the old extractor's change is still what `changes` shows.
    assert [c["fields"] for c in changes_of(newsmon, EDITED)] == [["lead"]]


def test_reextract_repairs_the_text_and_recomputes_the_changes(crawled: Crawled) -> None:
    newsmon = crawled.newsmon
    proc = newsmon.run("reextract")
    assert proc.stdout.splitlines()[-1].startswith("reextract: 3 article(s), 6 version(s) read · repaired 4")
    assert_consistent(newsmon.db)

    # EDITED: the whole body is back in both versions, and the change names the body edit with its words.
    (change,) = changes_of(newsmon, EDITED)
    assert change["fields"] == ["lead", "body"] and change["text_changed"] and not change["announced"]
    assert change["added_words"] == 3 + 8   # "Mise à jour." and the sentence added to the last paragraph
    diff = newsmon.json("diff", str(EDITED), "--format", "json")
    assert {f["field"] for f in diff["fields"]} == {"lead", "body"}  # type: ignore[index]
    exported = {(v["article_id"], v["version"]): v for v in newsmon.export()}
    site_body = crawled.site.article(EDITED).body
    assert len(exported[(str(EDITED), 2)]["body"]) == len(site_body)
    assert exported[(str(EDITED), 2)]["body"][-1].endswith("Le ministère a précisé ces chiffres jeudi soir.")
    assert len(exported[(str(EDITED), 1)]["body"]) == len(site_body)

    # LEAKY: the counter's false version merged into the first; the site's real edit is version 2 now, and its
    # change is the lead alone.
    (change,) = changes_of(newsmon, LEAKY)
    assert (change["from_version"], change["to_version"], change["fields"]) == (1, 2, ["lead"])
    assert [k for k in exported if k[0] == str(LEAKY)] == [(str(LEAKY), 1), (str(LEAKY), 2)]
    assert not any("lu 120 fois" in p or "lu 348 fois" in p for k, v in exported.items() for p in v["body"])
    history = newsmon.json("history", str(LEAKY), "--json")
    assert [v["version"] for v in history["versions"]] == [1, 2]  # type: ignore[index]
    assert changes_of(newsmon, QUIET) == []


def test_a_second_run_changes_nothing(crawled: Crawled) -> None:
    newsmon = crawled.newsmon
    newsmon.run("reextract")
    after = db_files(newsmon.db)
    proc = newsmon.run("reextract")
    assert proc.stdout.splitlines() == [("reextract: 3 article(s), 5 version(s) read · repaired 0 version(s) of 0 "
                                         "article(s) · changes recomputed 0 · vanished 0 · unreadable 0")]
    assert db_files(newsmon.db) == after


def test_a_page_no_extractor_reads_is_left_as_stored_and_counted(crawled: Crawled) -> None:
    newsmon = crawled.newsmon

    def break_page(session) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
        version = versions_of(session, EDITED)[0]
        version.raw_html = zlib.compress(b"<html><body><div id='app'></div></body></html>")
        return version.title, list(version.body)
    title, body = with_session(newsmon.db, break_page)  # type: ignore[misc]
    report = json.loads(newsmon.run("reextract", "--site", "lepetitjournal", "--json").stdout)
    assert report["summary"]["unreadable"] == 1
    edited = next(a for a in report["articles"] if a["article_id"] == str(EDITED))
    assert edited["unreadable"] == [1] and edited["repaired"] == [2]
    first = next(v for v in newsmon.export() if v["article_id"] == str(EDITED) and v["version"] == 1)
    assert (first["title"], first["body"]) == (title, body)   # the old extractor's text, kept
    assert_consistent(newsmon.db)


def test_an_unknown_site_is_one_line_of_bad_input(crawled: Crawled) -> None:
    before = db_files(crawled.newsmon.db)
    proc = crawled.newsmon.run("reextract", "--site", "nosuchsite", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "newsmon: error: no site named 'nosuchsite' in the database\n"
    assert db_files(crawled.newsmon.db) == before


def test_reextract_repairs_a_postgresql_history(postgres_url: str, tmp_path: Path) -> None:
    newsmon = Newsmon(postgres_url, tmp_path)
    with FakeSite(theme="classic", noise=True) as site:
        site.add(make_article(EDITED, "cambodge", paragraphs=5))
        newsmon.crawl(site)

        def leak(session) -> None:  # type: ignore[no-untyped-def]
            (first,) = versions_of(session, EDITED)
            store_text(first, body=[*first.body, COUNTER.format(7)])
            add_false_version(session, first, [*first.body[:-1], COUNTER.format(9)])
        with_session(postgres_url, leak)
        site.edit(EDITED, lead="Un chapô réécrit.")
        newsmon.crawl(site, "--all")
    newsmon.run("reextract")
    (change,) = newsmon.changes()
    assert (change["from_version"], change["to_version"], change["fields"]) == (1, 2, ["lead"])
    assert len(newsmon.export()) == 2
    assert_consistent(postgres_url)


def test_a_history_across_a_redesign_is_left_as_the_crawls_stored_it(newsmon_sqlite: Newsmon) -> None:
    """After a redesign the generic extractor read the new pages, and the last page of the old markup was read
    again by it to compare like with like (monitor/store/ingest.py `_switch`). Each version is re-read by the
    family that read it: nothing here is an extractor's bug, so nothing is repaired."""
    from tests.test_redesign import wordpress_article  # noqa: F401  (registers the "wordpress" theme)

    with FakeSite(theme="classic", noise=True) as site:
        for article_id in (EDITED, LEAKY):
            site.add(make_article(article_id, "cambodge", paragraphs=5))
        newsmon_sqlite.crawl(site)
        site.theme = "wordpress"
        edited = site.article(EDITED)
        paragraph = next(b for b in edited.blocks if b.kind == "p")
        paragraph.text += " Une phrase ajoutée après la refonte."
        site.edit(EDITED, blocks=list(edited.blocks))
        newsmon_sqlite.crawl(site, "--all")
    before = db_files(newsmon_sqlite.db)
    assert len(newsmon_sqlite.export()) > 2
    summary = json.loads(newsmon_sqlite.run("reextract", "--json").stdout)["summary"]
    assert (summary["versions_repaired"], summary["unreadable"]) == (0, 0), summary
    assert db_files(newsmon_sqlite.db) == before

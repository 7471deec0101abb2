"""Compact storage (issue 12): pages in zstd with per-site dictionaries, packed text, check rows without the
article's URL, runs of unchanged checks in one row, `newsmon stats`, `newsmon prune`, and migration 0007
converting an old database in batches, resumable after SIGKILL. Real SQLite files and real PostgreSQL
databases; no mocks."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import urllib.request
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import zstandard
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from monitor.compare.policy import RevisitPolicy
from monitor.compare.versioning import Provisional
from monitor.iso import utc_iso
from monitor.items import ExtractedArticle, Fetch
from monitor.report.webapp import make_app_server
from monitor.store import compression, open_store
from monitor.store.checkruns import RUN_LIMIT
from monitor.store.codec import DICTIONARIES, ZSTD_MAGIC, read_page
from monitor.store.compression import PagePacker
from monitor.store.engine import MIGRATIONS, _alembic_config, _engine
from monitor.store.ingest import ensure_site, record_fetches
from monitor.store.models import Article, Check, PageDictionary, Site, Version
from monitor.store.queries import check_times
from tests.conftest import ROOT, Newsmon
from tests.consistency import assert_consistent
from tests.fakesite import Block, FakeSite

WORDS = ("le ministre a annoncé lundi une réforme du port de Phnom Penh dont les travaux commenceront "
         "avant la saison des pluies selon la mairie et plusieurs habitants du quartier").split()


def page(i: int, layout: str = "classic") -> bytes:
    """A news page: the same chrome on every page of a layout, its own article text."""
    rng = random.Random(i)
    text = "".join(f"<p>{' '.join(rng.choices(WORDS, k=60))}.</p>\n" for _ in range(6))
    if layout == "classic":
        chrome = ("<header><nav>" + "".join(f"<a href='/rubrique/{k}'>Rubrique {k}</a>" for k in range(40))
                  + "</nav></header>")
    else:   # a redesign: other markup everywhere
        chrome = ("<div class='app-shell'><script>window.__STATE__=" + json.dumps(
            {f"slot{k}": [k, "carte", k * 7] for k in range(60)}) + "</script></div>")
    return (f"<!doctype html><html lang='fr'><head><title>Article {i}</title></head><body>{chrome}"
            f"<article><h1>Titre {i}</h1>{text}</article><footer>© lepetitjournal {layout}</footer></body></html>"
            ).encode()


def add_version(session, article: Article, number: int, raw_html: bytes, dictionary_id: int | None,  # type: ignore[no-untyped-def]
                raw_size: int, body: list[str] | None = None) -> Version:
    version = Version(article=article, number=number, fetched_at=datetime.now(UTC), url=article.url, edition=None,
                      section=None, title=f"Titre {number}", lead="Le chapeau de l’article, assez long pour être compressé.",
                      author="", published_iso=None, updated_iso=None, date_precision="day",
                      body=body or ["Premier paragraphe.", "Deuxième paragraphe, avec « guillemets »."], captions=[],
                      text_hash="t", extracted_hash="e", body_words=9, raw_size=raw_size, dates_key="d",
                      metadata_only=False, extractor="test/1", http_status=200, raw_html=raw_html,
                      page_dictionary_id=dictionary_id, raw_encoding="utf-8")
    session.add(version)
    return version


def new_article(session, n: int = 1) -> Article:  # type: ignore[no-untyped-def]
    site = session.scalar(select(Site).where(Site.name == "lepetitjournal"))
    if site is None:
        site = Site(name="lepetitjournal", spider="lepetitjournal", base_url="http://x", created_at=datetime.now(UTC))
        session.add(site)
        session.flush()
    article = Article(site_id=site.id, key=str(431000 + n), url=f"http://x/a-{431000 + n}", status="live",
                      first_seen_at=datetime.now(UTC))
    session.add(article)
    session.flush()
    return article


# ---------------------------------------------------------------- pages and dictionaries

def test_pages_round_trip_byte_for_byte_in_every_form(db_url: str) -> None:
    pages = [page(i) for i in range(120)]
    store = open_store(db_url)
    try:
        with store.session() as session:
            article = new_article(session)
            site_id = article.site_id
            v1 = compression.train(session, site_id, pages[:100])
            v2 = compression.train(session, site_id, [page(i, "modern") for i in range(100)])
            assert v1 is not None and v2 is not None and (v1.number, v2.number) == (1, 2)
            plain = zstandard.ZstdCompressor().compress(pages[101])
            with_v1 = zstandard.ZstdCompressor(dict_data=zstandard.ZstdCompressionDict(v1.data)).compress(pages[102])
            with_v2 = zstandard.ZstdCompressor(dict_data=zstandard.ZstdCompressionDict(v2.data)).compress(pages[103])
            forms = [(zlib.compress(pages[100], 6), None), (plain, None), (with_v1, v1.id), (with_v2, v2.id)]
            for n, (data, dictionary) in enumerate(forms, start=1):
                add_version(session, article, n, data, dictionary, len(pages[99 + n]))
        DICTIONARIES._data.clear()   # read back as another process would: dictionaries from the database
    finally:
        store.close()
    store = open_store(db_url, create=False)
    try:
        with store.session() as session:
            got = [v.page for v in session.scalars(select(Version).order_by(Version.number))]
            assert got == pages[100:104]
            assert len({v.page_dictionary_id for v in session.scalars(select(Version))}) == 3   # none, v1, v2
    finally:
        store.close()


def test_a_dictionary_is_trained_after_n_pages_and_again_when_the_pages_change(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    try:
        with store.session() as session:
            article = new_article(session)
            few = [page(i) for i in range(compression.TRAIN_AFTER - 1)]
            packer = PagePacker(session, article.site_id)
            packer.prepare(few)
            assert packer.dictionary is None    # too few pages yet: zstd alone
            for n, raw in enumerate(few, start=1):
                packed = packer.pack(raw)
                assert packed.dictionary_id is None
                add_version(session, article, n, packed.data, None, len(raw))
        with store.session() as session:
            article = session.scalars(select(Article)).one()
            packer = PagePacker(session, article.site_id)
            packer.prepare([page(1000)])         # the 100th page: the first dictionary, trained on them
            first = packer.dictionary
            assert first is not None and first.number == 1
            sizes = []
            number = compression.TRAIN_AFTER
            for i in range(compression.RETRAIN_WINDOW):
                raw = page(2000 + i)
                packed = packer.pack(raw)
                sizes.append(len(packed.data))
                add_version(session, article, number + i, packed.data, packed.dictionary_id, len(raw))
            alone = len(zstandard.ZstdCompressor(level=compression.PAGE_LEVEL).compress(page(2000)))
            assert sum(sizes) / len(sizes) < alone * 0.6, "the dictionary does not pay"
        with store.session() as session:   # a redesign: the site's pages stop compressing well
            article = session.scalars(select(Article)).one()
            packer = PagePacker(session, article.site_id)
            packer.prepare([page(3000, "modern")])
            assert packer.dictionary is not None and packer.dictionary.id == first.id
            number = session.scalar(select(sa.func.max(Version.number))) + 1
            for i in range(compression.RETRAIN_WINDOW):
                raw = page(3000 + i, "modern")
                packed = packer.pack(raw)
                add_version(session, article, number + i, packed.data, packed.dictionary_id, len(raw))
        with store.session() as session:
            article = session.scalars(select(Article)).one()
            packer = PagePacker(session, article.site_id)
            packer.prepare([page(4000, "modern")])
            assert packer.dictionary is not None and packer.dictionary.number == 2, "not trained again"
            versions = session.scalars(select(Version).order_by(Version.number)).all()
            assert [v.page for v in versions[:2]] == few[:2]
            # the first pages, written before the site had a dictionary, were taken over by its first one
            assert {v.page_dictionary_id for v in versions[:len(few)]} == {first.id}
            assert versions[-1].page == page(3000 + compression.RETRAIN_WINDOW - 1, "modern")
            assert session.scalar(select(sa.func.count()).select_from(PageDictionary)) == 2
    finally:
        store.close()


# ---------------------------------------------------------------- a crawl: check rows, stats, prune

@pytest.fixture
def crawled(newsmon: Newsmon, site: FakeSite) -> Newsmon:
    """A first crawl, an edit, a second crawl."""
    newsmon.crawl(site)
    edited = site.article(431010)
    site.edit(431010, blocks=[*edited.blocks, Block("p", "Une phrase ajoutée après la publication, en silence.")])
    newsmon.crawl(site, "--all")
    return newsmon


def sql(db: str, statement: str) -> list:
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(statement)))
    finally:
        engine.dispose()


def test_checks_name_no_url_that_is_the_article_s_and_every_reader_still_shows_it(crawled: Newsmon) -> None:
    rows = sql(crawled.db, "SELECT c.url, a.url FROM checks c JOIN articles a ON a.id = c.article_id")
    assert rows and all(check_url is None for check_url, _ in rows), "a check repeats its article's URL"
    history = crawled.json("history", "431010", "--json")
    checks = [e for e in history["timeline"] if e["kind"] == "check"]
    assert len(checks) == 2 and {e["url"] for e in checks} == {history["url"]}
    assert all(line["url"] == history["url"] for line in crawled.export() if line["article_id"] == "431010")
    store = open_store(crawled.db, create=False)
    server = make_app_server(store, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/api/articles/lepetitjournal/431010") as r:
            served = json.loads(r.read())
        assert {e["url"] for e in served["timeline"] if e["kind"] == "check"} == {history["url"]}
    finally:
        server.shutdown()
        store.close()


def test_a_moved_article_keeps_the_url_each_check_fetched(newsmon: Newsmon, site: FakeSite) -> None:
    newsmon.crawl(site)
    old_url = newsmon.json("history", "431011", "--json")["url"]
    site.edit(431011, title="Un tout autre titre pour cet article")   # the slug follows the title: a 301
    newsmon.crawl(site, "--all")
    history = newsmon.json("history", "431011", "--json")
    assert history["url"] != old_url
    assert [e["url"] for e in history["timeline"] if e["kind"] == "check"] == [old_url, history["url"]]


def test_stats_figures_match_the_database(crawled: Newsmon) -> None:
    stats = crawled.json("stats", "--json")
    (versions, checks), = sql(crawled.db, "SELECT (SELECT count(*) FROM versions), (SELECT count(*) FROM checks)")
    tables = {t["table"]: t for t in stats["tables"]}
    assert (tables["versions"]["rows"], tables["checks"]["rows"]) == (versions, checks)
    length = "length" if crawled.db.startswith("sqlite") else "octet_length"
    (raw, page_bytes), = sql(crawled.db, f"SELECT sum({length}(raw_html)), sum(raw_size) FROM versions")
    site, = stats["sites"]
    assert (site["site"], site["versions"], site["pages"], site["pruned"]) == ("lepetitjournal", versions, versions, 0)
    assert (site["raw_bytes"], site["page_bytes"], site["checks"]) == (raw, page_bytes, checks)
    assert stats["bytes_per_check"] == pytest.approx(tables["checks"]["bytes"] / checks, abs=0.1)
    assert stats["bytes_per_version"] == pytest.approx(
        (tables["versions"]["bytes"] + tables["page_dictionaries"]["bytes"]) / versions, abs=0.1)
    assert raw < page_bytes / 2, "pages are not compressed"
    assert "bytes per version" in crawled.run("stats").stdout


def test_prune_drops_raw_pages_only_and_every_command_still_works(crawled: Newsmon) -> None:
    before = {cmd: crawled.run(*cmd).stdout for cmd in (("export",), ("show", "431010", "--json"),
                                                        ("diff", "431010", "--format", "json"),
                                                        ("history", "431010", "--json"))}
    counts = sql(crawled.db, "SELECT (SELECT count(*) FROM versions), (SELECT count(*) FROM checks), "
                             "(SELECT count(*) FROM changes)")
    dry = crawled.json("prune", "--raw-older-than", "2999-01-01", "--dry-run", "--json")
    assert dry["pages"] == counts[0][0] and dry["dry_run"] and dry["sites"] == {"lepetitjournal": counts[0][0]}
    assert sql(crawled.db, "SELECT count(*) FROM versions WHERE length(raw_html) = 0") == [(0,)]
    assert crawled.json("prune", "--raw-older-than", "90d", "--json")["pages"] == 0   # all fetched just now
    said = crawled.run("prune", "--raw-older-than", "2999-01-01").stdout
    assert f"dropped {counts[0][0]} raw page(s)" in said and "text, versions and checks kept" in said
    assert sql(crawled.db, "SELECT count(*) FROM versions WHERE length(raw_html) = 0") == [(counts[0][0],)]
    assert sql(crawled.db, "SELECT (SELECT count(*) FROM versions), (SELECT count(*) FROM checks), "
                           "(SELECT count(*) FROM changes)") == counts
    for cmd, out in before.items():
        assert crawled.run(*cmd).stdout == out, f"newsmon {' '.join(cmd)} changed after prune"
    report = crawled.json("reextract", "--dry-run", "--json")
    assert report["summary"]["pruned"] == counts[0][0] and report["summary"]["versions_repaired"] == 0
    assert crawled.json("stats", "--json")["sites"][0]["pruned"] == counts[0][0]


@pytest.mark.parametrize("value", ["1x", "soon", "99999999d"])
def test_prune_refuses_a_bad_age_in_one_line(crawled: Newsmon, value: str) -> None:
    proc = crawled.run("prune", "--raw-older-than", value, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "--raw-older-than" in proc.stderr


# ---------------------------------------------------------------- check runs

CANONICAL = "http://x/cambodge/actualites/un-titre-431500"
OLD_SLUG = "http://x/cambodge/actualites/un-ancien-titre-431500"
FIRST_BODY, EDITED_BODY = "Un premier paragraphe, tel que publié.", "Un premier paragraphe, réécrit depuis."


def article_fetch(at: datetime, status: int = 200, *, url: str = CANONICAL, body: str = FIRST_BODY) -> Fetch:
    """A fetch of article 431500: its page read as `body` (200), a 304, or an error (any other status)."""
    article = ExtractedArticle(key="431500", url=CANONICAL, edition="cambodge", section="actualites",
                               title="Un titre", lead="Un chapeau.", author="", published=None, updated=None,
                               date_precision="day", body=(body,), captions=(), extractor="test/1")
    return Fetch(site="lepetitjournal", key="431500", requested_url=url, url=url, status=status, fetched_at=at,
                 article=article if status == 200 else None,
                 error=None if status in (200, 304) else f"HTTP {status}",
                 raw=f"<html><p>{body}</p></html>".encode() if status == 200 else b"", encoding="utf-8")


def record(db: str, *batches: list[Fetch | Provisional]) -> None:
    """Each batch in its own transaction, as the crawl's pipeline writes them."""
    store = open_store(db)
    try:
        for batch in batches:
            with store.session() as session:
                site_id = ensure_site(session, "lepetitjournal", "lepetitjournal", "http://x")
                record_fetches(session, site_id, batch, RevisitPolicy())
    finally:
        store.close()


def check_rows(db: str) -> list[tuple]:
    return [tuple(row) for row in sql(db, "SELECT outcome, http_status, repeats, url FROM checks ORDER BY id")]


def stored_times(db: str) -> list[datetime]:
    store = open_store(db, create=False)
    try:
        with store.session() as session:
            return [at for check in session.scalars(select(Check).order_by(Check.id)) for at in check_times(check)]
    finally:
        store.close()


def test_a_run_merges_unchanged_checks_only_and_every_reader_sees_each_check(newsmon: Newsmon) -> None:
    # Steps from a microsecond to over a year: each time must come back exactly.
    steps = [timedelta(0), timedelta(minutes=30), timedelta(microseconds=1), timedelta(days=400, microseconds=7),
             timedelta(hours=6), timedelta(seconds=1, microseconds=999_999), timedelta(days=1), timedelta(hours=2),
             timedelta(minutes=1), timedelta(hours=1), timedelta(minutes=5), timedelta(microseconds=250),
             timedelta(hours=3), timedelta(days=2), timedelta(microseconds=3)]
    t = [datetime(2026, 3, 1, 7, 15, 2, 123_456, tzinfo=UTC) + sum(steps[:i + 1], timedelta()) for i in range(15)]
    record(newsmon.db,
           [article_fetch(t[0])],                                       # new
           [article_fetch(t[1])],                                       # unchanged: a run starts
           [article_fetch(t[2]), article_fetch(t[3])],                  # joins it, from the database then the batch
           [article_fetch(t[4], 500)],                                  # an error ends it
           [article_fetch(t[5])],                                       # a run of its own after the error
           [article_fetch(t[6], 304), article_fetch(t[7], 304)],        # another status: another run
           [article_fetch(t[8], url=OLD_SLUG)],                         # fetched at another URL (a redirect)
           [article_fetch(t[9])],
           [article_fetch(t[10], body=EDITED_BODY)],                    # changed
           [article_fetch(t[11], body=EDITED_BODY)],                    # unchanged, but another version
           [Provisional(article_fetch(t[12], body=EDITED_BODY), "suspect", "held for a second look")],
           [article_fetch(t[13], body=EDITED_BODY), article_fetch(t[14], body=EDITED_BODY)])
    assert check_rows(newsmon.db) == [
        ("new", 200, 0, None), ("unchanged", 200, 2, None), ("error", 500, 0, None), ("unchanged", 200, 0, None),
        ("unchanged", 304, 1, None), ("unchanged", 200, 0, OLD_SLUG), ("unchanged", 200, 0, None),
        ("changed", 200, 0, None), ("unchanged", 200, 0, None), ("suspect", 200, 0, None),
        ("unchanged", 200, 1, None)]
    assert stored_times(newsmon.db) == t
    history = newsmon.json("history", "431500", "--json")
    checks = [e for e in history["timeline"] if e["kind"] == "check"]
    assert [e["at"] for e in checks] == [utc_iso(at) for at in t]
    assert [(e["outcome"], e["http_status"], e["version"]) for e in checks] == [
        ("new", 200, 1), *[("unchanged", 200, 1)] * 3, ("error", 500, None), ("unchanged", 200, 1),
        *[("unchanged", 304, 1)] * 2, *[("unchanged", 200, 1)] * 2, ("changed", 200, 2), ("unchanged", 200, 2),
        ("suspect", 200, None), *[("unchanged", 200, 2)] * 2]
    assert [e["url"] for e in checks] == [CANONICAL] * 8 + [OLD_SLUG] + [CANONICAL] * 6
    (rows, total), = sql(newsmon.db, "SELECT count(*), sum(bytes) FROM checks")
    assert total == sum(len(article_fetch(at).raw) for at in t[:4]) + 3 * len(article_fetch(t[0]).raw) + sum(
        len(article_fetch(at, body=EDITED_BODY).raw) for at in t[10:])
    stats = newsmon.json("stats", "--json")
    assert stats["sites"][0]["checks"] == 15 and {t["table"]: t["rows"] for t in stats["tables"]}["checks"] == rows
    assert stats["bytes_per_check"] == pytest.approx(
        next(t["bytes"] for t in stats["tables"] if t["table"] == "checks") / 15, abs=0.1)
    assert_consistent(newsmon.db)


def test_a_run_stops_at_its_limit_and_its_times_come_back_exact(db_url: str) -> None:
    start = datetime(2026, 3, 1, 7, 15, 2, 123_456, tzinfo=UTC)
    times = [start + timedelta(hours=i, microseconds=i * 37) for i in range(RUN_LIMIT + 4)]
    record(db_url, [article_fetch(times[0])], [article_fetch(at) for at in times[1:]])
    assert check_rows(db_url) == [("new", 200, 0, None), ("unchanged", 200, RUN_LIMIT - 1, None),
                                  ("unchanged", 200, 2, None)]
    assert stored_times(db_url) == times
    assert_consistent(db_url)


def rows_picture(db: str) -> dict[str, list[tuple]]:
    """What a database holds of its articles, each row pointing to others by version number, not by id."""
    return {
        "versions": [tuple(r) for r in sql(db, "SELECT a.key, v.number, v.body_words, v.text_hash FROM versions v "
                                              "JOIN articles a ON a.id = v.article_id ORDER BY v.number")],
        "changes": [tuple(r) for r in sql(db, "SELECT f.number, t.number, c.added_words, c.removed_words FROM changes c "
                                              "JOIN versions f ON f.id = c.from_version_id "
                                              "JOIN versions t ON t.id = c.to_version_id ORDER BY t.number")],
        "checks": [tuple(r) for r in sql(db, "SELECT c.outcome, v.number, c.repeats FROM checks c "
                                            "LEFT JOIN versions v ON v.id = c.version_id ORDER BY c.checked_at")],
        "events": [tuple(r) for r in sql(db, "SELECT kind, detail FROM events ORDER BY at")],
        "outbox": [tuple(r) for r in sql(db, "SELECT o.kind, t.number, e.kind FROM outbox o "
                                            "LEFT JOIN changes c ON c.id = o.change_id "
                                            "LEFT JOIN versions t ON t.id = c.to_version_id "
                                            "LEFT JOIN events e ON e.id = o.event_id ORDER BY o.created_at")],
        "urls": [tuple(r) for r in sql(db, "SELECT url FROM article_urls ORDER BY url")],
    }


def test_a_batch_leaves_the_rows_its_fetches_leave_one_transaction_each(db_url: str, tmp_path: Path) -> None:
    """A batch's new rows are written together at its end (monitor/store/bulk.py), pointing to one another
    before any has an id: an article first seen, edited, seen again and gone within one batch leaves the same
    rows, linked the same way, as the same fetches recorded one transaction each."""
    start = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)

    def fetches() -> list[Fetch | Provisional]:
        return [article_fetch(start, url=OLD_SLUG), article_fetch(start + timedelta(hours=1), body=EDITED_BODY),
                article_fetch(start + timedelta(hours=2), body=EDITED_BODY),
                article_fetch(start + timedelta(hours=3), status=410)]

    one_each = f"sqlite:///{tmp_path / 'one-each.db'}"
    record(db_url, fetches())
    record(one_each, *([fetch] for fetch in fetches()))
    picture = rows_picture(db_url)
    assert picture == rows_picture(one_each)
    assert [(outcome, number) for outcome, number, _ in picture["checks"]] == [
        ("new", 1), ("changed", 2), ("unchanged", 2), ("gone", None)]
    assert [(first, then) for first, then, *_ in picture["changes"]] == [(1, 2)]
    assert picture["outbox"] == [("change", 2, None), ("gone", None, "gone")]
    assert picture["urls"] == [(OLD_SLUG,), (CANONICAL,)]
    assert_consistent(db_url)


def test_two_writers_extending_one_run_never_lose_a_check(db_url: str) -> None:
    """The second merge into a row another writer extended meanwhile fails (and the pipeline records its batch
    again), instead of overwriting the other's check."""
    start = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    record(db_url, [article_fetch(start), article_fetch(start + timedelta(hours=1))])
    first, second = open_store(db_url), open_store(db_url)
    try:
        with pytest.raises(StaleDataError):  # noqa: SIM117 - the late writer's transaction must be open first
            with second.session() as late:
                site_id = ensure_site(late, "lepetitjournal", "lepetitjournal", "http://x")
                record_fetches(late, site_id, [article_fetch(start + timedelta(hours=3))], RevisitPolicy())
                with first.session() as early:
                    record_fetches(early, site_id, [article_fetch(start + timedelta(hours=2))], RevisitPolicy())
    finally:
        first.close()
        second.close()
    record(db_url, [article_fetch(start + timedelta(hours=3))])   # the batch recorded again
    assert check_rows(db_url) == [("new", 200, 0, None), ("unchanged", 200, 2, None)]
    assert stored_times(db_url) == [start + timedelta(hours=h) for h in range(4)]


def test_crawls_that_find_nothing_new_extend_runs_and_history_lists_every_check(crawled: Newsmon,
                                                                                 site: FakeSite) -> None:
    for _ in range(2):
        crawled.crawl(site, "--all")
    # Two rows per article (new, then unchanged), both crawls merged into the second; the edited article's
    # second row is its change, so its unchanged checks start a run of their own.
    rows = dict(sql(crawled.db, "SELECT a.key, count(*) FROM checks c JOIN articles a ON a.id = c.article_id "
                                "GROUP BY a.key"))
    assert rows == {str(a.id): 3 if a.id == 431010 else 2 for a in site.articles}
    for article in site.articles:
        checks = [e for e in crawled.json("history", str(article.id), "--json")["timeline"] if e["kind"] == "check"]
        assert len(checks) == 4 and [e["at"] for e in checks] == sorted({e["at"] for e in checks})
    stats = crawled.json("stats", "--json")
    assert stats["sites"][0]["checks"] == 4 * len(site.articles)
    assert_consistent(crawled.db)


# ---------------------------------------------------------------- migration 0007

VERSIONS, ARTICLES = 600, 30


def old_database(url: str) -> dict[int, tuple[bytes, list[str], str]]:
    """A database at revision 0006 (before compact storage), filled with plain SQL as newsmon wrote it then:
    zlib pages, JSON text, every check with its URL. Returns each version's page, body and lead."""
    engine = _engine(url, True)
    try:
        command.upgrade(_alembic_config(engine), "0006")
        now = datetime(2026, 11, 1).isoformat(" ")
        expected = {}
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO sites (id, name, spider, base_url, created_at) VALUES "
                                 "(1, 'lepetitjournal', 'lepetitjournal', 'http://x', :t)"), {"t": now})
            for a in range(1, ARTICLES + 1):
                conn.execute(sa.text("INSERT INTO articles (id, site_id, key, url, status, first_seen_at) VALUES "
                                     "(:a, 1, :key, :url, 'live', :t)"), {"a": a, "key": str(a), "url": f"http://x/{a}",
                                                                          "t": now})
            for v in range(1, VERSIONS + 1):
                article, number = (v - 1) % ARTICLES + 1, (v - 1) // ARTICLES + 1
                body, lead = [f"Paragraphe {v} : l’été à Phnom Penh.", "Deuxième « paragraphe »."], f"Chapeau {v} é"
                raw = page(v)
                expected[v] = (raw, body, lead)
                conn.execute(sa.text(
                    "INSERT INTO versions (id, article_id, number, fetched_at, url, title, lead, author, date_precision, "
                    "body, captions, text_hash, dates_key, metadata_only, extractor, http_status, raw_html, raw_encoding, "
                    "raw_size) VALUES (:id, :a, :n, :t, :url, 'Titre', :lead, '', 'day', :body, '[]', 'h', 'd', "
                    "false, 'x/1', 200, :raw, 'utf-8', :size)"),
                    {"id": v, "a": article, "n": number, "t": now, "url": f"http://x/{article}", "lead": lead,
                     "body": json.dumps(body), "raw": zlib.compress(raw, 6), "size": len(raw)})
                for c, url in ((2 * v, f"http://x/{article}"), (2 * v + 1, f"http://x/old-{article}")):
                    conn.execute(sa.text("INSERT INTO checks (id, article_id, checked_at, url, http_status, outcome, "
                                         "bytes) VALUES (:id, :a, :t, :url, 200, 'unchanged', 10)"),
                                 {"id": c, "a": article, "t": now, "url": url})
        return expected
    finally:
        engine.dispose()


# Runs the migration in a child process, each batch of 50 versions followed by a line on stdout and a pause,
# so that the test can kill it between two batches, or in the middle of one.
MIGRATE = """
import sys, time
from monitor.store import compaction, open_store
original = compaction.convert_versions_batch
def slowly(engine, size=50):
    done = original(engine, 50)
    print("batch", flush=True)
    time.sleep(0.15)
    return done
compaction.convert_versions_batch = slowly
open_store(sys.argv[1]).close()
print("done", flush=True)
"""


def test_the_migration_converts_an_old_database_and_resumes_after_sigkill(db_url: str) -> None:
    expected = old_database(db_url)
    child = subprocess.Popen([sys.executable, "-c", MIGRATE, db_url], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout is not None
        for _ in range(4):
            assert child.stdout.readline().strip() == "batch"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    (revision,), = sql(db_url, "SELECT version_num FROM alembic_version")
    (last_id,), = sql(db_url, "SELECT last_id FROM compact_progress WHERE name = 'versions'")
    assert revision == "0006" and 200 <= last_id < VERSIONS, "the kill did not land mid-way"

    store = open_store(db_url)   # runs the rest of the migration
    try:
        with store.session() as session:
            versions = {v.id: v for v in session.scalars(select(Version))}
            assert {i: (v.page, v.body, v.lead) for i, v in versions.items()} == expected
            assert all(bytes(v.raw_html).startswith(ZSTD_MAGIC) for v in versions.values())
            assert {v.page_dictionary_id for v in versions.values()} == {
                session.scalar(select(PageDictionary.id))}, "pages not compressed with the site's dictionary"
            urls = dict(session.execute(select(Check.id, Check.url)).all())
            assert all(urls[2 * v] is None and urls[2 * v + 1] == f"http://x/old-{(v - 1) % ARTICLES + 1}"
                       for v in expected)
    finally:
        store.close()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()   # the later migrations ran after it
    assert sql(db_url, "SELECT version_num FROM alembic_version") == [(head,)]
    assert "compact_progress" not in sa.inspect(sa.create_engine(db_url)).get_table_names()


def test_a_page_read_back_is_none_once_pruned() -> None:
    assert read_page(None, b"", None) is None
    assert read_page(None, zlib.compress(b"<html>"), None) == b"<html>"


def test_prune_keeps_the_pages_of_versions_fetched_since(sqlite_url: str) -> None:
    from monitor.store.usage import prune

    store = open_store(sqlite_url)
    try:
        with store.session() as session:
            article = new_article(session)
            old = add_version(session, article, 1, zlib.compress(page(1)), None, len(page(1)))
            old.fetched_at = datetime.now(UTC) - timedelta(days=200)
            add_version(session, article, 2, zlib.compress(page(2)), None, len(page(2)))
        done = prune(store, datetime.now(UTC) - timedelta(days=180))
        assert (done.pages, done.by_site) == (1, {"lepetitjournal": 1})
        with store.session() as session:
            assert [v.page for v in session.scalars(select(Version).order_by(Version.number))] == [None, page(2)]
    finally:
        store.close()

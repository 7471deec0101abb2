"""The writer process (monitor/crawl/writer.py): a crawl's full batches of pages read are written in a process
of their own. Real crawls of a local site, real SQLite and PostgreSQL, real processes killed with SIGKILL.

Whether a batch fills before the store's time-based flush (every 2 s) depends on how fast the machine crawls;
the crawls here run through `scrapy crawl` (the same spider and components as `newsmon crawl`, monitor/settings.py)
with batches of 40 and no time-based flush, so that every batch is full on any machine."""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from monitor.compare.policy import RevisitPolicy
from monitor.crawl.writer import Batch, hold_writer, release_writer, write_in_writer
from monitor.extract import read_article
from monitor.extract.lepetitjournal import extract_article
from monitor.items import Fetch
from monitor.store import open_store
from monitor.store.ingest import ensure_site
from monitor.store.models import Article, Check, Version
from tests.conftest import ROOT, Newsmon, count, wait_for
from tests.consistency import assert_consistent
from tests.fakesite import FakeSite, make_article

BATCH = 40


def big_site(articles: int, first_id: int) -> FakeSite:
    site = FakeSite(noise=True)
    for i in range(articles):
        site.add(make_article(first_id + i, "cambodge" if i % 2 else "bangkok", paragraphs=3))
    return site


def scrapy_crawl(site: FakeSite, *, concurrency: int = 16, revisit: str = "due") -> list[str]:
    """`scrapy crawl lepetitjournal` of the site, every article (the archive too), in batches of BATCH."""
    settings = {"NEWSMON_BATCH_SIZE": BATCH, "NEWSMON_FLUSH_SECONDS": 3600, "NEWSMON_ARCHIVE": True,
                "NEWSMON_REVISIT": revisit, "NEWSMON_CONFIRM_DELAY": 0.3, "DOWNLOAD_DELAY": 0,
                "CONCURRENT_REQUESTS": concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency}
    return [sys.executable, "-m", "scrapy", "crawl", "lepetitjournal", "-a", f"base_url={site.base_url}",
            *(arg for name, value in settings.items() for arg in ("-s", f"{name}={value}"))]


def writer_batches(log: str) -> int:
    """How many batches the writer process wrote, from the stats the crawl logs at its end."""
    found = re.search(r"'newsmon/writer_batches': (\d+)", log)
    return int(found[1]) if found else 0


def writer_of(pid: int) -> int | None:
    """The writer process started by process `pid`, if it runs (its command line is multiprocessing's)."""
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            for child in children.read_text().split():
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
        except OSError:   # the thread or the child ended meanwhile
            continue
    return None


def alive(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def slow_crawl(newsmon: Newsmon, site: FakeSite) -> subprocess.Popen[str]:
    """A crawl of the site, four requests at a time, each answered after 10 ms: long enough to act on it while
    it runs."""
    site.latency = 0.01
    return subprocess.Popen(scrapy_crawl(site, concurrency=4), env=newsmon.env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def writer_with_a_batch_stored(newsmon: Newsmon, crawl: subprocess.Popen[str]) -> int:
    """The running crawl's writer process, once a batch is stored."""
    writer = wait_for(lambda: writer_of(crawl.pid), 120, "the crawl's writer process")
    assert isinstance(writer, int)
    wait_for(lambda: count(newsmon.db, Check) >= BATCH, 120, "a stored batch")
    return writer


def test_a_crawl_s_full_batches_are_written_by_the_writer_process_and_the_next_crawl_s_edits_caught(
        newsmon: Newsmon) -> None:
    with big_site(300, 433000) as site:
        first = subprocess.run(scrapy_crawl(site), env=newsmon.env, cwd=ROOT, capture_output=True, text=True,
                               timeout=300, check=True)
        assert "'newsmon/new': 300" in first.stderr
        assert writer_batches(first.stderr) >= 2, first.stderr[-2000:]
        assert count(newsmon.db, Article) == count(newsmon.db, Version) == count(newsmon.db, Check) == 300
        edited = [433000 + i for i in range(0, 300, 30)]
        for article_id in edited:
            site.edit(article_id, lead=site.article(article_id).lead + " Mis à jour.")
        again = subprocess.run(scrapy_crawl(site, revisit="all"), env=newsmon.env, cwd=ROOT, capture_output=True,
                               text=True, timeout=300, check=True)
        assert "'newsmon/changed': 10" in again.stderr and "'newsmon/unchanged': 290" in again.stderr
        assert writer_batches(again.stderr) >= 2
    assert sorted(int(c["article_id"]) for c in newsmon.changes()) == edited
    assert_consistent(newsmon.db)


def test_a_redesign_read_in_the_writer_process_is_no_edit_and_the_edits_made_with_it_are_caught(
        newsmon: Newsmon) -> None:
    """The writer reads stored pages again with the extractor that read the new markup (ingest's `_switch`):
    what it is sent of the spider (its StoredPageReader) reads as the spider would."""
    with big_site(120, 437000) as site:
        subprocess.run(scrapy_crawl(site), env=newsmon.env, cwd=ROOT, capture_output=True, timeout=300, check=True)
        site.theme = "modern"   # the site's other layout: its pages are read by another extractor
        edited = [437000 + i for i in range(0, 120, 24)]
        for article_id in edited:
            article = site.article(article_id)
            paragraph = next(b for b in article.blocks if b.kind == "p")
            paragraph.text += " Une phrase ajoutée après la refonte."
            site.edit(article_id, blocks=list(article.blocks))
        again = subprocess.run(scrapy_crawl(site, revisit="all"), env=newsmon.env, cwd=ROOT, capture_output=True,
                               text=True, timeout=300, check=True)
        assert writer_batches(again.stderr) >= 2, again.stderr[-2000:]
    changes = newsmon.changes()
    edits = {int(c["article_id"]): c for c in changes if c["text_changed"]}
    assert sorted(edits) == edited
    assert all(c["added_words"] == 6 and c["removed_words"] == 0 for c in edits.values())
    switched = {int(c["article_id"]) for c in changes if c["fields"][:1] == ["extractor"] and not c["text_changed"]}
    assert switched >= set(range(437000, 437120)) - set(edited)
    assert_consistent(newsmon.db)


def test_a_killed_writer_loses_only_the_batch_it_held_and_the_next_crawl_catches_up(newsmon: Newsmon) -> None:
    with big_site(600, 434000) as site:
        crawl = slow_crawl(newsmon, site)
        try:
            os.kill(writer_with_a_batch_stored(newsmon, crawl), signal.SIGKILL)   # mid-crawl: batches are to come
            _, log = crawl.communicate(timeout=300)
        finally:
            crawl.kill()
        assert "the writer process died" in log, log[-3000:]
        lost = sum(int(n) for n in re.findall(r"could not store (\d+) fetches", log))
        # Exactly what the crawl says it could not store is missing; the rest is there, once.
        assert count(newsmon.db, Article) == count(newsmon.db, Version) == 600 - lost
        assert_consistent(newsmon.db)
        site.latency = 0
        newsmon.crawl(site, "--archive")
    assert count(newsmon.db, Article) == count(newsmon.db, Version) == 600
    assert_consistent(newsmon.db)


def test_a_killed_crawl_takes_its_writer_with_it(newsmon: Newsmon) -> None:
    with big_site(600, 435000) as site:
        crawl = slow_crawl(newsmon, site)
        try:
            writer = writer_with_a_batch_stored(newsmon, crawl)
        finally:
            crawl.send_signal(signal.SIGKILL)
            crawl.communicate()
        wait_for(lambda: not alive(writer), 20, "the writer process to end after its crawl was killed")
        stored = count(newsmon.db, Article)
        assert BATCH <= stored < 600 and count(newsmon.db, Version) == stored
        assert_consistent(newsmon.db)
        site.latency = 0
        newsmon.crawl(site, "--archive")
    assert count(newsmon.db, Article) == count(newsmon.db, Version) == 600
    assert_consistent(newsmon.db)


def fetched(site: FakeSite) -> list[Fetch]:
    """Every article of the site, fetched over HTTP and read, as a crawl hands them to its pipeline."""
    fetches = []
    for article in site.articles:
        url = site.base_url + article.url
        with urllib.request.urlopen(url) as response:
            page, content_type = response.read(), response.headers["Content-Type"]
        encoding, extracted = read_article(page, url, content_type, "utf-8", extract_article)
        fetches.append(Fetch(site="lepetitjournal", key=extracted.key, requested_url=url, url=url, status=200,
                             fetched_at=datetime.now(UTC), article=extracted, raw=page, encoding=encoding))
    return fetches


def writers() -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.is_alive()]


def test_the_writer_ends_with_the_last_crawl_that_may_use_it(sqlite_url: str) -> None:
    """A daemon runs crawls side by side: the writer serves them all, and is not kept once none runs."""
    store = open_store(sqlite_url)
    with store.session() as session:
        site_id = ensure_site(session, "lepetitjournal", "lepetitjournal", "http://127.0.0.1")
    store.close()
    with FakeSite(noise=False) as site:
        for i in range(6):
            site.add(make_article(436000 + i))
        fetches = fetched(site)

    async def two_crawls() -> None:
        hold_writer()
        hold_writer()
        first = await write_in_writer(Batch(sqlite_url, site_id, fetches[:3], RevisitPolicy(), None))
        assert first is not None and first.in_writer and first.counts.outcomes["new"] == 3
        writer = writers()
        assert len(writer) == 1
        release_writer()   # one crawl ends; the other still writes through the same writer
        second = await write_in_writer(Batch(sqlite_url, site_id, fetches[3:], RevisitPolicy(), None))
        assert second is not None and second.counts.outcomes["new"] == 3
        assert writers() == writer
        release_writer()
        wait_for(lambda: not writer[0].is_alive(), 20, "the writer to end with the last crawl")

    asyncio.run(two_crawls())
    assert count(sqlite_url, Version) == 6
    assert_consistent(sqlite_url)

"""The writer process (monitor/crawl/writer.py): a crawl's full batches of fetches are written in a process of
their own. Real crawls of a local site, real SQLite and PostgreSQL, real processes killed with SIGKILL."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from monitor.store.models import Article, Check, Version
from tests.conftest import ROOT, Newsmon, count, wait_for
from tests.consistency import assert_consistent
from tests.fakesite import FakeSite, make_article

BATCH = 200   # NEWSMON_BATCH_SIZE: a crawl of more articles than this has full batches


def big_site(articles: int, first_id: int) -> FakeSite:
    site = FakeSite(noise=True)
    for i in range(articles):
        site.add(make_article(first_id + i, "cambodge" if i % 2 else "bangkok", paragraphs=3))
    return site


def writer_batches(stderr: str) -> int:
    """How many batches the writer process wrote, from the stats a `--verbose` crawl logs at its end."""
    found = re.search(r"'newsmon/writer_batches': (\d+)", stderr)
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


def slow_crawl(newsmon: Newsmon, site: FakeSite, tmp_path: Path) -> subprocess.Popen[str]:
    """`newsmon crawl --verbose` of the site, four requests at a time, each answered after 10 ms: long enough
    to act on the crawl while it runs."""
    config = tmp_path / "slow.toml"
    config.write_text(f'[sites.lepetitjournal]\nbase_url = "{site.base_url}"\nconfirm_delay = "0.3s"\n'
                      "[sites.lepetitjournal.politeness]\nconcurrency = 4\ndownload_delay = 0\n")
    site.latency = 0.01
    return subprocess.Popen([sys.executable, "-m", "monitor", "crawl", "lepetitjournal", "--config", str(config),
                             "--verbose"], env=newsmon.env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def writer_with_a_batch_stored(newsmon: Newsmon, crawl: subprocess.Popen[str]) -> int:
    """The running crawl's writer process, once a batch is stored."""
    writer = wait_for(lambda: writer_of(crawl.pid) if count(newsmon.db, Check) >= BATCH else None, 120,
                      "the writer process, after it stored a batch")
    assert isinstance(writer, int)
    return writer


def test_a_crawl_larger_than_a_batch_is_written_by_the_writer_process_and_catches_every_edit(
        newsmon: Newsmon) -> None:
    with big_site(450, 433000) as site:
        first = newsmon.run("crawl", "lepetitjournal", "--base-url", site.base_url, "--verbose")
        assert "new 450" in first.stdout
        assert writer_batches(first.stderr) >= 1, first.stderr[-2000:]
        assert count(newsmon.db, Article) == count(newsmon.db, Version) == count(newsmon.db, Check) == 450
        edited = [433000 + i for i in range(0, 450, 45)]
        for article_id in edited:
            article = site.article(article_id)
            site.edit(article_id, lead=article.lead + " Mis à jour.")
        again = newsmon.run("crawl", "lepetitjournal", "--base-url", site.base_url, "--all", "--verbose")
        assert "changed 10" in again.stdout and "unchanged 440" in again.stdout
        assert writer_batches(again.stderr) >= 1
    assert sorted(int(c["article_id"]) for c in newsmon.changes()) == edited
    assert_consistent(newsmon.db)


def test_a_killed_writer_loses_only_the_batch_it_held_and_the_next_crawl_catches_up(
        newsmon: Newsmon, tmp_path: Path) -> None:
    with big_site(1000, 434000) as site:
        crawl = slow_crawl(newsmon, site, tmp_path)
        try:
            os.kill(writer_with_a_batch_stored(newsmon, crawl), signal.SIGKILL)   # mid-crawl: batches are to come
            out, err = crawl.communicate(timeout=180)
        finally:
            crawl.kill()
        assert "the writer process died" in err
        lost = sum(int(n) for n in re.findall(r"could not store (\d+) fetches", err))
        # Exactly what the crawl says it could not store is missing; the rest is there, once.
        assert count(newsmon.db, Article) == count(newsmon.db, Version) == 1000 - lost
        assert crawl.returncode == (1 if lost else 0), out + err[-2000:]
        assert_consistent(newsmon.db)
        site.latency = 0
        newsmon.crawl(site)
    assert count(newsmon.db, Article) == count(newsmon.db, Version) == 1000
    assert_consistent(newsmon.db)


def test_a_killed_crawl_takes_its_writer_with_it(newsmon: Newsmon, tmp_path: Path) -> None:
    with big_site(800, 435000) as site:
        crawl = slow_crawl(newsmon, site, tmp_path)
        try:
            writer = writer_with_a_batch_stored(newsmon, crawl)
        finally:
            crawl.send_signal(signal.SIGKILL)
            crawl.communicate()
        wait_for(lambda: not alive(writer), 20, "the writer process to end after its crawl was killed")
        stored = count(newsmon.db, Article)
        assert BATCH <= stored < 800 and count(newsmon.db, Version) == stored
        assert_consistent(newsmon.db)
        site.latency = 0
        newsmon.crawl(site)
    assert count(newsmon.db, Article) == count(newsmon.db, Version) == 800
    assert_consistent(newsmon.db)

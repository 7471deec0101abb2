"""The daemon, run as a user runs it (its own process, short intervals) against a fake site that is
edited while it runs: edits caught within one revisit interval, back-off, faults, signals, restarts."""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.store import open_store, queries
from monitor.store.models import Article, Check, CrawlRun, Version
from tests.conftest import ROOT, Newsmon, count, count_checks, wait_for
from tests.consistency import assert_consistent
from tests.fakesite import FakeSite, make_article
from tests.receiver import Receiver

FAST_POLICY = """
[sites.lepetitjournal.policy]
tiers = [["1h", "{every}"]]
error_retry = "1s"
listed_every = "{every}"
listed_memory = "1h"
"""


def write_config(tmp_path: Path, site: FakeSite, *, every: str = "2s", tick: str = "0.5s",
                 discovery: str = "3s", policy: str | None = None, extra: str = "", shutdown: str = "10s") -> Path:
    path = tmp_path / "daemon.toml"
    path.write_text(f"""
tick = "{tick}"
shutdown_timeout = "{shutdown}"
{extra}
[sites.lepetitjournal]
base_url = "{site.base_url}"
discovery_interval = "{discovery}"
jitter = "0s"
""" + (policy if policy is not None else FAST_POLICY.format(every=every)), encoding="utf-8")
    return path


class DaemonProcess:
    def __init__(self, newsmon: Newsmon, config: Path, log: Path):
        self.newsmon, self.config, self.log = newsmon, config, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "daemon", "--config", str(self.config),
                                      "--log-file", str(self.log), "--log-level", "INFO"],
                                     env=self.newsmon.env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def daemon(newsmon_sqlite: Newsmon, tmp_path: Path) -> Iterator[Callable[[Path], DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(config: Path) -> DaemonProcess:
        d = DaemonProcess(newsmon_sqlite, config, tmp_path / "daemon.log").start()
        started.append(d)
        return d

    yield start
    for d in started:
        if d.alive():
            d.stop(signal.SIGKILL)


def changes(db: str) -> list[queries.ChangeRecord]:
    store = open_store(db)
    try:
        with store.session() as session:
            return queries.list_changes(session)
    finally:
        store.close()


def check_times(db: str) -> list[datetime]:
    store = open_store(db)
    try:
        with store.session() as session:
            # A row may hold a run of unchanged checks: every check's time.
            return sorted(at for c in session.query(Check) for at in queries.check_times(c))
    finally:
        store.close()


def checked_since(db: str, since: datetime) -> int:
    """How many articles have been checked (fetched) after `since` (a check merged into a run keeps the
    run's first time in `checked_at`: the article's last check says it)."""
    store = open_store(db)
    try:
        with store.session() as session:
            return session.query(Article.id).filter(Article.last_checked_at > since).count()
    finally:
        store.close()


def overdue(db: str) -> int:
    """How many articles are due for a check now."""
    store = open_store(db)
    try:
        with store.session() as session:
            return session.query(Article).filter(Article.next_check_at <= datetime.now(UTC)).count()
    finally:
        store.close()


def log_of(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def young_site(n: int = 3, **kwargs: object) -> FakeSite:
    site = FakeSite(noise=True, **kwargs)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    for i in range(n):
        site.add(make_article(431700 + i, published=now - timedelta(minutes=5 + i)))
    return site.start()


def test_edits_are_detected_within_one_revisit_interval(daemon, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    with young_site() as site:
        d = daemon(write_config(tmp_path, site, every="2s"))
        db = newsmon_sqlite.db
        wait_for(lambda: count(db, Version) == 3, 30, "the first versions")
        article = site.articles[1]
        article.blocks[1].text += " Une phrase ajoutée en silence."
        edited_at = datetime.now(UTC)
        site.edit(article.id, blocks=list(article.blocks))
        [change] = wait_for(lambda: changes(db), 30, "the change")  # type: ignore[misc]
        delay = datetime.fromisoformat(change.detected_at) - edited_at
        assert change.article_id == str(article.id) and change.fields == ["body"] and not change.announced
        assert delay < timedelta(seconds=2 + 1.5)  # one interval, plus a tick and the crawl itself
        assert d.stop() == 0


def test_checks_back_off_as_an_article_stays_quiet(daemon, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    policy = """
[sites.lepetitjournal.policy]
tiers = [["4s", "1s"], ["1h", "4s"]]
listed_every = "1h"
"""
    with FakeSite(noise=True) as site:
        site.add(make_article(431800, published=datetime.now(UTC)))
        d = daemon(write_config(tmp_path, site, policy=policy, discovery="1h"))
        db = newsmon_sqlite.db
        wait_for(lambda: count(db, Check) >= 1, 30, "the first check")

        def backed_off() -> bool:
            """A gap of over 3 s after a check made once the article was 4 s old (the second tier), after
            the checks of its first seconds: the evidence is there, whenever it is complete. (The page
            gives the day only: its first sighting, the first check, bounds its publication.)"""
            times = check_times(db)
            return len(times) >= 4 and times[-1] - times[-2] > timedelta(seconds=3) \
                and times[-2] - times[0] >= timedelta(seconds=4)

        wait_for(backed_off, 30, "a check in the second tier, 4 s after the one before")
        assert d.stop() == 0
    times = check_times(db)
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert min(gaps[:2]) < 2.0          # young: about every second
    assert gaps[-1] > 3.0               # quiet for 4 s: every 4 s (less the half-second tick looked ahead)


def test_a_failing_crawl_does_not_stop_the_daemon(daemon, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    """The database is locked by another process for a while: crawls fail, are logged, and the edit made
    meanwhile is caught once the lock is gone. Subscribers of errors hear of it once, and of its end once."""
    db_path = tmp_path / "locked.db"
    newsmon_sqlite.env["NEWSMON_DB"] = db = f"sqlite:///{db_path}?timeout=0.5"
    with young_site() as site, Receiver() as receiver:
        ops = f'[notify.ops]\nwebhook = "{receiver.url()}"\nerrors = true\nevents = []\n'
        d = daemon(write_config(tmp_path, site, every="1s", extra=ops))
        wait_for(lambda: count(db, Version) == 3, 30, "the first versions")
        locker = sqlite3.connect(db_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        site.edit(site.articles[0].id, title="Un titre changé pendant que la base était verrouillée")
        # Two crawls that could not start, logged: the daemon went on after the first one, and tried again.
        # (Not any "database is locked": a crawl under way when the lock came logs its refused writes too, and
        # the lock could then go before any crawl had found the database unavailable, or alerted anyone.)
        wait_for(lambda: log_of(tmp_path / "daemon.log").count("database unavailable") >= 2, 30,
                 "two crawls failed on the locked database")
        assert d.alive()
        locker.execute("ROLLBACK")
        locker.close()
        wait_for(lambda: changes(db), 30, "the change after the lock is released")
        assert d.alive()
        receiver.wait_for(2, timeout=30)
        time.sleep(2)                   # more crawls: no more alerts
        assert d.stop() == 0
    log = (tmp_path / "daemon.log").read_text()
    assert "database is locked" in log
    alerts = [r.json for r in receiver.requests]
    assert [a["event"] for a in alerts] == ["alert", "recovered"]
    assert "database refuses writes" in alerts[0]["detail"] and "locked" in alerts[0]["detail"]


def test_sigterm_ends_the_daemon_cleanly_mid_crawl(daemon, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    with young_site(n=12) as site:
        site.latency = 0.3  # crawls take a few seconds: SIGTERM lands in the middle of one
        d = daemon(write_config(tmp_path, site, every="1s"))
        db = newsmon_sqlite.db
        wait_for(lambda: count(db, Check) >= 1, 30, "the first stored fetches")
        started = time.monotonic()
        assert d.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 12
    assert "daemon stopped" in (tmp_path / "daemon.log").read_text()
    assert count(db, CrawlRun, outcome="running") == 0
    assert_consistent(db)


def test_a_crawl_still_running_after_the_shutdown_timeout_is_abandoned_and_its_run_says_so(
        daemon, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    with young_site(n=3) as site:
        site.latency = 4   # every answer takes 4 s: the crawl cannot close within the 1 s allowed
        d = daemon(write_config(tmp_path, site, shutdown="1s"))
        db = newsmon_sqlite.db
        wait_for(lambda: count(db, CrawlRun, outcome="running") >= 1, 30, "a crawl under way")
        started = time.monotonic()
        assert d.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 6
    log = (tmp_path / "daemon.log").read_text()
    assert "abandoned" in log and "daemon stopped" in log
    assert count(db, CrawlRun, outcome="running") == 0
    assert count(db, CrawlRun, outcome="interrupted") >= 1
    assert_consistent(db)


def test_killed_daemon_restarts_without_loss_or_duplicates(daemon, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    db = newsmon_sqlite.db
    with young_site(n=6) as site:
        site.latency = 0.05
        config = write_config(tmp_path, site, every="1s", tick="0.3s")
        edits = 0
        for round_ in range(4):
            runs = count(db, CrawlRun) if round_ else 0
            d = daemon(config)
            if round_ == 0:  # an edit made before an article's first fetch would be part of its first version
                wait_for(lambda: count(db, Version) == 6, 30, "the first versions")
            else:
                wait_for(lambda runs=runs: count(db, CrawlRun) > runs, 30, "the restarted daemon at work")
            article = site.articles[round_ % 6]
            article.blocks[1].text += f" Ajout numéro {round_}."
            site.edit(article.id, blocks=list(article.blocks))
            edits += 1
            served = len(site.requests)
            if round_ % 2 == 0:  # killed once the edited page is answered: before its check is stored, or while
                wait_for(lambda url=article.url, served=served: any(r.path == url for r in site.requests[served:]),
                         30, "the edited page fetched")
            else:  # killed once the change is stored: the restart must not store it again
                wait_for(lambda edits=edits: len(changes(db)) >= edits, 30, f"change {edits} stored")
            d.stop(signal.SIGKILL)
        d = daemon(config)
        wait_for(lambda: len(changes(db)) >= edits, 40, f"{edits} changes after the last restart")
        caught = datetime.now(UTC)
        # Every article checked again since: a duplicate version or change would be stored by now.
        wait_for(lambda: checked_since(db, caught) == 6, 30, "every article checked again")
        assert d.stop() == 0
    assert len(changes(db)) == edits
    versions = newsmon_sqlite.export()
    per_article: dict[str, list[dict]] = {}
    for v in versions:
        per_article.setdefault(v["article_id"], []).append(v)
    for vs in per_article.values():
        numbers = [v["version"] for v in vs]
        assert numbers == list(range(1, len(vs) + 1))            # no gaps, no duplicates
        # Every edit was to the body: each version has a new body under the same title.
        assert all(a["body"] != b["body"] and a["title"] == b["title"] for a, b in zip(vs, vs[1:]))
    assert len(versions) == 6 + edits
    assert_consistent(db)


def test_overdue_articles_are_checked_promptly_after_a_restart(daemon, newsmon_sqlite: Newsmon,
                                                              tmp_path: Path) -> None:
    db = newsmon_sqlite.db
    with young_site(n=3) as site:
        config = write_config(tmp_path, site, every="2s", discovery="1h")
        d = daemon(config)
        wait_for(lambda: count(db, Version) == 3, 30, "the first versions")
        site.latency = 1.0  # the next revisit is still under way when the daemon is killed
        wait_for(lambda: count(db, CrawlRun, outcome="running"), 30, "a revisit under way")
        d.stop(signal.SIGKILL)
        site.latency = 0
        wait_for(lambda: overdue(db) == 3, 30, "every article overdue")
        before = count_checks(db)
        restarted = time.monotonic()
        d = daemon(config)
        wait_for(lambda: count_checks(db) >= before + 3, 20, "the overdue checks")
        assert time.monotonic() - restarted < 10
        assert d.stop() == 0
    assert count(db, CrawlRun, outcome="interrupted") == 1  # the killed revisit, marked when the daemon restarted
    assert count(db, CrawlRun, outcome="running") == 0
    assert_consistent(db)


def test_a_second_daemon_on_the_same_database_is_refused(daemon, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    with young_site(n=1) as site:
        config = write_config(tmp_path, site)
        first = daemon(config)
        wait_for(lambda: count(newsmon_sqlite.db, Version) == 1, 30, "the first daemon at work")
        second = newsmon_sqlite.run("daemon", "--config", str(config), check=False)
        assert second.returncode == 2
        assert second.stderr.startswith("newsmon: error: another newsmon daemon")
        assert len(second.stderr.strip().splitlines()) == 1
        assert first.alive()
        assert first.stop() == 0


def test_postgres_second_daemon_is_refused(postgres_url: str, tmp_path: Path) -> None:
    newsmon = Newsmon(postgres_url, tmp_path)
    with young_site(n=1) as site:
        config = write_config(tmp_path, site)
        first = DaemonProcess(newsmon, config, tmp_path / "pg.log").start()
        try:
            wait_for(lambda: count(postgres_url, Version) == 1, 30, "the first daemon at work")
            second = newsmon.run("daemon", "--config", str(config), check=False)
            assert second.returncode == 2 and "another newsmon daemon" in second.stderr
        finally:
            assert first.stop() == 0


@pytest.mark.parametrize(("snippet", "message"), [
    ('tick = "soon"', 'tick: must be a duration'),
    ('colour = "blue"', "colour: unknown key"),
    ('[sites.x]\nfront_pages = "three"', "sites.x.front_pages: must be an integer"),
    ('[sites.x]\narchive = "all"', "sites.x.archive: must be true or false"),
    ('[sites.x]\nbase_url = "ftp://example.com"', "sites.x.base_url: must be an http(s) URL"),
    ('[sites.x.policy]\ntiers = [["1h", "15m"], ["30m", "1h"]]', "sites.x.policy.tiers: the `until` durations"),
    ('[sites.x.politeness]\nrobots_txt = "yes"', "sites.x.politeness.robots_txt: must be true or false"),
    ("[sites.x\n", "not valid TOML"),
])
def test_a_wrong_config_is_refused_before_anything_starts(newsmon_sqlite: Newsmon, tmp_path: Path, snippet: str,
                                                          message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(snippet + ("\n[sites.ok]\n" if "[sites" not in snippet else "\n"), encoding="utf-8")
    proc = newsmon_sqlite.run("daemon", "--config", str(config), check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"newsmon: error: {config}") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not Path(newsmon_sqlite.db.removeprefix("sqlite:///")).exists()


def test_an_extraction_broken_by_a_redesign_is_the_runs_error(daemon, newsmon_sqlite: Newsmon,
                                                              tmp_path: Path) -> None:
    db = newsmon_sqlite.db
    with young_site(n=4) as site:
        d = daemon(write_config(tmp_path, site, every="1s"))
        wait_for(lambda: count(db, Version) == 4, 30, "the first versions")
        site.redesign()
        wait_for(lambda: count(db, CrawlRun, outcome="failed"), 30, "a run failed by the redesign")
        assert d.stop() == 0
    failed = [r for r in newsmon_sqlite.json("status", "--json")["runs"] if r["outcome"] == "failed"]
    assert "no article could be read on 4 of 4 article pages" in failed[0]["error"]
    assert "has the site's markup changed?" in (tmp_path / "daemon.log").read_text()
    assert count(db, Version) == 4 and changes(db) == []


def test_sites_status_and_schedule(daemon, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    with young_site(n=2) as site:
        config = write_config(tmp_path, site, every="30s")
        sites = newsmon_sqlite.json("sites", "--config", str(config), "--json")
        assert sites[0]["base_url"] == site.base_url and sites[0]["policy"]["tiers"] == [["1h", "30s"]]
        d = daemon(config)
        wait_for(lambda: count(newsmon_sqlite.db, Version) == 2, 30, "the first versions")
        wait_for(lambda: count(newsmon_sqlite.db, CrawlRun, kind="discovery", outcome="ok"), 30,
                 "the discovery run recorded")
        d.stop()
        status = newsmon_sqlite.json("status", "--json")
        assert {"discovery"} <= {r["kind"] for r in status["runs"]}
        assert all(r["outcome"] == "ok" for r in status["runs"])
        schedule = newsmon_sqlite.json("schedule", "--config", str(config), "--json")
        assert len(schedule["next_checks"]) == 2
        assert all("every 30 s" in c["reason"] for c in schedule["next_checks"])
    text = newsmon_sqlite.run("status").stdout
    assert "discovery" in text and "ok" in text

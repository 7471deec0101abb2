"""Distributed mode, run as a user runs it: `newsmon daemon --distributed` (the planner) and two `newsmon worker`
processes on PostgreSQL, crawling three local sites that edit their pages; one worker is SIGKILLed mid-crawl
and started again. Also the parts that need no process: the batches, the visit keys, the refusals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from monitor.distributed.app import VISIT, conninfo, make_app
from monitor.distributed.planner import plan_batches, visit_job
from monitor.compare.versioning import Provisional
from monitor.store import open_store
from monitor.store.checkruns import unpack_times
from monitor.store.models import Article, Check
from monitor.store.visits import PlannedVisit, recorded_visits, settled_visits
from tests.conftest import ROOT, Newsmon, wait_for
from tests.consistency import assert_consistent
from tests.fakesite import FakeSite, make_article
from tests.test_storage import article_fetch, record

SITES, ARTICLES, CONCURRENCY = 3, 4, 2


def config_for(path: Path, sites: list[FakeSite]) -> Path:
    # Checks every 4 s, planned every 2 s (so that a job holds a few), discoveries every 10 s: edits caught in
    # seconds, and little enough CPU (each job is a crawl) to leave the suite's other tests, run alongside
    # (-n 4), their timing.
    text = 'tick = "2s"\nshutdown_timeout = "10s"\n'
    for n, site in enumerate(sites):
        text += f"""
[sites.site{n}]
spider = "lepetitjournal"
base_url = "{site.base_url}"
discovery_interval = "10s"
jitter = "0s"
confirm_delay = "0.3s"

[sites.site{n}.policy]
tiers = [["1h", "4s"]]
error_retry = "1s"
listed_every = "4s"
listed_memory = "1h"

[sites.site{n}.politeness]
concurrency = {CONCURRENCY}
download_delay = "0s"
"""
    path.write_text(text, encoding="utf-8")
    return path


class Process:
    """`newsmon ARGS` in a child process, logging to a file of its own. Niced: this test runs four such
    processes (each job a crawl) beside the suite's other tests, some of which time their own daemons."""

    def __init__(self, newsmon: Newsmon, log: Path, *args: str):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor", *args, "--log-file", str(log),
                                      "--log-level", "INFO"], env=newsmon.env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=lambda: os.nice(10))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""


def query(db: str, sql: str, *params: Any) -> list[tuple]:
    with psycopg.connect(conninfo(db)) as conn:
        return conn.execute(sql, params).fetchall()


def visit_jobs(db: str, status: str) -> list[tuple[int, dict]]:
    return [(job_id, args) for job_id, args in query(
        db, "SELECT id, args FROM procrastinate_jobs WHERE task_name = %s AND status = %s ORDER BY id", VISIT, status)]


def young_site(first_id: int) -> FakeSite:
    site = FakeSite(noise=True)
    now = datetime.now(UTC)
    for i in range(ARTICLES):
        site.add(make_article(first_id + i, published=now - timedelta(minutes=5 + i)))
    site.latency = 0.25  # crawls last long enough to be killed in the middle of one
    return site.start()


def edit(site: FakeSite, index: int, words: str) -> None:
    article = site.articles[index]
    article.blocks[1].text += f" {words}"
    site.edit(article.id, blocks=list(article.blocks))


@pytest.fixture
def sites() -> Iterator[list[FakeSite]]:
    started = [young_site(431500 + 10 * n) for n in range(SITES)]
    yield started
    for site in started:
        site.stop()


def test_a_planner_and_two_workers_catch_every_edit_once_politely_despite_a_killed_worker(
        postgres_url: str, tmp_path: Path, sites: list[FakeSite]) -> None:
    db, newsmon = postgres_url, Newsmon(postgres_url, tmp_path)
    config = str(config_for(tmp_path / "newsmon.toml", sites))
    processes: list[Process] = []

    def start(name: str, *args: str) -> Process:
        processes.append(Process(newsmon, tmp_path / f"{name}.log", *args))
        return processes[-1]

    try:
        planner = start("planner", "daemon", "--distributed", "--config", config)
        first = start("worker1", "worker", "--config", config, "--concurrency", "2")
        [(first_id,)] = wait_for(lambda: _workers(db), 60, "the first worker's heartbeat")  # type: ignore[misc]
        second = start("worker2", "worker", "--config", config, "--concurrency", "2")
        wait_for(lambda: _count(db, "versions") == SITES * ARTICLES, 90, "every article's first version")

        edits = 0
        for round_ in range(3):
            for site in sites:
                edit(site, round_, f"Ajout numéro {round_}.")
            edits += SITES
            if round_ == 1:  # killed mid-crawl, just after the edits: the edited pages are in its jobs, or soon
                killed = wait_for(lambda: _running(db, first_id), 30, "a job running on the first worker")
                first.stop(signal.SIGKILL)
                first = start("worker1-again", "worker", "--config", config, "--concurrency", "2")
            wait_for(lambda edits=edits: _count(db, "changes") >= edits, 60, f"{edits} changes")
        # The killed worker's jobs: queued again once its heartbeat stopped, and done by a worker.
        wait_for(lambda: all(s == "succeeded" for s in _statuses(db, killed)), 60, "the killed worker's jobs redone")
        assert all(attempts >= 1 for attempts in _attempts(db, killed))

        # A job run twice (its worker died after storing its visits): the second run makes none of them again.
        job_id, args = visit_jobs(db, "succeeded")[0]
        replay = _defer(db, args)
        wait_for(lambda: _statuses(db, [replay]) == ["succeeded"], 30, "the replayed job")
        log = "".join(p.text() for p in processes)
        assert f"job {replay} (worker" in log and "already stored" in log

        # Every planned visit of a finished job is recorded exactly once (jobs read first: a job is marked done
        # only after its checks are stored). A row of unchanged checks (a run) names its latest visit only, so
        # the visit each check concludes is derived from the check times: its article and the check before it.
        # Every one concluded (by its own check, or by a later one in its stead), and none made twice: a visit
        # made again comes after later checks, so its key would name none of its row's checks.
        done = {PlannedVisit.from_json(v).key for _, a in visit_jobs(db, "succeeded") for v in a["visits"]}
        concluded, named = visits_by_check(db)
        assert done <= concluded
        assert named and all(key in visits for key, visits in named) and len(named) == len({k for k, _ in named})
        assert any(len(visits) > 1 for _, visits in named), "no run of checks made by several visits"
        assert not visit_jobs(db, "failed")
        assert "could not store" not in log

        status = newsmon.json("status", "--json")
        assert {q["site"] for q in status["queue"]["sites"]} == {f"site{n}" for n in range(SITES)}
        assert len(status["queue"]["workers"]) >= 2

        for process in (planner, first, second):
            assert process.stop() == 0
    finally:
        for process in processes:
            if process.proc.poll() is None:
                process.stop(signal.SIGKILL)

    # Politeness, as the sites counted it: never more than the site's concurrency in flight, all workers together.
    assert all(1 <= site.max_concurrency <= CONCURRENCY for site in sites), [s.max_concurrency for s in sites]
    changes = newsmon.changes()
    assert len(changes) == edits and all(c["fields"] == ["body"] for c in changes)
    versions = newsmon.export()
    by_article: dict[str, list[dict]] = {}
    for v in versions:
        by_article.setdefault(v["article_id"], []).append(v)
    for article_versions in by_article.values():  # no duplicate version, none missing
        assert [v["version"] for v in article_versions] == list(range(1, len(article_versions) + 1))
        assert all(a["body"] != b["body"] for a, b in zip(article_versions, article_versions[1:]))
    for site in sites:  # every edit caught: the latest version holds each article's every added sentence
        for article in site.articles:
            assert [" ".join(p.split()) for p in by_article[str(article.id)][-1]["body"]] == article.body
    assert len(versions) == SITES * ARTICLES + edits
    assert_consistent(db)


def visits_by_check(db: str) -> tuple[set[str], list[tuple[str, set[str]]]]:
    """The visits the checks conclude, each named as the planner names it (its article and the check before
    it), and each stored visit key with the visits its row's checks conclude."""
    rows = query(db, "SELECT article_id, checked_at, later, visit_key FROM checks")
    times: dict[int, list[datetime]] = {}
    for article_id, first, later, _ in rows:
        times.setdefault(article_id, []).extend(unpack_times(first, later))
    concluded: dict[tuple[int, datetime], str] = {}
    for article_id, checked in times.items():
        checked.sort()
        for before, at in zip([None, *checked], checked):
            concluded[(article_id, at)] = PlannedVisit(article_id, before).key
    named = [(key, {concluded[(article_id, at)] for at in unpack_times(first, later)})
             for article_id, first, later, key in rows if key is not None]
    return set(concluded.values()), named


def _count(db: str, table: str) -> int:
    """Rows of a table, read as cheaply as the waits poll it (opening newsmon's store checks its migrations)."""
    return query(db, f"SELECT count(*) FROM {table}")[0][0]


def _workers(db: str) -> list[tuple]:
    try:
        return query(db, "SELECT id FROM procrastinate_workers ORDER BY id")
    except psycopg.errors.UndefinedTable:
        return []


def _running(db: str, worker_id: int) -> list[int]:
    """The visit jobs a worker is running."""
    return [job_id for (job_id,) in query(
        db, "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = %s AND task_name = %s",
        worker_id, VISIT)]


def _statuses(db: str, ids: list[int]) -> list[str]:
    return [s for (s,) in query(db, "SELECT status::text FROM procrastinate_jobs WHERE id = ANY(%s) ORDER BY id",
                                ids)]


def _attempts(db: str, ids: list[int]) -> list[int]:
    return [n for (n,) in query(db, "SELECT attempts FROM procrastinate_jobs WHERE id = ANY(%s)", ids)]


def _defer(db: str, args: dict) -> int:
    """The same visits in a job of their own, as procrastinate would run a job again after its worker died."""
    batch = [PlannedVisit.from_json(v) for v in args["visits"]]
    job = visit_job(args["site"], plan_batches(batch, 1, [0], len(batch))[0]).evolve(queueing_lock=None)
    with make_app(db).open() as app:
        return app.job_manager.defer_job(job).id or 0


# ---------------------------------------------------------------- without processes


def test_few_due_visits_spread_over_the_lanes_and_many_go_in_batches() -> None:
    visits = [PlannedVisit(n, None) for n in range(1, 8)]
    few = plan_batches(visits[:3], 4, [1, 0, 0, 0], most=20)
    assert [(b.lane, len(b.visits)) for b in few] == [(1, 1), (2, 1), (3, 1)]   # the busy lane last
    many = plan_batches(visits, 2, [0, 0], most=3)
    assert [len(b.visits) for b in many] == [3, 3, 1] and [b.lane for b in many] == [0, 1, 0]
    assert [v for b in many for v in b.visits] == visits     # most overdue first, none lost
    assert plan_batches([], 2, [0, 0], most=3) == []


def test_a_planned_visit_is_named_by_its_article_and_last_check() -> None:
    after = datetime(2026, 12, 1, 10, 15, 2, 123456, tzinfo=UTC)
    visit = PlannedVisit(431, after)
    assert visit.key == "431@20261201T101502.123456"
    assert PlannedVisit.from_json(visit.as_json()) == visit
    assert PlannedVisit.from_key(visit.key) == visit and PlannedVisit.from_key("7@never") == PlannedVisit(7, None)
    assert PlannedVisit(7, None).key == "7@never" and len(PlannedVisit(2**31, after).key) < 100


def test_a_visit_is_settled_by_its_check_or_by_another_crawl_s_check_since(db_url: str) -> None:
    """What a crawl's pipeline leaves out. A run of unchanged checks names its latest visit only: the visit
    it named before is settled all the same, its article having been checked since."""
    start = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    record(db_url, [article_fetch(start)])
    store = open_store(db_url)
    try:
        def settled(key: str, own: datetime | None = None) -> bool:
            with store.session() as session:
                return settled_visits(session, [key], {key: own} if own else {}) == {key}

        with store.session() as session:
            article_id = session.scalar(select(Article.id))
        planned = PlannedVisit(article_id, start)
        assert not settled(planned.key)
        first_look = start + timedelta(minutes=1)
        record(db_url, [Provisional(article_fetch(first_look), "suspect", "held for a second look")])
        assert not settled(planned.key, own=first_look)    # the crawl's own first look settles nothing
        assert settled(planned.key)                         # another crawl's check since: superseded
        made = article_fetch(start + timedelta(minutes=2))
        made.visit_key = planned.key
        record(db_url, [made])
        assert settled(planned.key, own=made.fetched_at)    # recorded
        following = article_fetch(start + timedelta(minutes=3))
        following.visit_key = PlannedVisit(article_id, made.fetched_at).key
        record(db_url, [following])                          # merged into the run: the row names this visit
        with store.session() as session:
            assert not recorded_visits(session, [planned.key])
            assert session.scalar(select(Check.repeats).where(Check.visit_key == following.visit_key)) == 1
        assert settled(planned.key) and settled(planned.key, own=made.fetched_at)
    finally:
        store.close()


@pytest.mark.parametrize("command", [("daemon", "--distributed"), ("worker",)])
def test_distributed_mode_refuses_sqlite_in_one_line(newsmon_sqlite: Newsmon, tmp_path: Path,
                                                     command: tuple[str, ...]) -> None:
    config = tmp_path / "newsmon.toml"
    config.write_text('[sites.lepetitjournal]\nbase_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    started = time.monotonic()
    proc = newsmon_sqlite.run(*command, "--config", str(config), check=False)
    assert proc.returncode == 2 and time.monotonic() - started < 30
    assert proc.stderr.startswith("newsmon: error: distributed mode needs PostgreSQL")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not Path(newsmon_sqlite.db.removeprefix("sqlite:///")).exists()


def test_status_has_no_queue_without_distributed_mode(newsmon_sqlite: Newsmon, site: FakeSite) -> None:
    newsmon_sqlite.crawl(site)
    assert newsmon_sqlite.json("status", "--json")["queue"] is None

"""Requests that wait hold no download slot (issue 9): a confirmation waiting out its delay, or a retry its
back-off, must not stop the rest of the crawl, which runs with the site's concurrency of 2. Over the fake site
and real SQLite, read from the server's request log (arrival and answer times)."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from monitor.store.models import Check
from tests.conftest import ROOT, Newsmon, count, wait_for
from tests.fakesite import FakeSite, Fault, RequestLog, make_article
from tests.test_faults import checks, edit_body, summary

FIRST_ID = 433100
CONFIRM_DELAY = 3.0


def site_config(tmp_path: Path, site: FakeSite, confirm_delay: float) -> Path:
    """Two requests at a time and no delay between them: only the concurrency limit paces the crawl."""
    config = tmp_path / "site.toml"
    config.write_text(f'[sites.lepetitjournal]\nbase_url = "{site.base_url}"\nconfirm_delay = "{confirm_delay}s"\n'
                      '[sites.lepetitjournal.politeness]\nconcurrency = 2\ndownload_delay = "0s"\n')
    return config


def recheck_args(config: Path) -> list[str]:
    return ["crawl", "lepetitjournal", "--config", str(config), "--all", "--no-discovery"]


def published_site(newsmon: Newsmon, articles: int) -> FakeSite:
    """A started site whose articles a first crawl has stored; answers take 50 ms, as over a network."""
    site = FakeSite(noise=True)
    for i in range(articles):
        site.add(make_article(FIRST_ID + i, "cambodge" if i % 2 else "bangkok", paragraphs=6))
    site.start()
    newsmon.crawl(site)
    site.latency = 0.05
    return site


def cut_to_one_paragraph(site: FakeSite, article_id: int) -> None:
    """Over 40 % of the body's words gone: the fetch is held back and the page fetched again to confirm."""
    article = site.article(article_id)
    first = next(b for b in article.blocks if b.kind == "p")
    site.edit(article_id, blocks=[b for b in article.blocks if b.kind != "p" or b is first])


def fetches(logs: list[RequestLog], path: str) -> list[RequestLog]:
    return sorted((r for r in logs if r.path == path), key=lambda r: r.time)


def test_healthy_pages_are_fetched_while_confirmations_wait(newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    site = published_site(newsmon_sqlite, 24)
    try:
        suspicious = [FIRST_ID + i for i in (0, 6, 12, 18)]  # spread over the crawl, two at a time
        for article_id in suspicious:
            cut_to_one_paragraph(site, article_id)
        paths = {site.article(i).url for i in suspicious}
        before, site.max_concurrency = len(site.requests), 0
        out = newsmon_sqlite.run(*recheck_args(site_config(tmp_path, site, CONFIRM_DELAY))).stdout
        logs = [r for r in site.requests[before:] if r.path != "/robots.txt"]
    finally:
        site.stop()
    # The edits behind the confirmations are caught, each after a second fetch that waited the delay.
    assert summary(out)["changed"] == 4 and summary(out)["held for confirmation"] == 4
    assert sorted(int(c["article_id"]) for c in newsmon_sqlite.changes()) == suspicious
    seconds = [fetches(logs, p)[1].time - fetches(logs, p)[0].end for p in paths]
    assert all(len(fetches(logs, p)) == 2 for p in paths) and min(seconds) >= CONFIRM_DELAY
    # Meanwhile the healthy pages went on: all answered before the first confirmation was sent. A waiting
    # request that held a slot stopped them instead: two of them stopped the crawl for a whole delay.
    healthy_done = max(r.end for r in logs if r.path not in paths)
    assert healthy_done < min(fetches(logs, p)[1].time for p in paths)
    # The four confirmations waited together, not one after another: every suspicious page had been answered
    # before the first second look was sent (told by the server's log, not by a wall-clock bound).
    assert max(fetches(logs, p)[0].end for p in paths) < min(fetches(logs, p)[1].time for p in paths)
    assert site.max_concurrency <= 2  # requests handed back after their wait still keep to the limit


def test_retries_still_back_off_and_honour_retry_after(newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    site = published_site(newsmon_sqlite, 12)
    try:
        failing, slowed, broken = (site.article(FIRST_ID + i).url for i in (1, 4, 7))
        for article_id in (FIRST_ID + 1, FIRST_ID + 4, FIRST_ID + 7):
            edit_body(site, article_id, "Précision apportée après publication.")
        site.set_fault(failing, Fault(status=500, times=1))  # a retry after the back-off, 1 s
        site.set_fault(slowed, Fault(status=503, headers={"Retry-After": "2"}, times=1))
        site.set_fault(broken, Fault(truncate_at=4000, times=1))  # a 200 that is broken: a second look, 1 s
        before, site.max_concurrency = len(site.requests), 0
        out = newsmon_sqlite.run(*recheck_args(site_config(tmp_path, site, CONFIRM_DELAY))).stdout
        logs = site.requests[before:]
    finally:
        site.stop()
    for path, wait in ((failing, 1.0), (slowed, 2.0), (broken, 1.0)):
        first, second = fetches(logs, path)
        assert second.time - first.end >= wait
    # Each edit is caught once the page answers well; the broken attempt is logged as such.
    assert summary(out)["changed"] == 3 and summary(out)["errors"] == 0
    assert [c["outcome"] for c in checks(newsmon_sqlite, FIRST_ID + 7)][-2:] == ["retried", "changed"]
    assert site.max_concurrency <= 2


def test_stopping_a_crawl_drops_waiting_requests_and_their_articles_stay_due(
        newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    site = published_site(newsmon_sqlite, 8)
    try:
        cut_to_one_paragraph(site, FIRST_ID + 2)
        suspicious, slowed = site.article(FIRST_ID + 2).url, site.article(FIRST_ID + 5).url
        site.set_fault(slowed, Fault(status=503, headers={"Retry-After": "25"}))  # within the crawl's 30 s
        schedule_before = schedule(newsmon_sqlite)
        checks_before = count(newsmon_sqlite.db, Check)
        before = len(site.requests)
        # A confirmation a minute away: the crawl could only end that soon by dropping it.
        proc = subprocess.Popen([sys.executable, "-m", "monitor", *recheck_args(site_config(tmp_path, site, 60))],
                                env=newsmon_sqlite.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Once every page has been answered, the two waiting requests are all the crawl has left. (Were a
            # response still on its way, the crawl would finish it before stopping, and drop what it asks.)
            wait_for(lambda: len([r for r in site.requests[before:] if r.path != "/robots.txt"]) >= 8, 60,
                     "every article page to be answered once")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)  # well before the confirmation (60 s) or the retry (25 s) is due
        finally:
            proc.kill()
        logs = site.requests[before:]
    finally:
        site.stop()
    assert len(fetches(logs, suspicious)) == 1 and len(fetches(logs, slowed)) == 1  # neither was sent again
    # Nothing is recorded for the two articles whose requests were waiting: they are still due as before.
    assert count(newsmon_sqlite.db, Check) == checks_before + 6
    schedule_after = schedule(newsmon_sqlite)
    waiting = (FIRST_ID + 2, FIRST_ID + 5)
    assert all(schedule_after[a] == schedule_before[a] for a in waiting)
    assert all(schedule_after[a][0] != schedule_before[a][0] for a in schedule_before if a not in waiting)


def schedule(newsmon: Newsmon) -> dict[int, tuple[str | None, str | None]]:
    """Each article's last check and next one."""
    return {int(a["article_id"]): (a["last_checked_at"], a["next_check_at"]) for a in newsmon.json("articles", "--json")}

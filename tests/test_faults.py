"""Never a false edit, never a lost one: the faults real news sites produce, served by the fake site over
HTTP. Each time: no version and no change from the fault, and the edit made meanwhile is caught, once,
when the page is healthy again."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from parsel import Selector

from monitor.compare.normalize import comparison_form
from monitor.extract.integrity import PageError, check_complete
from monitor.extract.lepetitjournal import ExtractionError, extract_article, parse_article_url
from monitor.store.models import Check
from tests.conftest import ROOT, FirstCrawl, Newsmon, count, site_config, wait_for
from tests.consistency import assert_consistent
from tests.fakesite import FakeSite, Fault, make_article

MAINTENANCE = ('<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Maintenance</title></head>'
               "<body><h1>Service temporairement indisponible</h1><p>Merci de réessayer.</p></body></html>").encode()


def checks(newsmon: Newsmon, article_id: int) -> list[dict]:
    return [e for e in newsmon.json("history", str(article_id), "--json")["timeline"] if e["kind"] == "check"]


def versions(newsmon: Newsmon, article_id: int) -> int:
    return len(newsmon.json("history", str(article_id), "--json")["versions"])


def summary(out: str) -> dict[str, int]:
    """'site: checked 10 · new 0 · ... · errors 8 · 0.1 MB in 1.2 s' -> {'checked': 10, ..., 'errors': 8}."""
    return {m[1]: int(m[2]) for m in re.finditer(r"([a-z][a-z ]*?) (\d+)(?= ·)", out)}


def edit_body(site: FakeSite, article_id: int, sentence: str) -> None:
    article = site.article(article_id)
    paragraph = next(b for b in article.blocks[2:] if b.kind == "p")
    paragraph.text += " " + sentence
    site.edit(article_id, blocks=list(article.blocks))


@pytest.fixture(scope="module")
def first_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstCrawl]:
    with FakeSite(noise=True) as site:
        for i in range(10):
            site.add(make_article(432000 + i, "cambodge" if i % 2 else "bangkok", paragraphs=6))
        yield FirstCrawl(site, tmp_path_factory.mktemp("faulty"))


@pytest.fixture
def faulty(first_crawl: FirstCrawl, tmp_path: Path) -> Iterator[tuple[Newsmon, FakeSite]]:
    """Ten articles after their first crawl, in SQLite: the database is this test's own copy of what that
    crawl stored (made once for the module), the site as it was crawled, ready for faults."""
    with first_crawl.copy("sqlite", tmp_path) as newsmon:
        yield newsmon, first_crawl.site


@pytest.fixture
def quick(faulty: tuple[Newsmon, FakeSite], tmp_path: Path) -> Path:
    """The faulty site's config: confirmations (a second fetch of a suspicious page) after 0.3 s, not 5 s."""
    return site_config(tmp_path / "site.toml", faulty[1])


BAD_PAGES = {
    432000: (Fault(status=500), "HTTP 500"),
    432001: (Fault(status=503, headers={"Retry-After": "1"}), "HTTP 503"),
    432002: (Fault(body=b""), "empty page"),
    432003: (Fault(body=MAINTENANCE), "no known article layout"),
    432004: (Fault(truncate_at=4000), "truncated page"),
    432005: (Fault(headers={"Content-Length": "99999"}, truncate_at=3000), "ResponseDataLossError"),  # cut mid-page
    432006: (Fault(headers={"Content-Type": "application/pdf"}, body=b"%PDF-1.4 not a page"), "not a web page"),
    432007: (Fault(body=b"<html><body><h1 class='page-title'>Titre</h1><div class='field--name-body'></div>"
                        b"</body></html>"), "empty body"),
    432008: (Fault(reset=True), "ConnectionLost"),  # a TCP reset, no answer at all
}


def test_every_fault_is_an_error_never_a_version_and_the_edit_is_caught_after(faulty) -> None:
    newsmon, site = faulty
    for article_id, (fault, _) in BAD_PAGES.items():
        edit_body(site, article_id, "Une phrase ajoutée pendant la panne.")
        site.set_fault(site.article(article_id).url, fault)
    out = newsmon.crawl(site, "--all")
    assert summary(out)["errors"] == len(BAD_PAGES) and summary(out)["changed"] == 0
    assert newsmon.changes() == []
    for article_id, (_, reason) in BAD_PAGES.items():
        history = checks(newsmon, article_id)
        assert history[-1]["outcome"] == "error" and reason in (history[-1]["error"] or ""), (article_id, history[-1])
        assert versions(newsmon, article_id) == 1

    for article_id in BAD_PAGES:
        site.set_fault(site.article(article_id).url, None)
    newsmon.crawl(site, "--all")
    changed = sorted(int(c["article_id"]) for c in newsmon.changes())
    assert changed == sorted(BAD_PAGES)  # each edit caught once the page is healthy
    assert all(c["added_words"] == 6 and c["fields"] == ["body"] for c in newsmon.changes())


def test_an_extraction_broken_by_a_redesign_is_said_in_one_line_and_stores_nothing(faulty) -> None:
    newsmon, site = faulty
    ids = [a.id for a in site.articles]
    site.redesign(ids[:3])  # a few unreadable pages are faults, recorded and counted, not an alarm
    assert newsmon.run("crawl", "lepetitjournal", "--base-url", site.base_url, "--all").stderr == ""
    site.redesign()
    proc = newsmon.run("crawl", "lepetitjournal", "--base-url", site.base_url, "--all", check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "newsmon: error: lepetitjournal: no article could be read on 10 of 10 article pages "
        "(no known article layout on the page): has the site's markup changed?"]
    assert newsmon.changes() == [] and all(versions(newsmon, i) == 1 for i in ids)
    [last_run, *_] = newsmon.json("status", "--json")["runs"]
    assert last_run["outcome"] == "failed" and "markup" in last_run["error"] and last_run["counts"]["unreadable"] == 10


def test_a_transient_fault_is_retried_within_the_crawl(faulty) -> None:
    newsmon, site = faulty
    url = site.article(432001).url
    edit_body(site, 432001, "Ajout discret.")
    site.set_fault(url, Fault(status=503, headers={"Retry-After": "1"}, times=1))
    truncated = site.article(432004).url
    edit_body(site, 432004, "Autre ajout discret.")
    site.set_fault(truncated, Fault(truncate_at=4000, times=1))
    newsmon.crawl(site, "--all")
    assert sorted(int(c["article_id"]) for c in newsmon.changes()) == [432001, 432004]
    tries = [r.time for r in site.requests if r.path == url][-2:]
    assert tries[1] - tries[0] >= 0.95  # Retry-After: 1 was honoured
    outcomes = [c["outcome"] for c in checks(newsmon, 432004)]
    assert outcomes[-2:] == ["retried", "changed"]  # the broken attempt is logged, then the healthy one


def test_a_long_retry_after_ends_the_tries_and_defers_the_check(faulty) -> None:
    newsmon, site = faulty
    url = site.article(432008).url
    site.set_fault(url, Fault(status=429, headers={"Retry-After": "3600"}))
    before = len([r for r in site.requests if r.path == url])
    newsmon.crawl(site, "--all")
    assert len([r for r in site.requests if r.path == url]) - before == 1  # no hammering
    article = next(a for a in newsmon.json("articles", "--json") if a["article_id"] == "432008")
    due = datetime.fromisoformat(article["next_check_at"].replace("Z", "+00:00"))
    assert due - datetime.now(UTC) > timedelta(minutes=55)


def test_an_error_never_pushes_the_schedule_back(newsmon_sqlite: Newsmon) -> None:
    with FakeSite(noise=True) as site:
        site.add(make_article(432100, published=datetime.now(UTC) - timedelta(minutes=10)))
        newsmon_sqlite.crawl(site)
        first = json.loads(newsmon_sqlite.run("articles", "--json").stdout)[0]["next_check_at"]
        site.set_fault(site.article(432100).url, Fault(status=500))
        newsmon_sqlite.crawl(site, "--all")
        after = json.loads(newsmon_sqlite.run("articles", "--json").stdout)[0]["next_check_at"]
        assert after <= first  # retried within 10 minutes at the latest, never later than planned


def test_large_removal_is_confirmed_by_a_second_fetch(faulty, quick: Path) -> None:
    newsmon, site = faulty
    article = site.article(432009)
    kept = [b for b in article.blocks if b.kind != "p"] + [next(b for b in article.blocks if b.kind == "p")]
    site.edit(432009, blocks=[b for b in article.blocks if b in kept])
    out = newsmon.crawl_config(quick, "--all")
    assert summary(out)["changed"] == 1 and summary(out)["held for confirmation"] == 1
    outcomes = [c["outcome"] for c in checks(newsmon, 432009)]
    assert outcomes[-2:] == ["suspect", "changed"]
    [change] = newsmon.changes()
    assert change["removed_words"] > 100


def page_of(site: FakeSite, article_id: int) -> bytes:
    with urllib.request.urlopen(site.base_url + site.article(article_id).url) as response:
        return response.read()


def test_a_half_empty_page_that_heals_is_not_an_edit(faulty, quick: Path) -> None:
    """Once, the page answers well-formed but with most of its body missing (a broken deploy, a cache
    serving a stub): the confirmation fetch sees the full page again, so nothing is an edit."""
    newsmon, site = faulty
    article = site.article(432003)
    full = list(article.blocks)
    paragraphs = [b for b in full if b.kind == "p"]
    site.edit(432003, blocks=[b for b in full if b not in paragraphs[1:]])
    stub = page_of(site, 432003)
    site.edit(432003, blocks=full)
    site.set_fault(article.url, Fault(body=stub, times=1))
    newsmon.crawl_config(quick, "--all", "--no-discovery")
    assert [c["outcome"] for c in checks(newsmon, 432003)][-2:] == ["suspect", "unchanged"]
    assert "lost" in checks(newsmon, 432003)[-2]["error"]
    assert versions(newsmon, 432003) == 1 and newsmon.changes() == []


def test_404_is_gone_only_after_a_second_check(faulty, quick: Path) -> None:
    newsmon, site = faulty
    once = site.article(432002)
    site.set_fault(once.url, Fault(status=404, times=1))
    site.edit(432006, status=410)
    newsmon.crawl_config(quick, "--all")
    status = {a["article_id"]: a["status"] for a in newsmon.json("articles", "--json")}
    assert status["432002"] == "live" and status["432006"] == "gone"
    assert [c["outcome"] for c in checks(newsmon, 432006)][-2:] == ["suspect", "gone"]
    assert [c["outcome"] for c in checks(newsmon, 432002)][-2:] == ["suspect", "unchanged"]
    site.edit(432006, status=200)
    newsmon.crawl_config(quick, "--all")
    history = newsmon.json("history", "432006", "--json")
    assert history["status"] == "live"
    assert [e["kind"] for e in history["timeline"] if e["kind"] != "check"] == ["gone", "republished"]


def test_a_redirect_elsewhere_is_not_the_articles_content(faulty) -> None:
    newsmon, site = faulty
    home = site.article(432000).url
    other = site.article(432001).url
    site.set_fault(home, Fault(status=301, headers={"Location": site.base_url + "/"}))
    site.set_fault(site.article(432002).url, Fault(status=301, headers={"Location": site.base_url + other}))
    newsmon.crawl(site, "--all")
    for article_id in (432000, 432002):
        last = checks(newsmon, article_id)[-1]
        assert last["outcome"] == "error" and "redirected away" in last["error"]
        assert versions(newsmon, article_id) == 1
    assert newsmon.changes() == []


def test_a_charset_mixup_is_read_correctly_not_reported_as_accent_edits(faulty) -> None:
    newsmon, site = faulty
    url = site.article(432005).url
    site.set_fault(url, Fault(headers={"Content-Type": "text/html; charset=iso-8859-1"}))
    out = newsmon.crawl(site, "--all")
    assert summary(out)["changed"] == 0 and newsmon.changes() == []
    assert checks(newsmon, 432005)[-1]["outcome"] == "unchanged"
    edit_body(site, 432005, "Été à Phnom Penh, déjà.")
    newsmon.crawl(site, "--all")
    [change] = newsmon.changes()
    diff = newsmon.run("diff", "432005", "--format", "text").stdout
    assert "{+Été à Phnom Penh, déjà.+}" in diff and "Ã" not in diff


def test_conditional_requests_answered_304_cost_no_parsing(newsmon_sqlite: Newsmon) -> None:
    with FakeSite(noise=False) as site:
        for i in range(4):
            site.add(make_article(432200 + i))
        newsmon_sqlite.crawl(site)
        out = newsmon_sqlite.crawl(site, "--all", "--no-discovery")
        assert "unchanged 4" in out and "4 not modified" in out and "MB saved" in out
        sent = [r for r in site.requests if r.path.endswith("432200")][-1]
        assert sent.headers.get("If-None-Match") and sent.status == 304
        edit_body(site, 432200, "Un ajout.")
        newsmon_sqlite.crawl(site, "--all", "--no-discovery")
        assert [c["article_id"] for c in newsmon_sqlite.changes()] == ["432200"]


def test_politeness_robots_user_agent_concurrency_and_request_cap(newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    with FakeSite(noise=True) as site:
        for i in range(12):
            site.add(make_article(432300 + i, "cambodge" if i < 8 else "bangkok"))
        site.latency = 0.05
        site.set_fault("/robots.txt", Fault(body=b"User-agent: *\nDisallow: /bangkok/\n",
                                            headers={"Content-Type": "text/plain"}))
        config = tmp_path / "polite.toml"
        config.write_text(f"""
[sites.lepetitjournal]
base_url = "{site.base_url}"
[sites.lepetitjournal.politeness]
concurrency = 2
download_delay = "50ms"
max_requests = 200
""")
        newsmon_sqlite.run("crawl", "lepetitjournal", "--config", str(config))
        assert site.max_concurrency <= 2
        fetched = {r.path for r in site.requests}
        assert not any(p.startswith("/bangkok/") for p in fetched)  # robots.txt obeyed
        assert len([a for a in newsmon_sqlite.json("articles", "--json")]) == 8
        agent = site.requests[-1].headers["User-Agent"]
        assert agent.startswith("newsmon/") and "+https://" in agent
        config.write_text(config.read_text().replace("max_requests = 200", "max_requests = 5"))
        before = len(site.requests)
        newsmon_sqlite.run("crawl", "lepetitjournal", "--config", str(config), "--all", "--no-discovery")
        capped = [r for r in site.requests[before:] if r.path != "/robots.txt"]
        assert len(capped) == 5  # the most overdue five; the rest wait for the next crawl
        # Without a delay between requests, the concurrency limit alone holds the pace.
        config.write_text(config.read_text().replace('download_delay = "50ms"', "download_delay = 0"))
        site.max_concurrency = 0
        newsmon_sqlite.run("crawl", "lepetitjournal", "--config", str(config), "--all", "--no-discovery")
        assert site.max_concurrency == 2


def test_a_timeout_is_an_error_and_is_retried(newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    with FakeSite(noise=True) as site:
        site.add(make_article(432600))
        site.add(make_article(432601))
        config = tmp_path / "impatient.toml"
        polite = (f'[sites.lepetitjournal]\nbase_url = "{site.base_url}"\n'
                  '[sites.lepetitjournal.politeness]\nconcurrency = 4\ndownload_delay = 0\n')
        config.write_text(polite)
        newsmon_sqlite.run("crawl", "lepetitjournal", "--config", str(config))
        config.write_text(polite + 'timeout = "0.5s"\n')  # half a second per request; the page takes three times that
        url = site.article(432600).url
        site.set_fault(url, Fault(delay=1.5))
        before = len([r for r in site.requests if r.path == url])
        newsmon_sqlite.run("crawl", "lepetitjournal", "--config", str(config), "--all", "--no-discovery")

        def tries() -> int:
            return len([r for r in site.requests if r.path == url]) - before

        wait_for(lambda: tries() >= 3, 10, "the delayed answers to be logged")  # logged once their delay is over
        assert tries() == 3  # tried, then retried twice
        last = checks(newsmon_sqlite, 432600)[-1]
        assert last["outcome"] == "error" and "Timeout" in last["error"]
        assert versions(newsmon_sqlite, 432600) == 1


def test_giant_pages_are_refused(faulty) -> None:
    newsmon, site = faulty
    site.set_fault(site.article(432007).url, Fault(body=b"<html><body>" + b"x" * (9 * 1024 * 1024) + b"</body></html>"))
    newsmon.crawl(site, "--all", "--no-discovery")
    last = checks(newsmon, 432007)[-1]
    assert last["outcome"] == "error" and versions(newsmon, 432007) == 1


def test_unreachable_site_and_unwritable_database(newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    proc = newsmon_sqlite.run("crawl", "lepetitjournal", "--base-url", "http://newsmon-test.invalid", check=False)
    assert proc.returncode == 1 and "never answered" in proc.stderr
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    proc = newsmon_sqlite.run("articles", "--db", f"sqlite:///{blocked}/sub/n.db", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("newsmon: error:")
    proc = newsmon_sqlite.run("crawl", "lepetitjournal", "--db", f"sqlite:///{blocked}/sub/n.db", check=False)
    assert proc.returncode == 2 and "cannot create the database folder" in proc.stderr


def test_a_crawl_killed_mid_way_leaves_a_consistent_database_and_the_next_run_catches_up(
        newsmon: Newsmon, tmp_path: Path) -> None:
    with FakeSite(noise=True) as site:
        for i in range(48):
            site.add(make_article(432400 + i, "cambodge" if i % 2 else "bangkok"))
        newsmon.crawl(site)
        before = count(newsmon.db, Check)
        edited = list(range(432400, 432448, 4))
        for article_id in edited:
            edit_body(site, article_id, "Corrigé après coup.")
        # Two requests at a time, a quarter second each: the re-check takes about 6 s, its fetches stored
        # every 2 s as they come, so the kill lands after a stored batch and well before the end.
        config = tmp_path / "slow.toml"
        config.write_text(f'[sites.lepetitjournal]\nbase_url = "{site.base_url}"\n'
                          "[sites.lepetitjournal.politeness]\nconcurrency = 2\ndownload_delay = 0\n")
        site.latency = 0.25
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "crawl", "lepetitjournal", "--config", str(config),
                                 "--all"], env=newsmon.env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: count(newsmon.db, Check) > before, 60, "the killed crawl's first stored batch")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert before < count(newsmon.db, Check) < before + 48  # killed mid-way, with work stored
        assert_consistent(newsmon.db)
        site.latency = 0
        newsmon.crawl(site, "--all")
        assert_consistent(newsmon.db)
    assert sorted(int(c["article_id"]) for c in newsmon.changes()) == edited
    per_article = Counter(int(line["article_id"]) for line in newsmon.export())
    assert per_article == {432400 + i: 2 if 432400 + i in edited else 1 for i in range(48)}


# ---------------------------------------------------------------- fuzzing extraction and normalisation

def _pages() -> list[str]:
    pages = []
    for theme in ("classic", "modern"):
        with FakeSite(theme=theme, noise=False) as site:
            a = site.add(make_article(432500))
            with urllib.request.urlopen(site.base_url + a.url) as response:
                pages.append(response.read().decode())
    return pages


PAGES = _pages()
URL = "https://lepetitjournal.com/cambodge/actualites/titre-432500"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.sampled_from(PAGES), cut=st.integers(0, 30000), junk=st.text(max_size=200),
       at=st.integers(0, 30000), drop=st.integers(0, 400))
def test_mutated_pages_never_raise_anything_but_a_refusal(page: str, cut: int, junk: str, at: int, drop: int) -> None:
    mutated = page[:at] + junk + page[at + drop:]
    mutated = mutated[:cut] if cut < len(mutated) else mutated
    try:
        check_complete(mutated.encode())
        article = extract_article(Selector(text=mutated or " "), URL)
    except (ExtractionError, PageError):
        return
    assert article.title and article.body
    for text in (article.title, article.lead, *article.body):
        assert comparison_form(comparison_form(text)) == comparison_form(text)


# Article skeletons of both layouts, each field left to random text (markup characters included, unescaped):
# 0 title, 1 lead, 2 author, 3 date, 4-6 body, 7 a caption.
SKELETONS = [
    ('<html><body><h1><span class="field--name-title">{0}</span></h1><div class="article-meta"><span class="author">'
    'Écrit par {2}</span><span class="date">{3}</span></div><div class="field--name-field-image"><span '
    'class="image-caption">{7}</span></div><div class="field--name-field-chapo"><p>{1}</p></div>'
    '<div class="field--name-body"><p>{4}</p><h2>{5}</h2><figure><figcaption>{7}</figcaption></figure><p>{6}</p>'
    "</div></body></html>"),
    ('<html><body><h1 class="Article_title">{0}</h1><p class="Article_chapo">{1}</p><div class="Author_name">Par {2}'
    '</div><time datetime="{3}">{3}</time><div class="Article_body"><p>{4}</p><h2>{5}</h2><figure><figcaption>{7}'
    "</figcaption></figure><p>{6}</p></div></body></html>"),
]
MARKUP = re.compile(r"<[A-Za-z/!?]")  # the start of a tag, an end tag, a comment or a declaration
junk = st.text(st.sampled_from("<>/!?&;=\"' abpé\n\t\u00a0") | st.characters(codec="utf-8"), max_size=80)
random_pages = st.one_of(st.text(max_size=3000),
                         st.builds(lambda skeleton, parts: skeleton.format(*parts), st.sampled_from(SKELETONS),
                                   st.lists(junk, min_size=8, max_size=8)))


@settings(max_examples=150, deadline=None)
@given(random_pages)
def test_random_text_as_a_page_is_refused_or_read(text: str) -> None:
    """Random text, alone or as the fields of an article page: refused with a reason, or read into an article
    with the guarantees every stored version relies on."""
    try:
        article = extract_article(Selector(text=text or " "), URL)
    except ExtractionError as exc:
        event("refused")
        assert str(exc)  # a refusal says why
        return
    event("read")
    assert (article.key, article.edition, article.section) == ("432500", "cambodge", "actualites")  # from the URL
    where = parse_article_url(article.url)
    assert where is not None and where.key == "432500"
    assert article.title and article.body and all(article.body) and all(article.captions)
    assert article.extractor in {"lepetitjournal-drupal/1", "lepetitjournal-nextjs/1"}
    for field_text in (article.title, article.lead, article.author, *article.body, *article.captions):
        assert not MARKUP.search(field_text), field_text  # text, never markup: tags are read, not kept
        assert not re.search(r"[\t\n\r\f]| {2}", field_text), field_text  # HTML whitespace collapsed
        assert field_text == field_text.strip(" \u00a0\u202f"), field_text  # and trimmed

"""End to end: real crawls over HTTP of the fake site, stored in SQLite and PostgreSQL, read back through
the command line. One test per versioning rule."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FirstCrawl, Newsmon, site_config
from tests.fakesite import Block, FakeSite, make_article, squash


@pytest.fixture(scope="module")
def first_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstCrawl]:
    """The `site` fixture's six articles, crawled once per backend for the whole module."""
    with FakeSite(theme="classic", noise=True) as fake:
        for i, edition in enumerate(["cambodge", "cambodge", "bangkok", "bangkok", "cambodge", "bangkok"]):
            fake.add(make_article(431010 + i, edition, paragraphs=4 + i))
        first = FirstCrawl(fake, tmp_path_factory.mktemp("first-crawl"))
        try:
            yield first
        finally:
            first.close()


@pytest.fixture(params=["sqlite", "postgres"])
def crawled(request: pytest.FixtureRequest, first_crawl: FirstCrawl,
            tmp_path: Path) -> Iterator[tuple[Newsmon, FakeSite]]:
    """The six-article site after its first crawl (`newsmon crawl`), on both backends: the database is this
    test's own copy of what that crawl stored, the site as it was crawled."""
    with first_crawl.copy(request.param, tmp_path) as newsmon:
        yield newsmon, first_crawl.site


def latest_versions(newsmon: Newsmon) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for line in newsmon.export():
        if line["version"] >= latest.get(line["article_id"], {}).get("version", 0):
            latest[line["article_id"]] = line
    return latest


@pytest.mark.parametrize("theme", ["classic", "modern"])
def test_first_crawl_stores_every_article_with_every_field(newsmon: Newsmon, site: FakeSite, theme: str) -> None:
    site.theme = theme
    out = newsmon.crawl(site)
    assert "new 6" in out and "errors 0" in out
    latest = latest_versions(newsmon)
    assert sorted(latest) == sorted(str(a.id) for a in site.articles)
    for article in site.articles:
        got = latest[str(article.id)]
        assert got["site"] == "lepetitjournal" and got["version"] == 1 and got["status"] == "live"
        assert got["url"] == site.base_url + article.url
        assert got["edition"] == article.edition and got["section"] == article.section
        assert squash(got["title"]) == squash(article.title)
        assert squash(got["lead"]) == squash(article.lead)
        assert got["author"] == article.author
        assert [squash(p) for p in got["body"]] == article.body
        assert [squash(c) for c in got["captions"]] == article.captions
        published = datetime.fromisoformat(got["published"])
        assert published.utcoffset() == article.published.utcoffset()  # the edition's time zone
        if theme == "classic":  # the Drupal layout gives the day only
            assert published.date() == article.published.date()
        else:
            assert published == article.published


def test_unchanged_pages_and_chrome_noise_make_no_change(crawled: tuple[Newsmon, FakeSite]) -> None:
    newsmon, site = crawled
    site.rotate_noise()  # sidebars, related lists, footer year: all different now
    out = newsmon.crawl(site, "--all")
    assert "unchanged 6" in out
    assert newsmon.changes() == []
    assert len(newsmon.export()) == 6


def test_a_second_identical_run_stores_nothing_twice(crawled: tuple[Newsmon, FakeSite]) -> None:
    newsmon, site = crawled
    newsmon.crawl(site)
    newsmon.crawl(site, "--all")
    assert len(newsmon.export()) == 6
    assert all(len(h["versions"]) == 1 for h in (newsmon.json("history", str(a.id), "--json") for a in site.articles))


def test_silent_body_edit_is_one_change_with_its_words(crawled: tuple[Newsmon, FakeSite]) -> None:
    newsmon, site = crawled
    article = site.articles[0]
    paragraphs = [b for b in article.blocks if b.kind == "p"]
    paragraphs[1].text = paragraphs[1].text.replace(" ", " vraiment ", 1)
    site.edit(article.id, blocks=list(article.blocks))
    newsmon.crawl(site, "--all")
    changes = newsmon.changes()
    assert len(changes) == 1
    change = changes[0]
    assert change["article_id"] == str(article.id)
    assert (change["from_version"], change["to_version"]) == (1, 2)
    assert change["fields"] == ["body"]
    assert change["text_changed"] is True and change["announced"] is False
    assert (change["added_words"], change["removed_words"]) == (1, 0)
    diff = newsmon.run("diff", str(article.id), "--format", "text").stdout
    assert "{+vraiment +}" in diff


def test_announced_title_edit_follows_the_new_slug(crawled: tuple[Newsmon, FakeSite]) -> None:
    newsmon, site = crawled
    article = site.articles[2]
    old_url = site.base_url + article.url
    updated = article.published + timedelta(days=1)
    site.edit(article.id, title="Un titre entièrement nouveau pour cet article", updated=updated)
    newsmon.crawl(site, "--all")
    [change] = newsmon.changes()
    assert change["fields"] == ["title", "updated"]
    assert change["announced"] is True
    assert change["url"] == site.base_url + article.url != old_url
    history = newsmon.json("history", old_url, "--json")  # the old URL still names the article
    assert {old_url, site.base_url + article.url} <= set(history["urls"])
    assert [e["kind"] for e in history["timeline"] if e["kind"] != "check"] == ["moved"]
    assert len(newsmon.json("articles", "--json")) == 6  # the same article, not a new one


def test_typography_only_edit_is_not_a_change(crawled: tuple[Newsmon, FakeSite]) -> None:
    newsmon, site = crawled
    article = site.articles[1]
    for block in article.blocks:
        block.text = (block.text.replace("’", "'").replace("\u00a0", " ").replace("\u202f", " ")
                      .replace(" ", "  ", 1))
    site.edit(article.id, blocks=list(article.blocks), lead=article.lead.replace("’", "'"))
    out = newsmon.crawl(site, "--all")
    assert "unchanged 6" in out
    assert newsmon.changes() == []


def test_declared_date_only_change_is_metadata_not_an_edit(crawled: tuple[Newsmon, FakeSite]) -> None:
    newsmon, site = crawled
    article = site.articles[3]
    site.edit(article.id, updated=article.published + timedelta(days=2))
    out = newsmon.crawl(site, "--all")
    assert "dates only 1" in out
    [change] = newsmon.changes()
    assert change["text_changed"] is False and change["fields"] == ["updated"]
    history = newsmon.json("history", str(article.id), "--json")
    assert history["versions"][1]["metadata_only"] is True
    assert newsmon.json("changes", "--json", "--silent") == []


def test_gone_article_keeps_its_history_and_comes_back(crawled: tuple[Newsmon, FakeSite], tmp_path: Path) -> None:
    newsmon, site = crawled
    config = site_config(tmp_path / "site.toml", site)  # a 410 is believed after a second fetch: 0.3 s later
    article = site.articles[4]
    site.edit(article.id, status=410)
    out = newsmon.crawl_config(config, "--all")
    assert "gone 1" in out
    status = {a["article_id"]: a["status"] for a in newsmon.json("articles", "--json")}
    assert status[str(article.id)] == "gone"
    assert len([v for v in newsmon.export() if v["article_id"] == str(article.id)]) == 1  # history kept
    site.edit(article.id, status=200)
    newsmon.crawl_config(config, "--all")
    history = newsmon.json("history", str(article.id), "--json")
    assert history["status"] == "live"
    assert [e["kind"] for e in history["timeline"] if e["kind"] != "check"] == ["gone", "republished"]
    assert len(history["versions"]) == 1  # same text when it came back: no new version


def test_discovery_finds_new_articles_and_skips_known_ones_not_due(crawled: tuple[Newsmon, FakeSite]) -> None:
    newsmon, site = crawled
    fetched_before = len([r for r in site.requests if r.path.endswith(tuple(str(a.id) for a in site.articles))])
    site.add(make_article(431099, "bangkok"))
    out = newsmon.crawl(site)  # old articles: none due
    assert "new 1" in out and "checked 1 " in out
    fetched_after = len([r for r in site.requests if r.path.endswith(tuple(str(a.id) for a in site.articles))])
    assert fetched_after - fetched_before == 1


def test_a_crawl_opens_no_remote_control(newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    """Scrapy 2.19 starts, for every crawl, an HTTP server that runs Python code sent to it, announced in a job
    file under the user's state folder; newsmon turns it off."""
    state = tmp_path / "state"
    newsmon_sqlite.env["XDG_STATE_HOME"] = str(state)
    with FakeSite(noise=False) as fresh:
        fresh.add(make_article(431150))
        assert "new 1" in newsmon_sqlite.crawl(fresh)
    assert not (state / "scrapy").exists()


def test_young_articles_are_due_again_and_rechecked(newsmon: Newsmon) -> None:
    now = datetime.now(UTC)
    with FakeSite(noise=True) as fresh:
        young = fresh.add(make_article(431200, published=now - timedelta(minutes=30)))
        fresh.add(make_article(431201, published=now - timedelta(days=400)))
        newsmon.crawl(fresh)
        articles = {a["article_id"]: a for a in newsmon.json("articles", "--json")}
        due = datetime.fromisoformat(articles[str(young.id)]["next_check_at"])
        assert timedelta(minutes=10) < due - now < timedelta(minutes=20)  # the first-hours tier: 15 min
        # Too old for the age tiers, but the front page still features it: the listed floor, every 3 h.
        old_due = datetime.fromisoformat(articles["431201"]["next_check_at"])
        assert timedelta(hours=2.9) < old_due - now < timedelta(hours=3.1)
        # Once due, a plain crawl re-checks it; nothing else.
        newsmon.run("crawl", "lepetitjournal", "--base-url", fresh.base_url, "--no-discovery")
        assert len(newsmon.json("history", str(young.id), "--json")["timeline"]) == 1  # not due yet: untouched


def test_modern_layout_edits_are_caught_with_exact_dates(newsmon: Newsmon) -> None:
    with FakeSite(theme="modern", noise=True, editions=("tokyo",)) as modern:
        article = modern.add(make_article(431300, "tokyo"))
        newsmon.crawl(modern)
        article.blocks.append(Block("p", "Un paragraphe ajouté en fin d’article, sans avertissement."))
        modern.edit(article.id, blocks=list(article.blocks), updated=article.published + timedelta(hours=5))
        newsmon.crawl(modern, "--all")
        [change] = newsmon.changes()
        assert change["fields"] == ["body", "updated"] and change["announced"] is True
        assert change["declared_updated"] == (article.published + timedelta(hours=5)).isoformat()


def test_archive_named_only_by_the_sitemap_is_left_out_until_it_moves_or_is_asked_for(
        newsmon_sqlite: Newsmon) -> None:
    now = datetime.now(UTC)
    with FakeSite(noise=True, editions=("cambodge",)) as archive:
        for i in range(52):  # more than the front page (30) and the feed (50) show
            archive.add(make_article(433000 + i, published=now - timedelta(hours=i)))
        old = [archive.add(make_article(433100 + i, published=now - timedelta(days=90 + i))) for i in range(3)]
        out = newsmon_sqlite.crawl(archive, "--front-pages", "1")
        assert "new 52 " in out and "archive left out 3" in out
        tracked = {a["article_id"] for a in newsmon_sqlite.json("articles", "--json")}
        assert not tracked & {str(a.id) for a in old}
        archive.edit(old[0].id, title="Une correction tardive", updated=now)  # its sitemap lastmod moves
        out = newsmon_sqlite.crawl(archive, "--front-pages", "1")
        assert "new 1 " in out and "archive left out 2" in out
        out = newsmon_sqlite.crawl(archive, "--front-pages", "1", "--archive")
        assert "new 2 " in out and "archive left out" not in out
    assert len(newsmon_sqlite.json("articles", "--json")) == 55

"""A re-check answered with the very page newsmon last read (same bytes, same URLs, same extractors) is an
unchanged check without reading the page again; anything else is read: an edited page, a page only the
fallback extractor reads, a page whose reading another crawl has moved past meanwhile."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.compare.policy import RevisitPolicy
from monitor.items import Fetch
from monitor.store import open_store
from monitor.store.ingest import ensure_site, record_fetches
from tests.conftest import Newsmon
from tests.fakesite import FakeSite, make_article
from tests.test_redesign import wordpress_article  # noqa: F401 - registers the "wordpress" theme
from tests.test_storage import article_fetch, sql

IDS = [434100 + i for i in range(4)]


@pytest.fixture
def stable_site() -> Iterator[FakeSite]:
    """Four articles whose pages are byte for byte the same at every fetch, served by a site that never
    answers 304 (as many sites and CDNs do not)."""
    with FakeSite(theme="classic", noise=False) as fake:
        fake.answers_conditional = False
        for i, article_id in enumerate(IDS):
            fake.add(make_article(article_id, ("cambodge", "bangkok")[i % 2], paragraphs=4))
        yield fake


def last_counts(newsmon: Newsmon) -> dict[str, int]:
    [last, *_] = newsmon.json("status", "--json")["runs"]  # type: ignore[index]
    return last["counts"]


def test_the_same_page_is_not_read_again_and_an_edited_one_is(newsmon: Newsmon, stable_site: FakeSite) -> None:
    newsmon.crawl(stable_site)
    newsmon.crawl(stable_site, "--all")
    counts = last_counts(newsmon)
    assert (counts["unchanged"], counts["same_page"], counts["not_modified"]) == (4, 4, 0)

    article = stable_site.articles[0]
    paragraph = next(b for b in article.blocks if b.kind == "p")
    paragraph.text = paragraph.text.replace(" ", " vraiment ", 1)
    stable_site.edit(article.id, blocks=list(article.blocks))
    newsmon.crawl(stable_site, "--all")
    counts = last_counts(newsmon)
    assert (counts.get("changed"), counts["unchanged"], counts["same_page"]) == (1, 3, 3)
    [change] = newsmon.changes()
    assert change["article_id"] == str(article.id) and change["added_words"] == 1
    assert "{+vraiment +}" in newsmon.run("diff", str(article.id), "--format", "text").stdout

    # The edited page is the one last read now: the next look at it is not read again either.
    newsmon.crawl(stable_site, "--all")
    assert last_counts(newsmon)["same_page"] == 4
    assert len(newsmon.changes()) == 1


def test_pages_only_the_fallback_reads_are_read_at_every_crawl(newsmon: Newsmon, stable_site: FakeSite) -> None:
    """A redesigned site's pages go on being counted as read by the generic extractor (the crawl's warning
    stays up), rather than vanish from the count as pages seen before."""
    newsmon.crawl(stable_site)
    stable_site.theme = "wordpress"
    for _ in range(2):
        out = newsmon.crawl(stable_site, "--all")
        counts = last_counts(newsmon)
        assert (counts["generic_fallback"], counts["same_page"]) == (4, 0), out
        assert "read by the generic extractor 4" in out
    assert [c for c in newsmon.changes() if c["text_changed"]] == []


def test_a_page_another_crawl_read_past_meanwhile_is_not_taken_for_unchanged(sqlite_url: str) -> None:
    """Two crawls of one article at once (a job run twice): one saw page A and skipped reading it again, the
    other stored a reading of page B first. The skipped page is not believed (an error check: the article is
    due again soon)."""
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    first, second = article_fetch(start), article_fetch(start + timedelta(hours=1), body="Un autre texte.")
    first.page_digest, second.page_digest = b"A" * 16, b"B" * 16
    skipped = Fetch(site="lepetitjournal", key="431500", requested_url=first.url, url=first.url, status=200,
                    fetched_at=start + timedelta(hours=2), raw=first.raw, page_digest=b"A" * 16, same_page=True)
    again = Fetch(site="lepetitjournal", key="431500", requested_url=first.url, url=first.url, status=200,
                  fetched_at=start + timedelta(hours=3), raw=second.raw, page_digest=b"B" * 16, same_page=True)
    store = open_store(sqlite_url)
    try:
        outcomes = []
        for batch in ([first], [second], [skipped], [again]):
            with store.session() as session:
                site_id = ensure_site(session, "lepetitjournal", "lepetitjournal", "http://x")
                outcomes.append(dict(record_fetches(session, site_id, batch, RevisitPolicy()).outcomes))
    finally:
        store.close()
    assert outcomes == [{"new": 1}, {"changed": 1}, {"error": 1}, {"unchanged": 1}]
    [(error,)] = sql(sqlite_url, "SELECT error FROM checks WHERE outcome = 'error'")
    assert "another crawl stored a newer reading" in error
    assert sql(sqlite_url, "SELECT count(*) FROM versions")[0][0] == 2

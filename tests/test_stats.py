"""The statistics page (issue 13): edits per day, silent and announced by edition and section, time from
publication to edit, the most edited articles, as inline SVG charts in the static report and the web app.
Numbers come from real crawls of the fake site with edits made on purpose, read back from the page's SVG; the
page is drawn by a real headless Chromium on a desktop and a phone, light and dark, under the app's policy."""
from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import html as lxml_html

from monitor.report.stats import Edit, summarise
from monitor.store import open_store
from tests.conftest import QuickNewsmon
from tests.fakesite import Block, FakeSite, make_article
from tests.reading import app_server

HOSTILE = 'Chiffres <script>alert("s")</script> & « prix »'
# The articles, by id: (edition, section, published this long before the first crawl).
QUICK, TITLED, TWICE, OLD, QUIET = 432001, 432002, 432003, 432004, 432005
ARTICLES = {QUICK: ("cambodge", "economie", timedelta(minutes=30)),
            TITLED: ("cambodge", "culture", timedelta(hours=3)),
            TWICE: ("bangkok", "economie", timedelta(days=2)),
            OLD: ("bangkok", "culture", timedelta(days=10)),
            QUIET: ("bangkok", "societe", timedelta(hours=5))}


@dataclass
class Crawled:
    newsmon: QuickNewsmon
    db: str
    report: Path


def add_sentence(site: FakeSite, article_id: int, sentence: str, **fields: object) -> None:
    article = site.article(article_id)
    site.edit(article_id, blocks=[*article.blocks, Block("p", sentence)], **fields)


def crawl_with_edits(newsmon: QuickNewsmon, site: FakeSite) -> None:
    """Five articles (modern theme: publication times to the minute); then a silent edit of QUICK, an announced
    title edit of TITLED, a silent edit of TWICE, an announced body edit of OLD; then TWICE silently again."""
    now = datetime.now(UTC)
    for article_id, (edition, section, age) in ARTICLES.items():
        article = make_article(article_id, edition, section=section, published=now - age, paragraphs=4)
        if article_id == TWICE:
            article.title = HOSTILE
        site.add(article)
    newsmon.crawl(site)
    add_sentence(site, QUICK, "Une phrase ajoutée sans le dire.")
    site.edit(TITLED, title="Un titre refait, et annoncé", updated=datetime.now(UTC))
    add_sentence(site, TWICE, "Un premier ajout discret.")
    add_sentence(site, OLD, "Un ajout annoncé.", updated=datetime.now(UTC))
    newsmon.crawl(site, "--all")
    add_sentence(site, TWICE, "Un second ajout discret.")
    newsmon.crawl(site, "--all")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    tmp = tmp_path_factory.mktemp("stats")
    db = f"sqlite:///{tmp / 'newsmon.db'}"
    newsmon = QuickNewsmon(db, tmp)
    with FakeSite(theme="modern", noise=True) as site:
        crawl_with_edits(newsmon, site)
    report = tmp / "report"
    newsmon.run("report", "--out", str(report))
    return Crawled(newsmon, db, report)


@pytest.fixture(scope="module")
def app(crawled: Crawled) -> Iterator[str]:
    with app_server(crawled.db) as base:
        yield base


def get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def bars(doc: lxml_html.HtmlElement, chart: str) -> dict[str, tuple[int, int]]:
    """A chart's bars as drawn: label -> (announced, silent), from the numbers each bar carries and the height
    or width of its parts."""
    out = {}
    for bar in doc.cssselect(f"svg#{chart} g.bar"):
        out[bar.get("data-label")] = (int(bar.get("data-announced")), int(bar.get("data-silent")))
        drawn = {part.get("class").split()[-1] for part in bar.cssselect("rect.part")}
        assert drawn == {f"part-{k}" for k, n in zip(("announced", "silent"), out[bar.get("data-label")]) if n}
    return out


def check_numbers(doc: lxml_html.HtmlElement) -> None:
    """What the crawls made, as the page's charts say it."""
    assert doc.cssselect("p.summary")[0].text_content().startswith("5 edits (2 announced, 3 silent) of 4 articles")
    per_day = bars(doc, "chart-per-day")
    assert sum(a for a, _ in per_day.values()) == 2 and sum(s for _, s in per_day.values()) == 3
    assert bars(doc, "chart-by-edition") == {"bangkok — 67 % silent": (1, 2), "cambodge — 50 % silent": (1, 1)}
    assert bars(doc, "chart-by-section") == {"economie — 100 % silent": (0, 3), "culture — 0 % silent": (2, 0)}
    assert bars(doc, "chart-delays") == {"< 1 h": (0, 1), "1–6 h": (1, 0), "6–24 h": (0, 0), "1–3 d": (0, 2),
                                         "3–7 d": (0, 0), "1–4 wk": (1, 0), "> 4 wk": (0, 0)}
    ranked = doc.cssselect("svg#chart-most-edited a")
    assert len(ranked) == 4
    first = ranked[0]
    assert first.cssselect("text.label")[0].text_content() == HOSTILE  # shown as text, escaped once
    assert (first.cssselect("g.bar")[0].get("data-silent"), first.cssselect("text.value")[0].text) == ("2", "2")
    assert first.get("href").rstrip(".html").endswith(f"articles/lepetitjournal/{TWICE}")
    # The same numbers in words, for those who do not see the chart, and in a table.
    desc = doc.cssselect("svg#chart-by-edition desc")[0].text_content()
    assert "bangkok: 3 edits (1 announced, 2 silent)" in desc
    rows = [[c.text_content() for c in r] for r in doc.cssselect("section#delays tbody tr")]
    assert rows[0] == ["within an hour", "0", "1", "1"]


def test_the_web_page_shows_the_numbers_of_the_crawls(app: str) -> None:
    status, headers, body = get(app + "/stats")
    assert status == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
    doc = lxml_html.fromstring(body)
    check_numbers(doc)
    assert "<script>" not in body and " style=" not in body  # nothing the policy would refuse
    for svg in doc.cssselect("svg.chart"):  # each chart says what it is
        title, desc = svg.cssselect("title")[0], svg.cssselect("desc")[0]
        assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}" and title.text_content()
    assert doc.cssselect('header.top a[href="/stats"]')[0].text_content() == "Statistics"


def test_the_web_page_filters_as_the_change_list(app: str) -> None:
    doc = lxml_html.fromstring(get(app + "/stats?edition=cambodge")[2])
    assert bars(doc, "chart-by-edition") == {"cambodge — 50 % silent": (1, 1)}
    assert doc.cssselect('form.filters option[value="cambodge"]')[0].get("selected") is not None
    future = lxml_html.fromstring(get(app + "/stats?since=2999-01-01")[2])
    assert not future.cssselect("svg.chart")
    assert "Nothing to chart yet" in future.cssselect("p.empty")[0].text_content()
    status, _, body = get(app + "/stats?since=someday&site=lepetitjournal&kind=body&silent=1")
    assert status == 400 and "since" in body


def test_the_static_report_has_the_page_and_links_to_it(crawled: Crawled) -> None:
    index = lxml_html.fromstring((crawled.report / "index.html").read_text(encoding="utf-8"))
    assert index.cssselect('header.top a[href="stats.html"]')
    page = crawled.report / "stats.html"
    doc = lxml_html.fromstring(page.read_text(encoding="utf-8"))
    check_numbers(doc)
    for link in doc.cssselect("svg#chart-most-edited a"):  # each bar opens an article page of the report
        assert (page.parent / link.get("href")).is_file(), link.get("href")
    article = crawled.report / "articles" / "lepetitjournal" / f"{TWICE}.html"
    assert lxml_html.fromstring(article.read_text(encoding="utf-8")).cssselect('header.top a[href="../../stats.html"]')


def test_an_empty_database_says_there_is_nothing_yet(db_url: str, tmp_path: Path) -> None:
    """On both backends: the page's query runs on PostgreSQL as on SQLite."""
    open_store(db_url).close()  # created, migrated, empty
    newsmon = QuickNewsmon(db_url, tmp_path)
    newsmon.run("report", "--out", str(tmp_path / "report"))
    doc = lxml_html.fromstring((tmp_path / "report" / "stats.html").read_text(encoding="utf-8"))
    assert "Nothing to chart yet" in doc.cssselect("p.empty")[0].text_content() and not doc.cssselect("svg")
    with app_server(db_url) as base:
        for path in ("/stats", "/stats?since=7d&site=lepetitjournal&edition=cambodge&kind=body&silent=1"):
            status, _, body = get(base + path)
            assert status == 200 and "Nothing to chart yet" in body, path


def edit(hours_after: float, *, published_hours: float | None = 0, announced: bool = False,
         day: datetime = datetime(2026, 3, 2, 9, tzinfo=UTC)) -> Edit:
    published = day + timedelta(hours=published_hours) if published_hours is not None else None
    return Edit(site="s", article_id="1", title="t", edition=None, section=None, announced=announced,
                detected_at=day + timedelta(hours=hours_after), published=published)


def test_long_spans_count_weeks_and_undated_articles_are_left_out_of_the_delays() -> None:
    stats = summarise([edit(0), edit(24 * 100, announced=True, published_hours=None)])
    assert stats.period == "week" and len(stats.per_period) == 15  # Mondays from 2 March to 8 June
    assert (stats.per_period[0].total, stats.per_period[-1].total, stats.per_period[7].total) == (1, 1, 0)
    assert stats.undated == 1 and sum(t.total for t in stats.delays) == 1
    assert stats.by_edition[0].label == "(no edition)"
    # A publication declared after the edit was seen (a wrong clock) counts as immediate, not as an error.
    assert summarise([edit(1, published_hours=5)]).delays[0].total == 1


# ---------------------------------------------------------------- in a browser



# Records what the page's policy refused: a script of the test's own, which the policy does not govern.
WATCH_POLICY = ("window.refused = []; document.addEventListener('securitypolicyviolation', "
                "e => window.refused.push(e.violatedDirective + ' ' + e.blockedURI));")


@pytest.mark.parametrize(("width", "height", "scheme"), [(1200, 900, "light"), (375, 800, "dark")],
                         ids=["desktop-light", "phone-dark"])
def test_the_charts_show_in_a_browser(app: str, crawled: Crawled, browser, tmp_path: Path, width: int, height: int,
                                      scheme: str) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    context.add_init_script(WATCH_POLICY)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    for url in (app + "/stats", (crawled.report / "stats.html").as_uri()):
        page.goto(url)
        charts = page.locator("svg.chart")
        assert charts.count() == 5
        for i in range(5):
            chart = charts.nth(i)
            chart.scroll_into_view_if_needed()
            box = chart.bounding_box()
            assert chart.is_visible() and box["height"] > 40 and 0 < box["width"] <= width, (i, box)
            assert chart.locator("rect.part").first.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing overflows sideways
        silent = page.locator("svg#chart-by-edition rect.part-silent").first
        fill = silent.evaluate("e => getComputedStyle(e).fill")
        assert fill == ("rgb(255, 194, 122)" if scheme == "dark" else "rgb(138, 59, 0)")  # the theme's --silent
        label = page.locator("svg#chart-delays text.tick").first
        assert label.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 11  # readable at any width
        assert page.evaluate("window.refused") == []
        page.screenshot(path=str(tmp_path / f"stats-{scheme}.png"), full_page=True)
    assert errors == []  # a refused style or a failed stylesheet shows here too
    page.goto(app + "/stats")
    page.locator("svg#chart-most-edited a").first.click()
    page.wait_for_url(f"**/articles/lepetitjournal/{TWICE}")
    assert page.locator("h1").inner_text() == HOSTILE
    context.close()

"""The generic extractor on pages built here to look like the news sites it will meet: every form of structured
data, a visible update line in each language newsmon reads first, the chrome that must never become article
text, captions, keys, and pages that hold no article. No page here comes from a real site."""
from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import trafilatura
from parsel import Selector

from monitor.compare.versioning import comparable_text
from monitor.extract.generic import EXTRACTOR, extract_generic
from monitor.extract.integrity import ExtractionError
from monitor.extract.structured import clean_author
from monitor.extract.text import word_count
from monitor.extract.urls import normalise_url
from monitor.items import ExtractedArticle

URL = "https://www.example-news.test/world/2024/03/05/harbour-strike-ends-1234/"
KEY = "https://www.example-news.test/world/2024/03/05/harbour-strike-ends-1234"
PARIS, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")

TITLE = "Harbour strike ends after nine days of talks"
LEAD = "Dockers voted to return to work on Tuesday evening, ending the longest stoppage at the port since 1998."
BODY = (
    ("The agreement, reached shortly before midnight, raises wages by 6 percent over two years and limits "
     "night shifts to four a week, union representatives said after the vote."),
    ("Nearly 2,300 containers had piled up on the quays since the walkout began, and shipping lines had started "
     "to divert vessels to neighbouring ports further along the coast."),
    "What changes for shippers",
    ("The port authority said the backlog should be cleared within a fortnight, provided the weather holds and "
     "the extra cranes ordered last month arrive on schedule."),
    ("Smaller exporters, who depend on weekly sailings, were hit hardest. Several fruit growers told reporters "
     "that part of their harvest had spoiled while waiting on the docks."),
    ("Talks on pensions, the other demand of the strikers, will resume in April under the mediation of the "
     "regional labour office."),
)


def article_html(body: tuple[str, ...] = BODY) -> str:
    """The article's text as a CMS writes it: paragraphs, one intertitle (the short line), in order."""
    return "\n".join(f"<h2>{text}</h2>" if len(text) < 40 else f"<p>{text}</p>" for text in body)


def page(head: str = "", article: str = "", *, lang: str = "en", title: str = TITLE, header: str = "",
         after: str = "") -> str:
    """A news page: a menu and a footer around one <article> holding the headline and the text."""
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} | The Harbour Gazette</title>{head}</head>
<body>
<header class="site-header"><a class="logo" href="/">The Harbour Gazette</a>
<nav class="main-menu"><ul><li><a href="/world/">World</a></li><li><a href="/business/">Business</a></li>
<li><a href="/sport/">Sport</a></li><li><a href="/culture/">Culture</a></li></ul></nav></header>
<main>
<article class="post">
<header class="entry-header"><h1 class="entry-title">{title}</h1>{header}</header>
<div class="entry-content">
{article or article_html()}
</div>
</article>
{after}</main>
<footer class="site-footer"><p>© 2024 The Harbour Gazette. All rights reserved.</p>
<ul><li><a href="/legal">Legal notice</a></li><li><a href="/privacy">Privacy</a></li>
<li><a href="/contact">Contact</a></li></ul></footer>
</body></html>"""


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def read(html: str, url: str = URL, *, timezone: str = "UTC") -> ExtractedArticle:
    return extract_generic(Selector(text=html), url, timezone=timezone)


NEWS_ARTICLE = {
    "@context": "https://schema.org", "@type": "NewsArticle", "headline": TITLE, "description": LEAD,
    "datePublished": "2024-03-05T08:30:00+01:00", "dateModified": "2024-03-05T17:45:00+01:00",
    "articleSection": "World", "author": [{"@type": "Person", "name": "Maria Jensen"},
                                          {"@type": "Person", "name": "Tom Okafor"}],
    "publisher": {"@type": "Organization", "name": "The Harbour Gazette"},
}


# ---------------------------------------------------------------- structured data, each form

def test_json_ld_news_article() -> None:
    got = read(page(ld(NEWS_ARTICLE)))
    assert (got.title, got.lead, got.author, got.section) == (TITLE, LEAD, "Maria Jensen, Tom Okafor", "World")
    assert got.published == datetime(2024, 3, 5, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    assert got.updated == datetime(2024, 3, 5, 17, 45, tzinfo=timezone(timedelta(hours=1)))
    assert got.date_precision == "minute"
    assert got.body == BODY
    assert (got.key, got.url, got.edition, got.captions) == (KEY, URL, None, ())
    assert got.extractor == EXTRACTOR == f"generic/3+trafilatura-{trafilatura.__version__}"


def test_json_ld_in_a_graph_with_references() -> None:
    """WordPress (Yoast) style: WebSite, WebPage, Person and Article in one @graph, the author named by @id."""
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "@id": "https://www.example-news.test/#website", "name": "The Harbour Gazette"},
        {"@type": "WebPage", "@id": URL, "name": f"{TITLE} | The Harbour Gazette"},
        {"@type": "Person", "@id": "https://www.example-news.test/#/person/7", "name": "Maria Jensen"},
        {"@type": "Article", "headline": TITLE, "author": {"@id": "https://www.example-news.test/#/person/7"},
         "datePublished": "2024-03-05T07:30:00+00:00", "dateModified": "2024-03-06T09:00:00+00:00",
         "articleSection": ["World", "Economy"], "mainEntityOfPage": {"@id": URL}}]}
    got = read(page(ld(graph)))
    assert (got.title, got.author, got.section, got.lead) == (TITLE, "Maria Jensen", "World", "")
    assert got.published == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)
    assert got.updated == datetime(2024, 3, 6, 9, 0, tzinfo=UTC)
    assert got.body == BODY


def test_json_ld_in_a_list_and_as_main_entity() -> None:
    listed = [{"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": []},
              dict(NEWS_ARTICLE, **{"@type": "ReportageNewsArticle", "author": "Tom Okafor"})]
    got = read(page(ld(listed)))
    assert (got.title, got.author, got.updated.hour) == (TITLE, "Tom Okafor", 17)
    main_entity = {"@context": "https://schema.org", "@type": "WebPage",
                   "mainEntity": dict(NEWS_ARTICLE, **{"@type": ["AnalysisNewsArticle"],
                                                       "headline": "Why the strike ended"})}
    assert read(page(ld(main_entity), title="Why the strike ended")).title == "Why the strike ended"


def test_json_ld_wrapped_as_in_the_xhtml_days() -> None:
    wrapped = f'<script type="application/ld+json">//<![CDATA[\n{json.dumps(NEWS_ARTICLE)}\n//]]></script>'
    assert read(page(wrapped)).author == "Maria Jensen, Tom Okafor"


def test_teasers_in_json_ld_are_not_the_article() -> None:
    """An ItemList of other articles (a "most read" box) names headlines that are not this page's."""
    teasers = {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": [
        {"@type": "ListItem", "position": 1, "item": {"@type": "NewsArticle", "headline": "Ferry fares rise again",
                                                      "datePublished": "2023-01-01T00:00:00Z"}}]}
    got = read(page(ld(teasers) + ld(NEWS_ARTICLE)))
    assert (got.title, got.published.year) == (TITLE, 2024)


def test_microdata() -> None:
    article = f"""<div itemprop="articleBody">{article_html()}</div>"""
    html = page(article=article).replace(
        '<article class="post">', '<article class="post" itemscope itemtype="https://schema.org/NewsArticle">').replace(
        f'<h1 class="entry-title">{TITLE}</h1>',
        f'<h1 class="entry-title" itemprop="headline">{TITLE}</h1>'
        f'<p class="standfirst" itemprop="description">{LEAD}</p>'
        '<p class="byline">By <span itemprop="author" itemscope itemtype="https://schema.org/Person">'
        '<span itemprop="name">Maria Jensen</span></span>, '
        '<time itemprop="datePublished" datetime="2024-03-05T08:30:00+01:00">5 March 2024, 08:30</time></p>'
        '<meta itemprop="dateModified" content="2024-03-05T18:00:00+01:00">'
        '<span itemprop="publisher" itemscope itemtype="https://schema.org/Organization">'
        '<meta itemprop="name" content="The Harbour Gazette"></span>')
    got = read(html)
    assert (got.title, got.lead, got.author) == (TITLE, LEAD, "Maria Jensen")
    assert (got.published, got.updated) == (datetime(2024, 3, 5, 8, 30, tzinfo=timezone(timedelta(hours=1))),
                                            datetime(2024, 3, 5, 18, 0, tzinfo=timezone(timedelta(hours=1))))
    assert got.body == BODY


def test_opengraph_only() -> None:
    head = (f'<meta property="og:type" content="article"><meta property="og:title" content="{TITLE}">'
            f'<meta property="og:site_name" content="The Harbour Gazette">'
            f'<meta property="og:description" content="{LEAD}"><meta property="og:url" content="{URL}">'
            '<meta property="article:published_time" content="2024-03-05T08:30:00Z">'
            '<meta property="article:modified_time" content="2024-03-05T10:05:00Z">'
            '<meta property="article:section" content="World">'
            '<meta property="article:author" content="https://www.facebook.com/harbourgazette">'
            '<meta name="author" content="Maria Jensen">')
    got = read(page(head))
    assert (got.title, got.lead, got.author, got.section) == (TITLE, LEAD, "Maria Jensen", "World")
    assert got.published == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert got.updated == datetime(2024, 3, 5, 10, 5, tzinfo=UTC)
    assert got.body == BODY


def test_time_elements_only() -> None:
    """No structured data at all: the <time> elements of the article's header, a date without a time."""
    header = ('<p class="entry-meta">Posted on <time class="entry-date published" datetime="2024-03-05">'
              'March 5, 2024</time> · <time class="updated" datetime="2024-03-07">March 7, 2024</time></p>')
    related = ('<aside class="sidebar"><ul><li><a href="/a">Older story</a> <time datetime="2019-01-01">'
               'Jan 1, 2019</time></li></ul></aside>')
    got = read(page(header=header, after=related), timezone="America/New_York")
    assert (got.title, got.lead, got.author) == (TITLE, "", "")
    assert got.published == datetime(2024, 3, 5, tzinfo=NEW_YORK)
    assert got.updated == datetime(2024, 3, 7, tzinfo=NEW_YORK)
    assert got.date_precision == "day"
    assert got.body == BODY


def test_a_standfirst_read_as_the_first_paragraph_stays_in_the_body_once() -> None:
    """Were it moved to the lead, a description repeating it would hide its removal from the page."""
    text = f'<p class="lead">{LEAD}</p>' + article_html()
    got = read(page(ld(NEWS_ARTICLE), article=text))
    assert (got.lead, got.body) == ("", (LEAD, *BODY))


def test_a_description_that_only_truncates_the_first_paragraph_is_no_lead() -> None:
    head = f'<meta name="description" content="{BODY[0][:80]}…">'
    assert read(page(head)).lead == ""


def test_the_earliest_declared_publication_wins() -> None:
    """A republished article moves one of its dates (here OpenGraph's), seldom all of them."""
    head = ld(NEWS_ARTICLE) + '<meta property="article:published_time" content="2024-03-09T12:00:00+01:00">'
    assert read(page(head)).published == datetime(2024, 3, 5, 8, 30, tzinfo=timezone(timedelta(hours=1)))


def test_a_date_in_the_url_is_the_last_resort() -> None:
    got = read(page())
    assert (got.published, got.updated, got.date_precision) == (datetime(2024, 3, 5, tzinfo=UTC), None, "day")


@pytest.mark.parametrize("byline, name", [
    ("By  Maria Jensen", "Maria Jensen"), ("Par Claire Martin", "Claire Martin"), ("Von Jonas Weber", "Jonas Weber"),
    ("Por Ana Ruiz", "Ana Ruiz"), ("di Marco Rossi", "Marco Rossi"), ("De Smet Anna", "De Smet Anna"),
    ("Di Maio Luigi", "Di Maio Luigi"), ("https://www.facebook.com/harbourgazette", ""),
])
def test_author_names_without_their_byline_word(byline: str, name: str) -> None:
    assert clean_author(byline) == name


def test_co_authors_in_meta_tags() -> None:
    head = ('<meta property="article:author" content="Maria Jensen">'
            '<meta property="article:author" content="Tom Okafor">')
    assert read(page(head)).author == "Maria Jensen, Tom Okafor"


def test_the_headline_is_the_one_the_sources_agree_on() -> None:
    """A logo in an <h1>, a site name after the headline in <title> and og:title: neither is the headline."""
    head = f'<meta property="og:title" content="{TITLE} - The Harbour Gazette">' \
           '<meta property="og:site_name" content="The Harbour Gazette">'
    html = page(head).replace('<a class="logo" href="/">The Harbour Gazette</a>',
                              '<h1 class="logo"><a href="/">The Harbour Gazette</a></h1>')
    assert read(html).title == TITLE


def test_a_logo_in_an_h1_is_not_the_headline_nor_a_permalink_mark_part_of_it() -> None:
    """Documentation-style pages: the site's name in an <h1> linking home, the page's <h1> ending with a "¶"
    link to itself; <title> repeats both."""
    html = page(article=article_html(), title=TITLE).replace(
        '<a class="logo" href="/">The Harbour Gazette</a>',
        '<h1 class="logo"><a href="/"><span>The Harbour Gazette</span></a></h1>').replace(
        f'<h1 class="entry-title">{TITLE}</h1>',
        f'<h1 class="entry-title"><a href="#toc">{TITLE}</a><a class="headerlink" href="#strike">¶</a></h1>')
    assert read(html).title == TITLE


def test_a_shorter_headline_for_search_engines_gives_way_to_the_visible_one() -> None:
    seo = dict(NEWS_ARTICLE, headline="Harbour strike ends")
    long_title = "Harbour strike ends after nine days of talks and a night vote at the dockers' hall"
    got = read(page(ld(seo), title=long_title))
    assert got.title == long_title


# ---------------------------------------------------------------- visible update lines, per language

FRENCH = (("Le conseil municipal a adopté lundi soir le nouveau plan de circulation du centre-ville, après "
           "trois heures de débats animés et deux suspensions de séance."),
          ("Les commerçants de la rue du Port redoutent une baisse de fréquentation pendant les travaux, "
           "prévus de septembre à décembre, et réclament des places de livraison supplémentaires."),
          ("La mairie promet une navette gratuite toutes les dix minutes et une signalisation renforcée "
           "aux abords des écoles dès la rentrée."))
ENGLISH = (("City councillors approved the new downtown traffic plan on Monday night after three hours of heated "
            "debate and two adjournments."),
           ("Shop owners on Harbour Street fear fewer customers during the works, scheduled from September to "
            "December, and want more loading bays."),
           ("The mayor's office promised a free shuttle every ten minutes and better signs near schools from the "
            "start of the school year."))
GERMAN = (("Der Stadtrat hat am Montagabend nach dreistündiger Debatte und zwei Sitzungsunterbrechungen den neuen "
           "Verkehrsplan für die Innenstadt beschlossen."),
          ("Die Händler in der Hafenstraße befürchten während der Bauarbeiten von September bis Dezember weniger "
           "Kundschaft und fordern zusätzliche Lieferzonen."),
          ("Die Stadtverwaltung verspricht einen kostenlosen Pendelbus im Zehn-Minuten-Takt und bessere "
           "Beschilderung rund um die Schulen."))
SPANISH = (("El pleno municipal aprobó el lunes por la noche el nuevo plan de tráfico del centro, tras tres horas "
            "de intenso debate y dos interrupciones de la sesión."),
           ("Los comerciantes de la calle del Puerto temen perder clientes durante las obras, previstas de "
            "septiembre a diciembre, y piden más zonas de carga y descarga."),
           ("El ayuntamiento promete un autobús lanzadera gratuito cada diez minutos y mejor señalización junto a "
            "los colegios a partir del inicio del curso."))
ITALIAN = (("Il consiglio comunale ha approvato lunedì sera il nuovo piano del traffico del centro, dopo tre ore di "
            "acceso dibattito e due sospensioni della seduta."),
           ("I commercianti di via del Porto temono un calo di clienti durante i lavori, previsti da settembre a "
            "dicembre, e chiedono più stalli di carico e scarico."),
           ("Il comune promette una navetta gratuita ogni dieci minuti e una segnaletica migliore vicino alle "
            "scuole dall'inizio dell'anno scolastico."))

LANGUAGES = [
    pytest.param("fr", "Le nouveau plan de circulation adopté", FRENCH,
                 ('<p class="article-meta">Par Claire Martin | Publié le 27 juillet 2021 à 09h15, '
                  'mis à jour le 28 juillet 2021 à 11h02</p>'),
                 "Europe/Paris", datetime(2021, 7, 27, 9, 15), datetime(2021, 7, 28, 11, 2), "minute", id="fr"),
    pytest.param("en-US", "New downtown traffic plan approved", ENGLISH,
                 '<div class="byline-dateline"><span class="byline">By Dana Reyes</span> '
                 '<span class="dateline">April 28, 2019 at 6:01 am</span> '
                 '<span class="updated">Updated April 29, 2019 at 3:33 pm</span></div>',
                 "America/New_York", datetime(2019, 4, 28, 6, 1), datetime(2019, 4, 29, 15, 33), "minute", id="en"),
    pytest.param("de", "Neuer Verkehrsplan beschlossen", GERMAN,
                 '<div class="meta"><span class="author">Von Jonas Weber</span> · '
                 '<span>Veröffentlicht am 28.07.2021, 09:15 Uhr</span> · '
                 '<span>Aktualisiert am 29.07.2021, 11:02 Uhr</span></div>',
                 "Europe/Berlin", datetime(2021, 7, 28, 9, 15), datetime(2021, 7, 29, 11, 2), "minute", id="de"),
    pytest.param("es", "Aprobado el nuevo plan de tráfico", SPANISH,
                 '<p class="fecha">Publicado el 28 de julio de 2021 · Actualizado el 30 de julio de 2021</p>',
                 "Europe/Madrid", datetime(2021, 7, 28), datetime(2021, 7, 30), "day", id="es"),
    pytest.param("it", "Approvato il nuovo piano del traffico", ITALIAN,
                 '<div class="info-articolo"><span>Pubblicato il 28 luglio 2021 alle 09:15</span>'
                 '<span>Aggiornato il 28 luglio 2021 alle 18:40</span></div>',
                 "Europe/Rome", datetime(2021, 7, 28, 9, 15), datetime(2021, 7, 28, 18, 40), "minute", id="it"),
]


@pytest.mark.parametrize("lang, title, body, dateline, zone, published, updated, precision", LANGUAGES)
def test_visible_update_line(lang: str, title: str, body: tuple[str, ...], dateline: str, zone: str,
                             published: datetime, updated: datetime, precision: str) -> None:
    """No structured dates: the visible line is read in the site's zone, and is not article text."""
    got = read(page(article=article_html(body), header=dateline, lang=lang, title=title),
               url="https://news.example.test/local/traffic-plan", timezone=zone)
    assert (got.published, got.updated, got.date_precision) == (
        published.replace(tzinfo=ZoneInfo(zone)), updated.replace(tzinfo=ZoneInfo(zone)), precision)
    assert (got.title, got.body) == (title, body)


def test_structured_dates_win_over_the_visible_line() -> None:
    header = '<p class="meta">Updated March 9, 2024 at 10:00 am</p>'
    got = read(page(ld(NEWS_ARTICLE), header=header))
    assert got.updated == datetime(2024, 3, 5, 17, 45, tzinfo=timezone(timedelta(hours=1)))


def test_a_visible_update_line_completes_structured_data_without_date_modified() -> None:
    data = {k: v for k, v in NEWS_ARTICLE.items() if k != "dateModified"}
    header = '<p class="meta">Last updated: 6 March 2024, 14:20 GMT</p>'
    got = read(page(ld(data), header=header, lang="en-GB"))
    assert got.updated == datetime(2024, 3, 6, 14, 20, tzinfo=UTC)


def test_a_numeric_french_update_line_alone() -> None:
    header = '<div class="date">Mis à jour le 28/07/2021 à 11h02</div>'
    got = read(page(article=article_html(FRENCH), header=header, lang="fr", title="Plan de circulation"),
               url="https://journal.example.test/ville/plan", timezone="Europe/Paris")
    assert (got.published, got.updated) == (None, datetime(2021, 7, 28, 11, 2, tzinfo=PARIS))


def test_relative_dates_are_never_read() -> None:
    """"Updated 2 hours ago" would give another date at every re-extraction of the same stored page."""
    got = read(page(header='<p class="meta">Updated 2 hours ago</p>'), url="https://news.example.test/a/story")
    assert (got.published, got.updated) == (None, None)


def test_prose_that_mentions_an_update_is_no_dateline() -> None:
    prose = "The port authority updated its forecast on 2 March 2024 to take the strike into account."
    body = (BODY[0], prose, *BODY[1:])
    got = read(page(article=article_html(body)))
    assert got.updated is None
    assert got.body == body


# ---------------------------------------------------------------- chrome

def chrome_page(seed: int) -> str:
    """Everything around an article that a news site changes between two fetches of an unchanged article."""
    rng = random.Random(seed)
    others = ["Ferry fares rise again", "Storm closes the coast road", "New mayor sworn in",
              "Fish market moves to the old depot", "Bridge repairs delayed to June"]
    rng.shuffle(others)
    most_read = "".join(f'<li><a href="/{i}">{t}</a></li>' for i, t in enumerate(others))
    related = "".join(f'<li><a href="/r{i}">{t}</a></li>' for i, t in enumerate(reversed(others)))
    comments, shares = rng.randint(2, 999), rng.randint(2, 9999)
    header = (f'<div class="share-bar"><a href="#">Share</a> <span class="share-count">{shares} shares</span></div>'
              f'<a class="comment-count" href="#comments">{comments} comments</a>')
    text = article_html(BODY[:3]) + f"""
<aside class="inline-related"><h3>Read more</h3><ul>{related}</ul></aside>
{article_html(BODY[3:])}
<p>Share</p>
<div class="newsletter-signup"><h3>Get the morning briefing</h3><p>Sign up to receive the {rng.randint(5, 9)} stories
you need to read every morning in your inbox.</p><form><input type="email"><button>Subscribe</button></form></div>"""
    after = f"""<section class="most-read"><h2>Most read</h2><ol>{most_read}</ol></section>
<section><h2>Les plus lus</h2><ul>{most_read}</ul></section>
<div id="cookie-banner" class="consent"><p>We use cookies to improve your experience. By continuing to browse you
accept our use of cookies ({rng.randint(10, 99)} partners).</p><button>Accept</button></div>"""
    return page(ld(NEWS_ARTICLE), article=text, header=header, after=after)


def test_chrome_is_never_article_text() -> None:
    got = read(chrome_page(1))
    assert got.body == BODY
    assert (got.title, got.lead, got.author, got.captions) == (TITLE, LEAD, "Maria Jensen, Tom Okafor", ())


def test_rotating_chrome_changes_nothing() -> None:
    """Counters, shuffled "most read" lists, a cookie box: another fetch of the same article reads the same."""
    first = comparable_text(read(chrome_page(1)))
    for seed in range(2, 6):
        assert comparable_text(read(chrome_page(seed))) == first


def test_a_short_article_in_a_wrapper_named_like_chrome_is_read() -> None:
    text = f'<div class="post-body has-comments share-enabled">{article_html(BODY[:2])}</div>'
    assert read(page(ld(NEWS_ARTICLE), article=text)).body == BODY[:2]


def test_a_list_of_links_after_the_article_is_chrome_its_own_lists_are_not() -> None:
    own_list = "<ul><li>the wage rise of 6 percent over two years;</li><li>at most four night shifts a week;</li>" \
               "<li>a review of pensions in April.</li></ul>"
    links = "".join(f'<li><a href="/story/{i}">Another story about the port, number {i}</a></li>' for i in range(5))
    more = f"<h3>More from the Gazette</h3><ul>{links}</ul>"
    text = article_html(BODY[:2]) + own_list + article_html(BODY[2:]) + more
    got = read(page(ld(NEWS_ARTICLE), article=text))
    assert got.body == BODY[:2] + ("the wage rise of 6 percent over two years;", "at most four night shifts a week;",
                                   "a review of pensions in April.") + BODY[2:]


def test_a_paragraph_trafilatura_skips_between_two_others_is_body() -> None:
    """A short paragraph whose words are partly links: trafilatura takes it for a line of links and leaves it
    out, and an edit there would go unseen."""
    linked = '<p><a href="/topics/port">Port</a> and <a href="/topics/union">union</a> agree today.</p>'
    text = article_html(BODY[:2]) + linked + article_html(BODY[2:])
    for precision in (True, False):   # what the reading alone misses
        assert "agree today" not in (trafilatura.extract(page(article=text), favor_precision=precision) or "")
    got = read(page(ld(NEWS_ARTICLE), article=text))
    assert got.body == (*BODY[:2], "Port and union agree today.", *BODY[2:])


def test_a_box_trafilatura_leaves_out_between_paragraphs_stays_out() -> None:
    """Text in a wide gap of the reading (a box of teasers without a chrome name), a line the page shows
    twice (a widget), a line of links: none of it is the article's."""
    box = "".join(f"<div><b>Also in World</b><div>Story {i} of the day, told in a few more words</div></div>"
                  for i in range(3))
    widget = '<div class="x9">Listen to this article in our app now</div>'
    link = '<div><a href="/report.pdf">Read the full report on the harbour</a> (PDF)</div>'
    text = (article_html(BODY[:2]) + box + article_html(BODY[2:3]) + link + article_html(BODY[3:4]) + widget
            + article_html(BODY[4:5]) + widget + article_html(BODY[5:]))
    got = read(page(ld(NEWS_ARTICLE), article=text))
    assert got.body == BODY


@pytest.mark.parametrize("text, words", [
    ("港口和工会今天达成协议。", 11),             # Chinese puts no spaces between words: one a character
    ("谷歌在2014年收购", 7), ("ポートと組合", 6), ("항구 노조", 4),
    ("Port and union agree today.", 5), ("l'été arrive", 3), ("", 0)])
def test_words_are_counted_in_every_script(text: str, words: int) -> None:
    """What decides whether a block between two paragraphs is prose or a stray label ("More", "Next")."""
    assert word_count(text) == words


# ---------------------------------------------------------------- captions

def test_captions_within_the_text_without_credits() -> None:
    figures = [
        ('<figure><img src="/a.jpg" alt=""><figcaption>Containers stacked on the north quay on Monday. '
         '<span class="credit">Photo: Lena Berg / Harbour Press</span></figcaption></figure>'),
        ('<figure class="wp-caption"><img src="/b.jpg" alt=""><figcaption>The union vote at the dockers\' hall. '
         '© Harbour Press</figcaption></figure>'),
    ]
    text = article_html(BODY[:2]) + figures[0] + article_html(BODY[2:5]) + figures[1] + article_html(BODY[5:])
    hero = '<figure class="hero"><img src="/c.jpg" alt=""><figcaption>Cranes at dawn.</figcaption></figure>'
    teaser = ('<div class="related-stories"><a href="/x"><figure><img src="/d.jpg" alt=""><figcaption>Ferry at sea'
              '</figcaption></figure>Ferry fares rise again</a></div>')
    got = read(page(ld(NEWS_ARTICLE), article=text, header=hero, after=teaser))
    assert got.captions == ("Containers stacked on the north quay on Monday.", "The union vote at the dockers' hall.")
    assert got.body == BODY


def test_wordpress_classic_captions_even_in_a_list() -> None:
    """<div class="wp-caption"><img><p class="wp-caption-text">: a caption, also in an item of the article's own
    list, never a paragraph of the body."""
    figure = ('<div class="wp-caption aligncenter"><a href="/a.png"><img src="/a.png" alt=""></a>'
              '<p class="wp-caption-text">The new crane on the north quay.</p></div>')
    items = f"<ul><li>{figure}</li><li>More cranes arrive in May.</li></ul>"
    got = read(page(ld(NEWS_ARTICLE), article=article_html(BODY[:3]) + items + article_html(BODY[3:])))
    assert got.captions == ("The new crane on the north quay.",)
    assert "The new crane on the north quay." not in got.body


def test_captions_of_the_marked_article_body() -> None:
    """A figure floated before the first paragraph, inside what microdata marks as the article's body."""
    figure = ('<figure class="pull-right"><img src="/a.jpg" alt=""><figcaption><span class="caption">The north quay '
              'on Monday.</span><span class="credit">Harbour Press</span></figcaption></figure>')
    got = read(page(ld(NEWS_ARTICLE), article=f'<div itemprop="articleBody">{figure}{article_html()}</div>'))
    assert (got.captions, got.body) == (("The north quay on Monday.",), BODY)


# ---------------------------------------------------------------- keys and URLs

@pytest.mark.parametrize("url, key", [
    ("HTTPS://WWW.Example-News.TEST/World/Story-1234", "https://www.example-news.test/World/Story-1234"),
    ("https://example.test/news/story/", "https://example.test/news/story"),
    ("https://example.test/news/story#comments", "https://example.test/news/story"),
    ("https://example.test/news/story?utm_source=rss&utm_medium=feed", "https://example.test/news/story"),
    ("https://example.test/news/story?fbclid=IwAR0abc&id=42&gclid=xyz", "https://example.test/news/story?id=42"),
    ("https://example.test/a?page=2&UTM_Campaign=x&ref_=nav", "https://example.test/a?page=2&ref_=nav"),
    ("http://example.test:80/a/", "http://example.test/a"),
    ("https://example.test:8443/a", "https://example.test:8443/a"),
    ("https://example.test/", "https://example.test"),
])
def test_key_normalisation(url: str, key: str) -> None:
    assert normalise_url(url) == key
    assert normalise_url(key) == key


def test_key_and_url_come_from_the_canonical_link() -> None:
    head = f'<link rel="canonical" href="{URL}">'
    got = read(page(head), url=URL.rstrip("/") + "?utm_source=newsletter&utm_campaign=daily#top")
    assert (got.key, got.url) == (KEY, URL)


@pytest.mark.parametrize("canonical", ["https://www.example-news.test/", "https://syndication.example.org/story/9"])
def test_a_canonical_link_to_another_page_is_not_this_article(canonical: str) -> None:
    """A canonical link to the home page (a template's mistake) or to another site (syndicated copy)."""
    got = read(page(f'<link rel="canonical" href="{canonical}">'))
    assert (got.key, got.url) == (KEY, URL)


# ---------------------------------------------------------------- no article

def test_a_page_without_an_article_is_refused() -> None:
    html = """<!DOCTYPE html><html lang="en"><head><title>Maintenance | The Harbour Gazette</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world/">World</a></li></ul></nav>
<div class="notice"><p>We'll be back soon.</p></div>
<footer><p>© 2024 The Harbour Gazette</p></footer></body></html>"""
    with pytest.raises(ExtractionError, match="generic/3: no article text"):
        read(html)


def test_a_listing_page_is_refused() -> None:
    listing = {"@context": "https://schema.org", "@type": "CollectionPage", "name": "World"}
    teasers = "".join(f'<article class="teaser"><h2><a href="/s{i}">Story {i}</a></h2><p>{BODY[i % 3]}</p></article>'
                      for i in range(6))
    html = f"""<!DOCTYPE html><html lang="en"><head><title>World | The Harbour Gazette</title>{ld(listing)}</head>
<body><h1>World</h1><main>{teasers}</main></body></html>"""
    with pytest.raises(ExtractionError, match=r"generic/3: a listing page \(CollectionPage\), not an article"):
        read(html)


def test_reading_leaves_the_page_as_it_was() -> None:
    """The same parsed page read twice reads the same: extraction never prunes the caller's tree."""
    sel = Selector(text=chrome_page(1))
    assert extract_generic(sel, URL) == extract_generic(sel, URL)


def test_a_page_without_any_title_is_refused() -> None:
    html = f"<html><body><div>{article_html()}</div></body></html>"
    with pytest.raises(ExtractionError, match="generic/3: no title"):
        read(html)

"""Read the article on any news page, with no knowledge of its site: the fallback for every page no adapter
recognises, and the reader of sites configured only by their URL.

Each field comes from the strongest evidence the page has: JSON-LD (the article object, also inside `@graph`,
lists and `mainEntity`), microdata (`itemprop`), OpenGraph and other <meta> tags, `<time datetime>`, then the
visible page (structured.py reads the first three, datelines.py the visible dates). The body is
trafilatura's, kept as paragraphs and intertitles, without the page's chrome (body.py).

The extractor's name carries trafilatura's version: another version may cut paragraphs differently, and
newsmon must know that a different text came from a different extractor, not from the site.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from lxml.etree import XPath
from lxml.html import HtmlElement
from parsel import Selector

from monitor.extract.body import TRAFILATURA, Layout, body_blocks, figure_captions, without_repeats
from monitor.extract.datelines import Stamp, is_date_line, parse_declared, visible_dates
from monitor.extract.integrity import ExtractionError
from monitor.extract.structured import LISTING_TYPES, Declared, clean_author, json_ld, meta, meta_tags, microdata
from monitor.extract.text import clean, comparable
from monitor.extract.urls import normalise_url
from monitor.items import ExtractedArticle

# Raised whenever a page may read otherwise, so that an article stored by an older reading is compared like
# with like (store/ingest.py _switch), never edited. 2: text in narrow gaps of trafilatura's reading, WordPress
# captions; 3: a logo's <h1> and a heading's permalink mark left out of the title.
NAME = "generic/3"
EXTRACTOR = f"{NAME}+{TRAFILATURA}"
DEFAULT_TIMEZONE = "UTC"   # for dates a page writes without an offset, when the site's zone is not configured

_RE = {"re": "http://exslt.org/regular-expressions"}


def is_generic(extractor: str) -> bool:
    """Whether a stored extractor name is this extractor's (any version)."""
    return extractor.split("/", 1)[0] == NAME.split("/", 1)[0]
_H1 = XPath("//h1")
_HOME = re.compile(r"^(?=.)(?:(?:https?:)?//[^/?#]+)?/?(?:index\.\w+)?$", re.IGNORECASE)
_TITLE = XPath("string(//title)")
_HTML_LANG = XPath("string(/html/@lang)")
_CANONICAL = XPath('//link[translate(@rel, "CANONICAL", "canonical") = "canonical"]/@href')
_TIMES = XPath("//time[@datetime]")
_DEK = XPath(
    "//*[self::p or self::div or self::h2 or self::span or self::section]"
    "[re:test(concat(@class, ' ', @id), '(?:^|[\\s_-])(?:standfirst|dek|deck|chap[oô]|chapeau|lede|lead|intro"
    "|sub-?title|sub-?head(?:line)?|summary|excerpt|abstract)(?:$|[\\s_-])', 'i')]"
    "[not(ancestor::nav or ancestor::aside or ancestor::footer or ancestor::figure or ancestor::a or ancestor::li)]"
    "[not(.//img or .//figure or .//p[2])]",
    namespaces=_RE)
_DEK_WORDS = (4, 120)
_READING_TIME = re.compile(r"\b\d+\s*(?:min|mins|minutes?)\b", re.IGNORECASE)   # "11 minute read", "3 min"
_BYLINE = XPath(
    "//*[@rel='author' or re:test(concat(@class, ' ', @id), '(?:^|[\\s_-])(?:byline|author-?name|author)"
    "(?:$|[\\s_-])', 'i')][not(ancestor::nav or ancestor::aside or ancestor::footer or ancestor::li"
    " or ancestor::*[re:test(@class, 'comment', 'i')])]",
    namespaces=_RE)
# Where a byline's date starts: a digit, or a month name before one ("March 11, 2015", "11 mars 2015").
_BYLINE_DATE = re.compile(r"\s(?=\d)|\s(?=(?:jan|feb|f[ée]v|mar|apr|avr|may|mai|jun|juin|jul|juil|aug|ao[ûu]"
                          r"|sep|oct|nov|d[ée]c)[a-zé]*\.?\s+\d)|\s*[|·•]\s*", re.IGNORECASE)
_TITLE_SEPARATORS = re.compile(r"\s+(?:[|–—:·»/-]|::|--)\s+|\s*[｜：]\s*")   # fullwidth ones need no spaces
# A headline found inside another source's longer title confirms it only when it is this long: "CNN" is in
# every title of cnn.com.
_MIN_CONTAINED_HEADLINE = 12
_URL_DATE = re.compile(r"/(?P<year>(?:19|20)\d\d)[/-](?P<month>[01]?\d)[/-](?P<day>[0-3]?\d)(?=[/_.-]|$)")
# A page that declares no article (JSON-LD, microdata, og:type) and holds less text than this is a notice (an
# error, a maintenance, a paywall page), not an article; the shortest real articles measured hold 550.
_MIN_TEXT_WITHOUT_MARKUP = 200


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the page declares about its article, strongest source first."""

    sources: tuple[Declared, ...]
    types: frozenset[str]        # every schema.org type the JSON-LD names

    def first(self, field: str) -> str:
        return next((value for d in self.sources if (value := getattr(d, field))), "")

    @property
    def is_article(self) -> bool:
        return any(d.is_article for d in self.sources)


def read_evidence(root: HtmlElement) -> Evidence:
    ld, types = json_ld(root)
    sources = [d for d in (ld, microdata(root)) if d is not None] + [meta(meta_tags(root))]
    return Evidence(tuple(sources), types)


def extract_generic(sel: Selector, url: str, *, timezone: str = DEFAULT_TIMEZONE) -> ExtractedArticle:
    """Read the article on any page. Raises ExtractionError naming what is missing when the page holds none.

    `timezone` is the zone the site writes dates in when it gives no offset (bind it per site with
    functools.partial: the signature stays that of every other extractor)."""
    root: HtmlElement = sel.root
    evidence = read_evidence(root)
    if not evidence.is_article and (listing := evidence.types & LISTING_TYPES):
        raise ExtractionError(f"{NAME}: a listing page ({', '.join(sorted(listing))}), not an article")
    title = article_title(root, evidence)
    if not title:
        raise ExtractionError(f"{NAME}: no title")
    lang = _HTML_LANG(root).strip()
    blocks = [b for b in body_blocks(root, url, evidence.first("body")) if not is_date_line(b, lang)]
    layout = Layout.of(root, blocks, lambda text: repeats(text, title))
    captions = figure_captions(layout)
    lead = article_lead(layout, evidence, blocks, title)
    body = tuple(without_repeats(blocks, headlines=[title, *(h.text_content() for h in _H1(root))],
                                 captions=captions))
    if not body:
        raise ExtractionError(f"{NAME}: no article text")
    if not evidence.is_article and (length := len(" ".join(body))) < _MIN_TEXT_WITHOUT_MARKUP:
        raise ExtractionError(f"{NAME}: no article text (only {length} characters, and no article markup)")
    canonical = canonical_url(root, evidence, url)
    published, updated, precision = article_dates(root, evidence, canonical, timezone)
    return ExtractedArticle(
        key=normalise_url(canonical), url=canonical, edition=None, section=evidence.first("section") or None,
        title=title, lead=lead, author=article_author(root, evidence), published=published, updated=updated,
        date_precision=precision, body=body, captions=captions, extractor=EXTRACTOR)


# ---------------------------------------------------------------- title

def article_title(root: HtmlElement, evidence: Evidence) -> str:
    """The headline, as most of the page's sources give it.

    Candidates: JSON-LD headline and name, microdata, OpenGraph (the declared ones, strongest first), the
    page's <h1>s, and <title>, each without a site name they add ("Headline | The Daily"). The one most other
    sources repeat wins (a blog's name in its <h1> is repeated by <title> alone, "Blog: Post title"; the
    post's title by <title> and the metadata); between equals, one the metadata gives or repeats (a site's
    logo in an <h1> has only <title> for it), then an <h1>, then the strongest evidence. A declared headline
    that a confirmed <h1> extends is a shortened version for search engines: the <h1> is what readers see and
    editors rewrite. A lone <h1> is a logo ("CNN") or a section's name as often as a headline, and a lone
    JSON-LD headline may hold a description (Wikipedia's): with no agreement at all, the strongest declared
    headline, then <title>."""
    site = evidence.first("site_name")
    candidates = [(origin, without_site_name(text, site)) for origin, text in title_candidates(root, evidence)]
    candidates = [(origin, text) for origin, text in candidates if text]
    confirming = [{other_origin for other_origin, other in candidates
                   if other_origin != origin and repeats(other, text)} for origin, text in candidates]
    votes = [len(sources) for sources in confirming]
    if not any(votes):
        unconfirmed = sorted(candidates, key=lambda candidate: ("title", "h1").index(candidate[0])
                             if candidate[0] in ("title", "h1") else -1)
        return unconfirmed[0][1] if unconfirmed else ""
    declared = {d.source for d in evidence.sources}
    logos = {h1_text(h1) for h1 in _H1(root)[:3] if _links_home(h1)}
    best = max(range(len(candidates)), key=lambda i: (
        votes[i], bool(({candidates[i][0]} | confirming[i]) & declared), candidates[i][1] not in logos,
        candidates[i][0] == "h1", -i))
    origin, title = candidates[best]
    if origin != "h1":
        title = next((text for (other_origin, text), vote in zip(candidates, votes, strict=True)
                      if other_origin == "h1" and vote and repeats(text, title) and len(text) > len(title)), title)
    return title


def h1_text(h1: HtmlElement) -> str:
    """An <h1>'s text, without the permalink mark documentation sites end headings with ("History¶")."""
    return clean(h1.text_content()).rstrip("¶§🔗 ")


def _links_home(h1: HtmlElement) -> bool:
    """An <h1> that is a link to the site's home page is its logo ("/", "index.html", "https://site/"); an
    article's own headline links to itself, if anywhere."""
    text = len(clean(h1.text_content()))
    links = [a for a in (*h1.iterancestors("a"), *h1.iter("a")) if _HOME.match(a.get("href", "#").strip())]
    return bool(text) and sum(len(clean(a.text_content())) for a in links) >= text / 2


def title_candidates(root: HtmlElement, evidence: Evidence) -> list[tuple[str, str]]:
    """(where from, text) of every headline the page gives, strongest evidence first."""
    found = []
    for d in evidence.sources:
        found.append((d.source, d.headline))
        if d.name and d.name != d.headline:
            found.append((d.source, d.name))
    found += [("h1", h1_text(el)) for el in _H1(root)[:3]]
    found.append(("title", clean(_TITLE(root))))
    return found


def repeats(other: str, headline: str) -> bool:
    """Whether `other` gives `headline`: the same words, give or take a site's or section's name around one of
    them ("Headline", "Headline - World - The Daily"), or the whole headline within a longer text (a <title>
    with a section and the site's name). Not the other way round: what a headline holds confirms nothing, and
    a <title> holding the logo's "The Daily" as well as the headline is neither."""
    if headline_forms(other) & headline_forms(headline):
        return True
    key = comparable(headline)
    return len(key) >= _MIN_CONTAINED_HEADLINE and f" {key} " in f" {comparable(other)} "


def headline_forms(title: str) -> set[str]:
    """A headline as a page may show it: whole, or without a name on either side ("Site | Headline", "Headline
    - Site"). The part kept is the longer one: the shorter is the name; were it kept, a logo in an <h1> ("V8")
    would pass for the headline of "Outside the web: WebAssembly · V8"."""
    forms = {comparable(title)}
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) > 1:
        forms.add(max(comparable(title[: title.rfind(parts[-1])]), comparable(title[len(parts[0]):]), key=len))
    return {form for form in forms if form}


def without_site_name(title: str, site: str) -> str:
    """'Headline | The Daily' -> 'Headline' when 'The Daily' is the site's name."""
    parts = _TITLE_SEPARATORS.split(title)
    if not site or len(parts) < 2:
        return title
    if comparable(parts[-1]) == comparable(site):
        return clean(title[: title.rfind(parts[-1])].rstrip(" |–—:·»/-"))
    if comparable(parts[0]) == comparable(site):
        return clean(title[len(parts[0]):].lstrip(" |–—:·»/-"))
    return title


# ---------------------------------------------------------------- lead, author

def article_lead(layout: Layout, evidence: Evidence, blocks: list[str], title: str) -> str:
    """The standfirst: a visible dek/standfirst/chapo element between the headline and the text, else the
    declared description; but never text the body holds (its start, a truncation of it as meta descriptions
    often are, or one of its paragraphs). A standfirst that trafilatura reads as the first paragraph stays
    there, once: were it moved to the lead, its removal from the page would go unseen behind a description
    that repeats it."""
    deks = (text for el in _DEK(layout.root) if layout.between_headline_and_text(el)
            and _DEK_WORDS[0] <= len((text := clean(el.text_content())).split()) <= _DEK_WORDS[1]
            and not _READING_TIME.search(text))
    start, paragraphs = comparable(" ".join(blocks)), {comparable(b) for b in blocks}
    for candidate in (next(deks, ""), *(d.description for d in evidence.sources)):
        key = comparable(candidate)
        if candidate.rstrip().endswith(("…", "...")):
            key = key.rpartition(" ")[0]     # cut short by the site, maybe in the middle of a word
        if key and key != comparable(title) and not start.startswith(key) and key not in paragraphs:
            return candidate
    return ""


def article_author(root: HtmlElement, evidence: Evidence) -> str:
    """Author names joined as every adapter joins them ("A, B"): declared, else a visible byline."""
    for d in evidence.sources:
        if d.authors:
            return ", ".join(d.authors)
    for el in _BYLINE(root):
        if name := byline_name(el.text_content()):
            return name
    return ""


def byline_name(text: str) -> str:
    """'By GILLIAN MOHNEY March 11, 2015 3:04 PM' -> 'GILLIAN MOHNEY'; "" when what is left reads as no name
    (a teaser's title in a box classed "author", a date alone)."""
    name = clean_author(_BYLINE_DATE.split(clean(text), maxsplit=1)[0])
    return name if name and len(name.split()) <= 8 and not any(ch.isdigit() for ch in name) else ""


# ---------------------------------------------------------------- dates

def article_dates(root: HtmlElement, evidence: Evidence, url: str,
                  timezone: str) -> tuple[datetime | None, datetime | None, str]:
    """(published, updated, precision): declared dates first, then <time datetime>, then the visible lines,
    then (publication only) a date in the URL.

    Where declared sources disagree on the publication, the earliest wins: a site that republishes an article
    moves one of its dates (og's, say), rarely all, and the first publication is the one that stays put.
    The precision is "day" when the publication date (or, without one, the update) is given without a time:
    the revisit policy then knows the article may have appeared at any hour of that day."""
    declared = [stamp for d in evidence.sources if (stamp := parse_declared(d.published, timezone))]
    published = min(declared, key=lambda stamp: stamp.at) if declared else None
    updated = next((stamp for d in evidence.sources if (stamp := parse_declared(d.modified, timezone))), None)
    if published is None or updated is None:
        times = time_elements(root, timezone)
        published, updated = published or times[0], updated or times[1]
    if published is None or updated is None:
        visible = visible_dates(root, _HTML_LANG(root).strip(), timezone)
        published, updated = published or visible.published, updated or visible.updated
    published = published or url_date(url, timezone)
    reference = published or updated
    precision = "minute" if reference is None or reference.has_time else "day"
    return (published.at if published else None), (updated.at if updated else None), precision


def time_elements(root: HtmlElement, timezone: str) -> tuple[Stamp | None, Stamp | None]:
    """<time datetime> outside links and lists (teasers): one marked as an update (class, itemprop) is the
    update, the first other one the publication."""
    published = updated = None
    for el in _TIMES(root):
        if any(a.tag in ("a", "li", "nav", "aside", "footer") for a in el.iterancestors()):
            continue
        if (stamp := parse_declared(el.get("datetime", ""), timezone)) is None:
            continue
        marks = " ".join(filter(None, (el.get("class"), el.get("itemprop"), el.getparent().get("class"))))
        if updated is None and re.search(r"updat|modif", marks, re.IGNORECASE):
            updated = stamp
        elif published is None:
            published = stamp
    return published, updated


def url_date(url: str, timezone: str) -> Stamp | None:
    """The day many sites put in their article URLs (/2023/11/17/, /2023-11/17/): the last resort for the date
    of publication."""
    match = _URL_DATE.search(urlsplit(url).path)
    if not match:
        return None
    try:
        day = datetime(int(match["year"]), int(match["month"]), int(match["day"]), tzinfo=ZoneInfo(timezone))
    except ValueError:
        return None
    return Stamp(day, has_time=False)


# ---------------------------------------------------------------- URL

def canonical_url(root: HtmlElement, evidence: Evidence, url: str) -> str:
    """The page's canonical URL (<link rel=canonical>, og:url, the JSON-LD url) when it names this page, else
    the URL fetched. A canonical link to another host or to the home page is a site's mistake or a
    syndicated copy's origin, not this article."""
    for href in [*_CANONICAL(root), evidence.first("url")]:
        if href and same_page(candidate := urljoin(url, href.strip()), url):
            return candidate
    return url


def same_page(candidate: str, url: str) -> bool:
    a, b = urlsplit(candidate), urlsplit(url)
    if a.scheme not in ("http", "https") or _site(a.hostname) != _site(b.hostname):
        return False
    return a.path.strip("/") != "" or b.path.strip("/") == ""


def _site(host: str | None) -> str:
    """www.example.com, m.example.com and example.com are one site."""
    host = (host or "").lower()
    return host.removeprefix("www.").removeprefix("m.").removeprefix("amp.")

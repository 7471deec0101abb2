"""Turn an article page of a lepetitjournal-style site into an `ExtractedArticle`.

Two layouts are known: the Drupal-era one (classes like `field--name-body`, dates written in French
words) and the Next.js-era one (JSON-LD `NewsArticle`, `__NEXT_DATA__`, hashed CSS class names).
Structured data is preferred where the page has it, the DOM is the fallback, field by field.

Only the article is read: share counters, players, "Flash infos", "Les plus lus", related-article
blocks, ads, banners and footers are never looked at, so they can never show up as an edit.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from urllib.parse import urljoin, urlsplit

from lxml.etree import XPath
from lxml.html import HtmlElement
from parsel import Selector

from monitor.extract.dates import parse_dateline, parse_iso
from monitor.extract.integrity import ExtractionError
from monitor.extract.structured import walk_ld
from monitor.items import ExtractedArticle

# /{edition}/{section}/.../{slug}-{id}: the id is stable, the slug follows the title.
_ARTICLE_PATH = re.compile(r"^/(?P<edition>[a-z][a-z-]*)/(?:(?P<section>[a-z0-9-]+)/)?(?:[^/]*/)*(?:[^/]*-)?(?P<id>\d{4,})/?$")
# What a browser collapses (no-break spaces are kept as published): a run of two or more, or one that is not a
# plain space. Lone spaces are left alone, not replaced by themselves: prose is full of them, and replacing each
# one was a fifth of an extraction's time. The pattern starts with one character class (the run's first
# character, then whether it is a run) so that `re` looks for where a match can start in C: written as two
# alternatives it tried a match at every character.
_HTML_SPACE = re.compile(r"[ \t\n\r\f](?:(?<=[\t\n\r\f])|(?=[ \t\n\r\f]))[ \t\n\r\f]*")
# Blocks inside an article body that are not the article: inline "read also" boxes, embeds, ads.
_NOT_ARTICLE = re.compile(r"related|embedded-entity|InlineRelated|advert|ad-slot|share|newsletter|promo", re.I)
_SKIPPED_TAGS = frozenset({"script", "style", "aside", "iframe", "noscript", "form", "button", "nav", "svg"})
_TEXT_BLOCKS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "blockquote", "li", "pre"})
_CREDIT = re.compile("credit", re.I)
# The words before a byline's name, in each layout.
_WRITTEN_BY = re.compile(r"^(?:écrit|ecrit)\s+par\s+", re.I)
_BY = re.compile(r"^par\s+", re.I)


# Each edition's local time: the site writes dates in it without saying so.
EDITION_TIMEZONES = {
    "cambodge": "Asia/Phnom_Penh", "bangkok": "Asia/Bangkok", "thailande": "Asia/Bangkok",
    "vietnam": "Asia/Ho_Chi_Minh", "ho-chi-minh-ville": "Asia/Ho_Chi_Minh", "hanoi": "Asia/Ho_Chi_Minh",
    "hong-kong": "Asia/Hong_Kong", "singapour": "Asia/Singapore", "tokyo": "Asia/Tokyo",
    "kuala-lumpur": "Asia/Kuala_Lumpur", "manille": "Asia/Manila", "jakarta": "Asia/Jakarta",
    "shanghai": "Asia/Shanghai", "pekin": "Asia/Shanghai", "taipei": "Asia/Taipei", "seoul": "Asia/Seoul",
    "bombay": "Asia/Kolkata", "dubai": "Asia/Dubai", "istanbul": "Europe/Istanbul",
    "londres": "Europe/London", "dublin": "Europe/Dublin", "lisbonne": "Europe/Lisbon",
    "new-york": "America/New_York", "montreal": "America/Toronto", "sao-paulo": "America/Sao_Paulo",
    "mexico": "America/Mexico_City", "buenos-aires": "America/Argentina/Buenos_Aires",
    "los-angeles": "America/Los_Angeles", "sydney": "Australia/Sydney", "melbourne": "Australia/Melbourne",
    "johannesburg": "Africa/Johannesburg", "casablanca": "Africa/Casablanca", "tunis": "Africa/Tunis",
}
DEFAULT_TIMEZONE = "Europe/Paris"  # the international edition and any edition not listed above


def edition_timezone(edition: str) -> str:
    return EDITION_TIMEZONES.get(edition, DEFAULT_TIMEZONE)


@dataclass(frozen=True, slots=True)
class ArticleUrl:
    key: str
    edition: str
    section: str | None


def parse_article_url(url: str) -> ArticleUrl | None:
    """The stable id, edition and section encoded in an article URL; None for other pages."""
    match = _ARTICLE_PATH.match(urlsplit(url).path)
    if not match:
        return None
    return ArticleUrl(match["id"], match["edition"], match["section"])


def clean_text(text: str) -> str:
    """Text as a reader sees it: HTML whitespace runs collapsed, no-break spaces kept."""
    # Most text has nothing to collapse (a paragraph is one line); `in` tells so in C, far faster than a search.
    if "  " in text or "\n" in text or "\t" in text or "\r" in text or "\f" in text:
        text = _HTML_SPACE.sub(" ", text)
    return text.strip(" \t\n\r\f\u00a0\u202f")


def element_text(el: HtmlElement, *, skip_class: re.Pattern[str] | None = None) -> str:
    """Visible text of an element, leaving out script/style and descendants whose class matches skip_class."""
    if not len(el):     # most paragraphs hold no markup: their text is all there is, no walk needed
        return clean_text(el.text or "")
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and child.tag not in _SKIPPED_TAGS and not (
                    skip_class and skip_class.search(child.get("class", ""))):
                if child.tag == "br":
                    parts.append(" ")
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return clean_text("".join(parts))


def undouble(text: str) -> str:
    """'A caption A caption' -> 'A caption': the Drupal layout prints the main image caption twice."""
    half, rest = divmod(len(text), 2)
    if rest and text[half] == " " and text[:half] == text[half + 1:]:
        return text[:half]
    return text


def first(*candidates: object) -> str:
    """The first non-empty string among candidates, cleaned."""
    for value in candidates:
        if isinstance(value, str) and (text := clean_text(value)):
            return text
    return ""


# ---------------------------------------------------------------- the page

# Class names the layouts look for, those of the elements they look for inside others included. Each
# `//*[contains(@class, …)]` costs a scan of the whole document (or of an element) with a string test per
# element, and an extraction needed ten: one scan for every element with a class, and plain substring tests
# in Python, take a fraction of that.
MARKERS = ("field--name-body", "field--name-field-chapo", "field--name-field-image", "article-meta",
           "Article_body", "chapo", "Author", "author", "date", "image-caption")
# The elements with a class, in document order. Written `//*[@class]`, libxml2 tests a predicate on every
# element, which took twice as long as the rest of the scan; the class attributes' parents are the same set.
_CLASSED = XPath("//@class/..")
_TITLE_FIELD = XPath('string(//h1//*[contains(@class, "field--name-title")])')
_H1 = XPath("string(//h1)")
# `/descendant::x[test]` selects what `//x[test]` does, but libxml2 walks only the elements for it, where for
# `//x[test]` it visits every node of the document: a third of the time for <meta>. Strings, not lxml's "smart"
# ones, which each make a Python object of their element.
_META = XPath("/descendant::meta[@property = $name]/@content", smart_strings=False)
_JSON_LD = XPath('/descendant::script[@type="application/ld+json"]/text()', smart_strings=False)
_NEXT_DATA = XPath('/descendant::script[@id="__NEXT_DATA__"]/text()', smart_strings=False)
_TIMES = XPath("//time/@datetime", smart_strings=False)
_CANONICAL = XPath('/descendant::link[@rel="canonical"]/@href', smart_strings=False)


class Page:
    """A parsed page, with the elements carrying each of the MARKERS classes found in one scan."""

    def __init__(self, sel: Selector):
        self.root: HtmlElement = sel.root
        classed = _CLASSED(self.root)
        classes = [el.get("class") for el in classed]
        everywhere = "\n".join(classes)     # a marker absent from the page costs one test, not one per element
        self.marked: dict[str, list[HtmlElement]] = {
            marker: [el for el, names in zip(classed, classes) if marker in names] if marker in everywhere else []
            for marker in MARKERS}

    def element(self, marker: str, within: str | None = None) -> HtmlElement | None:
        """The first element whose class contains `marker` (or, with `within`, the first element whose class
        contains `marker` inside one whose class contains `within`)."""
        if within is None:
            return next(iter(self.marked[marker]), None)
        for outer in self.marked[within]:
            # The marked elements are in document order, so the first inside `outer` is the first found there.
            for el in self.marked[marker]:
                if outer in el.iterancestors():
                    return el
        return None

    def text(self, marker: str, within: str | None = None) -> str:
        """All the text of that element, as XPath's string() gives it; "" when there is none."""
        el = self.element(marker, within)
        return el.text_content() if el is not None else ""

    def meta(self, prop: str) -> str | None:
        return next(iter(_META(self.root, name=prop)), None)

    @cached_property
    def next_data(self) -> list[str]:
        """The text of Next.js's __NEXT_DATA__ script: looked for once, as both the layout test and the
        reading of the Next.js layout need it."""
        return _NEXT_DATA(self.root)


# ---------------------------------------------------------------- structured data

def json_ld_article(page: Page) -> dict:
    """The page's schema.org NewsArticle (or Article) object, or {}."""
    for raw in _JSON_LD(page.root):
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        for obj in walk_ld(data):
            kind = obj.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and k.endswith("Article") for k in kinds):
                return obj
    return {}



def next_data_node(page: Page) -> dict:
    """The article node in Next.js's __NEXT_DATA__ (props.pageProps.node), or {}."""
    raw = next(iter(page.next_data), None)
    if not raw:
        return {}
    try:
        node = json.loads(raw).get("props", {}).get("pageProps", {}).get("node", {})
    except (ValueError, AttributeError):
        return {}
    return node if isinstance(node, dict) else {}


def ld_author(ld: dict) -> str:
    authors = ld.get("author")
    authors = authors if isinstance(authors, list) else [authors]
    names = [a.get("name") if isinstance(a, dict) else a for a in authors]
    return ", ".join(clean_text(n) for n in names if isinstance(n, str) and n.strip())


# ---------------------------------------------------------------- layouts

@dataclass(slots=True)
class Fields:
    title: str = ""
    lead: str = ""
    author: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    date_precision: str = "minute"
    body: tuple[str, ...] = ()
    captions: tuple[str, ...] = ()


def body_blocks(container: HtmlElement, caption_of: Callable[[HtmlElement], str]) -> tuple[list[str], list[str]]:
    """Paragraphs/intertitles and image captions of an article body, in reading order."""
    body: list[str] = []
    captions: list[str] = []

    def walk(el: HtmlElement) -> None:
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIPPED_TAGS or _NOT_ARTICLE.search(child.get("class", "")):
                continue
            if tag == "figure":
                if text := caption_of(child):
                    captions.append(text)
            elif tag in _TEXT_BLOCKS:
                if text := element_text(child, skip_class=_NOT_ARTICLE):
                    body.append(text)
            elif tag in ("ul", "ol", "div", "section", "span", "article"):
                walk(child)

    walk(container)
    return body, captions


def figcaption_without_credit(figure: HtmlElement) -> str:
    caption = next(figure.iter("figcaption"), None)     # the first in document order, as `.//figcaption`
    return element_text(caption, skip_class=_CREDIT) if caption is not None else ""


def drupal_fields(page: Page, timezone: str) -> Fields:
    """The Drupal-era layout: dates only as French text, main image caption printed twice."""
    f = Fields()
    # Each fallback is looked for only when what comes before it is empty: each is a query of the whole page.
    f.title = first(_TITLE_FIELD(page.root)) or first(_H1(page.root)) or first(page.meta("og:title"))
    f.lead = first(page.text("field--name-field-chapo"))
    author = first(page.text("author", within="article-meta"))
    f.author = _WRITTEN_BY.sub("", author)
    dateline = parse_dateline(page.text("date", within="article-meta"), timezone)
    f.published, f.updated, f.date_precision = dateline.published, dateline.updated, dateline.precision
    main_caption = undouble(first(page.text("image-caption", within="field--name-field-image")))
    if (container := page.element("field--name-body")) is not None:
        body, captions = body_blocks(container, figcaption_without_credit)
        f.body, f.captions = tuple(body), tuple(([main_caption] if main_caption else []) + captions)
    return f


def nextjs_fields(page: Page, timezone: str) -> Fields:
    """The Next.js-era layout: JSON-LD and __NEXT_DATA__ first, the rendered DOM as fallback."""
    ld, node = json_ld_article(page), next_data_node(page)
    f = Fields()
    # The DOM is looked in only when the structured data lacks the field.
    f.title = first(node.get("title"), ld.get("headline")) or first(_H1(page.root))
    f.lead = first(node.get("chapo")) or first(page.text("chapo"))
    f.author = (first(node.get("author"), ld_author(ld))
                or first(_BY.sub("", page.text("Author"))))
    times = _TIMES(page.root)
    f.published = (parse_iso(ld.get("datePublished"), timezone)
                   or parse_iso(page.meta("article:published_time"), timezone)
                   or (parse_iso(times[0], timezone) if times else None))
    f.updated = (parse_iso(ld.get("dateModified"), timezone)
                 or parse_iso(page.meta("article:modified_time"), timezone)
                 or (parse_iso(times[1], timezone) if len(times) > 1 else None))
    blocks = node.get("body")
    if isinstance(blocks, list) and blocks:
        f.body, f.captions = next_data_blocks(blocks)
    elif (container := page.element("Article_body")) is not None:
        body, captions = body_blocks(container, figcaption_without_credit)
        f.body, f.captions = tuple(body), tuple(captions)
    return f


def next_data_blocks(blocks: Iterable[object]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Body text and captions from __NEXT_DATA__'s typed blocks; related-article blocks are not the article."""
    body: list[str] = []
    captions: list[str] = []
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("text"), str):
            continue
        text = clean_text(block["text"])
        if not text:
            continue
        if block.get("type") in ("p", "h2", "h3", "quote", "paragraph", "heading", "blockquote"):
            body.append(text)
        elif block.get("type") in ("image", "figure"):
            captions.append(text)
    return tuple(body), tuple(captions)


@dataclass(frozen=True, slots=True)
class Layout:
    name: str                                   # recorded with every version: a change of layout is not an edit
    matches: Callable[[Page], bool]
    fields: Callable[[Page, str], Fields]


LAYOUTS: tuple[Layout, ...] = (
    Layout("lepetitjournal-nextjs/1",
           lambda page: bool(page.next_data or page.marked["Article_body"]),
           nextjs_fields),
    Layout("lepetitjournal-drupal/1",
           lambda page: bool(page.marked["field--name-body"]),
           drupal_fields),
)


def extract_article(sel: Selector, url: str) -> ExtractedArticle:
    """Read the article on a page. Raises ExtractionError naming what is missing when there is none."""
    where = parse_article_url(url)
    if where is None:
        raise ExtractionError(f"not an article URL: {url}")
    page = Page(sel)
    layout = next((layout for layout in LAYOUTS if layout.matches(page)), None)
    if layout is None:
        raise ExtractionError("no known article layout on the page")
    f = layout.fields(page, edition_timezone(where.edition))
    if not f.title:
        raise ExtractionError(f"{layout.name}: no title")
    if not f.body:
        raise ExtractionError(f"{layout.name}: empty body")
    return ExtractedArticle(
        key=where.key, url=canonical_url(page, url, where.key), edition=where.edition, section=where.section,
        title=f.title, lead=f.lead, author=f.author, published=f.published, updated=f.updated,
        date_precision=f.date_precision, body=f.body, captions=f.captions, extractor=layout.name)


def canonical_url(page: Page, url: str, key: str) -> str:
    """The page's canonical link when it names the same article, else the URL fetched."""
    href = next(iter(_CANONICAL(page.root)), None)
    if href:
        canonical = urljoin(url, href.strip())
        if canonical == url:    # the usual case, and the answer either way: no need to parse it
            return url
        found = parse_article_url(canonical)
        if found and found.key == key:
            return canonical
    return url

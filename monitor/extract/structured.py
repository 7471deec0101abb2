"""What a page declares about its article in machine-readable form: JSON-LD, microdata, OpenGraph and other
<meta> tags. Each source is read into the same `Declared` record, so the generic extractor can take every
field from the strongest source that has it.

Only the page's own article is read. JSON-LD is searched at the top level, in lists, in `@graph` and in
`mainEntity`, never in other properties: `itemListElement`, `hasPart` or `relatedLink` hold *other*
articles (teasers), whose headlines must not become this one's.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from lxml.etree import XPath
from lxml.html import HtmlElement

from monitor.extract.text import squash

# schema.org types of an article: NewsArticle, ReportageNewsArticle, AnalysisNewsArticle, OpinionNewsArticle,
# TechArticle... all end in "Article"; posts (BlogPosting, LiveBlogPosting, a Tumblr's SocialMediaPosting) are
# their own branch of CreativeWork.
_ARTICLE_TYPE = re.compile(r"(?:Article|BlogPosting|SocialMediaPosting)$")
# Types that say the page is a list of articles, not one (a home page, a section, a search, an author page).
LISTING_TYPES = frozenset({"CollectionPage", "ItemList", "SearchResultsPage", "ProfilePage"})
# A byline's lead word in the languages newsmon reads first: "By Jane Doe", "Par Jean Dupont", "Von Max Weber",
# "Por Ana Ruiz", "di Marco Rossi". "di" and "de" only in lower case: "Di Maio" and "De Smet" are names.
_BY = re.compile(r"^(?:(?i:(?:written|posted|reported)\s+by|by|par|[ée]crit\s+par|von|por)|di|de)\s*:?\s+")
# What some CMSs wrap JSON-LD in, from the days of XHTML: "<![CDATA[ ... ]]>", "//<!-- ... //-->".
_WRAPPER = re.compile(r"^\s*(?://\s*)?(?:<!--|<!\[CDATA\[)|(?://\s*)?(?:-->|\]\]>)\s*$")
_URL_LIKE = re.compile(r"^(?:https?:)?//|^www\.", re.IGNORECASE)

_JSON_LD = XPath('//script[translate(@type, "LDJSONAPLICT+", "ldjsonaplict+") = "application/ld+json"]/text()')
_META = XPath("//meta[@content]")
_ITEMSCOPES = XPath("//*[@itemscope][@itemtype]")
_ITEMPROPS = XPath(".//*[@itemprop]")


@dataclass(frozen=True, slots=True)
class Declared:
    """What one kind of structured data says about the page's article ("" or () where it says nothing)."""

    source: str                   # "json-ld", "microdata" or "meta": which evidence this is
    kind: str = ""                # the schema.org type or og:type: "NewsArticle", "article"
    headline: str = ""
    name: str = ""                # JSON-LD's other title, which some sites fill with the headline instead
    description: str = ""
    authors: tuple[str, ...] = ()
    section: str = ""
    published: str = ""           # as written, ISO 8601 mostly; parsed by the caller in the site's zone
    modified: str = ""
    url: str = ""
    site_name: str = ""
    body: str = ""                # JSON-LD articleBody: the text without its paragraph structure

    @property
    def is_article(self) -> bool:
        return bool(_ARTICLE_TYPE.search(self.kind)) or self.kind.lower() == "article"


def clean_author(name: str) -> str:
    """'By  Jane Doe' -> 'Jane Doe'; a URL (article:author often holds a profile link) is no name."""
    name = _BY.sub("", squash(name)).strip(" ,;|")
    return "" if _URL_LIKE.match(name) else name


def unique(values: Iterable[str]) -> tuple[str, ...]:
    """The non-empty values, each once, in order."""
    return tuple(dict.fromkeys(v for v in values if v))


# ---------------------------------------------------------------- JSON-LD

def json_ld(root: HtmlElement) -> tuple[Declared | None, frozenset[str]]:
    """The page's article as JSON-LD declares it (None without one), and every type the JSON-LD names."""
    article: dict | None = None
    types: set[str] = set()
    graph: dict[str, dict] = {}
    for data in _json_ld_blocks(root):
        for obj in walk_ld(data):
            kinds = type_names(obj)
            types.update(kinds)
            if isinstance(obj.get("@id"), str):
                graph.setdefault(obj["@id"], obj)
            if article is None and any(_ARTICLE_TYPE.search(k) for k in kinds):
                article = obj
    if article is None:
        return None, frozenset(types)
    return _declared_from_ld(article, graph), frozenset(types)


def _json_ld_blocks(root: HtmlElement) -> Iterator[object]:
    for raw in _JSON_LD(root):
        # Some CMSs wrap the JSON in an HTML comment or CDATA; strict=False lets raw newlines inside strings
        # through, which browsers' and Google's parsers accept.
        text = _WRAPPER.sub("", raw)
        try:
            yield json.loads(text, strict=False)
        except ValueError:
            continue


def walk_ld(data: object) -> Iterator[dict]:
    """Every object of a JSON-LD document: lists, `@graph` and `mainEntity` included."""
    if isinstance(data, list):
        for item in data:
            yield from walk_ld(item)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity"):
            if key in data:
                yield from walk_ld(data[key])


def type_names(obj: dict) -> list[str]:
    """'@type': "NewsArticle", ["Article", "NewsArticle"] or "http://schema.org/NewsArticle" -> the bare names."""
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return [k.rstrip("/").rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)]


def _declared_from_ld(obj: dict, graph: dict[str, dict]) -> Declared:
    def resolved(value: object) -> object:
        # Yoast-style graphs name the author by reference: {"@id": ".../#/schema/person/1"}.
        if isinstance(value, dict) and set(value) == {"@id"} and value["@id"] in graph:
            return graph[value["@id"]]
        return value

    authors = resolved(obj.get("author") or obj.get("creator"))
    publisher = resolved(obj.get("publisher"))
    section = obj.get("articleSection")
    page = resolved(obj.get("mainEntityOfPage"))
    return Declared(
        source="json-ld",
        kind=next((k for k in type_names(obj) if _ARTICLE_TYPE.search(k)), ""),
        headline=squash(obj.get("headline")),
        name=squash(obj.get("name")),
        description=squash(obj.get("description")),
        authors=unique(clean_author(n) for n in _ld_names(authors, resolved)),
        section=squash(section[0] if isinstance(section, list) and section else section),
        published=squash(obj.get("datePublished")) or squash(obj.get("dateCreated")),
        modified=squash(obj.get("dateModified")),
        url=squash(obj.get("url")) or squash(page.get("@id") if isinstance(page, dict) else page),
        site_name=squash(publisher.get("name")) if isinstance(publisher, dict) else "",
        body=squash(obj.get("articleBody")),
    )


def _ld_names(value: object, resolved: Callable[[object], object]) -> Iterator[str]:
    """Names of a JSON-LD author value: a string, a Person/Organization, a reference, or a list of those."""
    for item in value if isinstance(value, list) else [value]:
        item = resolved(item)
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            name = item.get("name")
            yield from (n for n in (name if isinstance(name, list) else [name]) if isinstance(n, str))


# ---------------------------------------------------------------- microdata

def microdata(root: HtmlElement) -> Declared | None:
    """The first Article/BlogPosting item of the page's microdata (itemscope itemtype=".../NewsArticle")."""
    item = next((el for el in _ITEMSCOPES(root) if _ARTICLE_TYPE.search(el.get("itemtype", "").strip())), None)
    if item is None:
        return None
    props: dict[str, list[HtmlElement]] = {}
    for el in _ITEMPROPS(item):
        if _owner(el) is item:
            for name in el.get("itemprop", "").split():
                props.setdefault(name, []).append(el)

    def value(name: str, *, link: bool = False) -> str:
        return next((v for el in props.get(name, []) if (v := _item_value(el, link=link))), "")

    authors = [name for el in props.get("author", []) + props.get("creator", []) for name in _author_names(el)]
    return Declared(
        source="microdata",
        kind=item.get("itemtype", "").strip().rstrip("/").rsplit("/", 1)[-1],
        headline=value("headline"),
        name=value("name"),
        description=value("description"),
        authors=unique(clean_author(a) for a in authors),
        section=value("articleSection"),
        published=value("datePublished") or value("dateCreated"),
        modified=value("dateModified"),
        url=value("url", link=True),
    )


def _author_names(el: HtmlElement) -> list[str]:
    """An author property is either an item of its own (a Person with an itemprop="name") or plain text."""
    if el.get("itemscope") is not None:
        names = [_item_value(n) for n in _ITEMPROPS(el) if "name" in n.get("itemprop", "").split()]
        if names:
            return names
    return [_item_value(el)]


def _owner(el: HtmlElement) -> HtmlElement | None:
    """The item a property belongs to: the nearest itemscope above it (its own, for a nested item's itemprop)."""
    parent = el.getparent()
    while parent is not None and parent.get("itemscope") is None:
        parent = parent.getparent()
    return parent


def _item_value(el: HtmlElement, *, link: bool = False) -> str:
    """A microdata property's value: its content/datetime attribute, else its text; for a `link` property
    (url), the href. The spec gives every <a> its href, but sites put itemprop="headline" on the <a> around
    the headline's text, and mean the text."""
    for attribute in ("content", "datetime"):
        if el.get(attribute):
            return squash(el.get(attribute))
    if link and el.get("href"):
        return squash(el.get("href"))
    return squash(el.text_content())


# ---------------------------------------------------------------- meta tags

# Each field's meta names, strongest first: OpenGraph and its article:* namespace, then the names common
# CMSs and analytics tags write (Parse.ly, Sailthru, Dublin Core, the old "pubdate").
_META_FIELDS: dict[str, tuple[str, ...]] = {
    "headline": ("og:title", "twitter:title", "parsely-title", "sailthru.title", "dc.title"),
    "description": ("og:description", "description", "twitter:description", "dc.description"),
    "authors": ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "byl"),
    "section": ("article:section", "parsely-section", "section"),
    "published": ("article:published_time", "og:article:published_time", "datepublished", "parsely-pub-date",
                  "sailthru.date", "article.published", "article_date_original", "cxenseparse:recs:publishtime",
                  "pubdate", "publishdate", "publish-date", "dc.date.issued", "dcterms.created", "dc.date", "date"),
    "modified": ("article:modified_time", "og:article:modified_time", "datemodified", "og:updated_time",
                 "article.updated", "article_date_updated", "dcterms.modified", "last-modified"),
    "url": ("og:url",),
    "kind": ("og:type",),
    "site_name": ("og:site_name", "application-name"),
}


def meta_tags(root: HtmlElement) -> dict[str, list[str]]:
    """Every <meta> content by lower-case property, name or itemprop, in page order."""
    tags: dict[str, list[str]] = {}
    for el in _META(root):
        for key in ("property", "name", "itemprop"):
            if el.get(key):
                tags.setdefault(el.get(key).strip().lower(), []).append(el.get("content"))
    return tags


def meta(tags: dict[str, list[str]]) -> Declared:
    """The article as its <meta> tags describe it."""
    def value(field: str) -> str:
        return next((v for name in _META_FIELDS[field] for raw in tags.get(name, ()) if (v := squash(raw))), "")

    # The first name that holds any: several tags of one name are co-authors, several names one author spelt
    # in several ways ("Jane Doe", "jane-doe").
    authors = next((found for name in _META_FIELDS["authors"]
                    if (found := unique(clean_author(raw) for raw in tags.get(name, ())))), ())
    return Declared(source="meta", kind=value("kind"), headline=value("headline"), description=value("description"),
                    authors=authors, section=value("section"), published=value("published"),
                    modified=value("modified"), url=value("url"), site_name=value("site_name"))

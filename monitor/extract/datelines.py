"""Dates on any news page: declared values (ISO 8601 and the other forms meta tags use) and the visible lines
that announce an update — "Mis à jour le 28 juillet 2021 à 11h02", "Updated April 28, 2019 at 7:15 am",
"Aktualisiert am 28.07.2021, 11:02 Uhr", "Actualizado el 28 de julio de 2021", "Aggiornato il 28 luglio 2021".

dateparser reads date fragments, not sentences (dates.py says why), so a line is cut at its markers first:
each marker belongs to one language, which is then the only language dateparser tries, and the fragment
after it is shortened word by word from its end until it reads as a full date. Relative dates ("2 hours
ago", "aujourd'hui") are never read: they would give another date on every re-extraction.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from lxml.etree import XPath
from lxml.html import HtmlElement

from monitor.extract.dates import parse_fragment

# What announces each date, per language: (published, updated).
_MARKERS: dict[str, tuple[str, str]] = {
    "fr": (r"publi[ée]e?|mise?\s+en\s+ligne", r"mise?\s+[àa]\s+jour|actualis[ée]e?|modifi[ée]e?"),
    "en": (r"(?:first\s+)?published|posted", r"(?:last\s+)?updated|last\s+modified|modified"),
    "de": (r"ver[öo]ffentlicht|erschienen|publiziert", r"(?:zuletzt\s+)?aktualisiert|ge[äa]ndert|stand(?=\s*:)"),
    "es": (r"publicad[oa]", r"actualizad[oa]|(?:[úu]ltima\s+)?actualizaci[óo]n|modificad[oa]"),
    "it": (r"pubblicat[oa]", r"aggiornat[oa]|(?:ultimo\s+)?aggiornamento|modificat[oa]"),
}
_MARKER = re.compile("|".join(f"(?<!\\w)(?P<{lang}_{kind}>{pattern})(?!\\w)"
                              for lang, patterns in _MARKERS.items()
                              for kind, pattern in zip(("published", "updated"), patterns, strict=True)), re.IGNORECASE)
# A marker starts a date line only at its start, after a separator, or after another date ("April 28, 2019 at
# 6:01 am Updated April 28..."): "the list was updated on 5 March" in a paragraph is prose, not a dateline.
_STARTS_LINE = re.compile(r"(?:^|[,;|·•/(\[–—-]|\d|\b(?:am|pm|uhr|h|et|and|und|y|e)\.?)\s*$", re.IGNORECASE)
# Words between a marker and its date: "le", "am", "on", "el", "il", "the", "at", ":".
_LEAD_IN = re.compile(r"^[\s:,.–—-]*(?:(?:le|on|am|um|el|il|the|at|alle)\s*:?\s+)*", re.IGNORECASE)
_HAS_TIME = re.compile(r"\d{1,2}\s*(?:[:h.]\s*\d{2}|\s*(?:[ap]\.?m\.?|uhr)\b)", re.IGNORECASE)
_DATE_ONLY = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}(?:[\s,]+(?:à|at|um|alle|a las)?\s*\d{1,2}[:h.]\d{2}"
                        r"(?:\s*(?:uhr|h|[ap]\.?m\.?))?)?", re.IGNORECASE)
_ISO_TIME = re.compile(r"\d[T ]\d{1,2}:\d{2}")
# A date line is short; anything longer is a paragraph that happens to say "updated".
MAX_LINE = 200
_MAX_FRAGMENT_WORDS = 12

# Elements a CMS names for the publication date; an update's are left to the lines that say "updated".
_DATE_CLASSED = XPath(
    "//body//*[re:test(@class, '(?:^|[\\s_-])(?:date|dateline|pubdate|published|timestamp|post-date|entry-date)"
    "(?:$|[\\s_-])', 'i') and not(re:test(@class, 'updat|modif', 'i'))]"
    "[not(ancestor::a or ancestor::li or ancestor::nav or ancestor::aside or ancestor::footer)]",
    namespaces={"re": "http://exslt.org/regular-expressions"})
_MAX_CLASSED = 80
_TEXT_NODES = XPath("//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript "
                    "or ancestor::a or ancestor::nav or ancestor::footer or ancestor::aside)]")


@dataclass(frozen=True, slots=True)
class Stamp:
    """One declared date, and whether the page gave its time of day."""

    at: datetime
    has_time: bool


@dataclass(frozen=True, slots=True)
class VisibleDates:
    published: Stamp | None = None
    updated: Stamp | None = None


def parse_declared(value: str, timezone: str) -> Stamp | None:
    """A date from structured data: ISO 8601 ('2021-07-28', '2021-07-28T11:02:00+0700'), RFC 2822 ('Wed, 28 Jul
    2021 11:02:00 GMT'); naive values are read in `timezone`. None when it is no date."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)     # Python 3.11 reads "Z", "+0100", a space for "T"
        has_time = bool(_ISO_TIME.search(value))
    except ValueError:
        try:
            parsed, has_time = parsedate_to_datetime(value), True
        except (TypeError, ValueError, IndexError):
            return _parse_fragment_words(value, "en", "YMD", timezone)
    return Stamp(parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(timezone)), has_time)


def visible_dates(root: HtmlElement, page_lang: str, timezone: str) -> VisibleDates:
    """The first published and updated dates the page's visible date lines announce; without a line that
    announces the publication, the date an element classed as one shows ("<span class="dateline">April 28,
    2019 at 6:01 am</span>"), read in the page's language."""
    published = updated = None
    for line in _date_lines(root):
        for kind, stamp in parse_line(line, page_lang, timezone):
            if kind == "published" and published is None:
                published = stamp
            elif kind == "updated" and updated is None:
                updated = stamp
        if published and updated:
            break
    return VisibleDates(published or _classed_date(root, page_lang, timezone), updated)


def _classed_date(root: HtmlElement, page_lang: str, timezone: str) -> Stamp | None:
    lang = page_lang.lower()[:2]
    if lang not in _MARKERS:
        return None
    for el in _DATE_CLASSED(root):
        text = " ".join(el.text_content().split())
        if len(text) <= _MAX_CLASSED and (stamp := _parse_fragment_words(text, lang, _date_order(lang, page_lang),
                                                                          timezone)):
            return stamp
    return None


def is_date_line(text: str, page_lang: str) -> bool:
    """A line that only dates the article ("08.04.2015 12:46", "Updated March 6, 2024 at 10:15 am"): page
    furniture, not prose, even where an extractor keeps it with the body."""
    text = " ".join(text.split())
    if len(text) > MAX_LINE:
        return False
    if _DATE_ONLY.fullmatch(text):
        return True
    first = _MARKER.search(text)
    return (first is not None and not text[:first.start()].strip(" ·|([") and len(text.split()) <= 25
            and next(parse_line(text, page_lang, "UTC"), None) is not None)


def parse_line(line: str, page_lang: str, timezone: str) -> Iterator[tuple[str, Stamp]]:
    """('published' | 'updated', date) for each marker of a date line that a date follows."""
    line = " ".join(line.split())
    markers = [m for m in _MARKER.finditer(line) if _STARTS_LINE.search(line[:m.start()])]
    for i, marker in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(line)   # its date runs to the next marker
        lang, kind = marker.lastgroup.split("_")
        fragment = _LEAD_IN.sub("", line[marker.end():end])
        fragment = fragment.strip(" ,;|·•()[]–—-")
        if stamp := _parse_fragment_words(fragment, lang, _date_order(lang, page_lang), timezone):
            yield kind, stamp


def _date_order(lang: str, page_lang: str) -> str:
    """Numeric dates are day first everywhere newsmon reads, but in American English."""
    if lang == "en" and page_lang.lower().replace("_", "-") in ("en", "en-us", ""):
        return "MDY"
    return "DMY"


def _parse_fragment_words(fragment: str, lang: str, order: str, timezone: str) -> Stamp | None:
    """The longest leading run of words of `fragment` that reads as a whole date (day, month and year)."""
    words = fragment.split()[:_MAX_FRAGMENT_WORDS]
    for end in range(len(words), 1, -1):
        text = " ".join(words[:end]).rstrip(",;|·•–—-")
        if parsed := parse_fragment(text, lang, order):
            stamp = parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(timezone))
            return Stamp(stamp, bool(_HAS_TIME.search(text)))
    return None


def _date_lines(root: HtmlElement) -> Iterator[str]:
    """Short lines of visible text, in page order, that hold a date marker (outside links, menus, footers)."""
    seen: set[HtmlElement] = set()   # holding the elements keeps their lxml proxies, and so their identity
    for node in _TEXT_NODES(root):
        if len(node) > MAX_LINE or not _MARKER.search(node):
            continue
        element = node.getparent()
        if node.is_tail:
            element = element.getparent()
        # The marker and its date are often in sibling elements ("<span>Updated</span> <time>...</time>"): the
        # line is the smallest enclosing element that still reads as one short line.
        for _ in range(3):
            if element is None or element in seen:
                break
            seen.add(element)
            text = " ".join(element.text_content().split())
            if len(text) > MAX_LINE:
                break
            yield text
            element = element.getparent()

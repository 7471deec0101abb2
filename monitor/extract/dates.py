"""French publication dates as news sites write them, turned into timezone-aware datetimes.

dateparser handles the fragments ("27 juillet 2021", "28/07/2021 à 11h02") but returns None for a whole
dateline ("Publié le 27 juillet 2021, mis à jour le 28 juillet 2021"), so the dateline is split on its
French markers first. Parsing costs about a millisecond; a crawl meets the same few dates again and again,
so results are cached.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import dateparser

_PUBLISHED = re.compile(r"publi[ée]e?\s+le\s+(?P<date>.+?)(?=(?:[,/|–-]\s*|\s+)mis\s+[àa]\s+jour|$)", re.I | re.S)
_UPDATED = re.compile(r"mis\s+[àa]\s+jour\s+le\s+(?P<date>.+)$", re.I | re.S)
_HAS_TIME = re.compile(r"\d{1,2}\s*(?:h|:)\s*\d{2}")


@dataclass(frozen=True, slots=True)
class Dateline:
    """The dates a page declares, and how precisely it declares them ("day" or "minute")."""

    published: datetime | None
    updated: datetime | None
    precision: str


def parse_french_date(text: str, timezone: str) -> datetime | None:
    """One French date fragment, read in `timezone` unless it carries its own offset."""
    return _parse_cached(" ".join(text.split()).strip(" .,"), timezone)


@lru_cache(maxsize=4096)
def _parse_cached(text: str, timezone: str) -> datetime | None:
    parsed = parse_fragment(text, "fr", "DMY")
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(timezone))


@lru_cache(maxsize=4096)
def parse_fragment(text: str, lang: str, order: str) -> datetime | None:
    """A whole date (day, month and year, perhaps a time) in one language, as dateparser reads it; None when
    the text is not one. Only dateparser's parsers for written dates run: its relative-time and timestamp
    parsers cannot read a dateline's date and took about half of its time (a re-check's extraction spent
    40 % of its time in dateparser, bench/crawl_throughput.py --profile cprofile)."""
    if not any(ch.isdigit() for ch in text):
        return None
    return dateparser.parse(text, languages=[lang], settings={
        "DATE_ORDER": order, "PREFER_DAY_OF_MONTH": "first", "REQUIRE_PARTS": ["day", "month", "year"],
        "PARSERS": ["custom-formats", "absolute-time"]})


@lru_cache(maxsize=4096)
def parse_dateline(text: str, timezone: str) -> Dateline:
    """'Publié le 27 juillet 2021, mis à jour le 28 juillet 2021' -> both dates, in the edition's zone.

    Cached as a whole (a Dateline is frozen): a re-check reads the same datelines again, and cutting one up
    cost as much as reading its dates from the cache below."""
    text = " ".join(text.split())
    published_match, updated_match = _PUBLISHED.search(text), _UPDATED.search(text)
    published = parse_french_date(published_match["date"], timezone) if published_match else None
    updated = parse_french_date(updated_match["date"], timezone) if updated_match else None
    return Dateline(published, updated, "minute" if _HAS_TIME.search(text) else "day")


def parse_iso(value: object, timezone: str) -> datetime | None:
    """An ISO 8601 date from structured data (JSON-LD, meta tags); None when absent or malformed."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(timezone))
